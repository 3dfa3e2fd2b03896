//===--- LogisticRegression.swift - a converged linear probe on fixed features -===//
//
// Shapes: X (N, D) features, y (N) labels in 0..<K -> W (K, D), b (K).
// Multinomial logistic regression with an L2 penalty on W (CLIP's linear-probe protocol, which
// fits sklearn's L-BFGS logistic regression on frozen features and sweeps the penalty on a
// validation split):
//   J(W, b) = −(1/N) Σ_n log softmax(W x_n + b)[y_n] + (λ/2) ‖W‖²
//   ∂J/∂W = (1/N) (P − Y)ᵀ X + λ W,   ∂J/∂b = (1/N) Σ_n (p_n − y_n)
// Features are standardised with the training set's per-dimension mean and standard deviation (the
// fit is then well conditioned; MAE's linear probe does the same with a BatchNorm without affine).
// Solver: full-batch gradient descent with Nesterov momentum, step 1 / L where
// L = λ_max(XᵀX / N) / 2 + λ bounds the Hessian (power iteration), to a gradient-norm tolerance.
// Everything in Double, single-threaded: the same inputs give the same bits.
//===----------------------------------------------------------------------===//
import Foundation

public struct LogisticRegression: Sendable {
  public let classes: Int, width: Int
  /// (K, D) row-major and (K), on standardised features.
  public var weight: [Double], bias: [Double]
  /// The training features' per-dimension mean and standard deviation.
  public let mean: [Double], std: [Double]
  /// Iterations run and the final gradient norm.
  public private(set) var iterations = 0
  public private(set) var gradientNorm = Double.infinity

  /// Fits on `x` (N, D) with labels `y` and penalty `lambda`.
  public init(
    x: [Float], labels y: [Int], width D: Int, classes K: Int, lambda: Double, maxIterations: Int = 3000,
    tolerance: Double = 1e-6
  ) {
    precondition(K > 1 && D > 0 && x.count == y.count * D, "LogisticRegression: X must be (N, D), y (N)")
    let N = y.count
    var mu = [Double](repeating: 0, count: D), sd = [Double](repeating: 0, count: D)
    for n in 0..<N { for d in 0..<D { mu[d] += Double(x[n * D + d]) } }
    for d in 0..<D { mu[d] /= Double(N) }
    for n in 0..<N { for d in 0..<D { sd[d] += pow(Double(x[n * D + d]) - mu[d], 2) } }
    for d in 0..<D { sd[d] = max(1e-6, (sd[d] / Double(N)).squareRoot()) }
    (classes, width, mean, std) = (K, D, mu, sd)
    (weight, bias) = ([Double](repeating: 0, count: K * D), [Double](repeating: 0, count: K))
    let z = Self.standardise(x, mean: mu, std: sd, width: D)
    let step = 1 / (Self.largestEigenvalue(z, rows: N, width: D) / 2 + lambda)
    var (prevW, prevB) = (weight, bias)
    for t in 0..<maxIterations {
      // Nesterov: the gradient at the look-ahead point θ + (t − 1)/(t + 2) (θ − θ_prev)
      let m = Double(t) / Double(t + 3)
      let aheadW = zip(weight, prevW).map { $0 + m * ($0 - $1) }, aheadB = zip(bias, prevB).map { $0 + m * ($0 - $1) }
      let (_, gW, gB) = Self.objective(
        weight: aheadW, bias: aheadB, z: z, labels: y, width: D, classes: K, lambda: lambda)
      (prevW, prevB) = (weight, bias)
      weight = zip(aheadW, gW).map { $0 - step * $1 }
      bias = zip(aheadB, gB).map { $0 - step * $1 }
      iterations = t + 1
      gradientNorm = (gW.reduce(0) { $0 + $1 * $1 } + gB.reduce(0) { $0 + $1 * $1 }).squareRoot()
      if gradientNorm < tolerance { break }
    }
  }

  /// Class probabilities (N, K) of raw features `x` (N, D).
  public func probabilities(_ x: [Float]) -> [Float] {
    let z = Self.standardise(x, mean: mean, std: std, width: width)
    let N = z.count / width
    var out = [Float](repeating: 0, count: N * classes)
    var p = [Double](repeating: 0, count: classes)
    weight.withUnsafeBufferPointer { w in
      z.withUnsafeBufferPointer { z in
        for n in 0..<N {
          p.withUnsafeMutableBufferPointer {
            Self.softmax(
              into: $0.baseAddress!, z.baseAddress! + n * width, weight: w.baseAddress!, bias: bias, width: width)
          }
          for k in 0..<classes { out[n * classes + k] = Float(p[k]) }
        }
      }
    }
    return out
  }

  /// J and its gradients (see the file comment) at (W, b) on standardised features `z`.
  public static func objective(
    weight: [Double], bias: [Double], z: [Double], labels y: [Int], width D: Int, classes K: Int, lambda: Double
  ) -> (loss: Double, dWeight: [Double], dBias: [Double]) {
    let N = y.count
    var loss = 0.0
    var gW = weight.map { lambda * $0 }, gB = [Double](repeating: 0, count: K)
    var p = [Double](repeating: 0, count: K)
    weight.withUnsafeBufferPointer { w in
      z.withUnsafeBufferPointer { z in
        gW.withUnsafeMutableBufferPointer { gW in
          p.withUnsafeMutableBufferPointer { p in
            for n in 0..<N {
              softmax(into: p.baseAddress!, z.baseAddress! + n * D, weight: w.baseAddress!, bias: bias, width: D)
              loss -= log(max(p[y[n]], 1e-300)) / Double(N)
              p[y[n]] -= 1
              for k in 0..<K {
                let g = p[k] / Double(N)
                gB[k] += g
                for d in 0..<D { gW[k * D + d] += g * z[n * D + d] }
              }
            }
          }
        }
      }
    }
    loss += lambda / 2 * weight.reduce(0) { $0 + $1 * $1 }
    return (loss, gW, gB)
  }

  /// p (K) = softmax(W x + b) for one feature row x (D); no allocation (it runs N times per iteration).
  static func softmax(
    into p: UnsafeMutablePointer<Double>, _ x: UnsafePointer<Double>, weight: UnsafePointer<Double>,
    bias: [Double], width D: Int
  ) {
    let K = bias.count
    var top = -Double.infinity
    for k in 0..<K {
      var l = bias[k]
      for d in 0..<D { l += weight[k * D + d] * x[d] }
      p[k] = l
      top = max(top, l)
    }
    var s = 0.0
    for k in 0..<K {
      p[k] = exp(p[k] - top)
      s += p[k]
    }
    for k in 0..<K { p[k] /= s }
  }

  public static func standardise(_ x: [Float], mean: [Double], std: [Double], width D: Int) -> [Double] {
    x.indices.map { (Double(x[$0]) - mean[$0 % D]) / std[$0 % D] }
  }

  /// λ_max(zᵀz / N) by power iteration (50 steps from the all-ones vector).
  static func largestEigenvalue(_ z: [Double], rows N: Int, width D: Int) -> Double {
    var v = [Double](repeating: 1 / Double(D).squareRoot(), count: D), lambda = 1.0
    for _ in 0..<50 {
      var w = [Double](repeating: 0, count: D)
      for n in 0..<N {
        var dot = 0.0
        for d in 0..<D { dot += z[n * D + d] * v[d] }
        for d in 0..<D { w[d] += dot * z[n * D + d] / Double(N) }
      }
      lambda = max(1e-12, w.reduce(0) { $0 + $1 * $1 }.squareRoot())
      v = w.map { $0 / lambda }
    }
    return lambda
  }
}

import Foundation
import Training
import XCTest

/// The converged linear probe: its objective's gradient (finite differences) and its fit.
final class LogisticRegressionTests: XCTestCase {
  /// ∂J/∂W and ∂J/∂b against central differences of J, on random standardised features.
  func testObjectiveGradientMatchesFiniteDifferences() {
    let (N, D, K, lambda) = (7, 5, 3, 0.05)
    var g = SystemRandomNumberGenerator()
    let z = (0..<(N * D)).map { _ in Double.random(in: -2...2, using: &g) }
    let y = (0..<N).map { $0 % K }
    let w = (0..<(K * D)).map { _ in Double.random(in: -1...1, using: &g) }
    let b = (0..<K).map { _ in Double.random(in: -1...1, using: &g) }
    let (_, gW, gB) = LogisticRegression.objective(
      weight: w, bias: b, z: z, labels: y, width: D, classes: K, lambda: lambda)
    let h = 1e-6
    func J(_ w: [Double], _ b: [Double]) -> Double {
      LogisticRegression.objective(weight: w, bias: b, z: z, labels: y, width: D, classes: K, lambda: lambda).loss
    }
    for i in w.indices {
      var p = w, m = w
      p[i] += h; m[i] -= h
      XCTAssertEqual(gW[i], (J(p, b) - J(m, b)) / (2 * h), accuracy: 1e-7, "dW[\(i)]")
    }
    for i in b.indices {
      var p = b, m = b
      p[i] += h; m[i] -= h
      XCTAssertEqual(gB[i], (J(w, p) - J(w, m)) / (2 * h), accuracy: 1e-7, "db[\(i)]")
    }
  }

  /// Three Gaussian classes whose means differ only along a direction of small variance next to a
  /// large shared offset (the frozen features' anisotropy): the fit converges and separates them,
  /// and the same inputs give the same bits.
  func testFitSeparatesAnisotropicClassesAndIsDeterministic() {
    let (D, K, perClass) = (4, 3, 40)
    var x: [Float] = [], y: [Int] = []
    var state: UInt64 = 12345
    func uniform() -> Double {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Double(state >> 11) / Double(1 << 53)
    }
    for c in 0..<K {
      for _ in 0..<perClass {
        x += [Float(8 + uniform()), Float(0.1 * Double(c) + 0.03 * uniform()), Float(uniform()), Float(-5 + uniform())]
        y.append(c)
      }
    }
    let fit = LogisticRegression(x: x, labels: y, width: D, classes: K, lambda: 1e-3)
    XCTAssertLessThan(fit.gradientNorm, 1e-4, "converged (\(fit.iterations) iterations)")
    let p = fit.probabilities(x)
    let correct = y.indices.filter { n in (0..<K).max { p[n * K + $0] < p[n * K + $1] } == y[n] }.count
    XCTAssertGreaterThan(Double(correct) / Double(y.count), 0.95)
    let again = LogisticRegression(x: x, labels: y, width: D, classes: K, lambda: 1e-3)
    XCTAssertEqual(again.weight, fit.weight)
    XCTAssertEqual(again.bias, fit.bias)
  }
}

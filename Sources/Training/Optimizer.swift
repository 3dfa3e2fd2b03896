//===--- Optimizer.swift - SGD with momentum, AdamW ------------------------===//
//
// Both follow torch.optim exactly (so that ten steps match PyTorch):
//   SGD:   g ← ∇ + wd·θ;  b ← μ·b + g;  θ ← θ − η·b
//   AdamW: θ ← θ·(1 − η·wd);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
//          θ ← θ − (η / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
// State exists only for the parameters that train (whole tensors, or the
// selected elements), and weight decay applies only to those with
// `usesWeightDecay` (timm's rule).
//===----------------------------------------------------------------------===//
import Foundation
import Kernels
import Model

public enum OptimizerKind: Codable, Sendable, Equatable {
  case sgd(momentum: Float, weightDecay: Float)
  case adamw(beta1: Float, beta2: Float, eps: Float, weightDecay: Float)

  public static let sgdDefault = OptimizerKind.sgd(momentum: 0.9, weightDecay: 0)
  public static let adamwDefault = OptimizerKind.adamw(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05)

  /// Floats of state per trained parameter.
  public var stateMultiplier: Int {
    switch self {
    case .sgd(let m, _): return m == 0 ? 0 : 1
    case .adamw: return 2
    }
  }
}

/// A run of trained parameters: contiguous in both the parameter and the gradient buffer.
struct Segment {
  var param: Int, grad: Int, count: Int, decay: Bool
}

public final class Optimizer {
  public let kind: OptimizerKind
  let segments: [Segment]
  /// Element mode: parameter and gradient index per trained element.
  let paramIndex: [Int]
  let gradIndex: [Int]
  let elementDecay: [Bool]
  public let trainedCount: Int
  let state: FloatBuffer
  public private(set) var stepCount = 0

  public init(kind: OptimizerKind, layout: ViTLayout, selection: ParameterSelection, grads: Gradients) {
    self.kind = kind
    var segs: [Segment] = []
    var pi: [Int] = [], gi: [Int] = [], ed: [Bool] = []
    if let elements = selection.elements {
      var t = 0
      for e in elements {
        while layout.tensors[t].offset + layout.tensors[t].count <= e { t += 1 }
        let s = layout.tensors[t]
        pi.append(e)
        gi.append(grads.offsets[t]! + (e - s.offset))
        ed.append(usesWeightDecay(s))
      }
    } else {
      for (i, s) in layout.tensors.enumerated() where selection.tensors[i] {
        segs.append(Segment(param: s.offset, grad: grads.offsets[i]!, count: s.count, decay: usesWeightDecay(s)))
      }
    }
    segments = segs
    paramIndex = pi
    gradIndex = gi
    elementDecay = ed
    trainedCount = selection.elements?.count ?? segs.reduce(0) { $0 + $1.count }
    state = FloatBuffer(count: trainedCount * kind.stateMultiplier)
  }

  /// Whole-buffer mode for a PEFT module store: every tensor trains, the
  /// gradient buffer is laid out like the parameters.
  public init(kind: OptimizerKind, tensors: [(offset: Int, count: Int, decay: Bool)]) {
    self.kind = kind
    segments = tensors.map { Segment(param: $0.offset, grad: $0.offset, count: $0.count, decay: $0.decay) }
    paramIndex = []
    gradIndex = []
    elementDecay = []
    trainedCount = segments.reduce(0) { $0 + $1.count }
    state = FloatBuffer(count: trainedCount * kind.stateMultiplier)
  }

  public var stateBytes: Int { trainedCount * kind.stateMultiplier * MemoryLayout<Float>.stride }

  /// L2 norm of the gradient over the trained parameters (Double accumulation).
  public func gradientNorm(_ grads: Gradients) -> Double { gradientNorm(grads.buffer) }

  public func gradientNorm(_ buffer: FloatBuffer) -> Double {
    let g = buffer.pointer
    var s = 0.0
    for seg in segments { s += Vec.sumOfSquaresDouble(g + seg.grad, seg.count) }
    for j in gradIndex { s += Double(g[j]) * Double(g[j]) }
    return s.squareRoot()
  }

  /// Multiplies the trained gradients by `factor` (gradient-norm clipping).
  public func scaleGradients(_ grads: Gradients, by factor: Float) { scaleGradients(grads.buffer, by: factor) }

  public func scaleGradients(_ buffer: FloatBuffer, by factor: Float) {
    let g = buffer.pointer
    for seg in segments { for i in 0..<seg.count { g[seg.grad + i] *= factor } }
    for j in gradIndex { g[j] *= factor }
  }

  /// One update with learning rate `lr`.
  public func step(params: FloatBuffer, grads: Gradients, lr: Float) {
    step(params: params, gradientBuffer: grads.buffer, lr: lr)
  }

  public func step(params: FloatBuffer, gradientBuffer: FloatBuffer, lr: Float) {
    stepCount += 1
    let p = params.pointer, g = gradientBuffer.pointer, st = state.pointer
    switch kind {
    case .sgd(let mu, let wd):
      var k = 0
      for seg in segments {
        sgd(p + seg.param, g + seg.grad, mu == 0 ? nil : st + k, seg.count, lr, mu, seg.decay ? wd : 0)
        k += seg.count
      }
      for j in paramIndex.indices {
        let (pi, gi) = (paramIndex[j], gradIndex[j])
        sgd(p + pi, g + gi, mu == 0 ? nil : st + k + j, 1, lr, mu, elementDecay[j] ? wd : 0)
      }
    case .adamw(let b1, let b2, let eps, let wd):
      let bc1 = 1 - powf(b1, Float(stepCount)), bc2 = 1 - powf(b2, Float(stepCount))
      let n = trainedCount
      var k = 0
      for seg in segments {
        adamw(
          p + seg.param, g + seg.grad, st + k, st + n + k, seg.count, lr, b1, b2, eps,
          seg.decay ? wd : 0, bc1, bc2)
        k += seg.count
      }
      for j in paramIndex.indices {
        adamw(
          p + paramIndex[j], g + gradIndex[j], st + k + j, st + n + k + j, 1, lr, b1, b2, eps,
          elementDecay[j] ? wd : 0, bc1, bc2)
      }
    }
  }

  @inline(__always)
  private func sgd(
    _ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>,
    _ buf: UnsafeMutablePointer<Float>?, _ n: Int, _ lr: Float, _ mu: Float, _ wd: Float
  ) {
    for i in 0..<n {
      var d = g[i] + wd * p[i]
      if let buf { d = mu * buf[i] + d; buf[i] = d }
      p[i] -= lr * d
    }
  }

  @inline(__always)
  private func adamw(
    _ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>,
    _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ n: Int,
    _ lr: Float, _ b1: Float, _ b2: Float, _ eps: Float, _ wd: Float, _ bc1: Float, _ bc2: Float
  ) {
    let stepSize = lr / bc1
    let sbc2 = bc2.squareRoot()
    let decay = 1 - lr * wd
    for i in 0..<n {
      let gi = g[i]
      p[i] *= decay
      m[i] += (gi - m[i]) * (1 - b1)
      v[i] = v[i] * b2 + (1 - b2) * gi * gi
      p[i] -= stepSize * m[i] / (v[i].squareRoot() / sbc2 + eps)
    }
  }
}

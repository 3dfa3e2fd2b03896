//===--- Importance.swift - SH-PEFT hybrid weight importance (Eq. 1, 2) ----===//
//
// SH-PEFT §2.2 (Eq. 1-2). Over one epoch of B mini-batches (no augmentation, shuffled
// with the seed; E_b = mean cross-entropy of batch b) on the pretrained
// model with the task's new head:
//   L1:  I_td = |Σ_b ∂E_b/∂w|     I_ta = |w|
//   L2:  I_td = Σ_b (∂E_b/∂w)²    I_ta = w²
//   I = I_td + λ · (Σ I_td / Σ I_ta) · I_ta      (sums over the backbone)
// Strategies (the paper's Table 4): ta (I_ta only), l1, ta+l1, l2, ta+l2;
// plus `random` (uniform scores, a baseline of the same budget). The mask is
// the top r % of backbone elements by I (ties: lower index); the head is
// always trainable and is not scored.
//===----------------------------------------------------------------------===//
import Data
import Foundation
import Kernels
import Model
import Storage

/// Σ_b g_b and Σ_b g_b² over the backbone, from one epoch of mini-batches.
public struct GradientStatistics: Sendable {
  public var sum: [Float]
  public var sumOfSquares: [Float]
  public var batches: Int
  public var images: Int

  public init(sum: [Float], sumOfSquares: [Float], batches: Int, images: Int) {
    (self.sum, self.sumOfSquares, self.batches, self.images) = (sum, sumOfSquares, batches, images)
  }

  /// The epoch's sample order: a Fisher–Yates shuffle seeded with `seed`.
  public static func epochOrder(count: Int, seed: UInt64) -> [Int] {
    var order = Array(0..<count)
    var rng = Xoshiro256(seed: seed)
    for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
    return order
  }

  /// Runs forward + backward (no update) over `set` in batches of `batch`, in
  /// the order of a seeded shuffle; the last batch may be smaller.
  public static func collect(
    model: ViT, set: ImageSet, batch: Int, seed: UInt64, cancelled: () -> Bool = { false },
    progress: (Double) -> Void = { _ in }
  ) throws -> GradientStatistics {
    let n = WeightChanges.backboneCount(model.layout)
    var s = GradientStatistics(
      sum: .init(repeating: 0, count: n), sumOfSquares: .init(repeating: 0, count: n),
      batches: 0, images: set.count)
    let order = epochOrder(count: set.count, seed: seed)
    let grads = Gradients(layout: model.layout)
    var acts = Activations(config: model.config, batch: min(batch, set.count))
    var imgs: [Float] = [], labs: [Int32] = []
    var start = 0
    while start < set.count {
      if cancelled() { throw CancellationError() }
      let b = min(batch, set.count - start)
      if b != acts.batch { acts = Activations(config: model.config, batch: b) }
      set.gather(order[start..<(start + b)], images: &imgs, labels: &labs)
      imgs.withUnsafeBufferPointer { model.forward(images: $0.baseAddress!, acts: acts) }
      let loss = labs.withUnsafeBufferPointer { model.loss(acts: acts, targets: $0.baseAddress!) }
      guard loss.isFinite else { throw TrainingError.diverged(step: s.batches, tensor: "loss") }
      grads.zero()
      labs.withUnsafeBufferPointer { model.backward(acts: acts, targets: $0.baseAddress!, grads: grads) }
      // All tensors train, so the gradient buffer is laid out like the parameters.
      let g = grads.buffer.pointer
      s.sum.withUnsafeMutableBufferPointer { sp in
        s.sumOfSquares.withUnsafeMutableBufferPointer { qp in
          let (sp, qp) = (sp.baseAddress!, qp.baseAddress!)
          Parallel.forRanges(n, grain: 4096) { _, r in
            for i in r { let v = g[i]; sp[i] += v; qp[i] += v * v }
          }
        }
      }
      s.batches += 1
      start += b
      progress(Double(start) / Double(set.count))
    }
    return s
  }
}

public enum ImportanceStrategy: String, CaseIterable, Sendable {
  case ta, l1, taL1 = "ta+l1", l2, taL2 = "ta+l2", random

  var usesTaskAgnostic: Bool { [.ta, .taL1, .taL2].contains(self) }
  var usesTaskDependent: Bool { [.l1, .taL1, .l2, .taL2].contains(self) }
  var isL2: Bool { self == .l2 || self == .taL2 }

  public static func parse(_ s: String) throws -> ImportanceStrategy {
    guard let v = ImportanceStrategy(rawValue: s) else {
      throw StudyError.mismatch(
        "unknown importance strategy '\(s)' (known: \(allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    return v
  }
}

public enum Importance {
  /// I per backbone element (Eq. 1 with the L1 or L2 estimators of Eq. 2).
  /// `weights`: the pretrained backbone (first `stats.sum.count` parameters).
  public static func scores(
    _ strategy: ImportanceStrategy, lambda: Double, stats: GradientStatistics, weights: UnsafePointer<Float>,
    seed: UInt64 = 0
  ) -> [Float] {
    let n = stats.sum.count
    if strategy == .random {
      var rng = Xoshiro256(seed: seed &+ 0x5eed)
      return (0..<n).map { _ in Float(rng.next() >> 40) }
    }
    let l2 = strategy == .ta ? true : strategy.isL2  // ta alone: |w| and w² rank alike
    var td = [Float](repeating: 0, count: n), ta = td
    if strategy.usesTaskDependent {
      for i in 0..<n { td[i] = l2 ? stats.sumOfSquares[i] : abs(stats.sum[i]) }
    }
    if strategy.usesTaskAgnostic {
      for i in 0..<n { ta[i] = l2 ? weights[i] * weights[i] : abs(weights[i]) }
    }
    switch strategy {
    case .ta: return ta
    case .l1, .l2: return td
    default:
      var sumTD = 0.0, sumTA = 0.0
      for i in 0..<n { sumTD += Double(td[i]); sumTA += Double(ta[i]) }
      let scale = sumTA > 0 ? Float(lambda * sumTD / sumTA) : 0
      return (0..<n).map { td[$0] + scale * ta[$0] }
    }
  }

  /// SH-PEFT's selection (Eq. 1–2): `strategy`'s importance of every backbone element of `model` from `stats`,
  /// and the top `budget` % of them.
  public static func select(
    _ strategy: ImportanceStrategy, lambda: Double, budget: Double, stats: GradientStatistics, model: ViT,
    seed: UInt64
  ) -> (scores: [Float], mask: [Int]) {
    let s = scores(strategy, lambda: lambda, stats: stats, weights: model.params.pointer, seed: seed)
    return (s, mask(s, percent: budget))
  }

  /// Sorted flat indices of the top `percent` % of backbone elements by `scores`.
  public static func mask(_ scores: [Float], percent: Double) -> [Int] {
    let count = WeightChanges.topCount(percent: percent, of: scores.count)
    let order = scores.withUnsafeBufferPointer { s in
      WeightChanges.ranking(count: scores.count) { s[$0] }
    }
    return order[..<count].map { Int($0) }.sorted()
  }

  /// Histogram of log10(score) over the positive scores: (edges, counts); zeros counted apart.
  public static func histogram(_ scores: [Float], bins: Int = 40) -> (edges: [Double], counts: [Int], zeros: Int) {
    let pos = scores.filter { $0 > 0 }.map { log10(Double($0)) }
    guard let lo = pos.min(), let hi = pos.max() else { return ([], [], scores.count) }
    let width = max(hi - lo, 1e-9) / Double(bins)
    var counts = [Int](repeating: 0, count: bins)
    for v in pos { counts[min(bins - 1, Int((v - lo) / width))] += 1 }
    return ((0...bins).map { lo + Double($0) * width }, counts, scores.count - pos.count)
  }
}

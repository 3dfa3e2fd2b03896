//===--- CrossEntropy.swift - softmax + cross-entropy loss -----------------===//
//
// Shapes: logits (B, K), targets (B) in 0..<K -> probs (B, K), losses (B)
// loss = mean_b −log softmax(logits_b)[target_b]
//===----------------------------------------------------------------------===//
import Foundation

public enum SoftmaxCrossEntropy {
  /// Returns the mean loss; fills `probs` and per-sample `losses`.
  @discardableResult
  public static func forward(
    probs: UnsafeMutablePointer<Float>, losses: UnsafeMutablePointer<Float>,
    logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, B: Int, K: Int
  ) -> Float {
    LossRows.mean(losses: losses, B: B, terms: 1) { b in
      let l = logits + b * K, p = probs + b * K
      var m = -Float.infinity
      for k in 0..<K where l[k] > m { m = l[k] }
      var z = 0.0
      for k in 0..<K { z += Double(expf(l[k] - m)) }
      let logZ = Float(log(z)) + m
      for k in 0..<K { p[k] = expf(l[k] - logZ) }
      let t = Int(targets[b])
      precondition(t >= 0 && t < K, "target \(t) out of range 0..<\(K)")
      return Double(logZ - l[t])
    }
  }

  /// dlogits += (probs − onehot(target)) · dloss / B   (gradient of the mean loss).
  public static func backward(
    dlogits: UnsafeMutablePointer<Float>, probs: UnsafePointer<Float>,
    targets: UnsafePointer<Int32>, B: Int, K: Int, dloss: Float = 1
  ) {
    let s = dloss / Float(B)
    for b in 0..<B {
      let t = Int(targets[b])
      for k in 0..<K {
        dlogits[b * K + k] += (probs[b * K + k] - (k == t ? 1 : 0)) * s
      }
    }
  }
}

/// The per-row bookkeeping both losses share.
enum LossRows {
  /// `row(b)` is row b's loss summed over its `terms` entries: losses[b] = row(b) / terms; returns the mean over
  /// all B·terms entries (accumulated in Double).
  @inline(__always)
  static func mean(losses: UnsafeMutablePointer<Float>, B: Int, terms: Int, _ row: (Int) -> Double) -> Float {
    var total = 0.0
    for b in 0..<B {
      let r = row(b)
      losses[b] = Float(r / Double(terms))
      total += r
    }
    return Float(total / Double(B * terms))
  }
}

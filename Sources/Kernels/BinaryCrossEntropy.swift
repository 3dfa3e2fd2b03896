//===--- BinaryCrossEntropy.swift - sigmoid + binary cross-entropy loss ----===//
//
// Multi-label targets: every class is its own yes/no question.
// Shapes: logits (B, K), targets (B, K) in {0, 1} -> probs (B, K) = σ(logits), losses (B)
// loss = mean_{b,k} [ −y·log σ(x) − (1−y)·log(1 − σ(x)) ]   (PyTorch's BCEWithLogitsLoss, reduction "mean")
// Computed as max(x, 0) − x·y + log(1 + e^{−|x|}), which never overflows.
//===----------------------------------------------------------------------===//
import Foundation

public enum SigmoidBinaryCrossEntropy {
  /// Returns the mean loss over all B·K entries; fills `probs` and per-sample `losses` (the mean over K).
  @discardableResult
  public static func forward(
    probs: UnsafeMutablePointer<Float>, losses: UnsafeMutablePointer<Float>,
    logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, B: Int, K: Int
  ) -> Float {
    LossRows.mean(losses: losses, B: B, terms: K) { b in
      var row = 0.0
      for k in 0..<K {
        let i = b * K + k
        let x = logits[i], y = targets[i]
        row += Double(max(x, 0) - x * y + log1pf(expf(-abs(x))))
        probs[i] = 1 / (1 + expf(-x))
      }
      return row
    }
  }

  /// dlogits += (σ(x) − y) · dloss / (B·K)   (gradient of the mean loss).
  public static func backward(
    dlogits: UnsafeMutablePointer<Float>, probs: UnsafePointer<Float>,
    targets: UnsafePointer<Float>, B: Int, K: Int, dloss: Float = 1
  ) {
    let s = dloss / Float(B * K)
    for i in 0..<(B * K) { dlogits[i] += (probs[i] - targets[i]) * s }
  }
}

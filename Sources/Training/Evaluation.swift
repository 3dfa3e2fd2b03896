//===--- Evaluation.swift - metrics of a model on an image set --------------===//
import Data
import Model

public enum Evaluation {
  /// Runs `model` over `set` in batches; metrics from softmax probabilities (a multi-label set: sigmoids).
  /// `beforeBatch(start)` runs before each batch of images start..<start+n
  /// (side tuning points its fusion modules at that batch's preloaded K/V).
  public static func evaluate(
    _ model: ViT, on set: ImageSet, batch: Int = 64, modules: (any ModelModules)? = nil,
    beforeBatch: (Int) -> Void = { _ in }
  ) -> ClassificationMetrics {
    let K = model.config.numClasses
    var scores: [Float] = []
    scores.reserveCapacity(set.count * K)
    var lossSum = 0.0
    var imgs: [Float] = [], labs: [Int32] = []
    var start = 0
    // no backward: without modules, one block's buffers serve every block (nothing is kept)
    let keep = modules == nil ? model.config.depth : 0
    var acts = Activations(config: model.config, batch: min(batch, set.count), modules: modules, keepFrom: keep)
    while start < set.count {
      let n = min(batch, set.count - start)
      if n != acts.batch { acts = Activations(config: model.config, batch: n, modules: modules, keepFrom: keep) }
      set.gather(Array(start..<(start + n))[...], images: &imgs, labels: &labs)
      beforeBatch(start)
      imgs.withUnsafeBufferPointer { model.forward(images: $0.baseAddress!, acts: acts) }
      let l =
        set.multiHot.map { truth in
          Array(truth[(start * K)..<((start + n) * K)]).withUnsafeBufferPointer {
            model.loss(acts: acts, targets: .multiHot($0.baseAddress!))
          }
        } ?? labs.withUnsafeBufferPointer { model.loss(acts: acts, targets: $0.baseAddress!) }
      lossSum += Double(l) * Double(n)
      scores.append(contentsOf: acts.probsArray)
      start += n
    }
    if let truth = set.multiHot {
      return Metrics.multiLabel(scores: scores, truth: truth, classes: K, loss: lossSum / Double(set.count))
    }
    return Metrics.all(
      scores: scores, labels: set.labels.map(Int.init), classes: K, loss: lossSum / Double(set.count))
  }
}

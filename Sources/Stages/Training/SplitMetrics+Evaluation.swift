//===--- RunMetrics+Evaluation.swift - SplitMetrics of an evaluation -------===//
//
// metrics.json's schema is `RunMetrics` / `SplitMetrics` (Outputs); this is the one place an evaluation
// becomes a `SplitMetrics` (a NaN stays NaN: written as null, no value) and a run records one.
//===----------------------------------------------------------------------===//
import Foundation
import Outputs
import Storage
import Training

extension SplitMetrics {
  /// The evaluation `e` as stored.
  init(_ e: ClassificationMetrics) {
    self.init(
      accuracy: e.accuracy, macroF1: e.macroF1, macroAuc: e.macroAUC, loss: e.loss ?? .nan,
      recall: e.recall.map { $0 }, predictedClasses: e.predictedClasses)
  }

}

extension RunMetrics {
  /// Records the evaluation of `split` ("val" or "test") and logs it.
  mutating func record(_ split: String, _ e: ClassificationMetrics, log: (String) -> Void) {
    if split == "val" { val = SplitMetrics(e) } else { test = SplitMetrics(e) }
    log(String(format: "%@: accuracy %.4f macro-F1 %.4f macro-AUC %.4f", split, e.accuracy, e.macroF1, e.macroAUC))
  }
}

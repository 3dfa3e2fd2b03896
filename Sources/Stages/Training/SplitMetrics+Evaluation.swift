//===--- RunMetrics+Evaluation.swift - SplitMetrics of an evaluation -------===//
//
// metrics.json's schema is `RunMetrics` / `SplitMetrics` (Outputs); this is the one place an evaluation
// becomes a `SplitMetrics` (a NaN stays NaN: written as null, no value).
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

  /// The JSON object metrics.json stores for `e` (non-finite numbers become null when written).
  static func json(_ e: ClassificationMetrics) -> [String: Any] {
    (try? JSONCoding.object(SplitMetrics(e))) as? [String: Any] ?? [:]
  }
}

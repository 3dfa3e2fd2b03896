//===--- RunMetrics.swift - metrics.json of a training or probe stage ------===//
//
// The schema other stages read, written and read by these types:
//   metrics.json  {stage_kind, dataset, seed, lr, method | mode, ..., val: SplitMetrics, test: SplitMetrics}
// `SplitMetrics` is one evaluation (accuracy, macro-F1, macro-AUC, loss, per-class recall, classes
// predicted); a value that is not a number (NaN: no value) is stored as null and read back as nil.
//===----------------------------------------------------------------------===//
import Foundation
import Pipeline
import Training

/// One evaluation of a split, as stored in metrics.json.
struct SplitMetrics: Decodable {
  var accuracy, macroF1, macroAuc, loss: Double?
  /// Recall of each class (nil: the class has no true sample); absent in outputs older than the field.
  var recall: [Double?]?
  /// How many classes the model predicted at all (1: it collapsed onto one class); absent in older outputs.
  var predictedClasses: Int?

  /// The JSON object metrics.json stores for `e` (non-finite numbers become null when written).
  static func json(_ e: ClassificationMetrics) -> [String: Any] {
    [
      "accuracy": e.accuracy, "macro_f1": e.macroF1, "macro_auc": e.macroAUC, "loss": e.loss ?? .nan,
      "recall": e.recall.map { $0.isNaN ? NSNull() as Any : $0 as Any }, "predicted_classes": e.predictedClasses,
    ]
  }

  /// The metric a stage parameter names (`lr-choice`'s `metric`), nil if unknown or absent.
  func value(_ metric: String) -> Double? {
    switch metric {
    case "accuracy": return accuracy
    case "macro_f1": return macroF1
    case "macro_auc": return macroAuc
    case "loss": return loss
    default: return nil
    }
  }
}

/// The fields of a training or probe stage's metrics.json that other stages read.
struct RunMetrics: Decodable {
  var stageKind, dataset: String?
  var seed: Int?
  var lr: Double?
  /// A `peft` run's method; a `finetune` run's mode (full, linear-probe, scratch).
  var method, mode: String?
  var val, test: SplitMetrics?
  /// Parameters the run trained (backbone elements, head, added modules) and the model's total; a
  /// `peft` run's ratio (its denominator said in the run's metrics.json).
  var trainableParameters, totalParameters, backboneParameters: Int?
  var trainableRatio: Double?
  var steps, batch, trainImages: Int?
  /// An `shpeft` run's selection: importance strategy, λ and budget (% of backbone elements).
  var strategy: String?
  var lambda, budgetPercent: Double?
  /// The engine's training memory, bytes (`total` and its parts).
  var memoryBytes: [String: Double]?
  /// Wall-clock seconds of the training loop (from timing.json, outside the content hash).
  var seconds: Double?

  /// The metrics.json in `dir`, or an error naming the file and what is wrong.
  static func read(_ dir: String) throws -> RunMetrics {
    let path = dir + "/metrics.json"
    guard let d = FileManager.default.contents(atPath: path) else {
      throw StudyError.missingInput("cannot read JSON '\(path)'")
    }
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    var m: RunMetrics
    do { m = try decoder.decode(RunMetrics.self, from: d) } catch {
      throw StudyError.missingInput("\(path): not a stage's metrics.json (\(error))")
    }
    struct Timing: Decodable { var seconds: Double? }
    if let t = FileManager.default.contents(atPath: dir + "/" + timingFileName) {
      m.seconds = m.seconds ?? (try? decoder.decode(Timing.self, from: t))?.seconds
    }
    return m
  }
}

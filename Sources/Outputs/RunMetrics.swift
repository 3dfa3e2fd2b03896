//===--- RunMetrics.swift - metrics.json of a training or probe stage ------===//
//
// The schema other stages read, written and read by these types:
//   metrics.json  {stage_kind, dataset, seed, lr, method | mode, ..., val: SplitMetrics, test: SplitMetrics}
// `SplitMetrics` is one evaluation (accuracy, macro-F1, macro-AUC, loss, per-class recall, classes predicted;
// also a row of sparsity.json); a value that is not a number (NaN: no value) is stored as null and read back
// as nil by `RunMetrics.read`, as NaN by `JSONCoding`.
//===----------------------------------------------------------------------===//
import Foundation
import Storage

/// One evaluation of a split, as stored in metrics.json.
public struct SplitMetrics: Codable {
  public var accuracy, macroF1, macroAuc, loss: Double?
  /// Recall of each class (nil: the class has no true sample); absent in outputs older than the field.
  public var recall: [Double?]?
  /// How many classes the model predicted at all (1: it collapsed onto one class); absent in older outputs.
  public var predictedClasses: Int?

  public init(
    accuracy: Double?, macroF1: Double?, macroAuc: Double?, loss: Double?, recall: [Double?]?, predictedClasses: Int?
  ) {
    (self.accuracy, self.macroF1, self.macroAuc, self.loss) = (accuracy, macroF1, macroAuc, loss)
    (self.recall, self.predictedClasses) = (recall, predictedClasses)
  }

  /// The metric a stage parameter names (`lr-choice`'s `metric`), nil if unknown or absent.
  public func value(_ metric: String) -> Double? {
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
public struct RunMetrics: Decodable {
  public var stageKind, dataset: String?
  public var seed: Int?
  public var lr: Double?
  /// A `peft` run's method; a `finetune` run's mode (full, linear-probe, scratch).
  public var method, mode: String?
  public var val, test: SplitMetrics?
  /// Parameters the run trained (backbone elements, head, added modules) and the model's total; a
  /// `peft` run's ratio (its denominator said in the run's metrics.json).
  public var trainableParameters, totalParameters, backboneParameters: Int?
  public var trainableRatio: Double?
  public var steps, batch, trainImages: Int?
  /// An `shpeft` run's selection: importance strategy, λ and budget (% of backbone elements).
  public var strategy: String?
  public var lambda, budgetPercent: Double?
  /// The engine's training memory, bytes (`total` and its parts); a side-tuning run's without preloading.
  public var memoryBytes: [String: Double]?
  public var memoryWithoutPreloadBytes: Double?
  /// The input size (px) of the trained model; a side-tuning run's side network (size, patches, tokens kept,
  /// token ratio, width, layers, ...: every value a number).
  public var imageSize: Double?
  public var side: [String: Double]?
  /// Wall-clock seconds of the training loop (from timing.json, outside the content hash).
  public var seconds: Double?

  /// "task|seed": pairs runs of one task and seed across configurations.
  public var taskAndSeed: String { "\(dataset ?? "")|\(seed.map(String.init) ?? "")" }
  /// Total training memory, bytes (NaN if not recorded).
  public var memoryTotal: Double { memoryBytes?["total"] ?? .nan }

  /// The metrics.json in `dir`, or an error naming the file and what is wrong.
  public static func read(_ dir: String) throws -> RunMetrics {
    let path = dir + "/metrics.json"
    guard let d = FileManager.default.contents(atPath: path) else {
      throw StorageError.file(path: path, message: "cannot read")
    }
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    var m: RunMetrics
    do { m = try decoder.decode(RunMetrics.self, from: d) } catch {
      throw StorageError.file(path: path, message: "not a stage's metrics.json (\(error))")
    }
    struct Timing: Decodable { var seconds: Double? }
    if let t = FileManager.default.contents(atPath: dir + "/" + timingFileName) {
      m.seconds = m.seconds ?? (try? decoder.decode(Timing.self, from: t))?.seconds
    }
    return m
  }
}

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

  /// Recall below which a class counts as not found, for `collapsed`.
  public static let collapseRecall = 0.01

  /// The run collapsed onto one class: it predicted a single class, or it found less than 1 % of every class but
  /// one (a handful of images outside one class is no classifier: 1 of 228 was a collapse the strict count
  /// missed). nil when the stage stored neither the recall nor the classes predicted.
  public var collapsed: Bool? {
    if let n = predictedClasses, n <= 1 { return true }
    guard let recall else { return predictedClasses.map { _ in false } }
    let r = recall.compactMap { $0 }
    return r.count >= 2 && r.filter { $0 >= Self.collapseRecall }.count <= 1
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

/// metrics.json of a training or probe stage (finetune, pretrain, peft, shpeft, knn-probe, logistic-probe, an
/// imported W_ft): every field it writes, nil where the kind has none. Written by `write(in:)` — the wall-clock
/// fields go to timing.json (outside the content hash) — and read by `read(_:)`, which puts them back.
public struct RunMetrics: Codable {
  public var stageKind, dataset: String?
  public var seed: Int?
  /// The recipe: steps, batch, training images, threads, peak learning rate, optimizer.
  public var steps, batch, trainImages, threads: Int?
  public var lr: Double?
  public var optimizer: String?
  /// A `peft` run's method; a `finetune` run's mode (full, linear-probe, scratch).
  public var method, mode: String?
  public var val, test: SplitMetrics?
  /// Parameters the run trained (backbone elements, head, added modules) and the model's total; a
  /// `peft` run's own and its head's, its ratio and what the ratio's denominator counts.
  public var trainableParameters, totalParameters, backboneParameters: Int?
  public var methodParameters, headParameters: Int?
  public var trainableRatio: Double?
  public var ratioDenominator: String?
  /// An `shpeft` run's (or the sweep's SH-PEFT's) selection: importance strategy, λ, budget (% of backbone
  /// elements), elements selected, their share per weight group, the importance stage.
  public var strategy: String?
  public var lambda, budgetPercent: Double?
  public var selectedBackbone: Int?
  public var maskGroupShares: [String: Double]?
  public var importanceStage: String?
  /// SPT-LoRA's allocation (LoRA matrices, unstructured elements); AdaLoRA's rank budget.
  public var sptLoraMatrices: [String]?
  public var sptUnstructured, adaloraBudget: Int?
  /// The engine's training memory, bytes (`total` and its parts); a side-tuning run's without preloading.
  public var memoryBytes: TrainingMemoryBytes?
  public var memoryWithoutPreloadBytes: Double?
  /// The input size (px) of the trained model; a side-tuning run's side network (size, patches, tokens kept,
  /// token ratio, width, layers, ...: every value a number), its preload stage, its fusion when not
  /// cross-attention.
  public var imageSize: Double?
  public var side: SideNetworkShape?
  public var preloadStage, fusion: String?
  /// Probes: the k-NN probe's k and temperature; the feature width; the logistic probe's validation F1 per λ,
  /// iterations and final gradient norm.
  public var k: Int?
  public var temperature: Double?
  public var featureWidth: Int?
  public var valF1ByLambda: [String: Double]?
  public var iterations: Int?
  public var gradientNorm: Double?
  /// An imported model fine-tuned elsewhere (W_ft): the file and its role.
  public var importedFrom, role: String?
  /// Wall-clock (timing.json, never in metrics.json): the training loop, the process's peak RSS, a selection
  /// pass, the importance stage's selection.
  public var seconds, peakRssBytes, selectionSeconds, importanceSeconds: Double?

  public init(stageKind: String, dataset: String) { (self.stageKind, self.dataset) = (stageKind, dataset) }

  /// "task|seed": pairs runs of one task and seed across configurations.
  public var taskAndSeed: String { "\(dataset ?? "")|\(seed.map(String.init) ?? "")" }
  /// Total training memory, bytes (NaN if not recorded).
  public var memoryTotal: Double { memoryBytes.map { Double($0.total) } ?? .nan }

  /// Writes metrics.json into `dir` and merges the wall-clock fields into its timing.json.
  public func write(in dir: String) throws {
    var hashed = self
    (hashed.seconds, hashed.peakRssBytes, hashed.selectionSeconds, hashed.importanceSeconds) = (nil, nil, nil, nil)
    try JSONCoding.write(hashed, to: dir + "/metrics.json")
    let clock: [String: Double?] = [
      "seconds": seconds, "peak_rss_bytes": peakRssBytes, "selection_seconds": selectionSeconds,
      "importance_seconds": importanceSeconds,
    ]
    let timing = clock.compactMapValues { $0 }
    if !timing.isEmpty { try JSONCoding.merge(timing, into: dir + "/" + timingFileName) }
  }

  /// The metrics.json in `dir` (a null number read as nil) with its timing.json's wall-clock fields, or an
  /// error naming the file and what is wrong.
  public static func read(_ dir: String) throws -> RunMetrics {
    let path = dir + "/metrics.json"
    guard let d = FileManager.default.contents(atPath: path) else {
      throw StorageError.file(path: path, message: "cannot read")
    }
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    var m: RunMetrics
    do { m = try decoder.decode(RunMetrics.self, from: d) } catch let e as DecodingError {
      throw StorageError.file(
        path: path, message: "not a stage's metrics.json: " + DecodingFailure.describe(e, subject: "field"))
    }
    struct Clock: Decodable { var seconds, peakRssBytes, selectionSeconds, importanceSeconds: Double? }
    if let t = FileManager.default.contents(atPath: dir + "/" + timingFileName),
      let c = try? decoder.decode(Clock.self, from: t)
    {
      m.seconds = m.seconds ?? c.seconds
      m.peakRssBytes = m.peakRssBytes ?? c.peakRssBytes
      m.selectionSeconds = m.selectionSeconds ?? c.selectionSeconds
      m.importanceSeconds = m.importanceSeconds ?? c.importanceSeconds
    }
    return m
  }
}

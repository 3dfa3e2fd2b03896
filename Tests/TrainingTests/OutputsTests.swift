import Foundation
import Outputs
import Storage
import XCTest

/// The typed outputs keep the files' schema: the keys other tools (scripts, older outputs) read, and an exact
/// round trip through write and read.
final class OutputsTests: XCTestCase {
  func dir() throws -> String {
    let d = NSTemporaryDirectory() + "outputs-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
  }

  func keys(_ path: String) throws -> [String: Any] {
    try XCTUnwrap(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
  }

  func testASparsityRowIsOneFlatObjectWithTheEvaluationBesideItsOwnFields() throws {
    let d = try dir()
    let e = SplitMetrics(
      accuracy: 0.5, macroF1: 1.0 / 3, macroAuc: .nan, loss: 0.7, recall: [0.25, nil], predictedClasses: 2)
    let out = SparsityOutput(
      dataset: "busi-synth", seed: 2, finetunedStage: "finetune@busi-synth@seed2", split: "test",
      backboneParameters: 1000, full: e,
      grid: [.init(kPercent: 0.05, elements: 1, metrics: e, f1Fraction: 0.9, accuracyFraction: 1, aucFraction: .nan)])
    try out.write(in: d)
    let j = try keys(d + "/sparsity.json")
    XCTAssertEqual(
      Set(j.keys), ["stage_kind", "dataset", "seed", "finetuned_stage", "split", "backbone_parameters", "full", "grid"])
    let row = try XCTUnwrap((j["grid"] as? [[String: Any]])?.first)
    XCTAssertEqual(
      Set(row.keys),
      [
        "k_percent", "elements", "accuracy", "macro_f1", "macro_auc", "loss", "recall", "predicted_classes",
        "f1_fraction", "accuracy_fraction", "auc_fraction",
      ])
    XCTAssertTrue(row["macro_auc"] is NSNull, "NaN is written as null")
    let back = try SparsityOutput.read(in: d)
    XCTAssertEqual(back.grid[0].kPercent, 0.05)
    XCTAssertEqual(back.grid[0].metrics.macroF1, 1.0 / 3)  // exact
    XCTAssertEqual(back.seed, 2)
    XCTAssertTrue(back.grid[0].aucFraction.isNaN)
  }

  func testRunMetricsKeepsWallClockOutOfTheHashedFile() throws {
    let d = try dir()
    var m = RunMetrics(stageKind: "finetune", dataset: "busi-synth")
    (m.seed, m.lr, m.mode, m.seconds, m.peakRssBytes) = (1, 0.003, "full", 12.5, 1e8)
    m.test = SplitMetrics(accuracy: 1, macroF1: 1, macroAuc: 1, loss: .nan, recall: [1, nil], predictedClasses: 2)
    try m.write(in: d)
    let j = try keys(d + "/metrics.json")
    XCTAssertNil(j["seconds"])
    XCTAssertNil(j["peak_rss_bytes"])
    XCTAssertEqual(j["lr"] as? Double, 0.003)
    XCTAssertEqual(try keys(d + "/timing.json")["seconds"] as? Double, 12.5)
    let back = try RunMetrics.read(d)
    XCTAssertEqual(back.seconds, 12.5, "read puts the wall-clock fields back")
    XCTAssertEqual(back.mode, "full")
    XCTAssertNil(back.test?.loss, "metrics.json reads a null number as no value")
    XCTAssertEqual(back.test?.recall?.count, 2)
  }

  func testSummariesOfOtherKindsAreNotTakenForOneAnother() throws {
    let d = try dir()
    try ImportOutput(from: "x.safetensors", flavor: "timm", totalParameters: 3).write(in: d)
    try PreloadOutput(dataset: "t", images: 1, bytesPerImage: 8, frozen: (16, 1, 4, 2)).write(in: d)
    XCTAssertTrue(PreloadOutput.exists(in: d))
    XCTAssertFalse(SweepSummaryOutput.exists(in: d))
    XCTAssertFalse(StudySummaryOutput.exists(in: d))
    XCTAssertFalse(CalibrationSummaryOutput.exists(in: d))
    XCTAssertEqual(try ImportOutput.read(in: d).flavor, "timm")
  }

  /// A side-tuning run's `side` and `memory_bytes` are typed (`SideNetworkShape`, `TrainingMemoryBytes`): a
  /// metrics.json written when they were dictionaries reads into them and writes back byte for byte.
  func testSideNetworkAndMemoryFieldsKeepTheirBytes() throws {
    let d = try dir()
    let old = """
      {
        "dataset" : "covid19-ct-synth",
        "memory_bytes" : {
          "activations" : 6789528,
          "gradients" : 30736,
          "optimizer" : 61472,
          "parameters" : 30736,
          "total" : 6912472
        },
        "method" : "fpt+",
        "side" : {
          "frozen_patches" : 64,
          "frozen_size" : 32,
          "kept_tokens" : 13,
          "layers" : 6,
          "patch" : 4,
          "prompts" : 16,
          "side_patches" : 16,
          "size" : 16,
          "token_ratio" : 0.2,
          "width" : 8
        },
        "stage_kind" : "peft"
      }
      """
    try Data(old.utf8).write(to: URL(fileURLWithPath: d + "/metrics.json"))
    let m = try RunMetrics.read(d)
    let side = try XCTUnwrap(m.side)
    XCTAssertEqual(
      [side.size, side.sidePatches, side.frozenPatches, side.keptTokens, side.frozenSize], [16, 16, 64, 13, 32])
    XCTAssertEqual(side.value("token_ratio"), 0.2)
    XCTAssertEqual(side.value("layers"), 6)
    XCTAssertNil(side.value("depth"), "not a recorded setting")
    XCTAssertEqual(SideNetworkShape.settings.compactMap(side.value).count, SideNetworkShape.settings.count)
    XCTAssertEqual(m.memoryTotal, 6_912_472)
    let again = try dir()
    try m.write(in: again)
    XCTAssertEqual(
      try String(contentsOfFile: again + "/metrics.json", encoding: .utf8),
      try String(contentsOfFile: d + "/metrics.json", encoding: .utf8))
  }
}

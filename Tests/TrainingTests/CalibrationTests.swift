import Data
import Foundation
import Model
import Outputs
import Pipeline
import TestSupport
import Stages
import Training
import XCTest

final class CalibrationTests: XCTestCase {
  /// k-NN: each query takes the weighted vote of its k most similar bank rows.
  func testKNNVoteFollowsTheNearestNeighbours() {
    // bank: two clusters on the unit circle (class 0 near (1, 0), class 1 near (0, 1))
    let bank: [Float] = [1, 0, 0.99, 0.14, 0.98, -0.2, 0, 1, 0.1, 0.99, -0.14, 0.99]
    let labels: [Int32] = [0, 0, 0, 1, 1, 1]
    let queries: [Float] = [0.95, 0.3, 0.2, 0.98]
    let s = KNNProbeStageKind.vote(
      queries: queries, count: 2, bank: bank, bankLabels: labels, width: 2, classes: 2, k: 3,
      temperature: 0.07)
    XCTAssertGreaterThan(s[0], 0.99)
    XCTAssertGreaterThan(s[3], 0.99)
    XCTAssertEqual(s[0] + s[1], 1, accuracy: 1e-5)
    // k = all: the far cluster gets a share, still smaller
    let all = KNNProbeStageKind.vote(
      queries: queries, count: 2, bank: bank, bankLabels: labels, width: 2, classes: 2, k: 6,
      temperature: 1)
    XCTAssertGreaterThan(all[1], 0.1)
    XCTAssertGreaterThan(all[0], all[1])
  }

  /// The calibration stages on a micro model: scratch starts from a random backbone, the k-NN probe
  /// trains nothing, and the summary computes every target from the runs' metrics.
  func testCalibrationStagesAndSummary() throws {
    let root = try projectWithSyntheticManifests(
      ["upstream-synth", "busi-synth"], counts: (64, 16, 32), tag: "calibration")
    let yaml = """
      stages:
        pretrain:
          kind: pretrain
          params: {dataset: upstream-synth, preset: micro, steps: 20, batch: 16, optimizer: adamw, lr: 0.001,
                   crop_min: 1.0}
        cal-finetune:
          kind: finetune
          needs: [pretrain]
          matrix: {seed: [1, 2]}
          params: {dataset: busi-synth, steps: 10, batch: 16, lr: 0.03, seed: "${item.seed}"}
        cal-linear-probe:
          kind: finetune
          needs: [pretrain]
          params: {dataset: busi-synth, steps: 10, batch: 16, lr: 0.3, mode: linear-probe}
        cal-scratch:
          kind: finetune
          needs: [pretrain]
          params: {dataset: busi-synth, steps: 10, batch: 16, lr: 0.03, mode: scratch}
        cal-lr-search:
          kind: finetune
          needs: [pretrain]
          matrix: {lr: [0.01, 0.03]}
          params: {dataset: busi-synth, steps: 10, batch: 16, lr: "${item.lr}", seed: 1}
        cal-knn:
          kind: knn-probe
          needs: [pretrain]
          params: {dataset: busi-synth, k: 5}
        cal-logistic:
          kind: logistic-probe
          needs: [pretrain]
          params: {dataset: busi-synth, iterations: 200}
        calibration:
          kind: calibration-summary
          needs: [cal-finetune, cal-linear-probe, cal-scratch, cal-lr-search, cal-knn, cal-logistic]
          params: {ratio_probe: logistic}
      """
    try yaml.write(toFile: root + "/Pipelines/p.yaml", atomically: true, encoding: .utf8)
    let registry = StandardStages.registry
    let runner = Runner(
      pipeline: try Pipeline.load(root + "/Pipelines/p.yaml", profile: nil, registry: registry), registry: registry,
      cache: try Cache(root: root + "/.peftlab"), projectRoot: root, reporter: ProgressReporter(mode: .quiet))
    let ran = try runner.run(RunOptions()).ran
    XCTAssertTrue(ran.contains("calibration"), "\(ran)")
    let st = try runner.status()
    func out(_ s: String) -> String { root + "/.peftlab/objects/" + st.first { $0.stage == s }!.output! }
    func json(_ p: String) throws -> [String: Any] {
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: p))) as! [String: Any]
    }
    // scratch: not the pretrained backbone
    let pre = try Checkpoint.load(out("pretrain") + "/model.h5"),
      scratch = try Checkpoint.load(out("cal-scratch") + "/model.h5")
    XCTAssertNotEqual(
      try XCTUnwrap(scratch.values("blocks.0.attn.qkv.weight")), try XCTUnwrap(pre.values("blocks.0.attn.qkv.weight")))
    XCTAssertEqual(try json(out("cal-scratch") + "/metrics.json")["mode"] as? String, "scratch")
    // every run records per-class recall and how many classes it predicted
    let ft = try json(out("cal-finetune@seed1") + "/metrics.json")
    let test = try XCTUnwrap(ft["test"] as? [String: Any])
    XCTAssertEqual((test["recall"] as? [Any])?.count, 3)
    XCTAssertNotNil(test["predicted_classes"] as? Int)
    XCTAssertEqual(ft["lr"] as? Double, 0.03)
    // k-NN probe metrics on val and test
    let knn = try json(out("cal-knn") + "/metrics.json")
    XCTAssertEqual(knn["k"] as? Int, 5)
    XCTAssertNotNil((knn["test"] as? [String: Any])?["macro_f1"])
    // the converged probe: λ chosen on validation from the grid, test metrics at it
    let logistic = try json(out("cal-logistic") + "/metrics.json")
    let byLambda = try XCTUnwrap(logistic["val_f1_by_lambda"] as? [String: Double])
    XCTAssertEqual(byLambda.count, LogisticProbeStageKind.lambdas.count)
    let chosen = try XCTUnwrap(logistic["lambda"] as? Double)
    XCTAssertEqual(byLambda[String(chosen)], byLambda.values.max())
    // the summary: one task row whose ratio is the two runs' F1 ratio, five targets, the lr search
    let s = try json(out("calibration") + "/summary.json")
    let rows = try XCTUnwrap(s["tasks"] as? [[String: Any]])
    XCTAssertEqual(rows.count, 1)
    let f1 = { (stage: String) throws -> Double in
      ((try json(out(stage) + "/metrics.json"))["test"] as! [String: Any])["macro_f1"] as! Double
    }
    let ftMean = (try f1("cal-finetune@seed1") + (try f1("cal-finetune@seed2"))) / 2
    XCTAssertEqual(rows[0]["full_ft"] as? Double ?? .nan, ftMean, accuracy: 1e-12)
    XCTAssertEqual(rows[0]["lp_ratio"] as? Double ?? .nan, try f1("cal-linear-probe") / ftMean, accuracy: 1e-12)
    XCTAssertEqual(rows[0]["pretraining_gain"] as? Double ?? .nan, ftMean - (try f1("cal-scratch")), accuracy: 1e-12)
    XCTAssertEqual(rows[0]["logistic_ratio"] as? Double ?? .nan, try f1("cal-logistic") / ftMean, accuracy: 1e-12)
    let targets = try XCTUnwrap(s["targets"] as? [[String: Any]])
    XCTAssertEqual(
      targets.map { $0["target"] as? String ?? "" },
      ["lp_ratio_mean", "lp_ratio_min", "full_ft_range", "pretraining_gain", "no_collapse"])
    // the LP/FT targets read the probe the pipeline names (here the converged one), not the recipe's
    XCTAssertEqual(s["ratio_probe"] as? String, "logistic")
    XCTAssertEqual(targets[0]["value"] as? Double ?? .nan, try f1("cal-logistic") / ftMean, accuracy: 1e-12)
    let search = try XCTUnwrap((s["lr_search"] as? [String: Any])?["finetune"] as? [String: Any])
    XCTAssertEqual((search["grid"] as? [Any])?.count, 2)
    XCTAssertEqual(search["used_lr"] as? [Double], [0.03])
  }

  /// `SplitMetrics.collapsed`: one class predicted, or every class but one found below 1 %; a class missed among
  /// three is no collapse onto one; nothing stored, nothing known.
  func testCollapsedCriterion() {
    func m(_ r: [Double?]?, _ p: Int?) -> SplitMetrics {
      SplitMetrics(accuracy: nil, macroF1: nil, macroAuc: nil, loss: nil, recall: r, predictedClasses: p)
    }
    XCTAssertEqual(m([1, 0], 1).collapsed, true)
    XCTAssertEqual(m([0.0044, 0.996], 2).collapsed, true)
    XCTAssertEqual(m([0.032, 0.978], 2).collapsed, false)
    XCTAssertEqual(m([0.76, 0.9, 0], 2).collapsed, false)
    XCTAssertEqual(m([0.995, nil, 0.005], 2).collapsed, true)
    XCTAssertEqual(m(nil, 2).collapsed, false)
    XCTAssertNil(m(nil, nil).collapsed)
  }

  /// A collapsed run (one class predicted) is what the per-class recall check flags.
  func testPredictedClassesAndRecall() {
    let m = Metrics.all(scores: [0.9, 0.1, 0.8, 0.2, 0.7, 0.3], labels: [0, 1, 1], classes: 2)
    XCTAssertEqual(m.predictedClasses, 1)
    XCTAssertEqual(m.recall, [1, 0])
    let ok = Metrics.all(scores: [0.9, 0.1, 0.2, 0.8, 0.7, 0.3], labels: [0, 1, 1], classes: 2)
    XCTAssertEqual(ok.predictedClasses, 2)
    XCTAssertEqual(ok.recall, [1, 0.5])
  }
}

/// Table 1 marks a run that collapsed onto one class (per-class recall), and lists it.
final class SweepCollapseTests: XCTestCase {
  func testCollapsedRunsAreFlagged() throws {
    let root = temporaryPath("sweep-collapse-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(atPath: root + "/Pipelines", withIntermediateDirectories: true)
    func run(_ method: String, _ seed: Int, f1: Double, predicted: Int, recall: String) -> String {
      let j =
        #"{"method": "\#(method)", "dataset": "busi-synth", "seed": \#(seed), "#
        + #""trainable_parameters": 10, "total_parameters": 100, "#
        + #""test": {"macro_f1": \#(f1), "accuracy": 0.5, "macro_auc": 0.6, "recall": \#(recall), "#
        + #""predicted_classes": \#(predicted)}}"#
      return "printf '%s' '\(j)' > $OUT/metrics.json"
    }
    func quoted(_ s: String) -> String { s.replacingOccurrences(of: "\"", with: "\\\"") }
    func lp(_ seed: Int, _ f1: Double, _ predicted: Int, _ recall: String) -> String {
      quoted(run("linear-probe", seed, f1: f1, predicted: predicted, recall: recall))
    }
    let good = "[0.9, 0.5, 0.6]"
    let yaml = """
      stages:
        full-1: {kind: shell, params: {cmd: "\(quoted(run("full", 1, f1: 0.8, predicted: 3, recall: good)))"}}
        lp-1: {kind: shell, params: {cmd: "\(lp(1, 0.23, 1, "[1, 0, 0]"))"}}
        lp-2: {kind: shell, params: {cmd: "\(lp(2, 0.5, 2, "[1, 0.5, 0]"))"}}
        lp-3: {kind: shell, params: {cmd: "\(lp(3, 0.3, 2, "[0.996, 0.004, 0]"))"}}
        table1:
          kind: sweep-summary
          needs: [full-1, lp-1, lp-2, lp-3]
      """
    try yaml.write(toFile: root + "/Pipelines/p.yaml", atomically: true, encoding: .utf8)
    let registry = StandardStages.registry
    let runner = Runner(
      pipeline: try Pipeline.load(root + "/Pipelines/p.yaml", profile: nil, registry: registry), registry: registry,
      cache: try Cache(root: root + "/.peftlab"), projectRoot: root, reporter: ProgressReporter(mode: .quiet))
    XCTAssertTrue(try runner.run(RunOptions()).ran.contains("table1"))
    let out = root + "/.peftlab/objects/" + (try runner.status()).first { $0.stage == "table1" }!.output!
    let s =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json")))
      as! [String: Any]
    // seed 3 predicted two classes but found 0.4 % of the second: a collapse all the same; seed 2 missed one class
    // of three (not a collapse onto one)
    XCTAssertEqual(
      s["collapsed_runs"] as? [String], ["linear-probe@busi-synth@seed1", "linear-probe@busi-synth@seed3"])
    XCTAssertEqual(s["collapsed_cells"] as? [String: Int], ["linear-probe|busi-synth": 2])
    let md = try String(contentsOfFile: out + "/table.md", encoding: .utf8)
    XCTAssertTrue(md.contains("†2"), md)
    XCTAssertTrue(md.contains("linear-probe@busi-synth@seed1"), md)
  }
}

/// The calibration's no-collapse target counts the sweep's methods (fine-tuning, probes); a run trained from
/// scratch that predicts one class is listed, not counted.
final class CalibrationCollapseTests: XCTestCase {
  func summary(finetunePredicts: Int, finetuneRecall: String = "[0.9, 0.5, 0.6]") throws -> [String: Any] {
    let root = temporaryPath("cal-collapse-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(atPath: root + "/Pipelines", withIntermediateDirectories: true)
    func run(_ f1: Double, predicted: Int, recall: String = "[0.8, 0.6, 0.7]") -> String {
      let j =
        #"{"dataset": "busi-synth", "seed": 1, "test": {"macro_f1": \#(f1), "recall": \#(recall), "#
        + #""predicted_classes": \#(predicted)}}"#
      return "printf '%s' '\(j)' > $OUT/metrics.json".replacingOccurrences(of: "\"", with: "\\\"")
    }
    let yaml = """
      stages:
        cal-finetune: {kind: shell, params: {cmd: "\(run(0.8, predicted: finetunePredicts, recall: finetuneRecall))"}}
        cal-linear-probe: {kind: shell, params: {cmd: "\(run(0.7, predicted: 3))"}}
        cal-scratch: {kind: shell, params: {cmd: "\(run(0.23, predicted: 1, recall: "[0, 1, 0]"))"}}
        calibration:
          kind: calibration-summary
          needs: [cal-finetune, cal-linear-probe, cal-scratch]
      """
    let runner = try pipelineRunner(root, yaml, Array(StandardStages.registry.kinds.values))
    XCTAssertTrue(try runner.run(RunOptions()).ran.contains("calibration"))
    let out = root + "/.peftlab/objects/" + (try runner.status()).first { $0.stage == "calibration" }!.output!
    return try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json")))
      as! [String: Any]
  }

  func testScratchCollapsesAreListedNotCounted() throws {
    func noCollapse(_ s: [String: Any]) throws -> [String: Any] {
      try XCTUnwrap((s["targets"] as? [[String: Any]])?.first { $0["target"] as? String == "no_collapse" })
    }
    let ok = try summary(finetunePredicts: 3)
    XCTAssertEqual(ok["collapsed_runs"] as? [String], ["scratch@busi-synth@seed1"])
    XCTAssertEqual(try noCollapse(ok)["pass"] as? Bool, true)
    let bad = try summary(finetunePredicts: 1, finetuneRecall: "[1, 0, 0]")
    XCTAssertEqual(try noCollapse(bad)["pass"] as? Bool, false)
    XCTAssertEqual(try noCollapse(bad)["value"] as? Double, 1)
    let nearly = try summary(finetunePredicts: 3, finetuneRecall: "[0.995, 0.005, 0.002]")  // two classes < 1 %
    XCTAssertEqual(try noCollapse(nearly)["pass"] as? Bool, false)
  }
}

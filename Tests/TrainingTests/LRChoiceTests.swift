//===--- LRChoiceTests.swift - the validation-chosen learning rate ---------===//
import Foundation
import Outputs
import Pipeline
import TestSupport
import Stages
import Training
import XCTest

final class LRChoiceTests: XCTestCase {
  typealias T = LRChoiceStageKind.Trial

  /// Per method, the rate with the best mean over tasks wins; a tie goes to the smaller rate.
  func testChoosesTheBestMeanPerMethodAndTheSmallerRateOnTies() {
    let trials = [
      T(method: "lora", lr: 0.001, score: 0.50), T(method: "lora", lr: 0.001, score: 0.70),  // mean 0.60
      T(method: "lora", lr: 0.005, score: 0.80), T(method: "lora", lr: 0.005, score: 0.30),  // mean 0.55
      T(method: "full", lr: 0.01, score: 0.4), T(method: "full", lr: 0.003, score: 0.4),  // tie
      T(method: "bitfit", lr: 0.03, score: 0.9), T(method: "bitfit", lr: 0.01, score: -1),  // a failed run scores -1
    ]
    let c = LRChoiceStageKind.choose(trials)
    XCTAssertEqual(c["lora"]?.lr, 0.001)
    XCTAssertEqual(c["lora"]?.byLR[0.005] ?? 0, 0.55, accuracy: 1e-12)
    XCTAssertEqual(c["lora"]?.runs, 4)
    XCTAssertEqual(c["full"]?.lr, 0.003)
    XCTAssertEqual(c["bitfit"]?.lr, 0.03)
  }

  /// A run without a validation score is an error naming the stage; `lr_from` without a choice names what is missing.
  func testMissingValidationScoreAndMissingChoiceAreClearErrors() throws {
    let root = temporaryPath("lr-choice-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(atPath: root + "/Pipelines", withIntermediateDirectories: true)
    // no validation score: the choice must fail (quotes escaped for YAML's double-quoted string)
    let metrics = #"{\"method\": \"full\", \"lr\": 0.01, \"test\": {\"macro_f1\": 0.5}}"#
    let yaml = """
      stages:
        run-a:
          kind: shell
          params: {cmd: "printf '%s' '\(metrics)' > $OUT/metrics.json"}
        choice:
          kind: lr-choice
          needs: [run-a]
      """
    try yaml.write(toFile: root + "/Pipelines/p.yaml", atomically: true, encoding: .utf8)
    let registry = StandardStages.registry
    let runner = Runner(
      pipeline: try Pipeline.load(root + "/Pipelines/p.yaml", profile: nil, registry: registry), registry: registry,
      cache: try Cache(root: root + "/.peftlab"), projectRoot: root, reporter: ProgressReporter(mode: .quiet))
    var opts = RunOptions(); opts.keepGoing = true
    let r = try runner.run(opts)
    guard case .failed(let message)? = r.outcomes["choice"] else {
      return XCTFail("lr-choice should fail: \(r.outcomes)")
    }
    XCTAssertTrue(message.contains("'run-a' has no lr or no validation macro_f1"), message)
  }

  /// `per: task` chooses within each task (the FPT code's per-dataset rate); the per-method choice is unchanged.
  func testChoosesPerTaskWithinEachTask() {
    let trials = [
      T(method: "lora", task: "a", lr: 0.01, score: 0.5), T(method: "lora", task: "a", lr: 0.03, score: 0.7),
      T(method: "lora", task: "b", lr: 0.01, score: 0.9), T(method: "lora", task: "b", lr: 0.03, score: 0.7),
    ]
    let byTask = LRChoiceStageKind.chooseByTask(trials)
    XCTAssertEqual(byTask["lora"]?["a"]?.lr, 0.03)
    XCTAssertEqual(byTask["lora"]?["b"]?.lr, 0.01)
    XCTAssertEqual(byTask["lora"]?["a"]?.runs, 2)
    XCTAssertEqual(LRChoiceStageKind.choose(trials)["lora"]?.lr, 0.01)  // means 0.7 and 0.7: the smaller rate
  }

  /// Through the runner: choice.json holds by_task, and a `peft` stage on a task the search did not run on fails
  /// naming the method, the task and the searched tasks.
  func testPerTaskChoiceAndAnUnsearchedTaskIsAClearError() throws {
    let root = try projectWithSyntheticManifests(["busi-synth"], counts: (8, 4, 4), tag: "lr-choice-task")
    func run(_ task: String, _ lr: Double, _ f1: Double) -> String {
      let m = #"{\"method\": \"lora\", \"dataset\": \"\#(task)\", \"lr\": \#(lr), \"val\": {\"macro_f1\": \#(f1)}}"#
      return "{kind: shell, params: {cmd: \"printf '%s' '\(m)' > $OUT/metrics.json\"}}"
    }
    let yaml = """
      stages:
        s-a1: \(run("chaoyang-synth", 0.01, 0.5))
        s-a3: \(run("chaoyang-synth", 0.03, 0.7))
        s-b1: \(run("oct-synth", 0.01, 0.9))
        s-b3: \(run("oct-synth", 0.03, 0.7))
        choice:
          kind: lr-choice
          needs: [s-a1, s-a3, s-b1, s-b3]
          params: {per: task}
        train:
          kind: peft
          needs: [choice]
          params: {method: lora, dataset: busi-synth, lr_from: method, steps: 1}
      """
    try yaml.write(toFile: root + "/Pipelines/p.yaml", atomically: true, encoding: .utf8)
    let registry = StandardStages.registry
    let cache = try Cache(root: root + "/.peftlab")
    let runner = Runner(
      pipeline: try Pipeline.load(root + "/Pipelines/p.yaml", profile: nil, registry: registry), registry: registry,
      cache: cache, projectRoot: root, reporter: ProgressReporter(mode: .quiet))
    var opts = RunOptions(); opts.keepGoing = true
    let r = try runner.run(opts)
    guard case .failed(let message)? = r.outcomes["train"] else { return XCTFail("train should fail: \(r.outcomes)") }
    XCTAssertTrue(message.contains("no rate for 'lora' on 'busi-synth'"), message)
    XCTAssertTrue(message.contains("searched: chaoyang-synth, oct-synth"), message)
    let state =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: root + "/.peftlab/state/choice.json"))) as! [String: Any]
    let choice = try LRChoiceOutput.read(in: root + "/.peftlab/objects/\(state["output"] as! String)")
    XCTAssertEqual(choice.byTask?["lora"]?["chaoyang-synth"]?.lr, 0.03)
    XCTAssertEqual(choice.byTask?["lora"]?["oct-synth"]?.lr, 0.01)
    XCTAssertEqual(choice.methods["lora"]?.lr, 0.01)
  }
}

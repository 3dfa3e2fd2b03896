//===--- LRChoiceTests.swift - the validation-chosen learning rate ---------===//
import Foundation
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
}

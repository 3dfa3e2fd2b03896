import Foundation
import Pipeline
import Stages
import TestSupport
import XCTest

/// A training stage that needs a `dataset` stage reads its decoded splits (by role: the stage of its
/// dataset at its model's size) and trains on the same pixels as one that decodes the source itself.
final class DatasetInputTests: XCTestCase {
  func testTrainingReadsTheDatasetStageAtItsModelsSize() throws {
    let root = try projectWithSyntheticManifests(
      ["upstream-synth", "busi-synth"], counts: (48, 16, 16), tag: "dsinput")
    let yaml = """
      defaults:
        finetune: {dataset: busi-synth, steps: 4, batch: 16, lr: 0.03}
      stages:
        pretrain:
          kind: pretrain
          params: {dataset: upstream-synth, preset: micro, steps: 4, batch: 16, optimizer: adamw, lr: 0.001}
        data:
          kind: dataset
          matrix: {size: [16, 12]}
          params: {name: busi-synth, size: "${item.size}"}
        both:
          kind: dataset
          params: {name: busi-synth, sizes: [12, 16]}
        direct:
          kind: finetune
          needs: [pretrain]
        staged:
          kind: finetune
          needs: [pretrain, "data@size16", "data@size12"]
        staged-sizes:
          kind: finetune
          needs: [pretrain, both]
        wrong-size:
          kind: finetune
          needs: [pretrain, "data@size12"]
      """
    let runner = try pipelineRunner(root, yaml, Array(StandardStages.registry.kinds.values))
    var opts = RunOptions()
    opts.keepGoing = true
    let r = try runner.run(opts)
    XCTAssertEqual(Set(r.failed), ["wrong-size"], "\(r.outcomes)")
    guard case .failed(let message)? = r.outcomes["wrong-size"] else { return XCTFail("\(r.outcomes)") }
    XCTAssertTrue(
      message.contains("'busi-synth' at 16 px") && message.contains("data@size12 (12 px)")
        && message.contains("add 16 to their sizes"), message)
    let st = try runner.status()
    func out(_ s: String) throws -> String {
      root + "/.peftlab/objects/" + (try XCTUnwrap(st.first { $0.stage == s }?.output))
    }
    for file in ["model.h5", "metrics.json"] {
      XCTAssertEqual(
        try Data(contentsOf: URL(fileURLWithPath: try out("direct") + "/" + file)),
        try Data(contentsOf: URL(fileURLWithPath: try out("staged") + "/" + file)), "\(file): the same pixels")
      XCTAssertEqual(
        try Data(contentsOf: URL(fileURLWithPath: try out("direct") + "/" + file)),
        try Data(contentsOf: URL(fileURLWithPath: try out("staged-sizes") + "/" + file)), "\(file): several sizes")
    }
  }

  func testSizeWithSizesFailsTheStageBeforeItRuns() throws {
    let root = try projectWithSyntheticManifests(["busi-synth"], counts: (8, 4, 4), tag: "dssizes")
    let yaml = """
      stages:
        data:
          kind: dataset
          params: {name: busi-synth, size: 16, sizes: [12]}
      """
    let r = try pipelineRunner(root, yaml, Array(StandardStages.registry.kinds.values)).run(RunOptions())
    guard case .failed(let message)? = r.outcomes["data"] else { return XCTFail("\(r.outcomes)") }
    XCTAssertTrue(message.contains("give `size` or `sizes`, not both"), message)
    XCTAssertTrue(r.ran.isEmpty)
  }
}

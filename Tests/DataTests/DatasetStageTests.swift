import Data
import Foundation
import Outputs
import Pipeline
import Stages
import TestSupport
import XCTest

final class DatasetStageTests: XCTestCase {
  func testEditingOneManifestRerunsOnlyItsStages() throws {
    let root = try projectWithSyntheticManifests(["busi-synth", "cxr3-synth"], counts: (30, 6, 6), tag: "dsstage")
    try "suite: [busi-synth, cxr3-synth]\n".write(
      toFile: root + "/data-manifests/groups.yaml", atomically: true, encoding: .utf8)
    try """
    vars: ../data-manifests/groups.yaml
    stages:
      data:
        kind: dataset
        matrix: {dataset: "${vars.suite}"}
        params: {name: "${item.dataset}", size: 16}
      use:
        kind: shell
        needs: ["data@${item.dataset}"]
        matrix: {dataset: "${vars.suite}"}
        params: {cmd: 'cp $IN_DATA_${item.dataset}/info.json $OUT/'}
    """.replacingOccurrences(of: "$IN_DATA_${item.dataset}", with: "\"$(env | grep ^IN_DATA_ | cut -d= -f2)\"")
      .write(toFile: root + "/Pipelines/p.yaml", atomically: true, encoding: .utf8)
    let registry = StageRegistry([ShellKind(), DatasetStageKind()])
    func run() throws -> RunSummary {
      let p = try Pipeline.load(root + "/Pipelines/p.yaml", profile: nil, registry: registry)
      return try Runner(
        pipeline: p, registry: registry, cache: try Cache(root: root + "/.peftlab"), projectRoot: root,
        reporter: ProgressReporter(mode: .quiet)
      ).run(RunOptions())
    }
    XCTAssertEqual(Set(try run().ran), ["data@busi-synth", "data@cxr3-synth", "use@busi-synth", "use@cxr3-synth"])
    XCTAssertTrue(try run().ran.isEmpty)
    // edit one manifest: only its dataset stage and what uses it rerun
    let f = root + "/data-manifests/cxr3-synth.yaml"
    try (try String(contentsOfFile: f, encoding: .utf8)).replacingOccurrences(of: "seed: 1", with: "seed: 2")
      .write(toFile: f, atomically: true, encoding: .utf8)
    XCTAssertEqual(Set(try run().ran), ["data@cxr3-synth", "use@cxr3-synth"])
    let p = try Pipeline.load(root + "/Pipelines/p.yaml", profile: nil, registry: registry)
    let st = try Runner(pipeline: p, registry: registry, cache: try Cache(root: root + "/.peftlab"), projectRoot: root)
      .status()
    XCTAssertTrue(st.allSatisfy { $0.state == .upToDate })
    let out = st.first { $0.stage == "use@cxr3-synth" }!.output!
    let info = try String(contentsOfFile: root + "/.peftlab/objects/\(out)/info.json", encoding: .utf8)
    XCTAssertTrue(info.contains("\"file\" : \"data-16.h5\"") && info.contains("cxr3-synth"), info)
    let typed = try DatasetInfoOutput.read(in: root + "/.peftlab/objects/\(out)")
    XCTAssertEqual(typed.classes, ["normal", "bacterial", "viral"])
    XCTAssertEqual(typed.counts["train"]?.reduce(0, +), 30)
    XCTAssertEqual(typed.decoded.map(\.size), [16])
    XCTAssertEqual(typed.decoded.first?.normalization?.mean.count, 3, "grey images are normalised as RGB")
  }
}

//===--- BYOExampleTests.swift - Pipelines/byo-example.yaml end to end -----===//
//
// The worked "bring your own checkpoints" path as a user runs it: export two
// embedded tasks as PNG folders, write timm-layout safetensors with
// scripts/byo_checkpoints.py (its dependency-free `plain` backend: CI has no
// torch), run the shipped pipeline. Needs python3 (skipped without it).
//===----------------------------------------------------------------------===//
import Foundation
import Model
import TestSupport
import XCTest

final class BYOExampleTests: XCTestCase {
  func testExportCheckpointsThenStudiesFiguresAndMask() throws {
    let root = try projectWithSyntheticManifests(
      ["busi-synth", "chaoyang-synth"], counts: (48, 24, 40), tag: "byo-example")
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
    let fm = FileManager.default
    try fm.copyItem(atPath: repo + "/data-manifests/byo", toPath: root + "/data-manifests/byo")
    try fm.copyItem(atPath: repo + "/Pipelines/byo-example.yaml", toPath: root + "/Pipelines/byo-example.yaml")
    for (task, folder) in [("busi-synth", "byo-busi"), ("chaoyang-synth", "byo-chaoyang")] {
      let e = try runPeftlab(["dataset", "export", task, "--to", "data/byo/" + folder], cwd: root)
      XCTAssertEqual(e.status, 0, e.output)
    }
    let again = try runPeftlab(["dataset", "export", "busi-synth", "--to", "data/byo/byo-busi"], cwd: root)
    XCTAssertNotEqual(again.status, 0, "an existing folder is never overwritten")

    let py = Process()
    py.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    py.arguments = ["python3", repo + "/scripts/byo_checkpoints.py", "--backend", "plain", "--seeds", "1"]
    py.currentDirectoryURL = URL(fileURLWithPath: root)
    do { try py.run() } catch { throw XCTSkip("no python3") }
    py.waitUntilExit()
    if py.terminationStatus == 127 { throw XCTSkip("no python3") }
    XCTAssertEqual(py.terminationStatus, 0)

    let args = ["run", "--pipeline", "Pipelines/byo-example.yaml", "--profile", "smoke", "--jobs", "2"]
    let first = try runPeftlab(args, cwd: root)
    XCTAssertEqual(first.status, 0, first.output)
    XCTAssertTrue(first.output.contains("12 ran, 0 cached, 0 failed"), first.output)
    let lock =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: root + "/Pipelines/byo-example.smoke.lock"))) as! [String: Any]
    let stages = try XCTUnwrap(lock["stages"] as? [String: Any])
    func dir(_ stage: String) throws -> String {
      root + "/.peftlab/objects/" + (try XCTUnwrap((stages[stage] as? [String: Any])?["output"] as? String, stage))
    }
    for fig in ["fig-sparsity", "fig-overlap"] {
      for f in ["figure.pdf", "figure.png"] { XCTAssertTrue(fm.fileExists(atPath: try dir(fig) + "/" + f), fig + f) }
    }
    // the W_ft file's imported head and backbone: k = 100 % of its change is W_ft itself
    let sp =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: try dir("sparsity@byo-busi@seed1") + "/sparsity.json")))
      as! [String: Any]
    XCTAssertEqual((sp["grid"] as? [[String: Any]])?.last?["f1_fraction"] as? Double ?? 0, 1, accuracy: 1e-12)
    // SH-PEFT's selection for PyTorch: 1 % of the backbone, one uint8 mask per tensor (timm names)
    let mask = try SafetensorsFile(path: try dir("importance@byo-chaoyang@seed1") + "/mask.safetensors")
    var selected = 0, total = 0
    for (name, e) in mask.entries {
      XCTAssertEqual(e.dtype, "U8", name)
      let raw = try Data(contentsOf: URL(fileURLWithPath: mask.path))
      let header = raw.withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self).littleEndian) }
      let bytes = raw[(8 + header + e.begin)..<(8 + header + e.end)]
      selected += bytes.reduce(0) { $0 + Int($1) }
      total += bytes.count
    }
    XCTAssertTrue(mask.entries.keys.contains("blocks.0.attn.qkv.weight"))
    XCTAssertFalse(mask.entries.keys.contains { $0.hasPrefix("head.") }, "the task head trains fully, outside the mask")
    XCTAssertEqual(Double(selected), (Double(total) * 0.01).rounded(.down), accuracy: 1)

    // a replaced W_ft reruns only what reads it (import, its sparsity, hybridity, both figures)
    let ft = root + "/checkpoints/byo/ft-byo-busi-s1.safetensors"
    var bytes = try Data(contentsOf: URL(fileURLWithPath: ft))
    bytes[bytes.count - 1] ^= 0x01
    try bytes.write(to: URL(fileURLWithPath: ft))
    let second = try runPeftlab(args, cwd: root)
    XCTAssertEqual(second.status, 0, second.output)
    XCTAssertTrue(second.output.contains("5 ran, 7 cached, 0 failed"), second.output)
  }
}

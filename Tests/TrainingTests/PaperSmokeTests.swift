//===--- PaperSmokeTests.swift - the `paper` profile in shape, end to end --===//
//
// `make paper-figures PROFILE=paper-smoke` in a fresh project: the stand-ins
// (scripts/make_paper_smoke.py: the real manifests' image folders filled with
// embedded twins at 224 px, a whole CLIP-layout safetensors file of a narrow
// ViT-B/16-shaped model) feed the paper profile's pipelines unchanged in
// shape: import from safetensors, 224 px, the papers' recipes, every figure.
//===----------------------------------------------------------------------===//
import Foundation
import TestSupport
import XCTest

final class PaperSmokeTests: XCTestCase {
  func testPaperSmokeProfileProducesEveryFigure() throws {
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().path
    let root = temporaryPath("paper-smoke-\(UInt32.random(in: 0...UInt32.max))")
    let fm = FileManager.default
    for d in ["Pipelines", "Reports", "scripts"] {
      try fm.createDirectory(atPath: root + "/" + d, withIntermediateDirectories: true)
    }
    try fm.copyItem(atPath: repo + "/data-manifests", toPath: root + "/data-manifests")
    try fm.copyItem(atPath: repo + "/Pipelines/vars", toPath: root + "/Pipelines/vars")
    for f in ["calibration.yaml", "sh-peft.yaml", "sweep.yaml", "figures.yaml"] {
      try fm.copyItem(atPath: repo + "/Pipelines/" + f, toPath: root + "/Pipelines/" + f)
    }
    for f in try fm.contentsOfDirectory(atPath: repo + "/Reports") where f.hasSuffix(".yaml") {
      try fm.copyItem(atPath: repo + "/Reports/" + f, toPath: root + "/Reports/" + f)
    }
    for f in ["make_paper_smoke.py", "byo_checkpoints.py"] {
      try fm.copyItem(atPath: repo + "/scripts/" + f, toPath: root + "/scripts/" + f)
    }
    let py = Process()
    py.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    py.arguments = ["python3", "scripts/make_paper_smoke.py", "--peftlab", peftlabBinary()]
    py.currentDirectoryURL = URL(fileURLWithPath: root)
    do { try py.run() } catch { throw XCTSkip("no python3") }
    py.waitUntilExit()
    if py.terminationStatus == 127 { throw XCTSkip("no python3") }
    XCTAssertEqual(py.terminationStatus, 0, "make_paper_smoke.py")

    let r = try runPeftlab(
      ["make-paper-figures", "--profile", "paper-smoke", "--jobs", "2", "--threads", "2"], cwd: root)
    XCTAssertEqual(r.status, 0, r.output)
    XCTAssertTrue(r.output.contains(" 0 failed"), r.output)
    let index = try String(contentsOfFile: root + "/Reports/out/index.md", encoding: .utf8)
    XCTAssertTrue(
      index.contains("imported checkpoint checkpoints/paper-smoke/clip-narrow-p16.safetensors (open_clip layout"),
      "the title page names the imported checkpoint")
    let report = try String(contentsOfFile: repo + "/Reports/report.yaml", encoding: .utf8)
    let figures = report.components(separatedBy: "stage:").count - 1
    XCTAssertGreaterThan(figures, 10)
    XCTAssertTrue(index.contains("# peftlab report") || index.hasPrefix("#"))
    let pngs = try fm.contentsOfDirectory(atPath: root + "/Reports/out/figures").filter { $0.hasSuffix(".png") }
    XCTAssertEqual(pngs.count, figures, "every figure of Reports/report.yaml")
    XCTAssertTrue(fm.fileExists(atPath: root + "/Reports/out/report.pdf"))
  }
}

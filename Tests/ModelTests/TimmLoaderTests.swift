//===--- TimmLoaderTests.swift - scripts/load_timm.py against the engine ---===//
//
// scripts/load_timm.py rebuilds a timm VisionTransformer from a model.h5; its
// logits must match the engine's on the same batch. Needs a Python with torch,
// timm and h5py: $PEFTLAB_TORCH_PYTHON, else python3; skipped where none has
// them (CI installs no torch). Tests/Fixtures/tvstub.py stands in for a
// torchvision wheel that cannot load beside a CPU-only torch.
//===----------------------------------------------------------------------===//
import Foundation
import Kernels
import Model
import TestSupport
import XCTest
import Storage

final class TimmLoaderTests: XCTestCase {
  override func setUp() { Parallel.threads = 2 }

  private var repo: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  }

  /// Runs `code` in the torch Python with the torchvision stand-in installed; nil when that Python is missing.
  private func python(_ code: String, args: [String] = []) throws -> (status: Int32, output: String)? {
    let exe = ProcessInfo.processInfo.environment["PEFTLAB_TORCH_PYTHON"] ?? "/usr/bin/env"
    let lead = exe == "/usr/bin/env" ? ["python3"] : []
    let prelude =
      "import sys; sys.path.insert(0, \(String(reflecting: fixture(""))));"
      + " import tvstub; tvstub.install()\n"
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = lead + ["-c", prelude + code] + args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    do { try p.run() } catch { return nil }
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: out, as: UTF8.self))
  }

  private func check(_ config: ViTConfig, name: String) throws {
    guard let probe = try python("import torch, timm, h5py"), probe.status == 0 else {
      throw XCTSkip("no Python with torch, timm and h5py (set PEFTLAB_TORCH_PYTHON)")
    }
    let model = try ViT(config: config, seed: 7)
    var rng = Xoshiro256(seed: 11)
    // far from initialisation (timm's zero head would hide a wrong feature path)
    for i in 0..<model.params.count { model.params.pointer[i] += Float(0.2 * rng.normal()) }
    let path = temporaryPath("\(name).h5")
    try Checkpoint.save(
      model, to: path,
      extraAttributes: [
        "normalization_mean": "[0.5, 0.5, 0.5]", "normalization_std": "[0.25, 0.25, 0.25]",
        "class_names": "[\"a\", \"b\", \"c\"]",
      ])
    let B = 3
    let n = B * config.channels * config.imageSize * config.imageSize
    let images = (0..<n).map { _ in Float(rng.normal()) }
    let batch = temporaryPath("\(name)-images.h5")
    do {
      let f = try HDF5File.create(batch)
      try f.write("images", floats: images, shape: [B, config.channels, config.imageSize, config.imageSize])
    }
    let acts = Activations(config: config, batch: B)
    images.withUnsafeBufferPointer { model.forward(images: $0.baseAddress!, acts: acts) }
    let out = temporaryPath("\(name)-logits.h5")
    let script = repo.appendingPathComponent("scripts/load_timm.py").path
    let run =
      "import runpy; runpy.run_path(\(String(reflecting: script)),"
      + " run_name='__main__')"
    let r = try XCTUnwrap(try python(run, args: [path, "--images", batch, "--out", out]))
    XCTAssertEqual(r.status, 0, r.output)
    XCTAssertTrue(r.output.contains("'class_names': ['a', 'b', 'c']"), r.output)
    let torchLogits = try HDF5File.open(out).readFloats("logits").values
    let err = relativeError(acts.logitsArray, torchLogits)
    XCTAssertLessThan(err, 1e-4, "\(name): engine vs timm logits")
    print("\(name): load_timm.py logits rel err \(err)")
  }

  func testTimmLayoutWithL2Head() throws {
    var c = try ViTConfig.preset("micro")
    c.numClasses = 3
    c.head = .l2Linear
    c.headScale = 16
    try check(c, name: "timm-l2")
  }

  func testCLIPLayoutWithQuickGELU() throws {
    var c = try ViTConfig.preset("micro")
    c.numClasses = 3
    c.head = .linear
    c.activation = .quickGELU
    c.preNorm = true
    c.patchBias = false
    c.layerNormEps = 1e-5
    try check(c, name: "clip-linear")
  }
}

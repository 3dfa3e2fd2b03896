//===--- ImportTests.swift - safetensors imports and checkpoint files ------===//
import Foundation
import Kernels
import Model
import TestSupport
import XCTest
import Storage

final class ImportTests: XCTestCase {
  override func setUp() { Parallel.threads = 2 }

  func logits(_ m: ViT, _ h5: String) throws -> ([Float], [Float]) {
    let f = try HDF5File.open(fixture(h5))
    let images = try f.readFloats("batch/images").values
    let acts = Activations(config: m.config, batch: images.count / (3 * 16 * 16))
    m.forward(images: images, acts: acts)
    return (acts.logitsArray, try f.readFloats("expected/logits").values)
  }

  func testTimmSafetensorsGivesPyTorchLogits() throws {
    let (m, report) = try CheckpointImport.load(
      safetensors: fixture("timm_micro.safetensors"), head: .l2Linear, heads: 2)
    XCTAssertEqual(report.flavor, "timm")
    XCTAssertEqual(m.config.numClasses, 4)
    XCTAssertEqual(m.config.activation, .gelu)
    XCTAssertTrue(report.newlyInitialised.isEmpty)
    let (ours, ref) = try logits(m, "timm_micro.h5")
    XCTAssertLessThan(relativeError(ours, ref), 1e-4)
  }

  func testOpenCLIPSafetensorsGivesPyTorchLogits() throws {
    let (m, report) = try CheckpointImport.load(
      safetensors: fixture("clip_micro.safetensors"), numClasses: 4, head: .linear, heads: 2)
    XCTAssertEqual(report.flavor, "open_clip")
    XCTAssertEqual(m.config.activation, .quickGELU)
    XCTAssertTrue(m.config.preNorm)
    XCTAssertFalse(m.config.patchBias)
    XCTAssertEqual(report.ignored, ["visual.proj"])
    XCTAssertEqual(report.newlyInitialised, ["head.weight", "head.bias"])
    // The head is new; give it the fixture's head to compare logits.
    let f = try HDF5File.open(fixture("clip_micro.h5"))
    try m.setValues("head.weight", try f.readFloats("head.weight").values)
    try m.setValues("head.bias", try f.readFloats("head.bias").values)
    let (ours, ref) = try logits(m, "clip_micro.h5")
    XCTAssertLessThan(relativeError(ours, ref), 1e-4)
    // q/k/v views of the split in_proj_weight
    XCTAssertEqual(m.values("blocks.0.attn.k.weight")!.count, 32 * 32)
  }

  func testPositionEmbeddingResampleMatchesTimm() throws {
    let f = try HDF5File.open(fixture("posembed.h5"))
    for (old, new) in [(4, 6), (6, 4), (4, 3), (3, 7)] {
      let input = try f.readFloats("\(old)to\(new)/input").values
      let expected = try f.readFloats("\(old)to\(new)/output").values
      let ours = PositionEmbedding.resample(input, width: 5, from: (old, old), to: (new, new))
      XCTAssertLessThan(relativeError(ours, expected), 1e-5, "\(old) -> \(new)")
    }
  }

  func testImportIntoLargerImageResamplesPosEmbed() throws {
    var c = try ViTConfig.preset("micro")
    c.imageSize = 24  // 6x6 grid instead of 4x4
    let (m, report) = try CheckpointImport.load(safetensors: fixture("timm_micro.safetensors"), config: c)
    XCTAssertTrue(report.resampledPositionEmbedding)
    XCTAssertEqual(m.values("pos_embed")!.count, 37 * 32)
  }

  func testCheckpointRoundTrip() throws {
    let m = try ViT(config: try ViTConfig.preset("micro"), seed: 42)
    let path = temporaryPath("ckpt.h5")
    try Checkpoint.save(m, to: path)
    let back = try Checkpoint.load(path)
    XCTAssertEqual(back.config, m.config)
    XCTAssertEqual(back.params.array(), m.params.array())
    let f = try HDF5File.open(path)
    XCTAssertEqual(try f.shape(of: "blocks.1.mlp.fc1.weight"), [128, 32])
    XCTAssertEqual(try f.shape(of: "pos_embed"), [1, 17, 32])
    XCTAssertEqual(try f.stringAttribute("activation"), "gelu")
  }

  // MARK: - Bad input: errors name the file and the tensor

  func expectError(
    _ body: () throws -> Void, contains parts: [String], file: StaticString = #filePath, line: UInt = #line
  ) {
    do {
      try body()
      XCTFail("expected an error", file: file, line: line)
    } catch {
      let s = "\(error)"
      for p in parts { XCTAssertTrue(s.contains(p), "error '\(s)' lacks '\(p)'", file: file, line: line) }
    }
  }

  func testTruncatedSafetensors() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: fixture("timm_micro.safetensors")))
    let path = temporaryPath("truncated.safetensors")
    try data.prefix(data.count - 1000).write(to: URL(fileURLWithPath: path))
    expectError(
      { _ = try CheckpointImport.load(safetensors: path, heads: 2) },
      contains: [path, "truncated"])
    let tiny = temporaryPath("tiny.safetensors")
    try Data([1, 2, 3]).write(to: URL(fileURLWithPath: tiny))
    expectError({ _ = try SafetensorsFile(path: tiny) }, contains: [tiny, "not a safetensors file"])
  }

  func testWrongShapeAndMissingTensor() throws {
    let src = try SafetensorsFile(path: fixture("timm_micro.safetensors"))
    var tensors: [(name: String, shape: [Int], values: [Float])] = []
    for (name, e) in src.entries.sorted(by: { $0.key < $1.key }) where name != "blocks.1.norm2.bias" {
      var shape = e.shape, values = try src.floats(name)
      if name == "blocks.0.mlp.fc2.weight" { shape = [shape[1], shape[0]] }  // transposed
      if name == "blocks.0.mlp.fc2.weight" { values = Array(values) }
      tensors.append((name, shape, values))
    }
    let wrong = temporaryPath("wrong.safetensors")
    try SafetensorsFile.write(wrong, tensors: tensors)
    expectError(
      { _ = try CheckpointImport.load(safetensors: wrong, heads: 2) },
      contains: [wrong, "blocks.0.mlp.fc2.weight", "shape"])
    let missing = temporaryPath("missing.safetensors")
    try SafetensorsFile.write(missing, tensors: tensors.filter { $0.name != "blocks.0.mlp.fc2.weight" })
    expectError(
      { _ = try CheckpointImport.load(safetensors: missing, heads: 2) },
      contains: [missing, "missing tensor", "blocks.0.mlp.fc2.weight"])
  }

  /// NaN/Inf weights are named (file and tensor) at import, not found as "diverged at step 0" later;
  /// a shape that overflows is an error before anything is allocated.
  func testNonFiniteWeightsAndOverflowingShapesAreNamed() throws {
    let src = try SafetensorsFile(path: fixture("timm_micro.safetensors"))
    var tensors: [(name: String, shape: [Int], values: [Float])] = []
    for (name, e) in src.entries.sorted(by: { $0.key < $1.key }) {
      var values = try src.floats(name)
      if name == "blocks.1.attn.qkv.weight" { values[17] = .nan; values[40] = .infinity }
      tensors.append((name, e.shape, values))
    }
    let nan = temporaryPath("nan.safetensors")
    try SafetensorsFile.write(nan, tensors: tensors)
    expectError(
      { _ = try CheckpointImport.load(safetensors: nan, heads: 2) },
      contains: [nan, "blocks.1.attn.qkv.weight", "2 non-finite values", "index 17"])
    let m = try ViT(config: try ViTConfig.preset("micro"), seed: 1)
    var w = try XCTUnwrap(m.values("blocks.0.mlp.fc1.bias"))
    w[3] = -.infinity
    try m.setValues("blocks.0.mlp.fc1.bias", w)
    let h5 = temporaryPath("inf.h5")
    try Checkpoint.save(m, to: h5)
    expectError({ _ = try Checkpoint.load(h5) }, contains: [h5, "blocks.0.mlp.fc1.bias", "non-finite"])
    // shape [2^62, 4]: the element count overflows
    let header = #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#
    var d = Data()
    var n = UInt64(header.utf8.count).littleEndian
    withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
    d.append(Data(header.utf8)); d.append(Data(count: 16))
    let huge = temporaryPath("huge.safetensors")
    try d.write(to: URL(fileURLWithPath: huge))
    expectError({ _ = try SafetensorsFile(path: huge) }, contains: [huge, "'w'", "shape"])
  }

  /// What a safetensors file cannot say is decided in the open: the activation and the head are
  /// named; a whole CLIP model gives its visual tower; other architectures are named and refused.
  func testImportSaysWhatItDecidedAndTakesTheVisualTower() throws {
    let clip = try SafetensorsFile(path: fixture("clip_micro.safetensors"))
    var tensors: [(name: String, shape: [Int], values: [Float])] = []
    for (name, e) in clip.entries.sorted(by: { $0.key < $1.key }) {
      tensors.append((name.hasPrefix("visual.") ? name : "visual." + name, e.shape, try clip.floats(name)))
    }
    // a text tower whose blocks have the visual tower's names without "visual."
    tensors.append(("transformer.resblocks.0.ln_1.weight", [5], [Float](repeating: 1, count: 5)))
    tensors.append(("token_embedding.weight", [7, 5], [Float](repeating: 0, count: 35)))
    let whole = temporaryPath("whole-clip.safetensors")
    try SafetensorsFile.write(whole, tensors: tensors)
    let (m, report) = try CheckpointImport.load(safetensors: whole, numClasses: 4, head: .linear, heads: 2)
    let (direct, _) = try CheckpointImport.load(
      safetensors: fixture("clip_micro.safetensors"), numClasses: 4, head: .linear, heads: 2)
    XCTAssertEqual(m.values("blocks.0.norm1.weight"), direct.values("blocks.0.norm1.weight"))
    XCTAssertTrue(
      report.decisions.contains { $0.contains("visual tower taken") && $0.contains("2 text-tower tensors") },
      "\(report.decisions)")
    XCTAssertTrue(report.decisions.contains { $0.hasPrefix("activation quick_gelu") }, "\(report.decisions)")
    let (g, gr) = try CheckpointImport.load(
      safetensors: whole, numClasses: 4, head: .linear, heads: 2, activation: .gelu)
    XCTAssertEqual(g.config.activation, .gelu)
    XCTAssertTrue(gr.decisions.contains("activation gelu (given)"), "\(gr.decisions)")

    // timm with a head: kept and linear by default; a preset keeps the file's class count
    let (t, tr) = try CheckpointImport.load(safetensors: fixture("timm_micro.safetensors"), head: nil, heads: 2)
    XCTAssertEqual(t.config.head, .linear)
    XCTAssertTrue(tr.decisions.contains { $0.hasPrefix("head kept") }, "\(tr.decisions)")

    // not a ViT
    let convnext = temporaryPath("convnext.safetensors")
    try SafetensorsFile.write(
      convnext,
      tensors: [
        ("stem.0.weight", [4, 3, 4, 4], [Float](repeating: 0, count: 192)),
        ("stages.0.blocks.0.conv_dw.weight", [4, 1, 7, 7], [Float](repeating: 0, count: 196)),
      ])
    expectError({ _ = try CheckpointImport.load(safetensors: convnext) }, contains: [convnext, "only ViT", "ConvNeXt"])
  }

  func testCheckpointMissingTensorAndNotHDF5() throws {
    let notH5 = temporaryPath("not.h5")
    try "hello".write(toFile: notH5, atomically: true, encoding: .utf8)
    expectError({ _ = try Checkpoint.load(notH5) }, contains: [notH5, "not an HDF5 file"])
    let m = try ViT(config: try ViTConfig.preset("micro"), seed: 1)
    let partial = temporaryPath("partial.h5")
    try Checkpoint.save(m, to: partial)
    // rewrite without one tensor
    let f = try HDF5File.open(partial)
    let copy = temporaryPath("partial2.h5")
    try writeAtomically(copy) { tmp in
      let g = try HDF5File.create(tmp)
      for a in ["format", "activation", "head"] { try g.setAttribute(a, string: try f.stringAttribute(a)) }
      for a in [
        "image_size", "channels", "patch_size", "width", "depth", "heads", "mlp_dim", "num_classes", "pre_norm",
        "patch_bias",
      ] {
        try g.setAttribute(a, int: try f.intAttribute(a))
      }
      try g.setAttribute("layer_norm_eps", double: try f.doubleAttribute("layer_norm_eps"))
      for n in f.datasetNames() where n != "norm.bias" {
        let (v, s) = try f.readFloats(n)
        try g.write(n, floats: v, shape: s)
      }
    }
    expectError({ _ = try Checkpoint.load(copy) }, contains: [copy, "missing tensor 'norm.bias'"])
  }

  func testSafetensorsHalfAndBFloat16() throws {
    XCTAssertEqual(halfBits(0x3C00), 1.0)
    XCTAssertEqual(halfBits(0xC000), -2.0)
    XCTAssertEqual(halfBits(0x0001), Float(5.960464477539063e-08))
    XCTAssertTrue(halfBits(0x7C00).isInfinite)
  }

  private func halfBits(_ h: UInt16) -> Float {
    // write a one-element F16 file by hand and read it back
    let path = temporaryPath("half.safetensors")
    var header = "{\"x\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}"
    while (header.utf8.count % 8) != 0 { header += " " }
    var d = Data()
    var n = UInt64(header.utf8.count).littleEndian
    withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
    d.append(contentsOf: Array(header.utf8))
    d.append(UInt8(h & 0xFF)); d.append(UInt8(h >> 8))
    try! d.write(to: URL(fileURLWithPath: path))
    return try! SafetensorsFile(path: path).floats("x")[0]
  }
}

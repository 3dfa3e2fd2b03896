//===--- PyTorchParityTests.swift - against timm / open_clip in PyTorch ----===//
//
// Fixtures from scripts/make_fixtures.py: a timm ViT with the SH-PEFT
// (L2-normalised) head and an open_clip ViT (QuickGELU, ln_pre) with a linear
// head, both with weights far from initialisation. Forward logits, loss and
// every parameter gradient must match to relative error ≤ 1e-4.
//===----------------------------------------------------------------------===//
import Kernels
import Model
import TestSupport
import XCTest
import Storage

final class PyTorchParityTests: XCTestCase {
  override func setUp() { Parallel.threads = 2 }

  func parity(_ file: String) throws {
    let path = fixture(file)
    let model = try Checkpoint.load(path)
    let f = try HDF5File.open(path)
    let images = try f.readFloats("batch/images").values
    let labels = try f.readInt64s("batch/labels").values.map { Int32($0) }
    let acts = Activations(config: model.config, batch: labels.count)
    let grads = Gradients(layout: model.layout)
    model.forward(images: images, acts: acts)
    let loss = model.loss(acts: acts, targets: labels)
    model.backward(acts: acts, targets: labels, grads: grads)
    let logitErr = relativeError(acts.logitsArray, try f.readFloats("expected/logits").values)
    XCTAssertLessThan(logitErr, 1e-4, "\(file): logits")
    let refLoss = try f.readFloats("expected/loss").values[0]
    XCTAssertLessThan(abs(Double(loss - refLoss)) / Double(refLoss), 1e-4, "\(file): loss \(loss) vs \(refLoss)")
    var worst = (0.0, "")
    for t in model.layout.tensors {
      let e = relativeError(grads.values(t.name)!, try f.readFloats("expected/grads/" + t.name).values)
      XCTAssertLessThan(e, 1e-4, "\(file): grad of \(t.name)")
      if e > worst.0 { worst = (e, t.name) }
    }
    print("\(file): logits rel err \(logitErr), worst grad rel err \(worst.0) (\(worst.1))")
  }

  func testTimmForwardBackwardParity() throws { try parity("timm_micro.h5") }
  func testCLIPForwardBackwardParity() throws { try parity("clip_micro.h5") }

  func testModelGradsCommandOutput() throws {
    // `peftlab model grads` reads /images and /labels: build such a batch file.
    let src = try HDF5File.open(fixture("timm_micro.h5"))
    let batch = temporaryPath("batch.h5")
    do {
      let b = try HDF5File.create(batch)
      let (img, shape) = try src.readFloats("batch/images")
      try b.write("images", floats: img, shape: shape)
      try b.write("labels", int64s: try src.readInt64s("batch/labels").values)
    }
    let model = try CheckpointImport.loadAny(fixture("timm_micro.h5"))
    let out = temporaryPath("grads.h5")
    try GradientDump.write(try GradientDump.compute(model: model, batchPath: batch), model: model, to: out)
    let o = try HDF5File.open(out)
    XCTAssertLessThan(
      relativeError(try o.readFloats("logits").values, try src.readFloats("expected/logits").values), 1e-4)
    XCTAssertEqual(try o.shape(of: "grads/blocks.1.attn.qkv.weight"), [96, 32])
    XCTAssertEqual(o.datasetNames().filter { $0.hasPrefix("grads/") }.count, model.layout.tensors.count)
  }
}

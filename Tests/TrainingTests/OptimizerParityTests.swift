//===--- OptimizerParityTests.swift - ten steps against torch.optim --------===//
import Kernels
import Model
import Training
import TestSupport
import XCTest
import Storage

final class OptimizerParityTests: XCTestCase {
  override func setUp() { Parallel.threads = 2 }

  func run(_ file: String, _ kind: String) throws {
    let path = fixture(file)
    let model = try Checkpoint.load(path)
    let f = try HDF5File.open(path)
    let (images, shape) = try f.readFloats("\(kind)/images")
    let labels = try f.readInt64s("\(kind)/labels").values.map { Int32($0) }
    let expected = try f.readFloats("\(kind)/losses").values
    func attr(_ k: String) throws -> Double {
      // hyper-parameters are attributes of the group; read them through h5 paths
      try f.groupDoubleAttribute(kind, k)
    }
    let steps = shape[0], B = shape[1]
    let opt: OptimizerKind =
      kind == "sgd"
      ? .sgd(momentum: Float(try attr("momentum")), weightDecay: Float(try attr("weight_decay")))
      : .adamw(
        beta1: Float(try attr("beta1")), beta2: Float(try attr("beta2")), eps: Float(try attr("eps")),
        weightDecay: Float(try attr("weight_decay")))
    let clip = try attr("clip")
    let cfg = TrainConfig(
      optimizer: opt,
      schedule: CosineSchedule(baseLR: try attr("lr"), warmupSteps: Int(try attr("warmup")), totalSteps: steps),
      batchSize: B, clipNorm: clip > 0 ? Float(clip) : nil)
    let trainer = Trainer(model: model, selection: .all(model.layout), config: cfg)
    let per = images.count / steps
    var losses: [Float] = []
    for s in 0..<steps {
      let r = try images.withUnsafeBufferPointer { img in
        try labels.withUnsafeBufferPointer { lab in
          try trainer.step(images: img.baseAddress! + s * per, labels: lab.baseAddress! + s * B)
        }
      }
      losses.append(r.loss)
    }
    for s in 0..<steps {
      XCTAssertLessThan(
        abs(Double(losses[s] - expected[s])) / Double(expected[s]), 1e-4,
        "\(file) \(kind) step \(s): \(losses[s]) vs \(expected[s])")
    }
    print("\(file) \(kind): losses \(losses.map { String(format: "%.5f", $0) }.joined(separator: " "))")
  }

  func testTimmSGD() throws { try run("timm_micro.h5", "sgd") }
  func testTimmAdamW() throws { try run("timm_micro.h5", "adamw") }
  func testCLIPSGD() throws { try run("clip_micro.h5", "sgd") }
  func testCLIPAdamW() throws { try run("clip_micro.h5", "adamw") }
}

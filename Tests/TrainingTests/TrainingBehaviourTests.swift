//===--- TrainingBehaviourTests.swift - learning, determinism, masks -------===//
import Kernels
import Data
import Model
import Training
import XCTest

final class TrainingBehaviourTests: XCTestCase {
  override func setUp() { Parallel.threads = 2 }

  static func microConfig(classes: Int = 4) throws -> ViTConfig {
    var c = try ViTConfig.preset("micro")
    c.numClasses = classes
    return c
  }

  func train(
    _ c: ViTConfig, steps: Int, selection: ((ViTLayout) -> ParameterSelection)? = nil,
    lr: Double = 0.05, seed: UInt64 = 1, threads: Int = 2, opt: OptimizerKind = .sgdDefault,
    clip: Float? = nil, warmup: Int = 10
  ) throws -> (ViT, [Float], Trainer) {
    Parallel.threads = threads
    let model = try ViT(config: c, seed: seed)
    let data = QuadrantTask.make(count: 4096, classes: c.numClasses, size: c.imageSize, seed: 7)
    let cfg = TrainConfig(
      optimizer: opt, schedule: CosineSchedule(baseLR: lr, warmupSteps: warmup, totalSteps: steps), batchSize: 32,
      clipNorm: clip)
    let trainer = Trainer(model: model, selection: selection?(model.layout) ?? .all(model.layout), config: cfg)
    var sampler = BatchSampler(data, batch: 32, seed: seed)
    var imgs: [Float] = [], labs: [Int32] = []
    var losses: [Float] = []
    for _ in 0..<steps {
      sampler.next(images: &imgs, labels: &labs)
      losses.append(try trainer.step(images: imgs, labels: labs).loss)
    }
    return (model, losses, trainer)
  }

  /// The tiny ViT learns a simple generated task to > 90 % test accuracy,
  /// with either head.
  func testLearnsQuadrantTask() throws {
    for head in HeadKind.allCases {
      var c = try Self.microConfig()
      c.head = head
      let (model, losses, _) = try train(
        c, steps: 1500, lr: 3e-3, opt: .adamw(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05),
        clip: 1, warmup: 20)
      let test = QuadrantTask.make(count: 400, classes: 4, size: c.imageSize, seed: 99)
      let m = Evaluation.evaluate(model, on: test)
      print(
        "quadrant task, \(head) head: test accuracy \(m.accuracy), F1 \(m.macroF1), AUC \(m.macroAUC), final loss "
          + "\(losses.last!)"
      )
      XCTAssertGreaterThan(m.accuracy, 0.9, "\(head) head")
    }
  }

  func testFixedSeedAndThreadsAreBitIdentical() throws {
    let c = try Self.microConfig()
    for threads in [1, 2] {
      let (_, a, _) = try train(c, steps: 15, seed: 3, threads: threads)
      let (_, b, _) = try train(c, steps: 15, seed: 3, threads: threads)
      XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "threads \(threads)")
    }
    let (_, x, _) = try train(c, steps: 15, seed: 3)
    let (_, y, _) = try train(c, steps: 15, seed: 4)
    XCTAssertNotEqual(x, y, "a different seed must change the run")
  }

  func testDivergenceNamesStepAndTensor() throws {
    let c = try Self.microConfig()
    let model = try ViT(config: c, seed: 1)
    let cfg = TrainConfig(
      optimizer: .sgd(momentum: 0, weightDecay: 0),
      schedule: CosineSchedule(baseLR: 1e30, totalSteps: 10), batchSize: 8)
    let trainer = Trainer(model: model, selection: .all(model.layout), config: cfg)
    let data = QuadrantTask.make(count: 8, classes: 4, size: 16, seed: 1)
    do {
      for _ in 0..<10 { try trainer.step(images: data.images, labels: data.labels) }
      XCTFail("expected divergence")
    } catch let TrainingError.diverged(step, tensor) {
      XCTAssertGreaterThan(step, 0)
      XCTAssertFalse(tensor.isEmpty)
      print("diverged at step \(step) in \(tensor)")
    }
    // NaN in an input reaches the loss at step 0
    let m2 = try ViT(config: c, seed: 1)
    let t2 = Trainer(model: m2, selection: .all(m2.layout), config: cfg)
    var bad = data.images
    bad[5] = .nan
    XCTAssertThrowsError(try t2.step(images: bad, labels: data.labels)) { e in
      XCTAssertEqual(e as? TrainingError, .diverged(step: 0, tensor: "loss"))
    }
  }

  func testElementMaskChangesOnlySelectedElements() throws {
    let c = try Self.microConfig()
    let layout = ViTLayout(c)
    // every 97th backbone element
    let chosen = stride(from: 0, to: layout.tensors[layout.headW].offset, by: 97).map { $0 }
    let before = try ViT(config: c, seed: 1).params.array()
    let (model, _, trainer) = try train(
      c, steps: 5, selection: { .elements($0, backbone: chosen) },
      opt: .adamw(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1))
    let after = model.params.array()
    let allowed = Set(chosen).union(layout.headTensors.flatMap { Array(layout.tensors[$0].range) })
    var changed = 0
    for i in 0..<after.count where after[i] != before[i] {
      XCTAssertTrue(allowed.contains(i), "element \(i) changed but was not selected")
      changed += 1
    }
    XCTAssertGreaterThan(changed, chosen.count / 2)
    XCTAssertEqual(trainer.optimizer.trainedCount, allowed.count)
    XCTAssertEqual(trainer.memory.optimizerState, 2 * 4 * allowed.count, "AdamW state only for selected elements")
  }

  func testFrozenTensorsDoNotChangeAndCostLess() throws {
    let c = try Self.microConfig()
    let before = try ViT(config: c, seed: 1)
    let (full, _, fullTrainer) = try train(c, steps: 3)
    _ = full
    let (bitfit, _, bitTrainer) = try train(
      c, steps: 3, selection: { .tensors($0) { $0.hasSuffix(".bias") || $0.hasPrefix("head.") } })
    for t in bitfit.layout.tensors where !(t.name.hasSuffix(".bias") || t.name.hasPrefix("head.")) {
      XCTAssertEqual(bitfit.values(t.name)!, before.values(t.name)!, "\(t.name) is frozen")
    }
    XCTAssertLessThan(bitTrainer.memory.gradients, fullTrainer.memory.gradients / 10)
    XCTAssertLessThan(bitTrainer.memory.optimizerState, fullTrainer.memory.optimizerState / 10)
    XCTAssertEqual(fullTrainer.memory.parameters, before.parameterCount * 4)
    XCTAssertEqual(fullTrainer.memory.gradients, before.parameterCount * 4)
  }

  func testCosineScheduleAndWeightDecayRule() throws {
    let s = CosineSchedule(baseLR: 1, warmupSteps: 4, totalSteps: 14)
    XCTAssertEqual(s.lr(at: 0), 0.25)
    XCTAssertEqual(s.lr(at: 3), 1)
    XCTAssertEqual(s.lr(at: 4), 1)
    XCTAssertEqual(s.lr(at: 9), 0.5, accuracy: 1e-6)
    XCTAssertEqual(s.lr(at: 14), 0, accuracy: 1e-6)
    let l = ViTLayout(try ViTConfig.preset("micro"))
    let decays = Dictionary(uniqueKeysWithValues: l.tensors.map { ($0.name, usesWeightDecay($0)) })
    XCTAssertEqual(decays["blocks.0.attn.qkv.weight"], true)
    XCTAssertEqual(decays["patch_embed.proj.weight"], true)
    XCTAssertEqual(decays["blocks.0.attn.qkv.bias"], false)
    XCTAssertEqual(decays["blocks.0.norm1.weight"], false)
    XCTAssertEqual(decays["pos_embed"], false)
    XCTAssertEqual(decays["cls_token"], false)
  }
}

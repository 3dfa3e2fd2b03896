//===--- MemoryModelTests.swift - memory from shapes = memory as allocated ----===//
import Kernels
import Model
import PEFT
import Training
import XCTest

final class MemoryModelTests: XCTestCase {
  override func setUp() { Parallel.threads = 2 }

  /// For every method, the estimate equals `Trainer.memory` after a real step.
  func testEstimateEqualsAllocatedBuffers() throws {
    for preNorm in [false, true] {
      var c = try ViTConfig.preset("micro")
      c.preNorm = preNorm
      c.head = .linear
      let (imgs, labels) = MethodTrainingTests.task(c, B: 6)
      let opt = OptimizerKind.adamw(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0)
      for method in PEFTMethod.allCases where !method.isSideTuning && !method.selectsElements {
        let model = try ViT(config: c, seed: 1)
        let s = MethodSetup.make(method, config: c)
        let cfg = TrainConfig(
          optimizer: opt, schedule: CosineSchedule(baseLR: 0.001, warmupSteps: 0, totalSteps: 2), batchSize: 6)
        let trainer = Trainer(
          model: model, selection: ParameterSelection(tensors: s.tensors), config: cfg, modules: s.modules)
        let measured = try trainer.step(images: imgs, labels: labels).memory
        let estimate = MemoryModel.training(
          config: c, batch: 6, tensors: s.tensors, elements: nil, modules: s.modules, optimizer: opt)
        for (name, e, m) in [
          ("parameters", estimate.parameters, measured.parameters),
          ("gradients", estimate.gradients, measured.gradients),
          ("optimizer", estimate.optimizerState, measured.optimizerState),
          ("activations", estimate.activations, measured.activations),
        ] {
          XCTAssertEqual(e, m, "\(method.rawValue) (preNorm \(preNorm)) \(name)")
        }
      }
    }
  }

  func testSideTuningEstimateEqualsAllocatedBuffers() throws {
    try checkSideTuning(.crossAttention)
  }

  /// FPT+ Fig. 7's "+ MLP" step: M's kept tokens as side rows, in the shape model as allocated.
  func testMLPFusionEstimateEqualsAllocatedBuffers() throws {
    try checkSideTuning(.mlp)
  }

  func checkSideTuning(_ kind: SideFusion) throws {
    var frozen = try ViTConfig.preset("micro")
    frozen.imageSize = 32
    var o = SideOptions()
    o.reduction = 2; o.sideSize = 16; o.sidePatch = 4; o.prompts = 3; o.fusion = kind
    let plan = try SideTuningPlan(plus: true, frozen: frozen, classes: 4, options: o)
    let side = try ViT(config: plan.side, seed: 2)
    let fusion = makeFusionModules(plan: plan, seed: 3)
    let B = 5
    let opt = OptimizerKind.adamw(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0)
    let trainer = Trainer(
      model: side, selection: .all(side.layout),
      config: TrainConfig(
        optimizer: opt, schedule: CosineSchedule(baseLR: 0.001, warmupSteps: 0, totalSteps: 2), batchSize: B),
      modules: fusion)
    let kv = [Float](repeating: 0.1, count: 2 * B * plan.kvCount)
    let imgs = [Float](repeating: 0.2, count: B * 3 * 16 * 16)
    let m = try kv.withUnsafeBufferPointer { p -> MemoryReport in
      fusion.keys = p.baseAddress!; fusion.values = p.baseAddress! + B * plan.kvCount
      return try trainer.step(images: imgs, labels: [0, 1, 2, 3, 0]).memory
    }
    var e = MemoryModel.sideTuning(plan: plan, batch: B, optimizer: opt, preload: true)
    e.activations -= 4 * 2 * B * plan.kvCount  // the K/V batch is the stage's buffer, not the trainer's
    XCTAssertEqual(e.parameters, m.parameters); XCTAssertEqual(e.gradients, m.gradients)
    XCTAssertEqual(e.optimizerState, m.optimizerState); XCTAssertEqual(e.activations, m.activations)
    let noPreload = MemoryModel.sideTuning(plan: plan, batch: B, optimizer: opt, preload: false)
    XCTAssertGreaterThan(noPreload.total, m.total, "without preloading the frozen model is in memory")
    // … its weights and a streamed no-grad forward (the buffers FrozenFeatures.extract runs in)
    let frozenModel = try ViT(config: frozen, seed: 4)
    let streamed = FrozenFeatures.streaming(for: frozenModel, batch: B)
    let withKV = MemoryModel.sideTuning(plan: plan, batch: B, optimizer: opt, preload: true)
    XCTAssertEqual(noPreload.total - withKV.total, 4 * frozenModel.parameterCount + streamed.forwardBytes)
    XCTAssertLessThan(
      streamed.forwardBytes, Activations(config: frozen, batch: B).forwardBytes,
      "a no-grad forward keeps one block, not every block's attention maps")
  }

  /// ViT-B/16 at 2048 px: computed without allocating; FPT+ needs a small fraction of full FT.
  func testPaperScaleIsComputableAndFPTPlusIsSmall() throws {
    var c = try ViTConfig.preset("vit-b16")
    c.imageSize = 512
    c.numClasses = 5
    let opt = OptimizerKind.adamw(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0)
    let full = MemoryModel.training(
      config: c, batch: 16, tensors: ViTLayout(c).tensors.map { _ in true }, elements: nil,
      modules: nil, optimizer: opt)
    var fc = c
    fc.numClasses = 1000
    let plan = try SideTuningPlan(plus: true, frozen: fc, classes: 5, options: SideOptions())
    let plus = MemoryModel.sideTuning(plan: plan, batch: 16, optimizer: opt, preload: true)
    let ratio = Double(plus.total) / Double(full.total)
    XCTAssertLessThan(ratio, 0.1, "FPT+ / full = \(ratio)")
    c.imageSize = 2048
    XCTAssertGreaterThan(
      MemoryModel.training(
        config: c, batch: 16, tensors: ViTLayout(c).tensors.map { _ in true }, elements: nil,
        modules: nil, optimizer: opt
      ).total, 100 << 30)
  }

  /// A frozen prefix streams: the blocks below the first one backward reads share buffers, with the
  /// same loss and gradients as keeping everything, and the memory model matches the buffers.
  func testFrozenPrefixStreamsWithIdenticalGradients() throws {
    var c = try ViTConfig.preset("micro")
    c.depth = 3
    c.head = .l2Linear
    let (imgs, labels) = MethodTrainingTests.task(c, B: 6)
    let model = try ViT(config: c, seed: 4)
    let L = model.layout
    for (what, train) in [
      ("linear probe", { (n: String) in n.hasPrefix("head.") }),
      (
        "last block + head", { (n: String) in n.hasPrefix("blocks.2.") || n.hasPrefix("head.") || n.hasPrefix("norm.") }
      ),
      (
        "blocks 1-2 + head",
        { (n: String) in n.hasPrefix("blocks.1.") || n.hasPrefix("blocks.2.") || n.hasPrefix("head.") }
      ),
    ] {
      let sel = ParameterSelection.tensors(L, where: train)
      let keep = L.firstLayerBackwardReads(trainable: sel.tensors, anchors: [])
      var outs: [(Float, [Float])] = []
      for k in [0, keep] {
        let acts = Activations(config: c, batch: 6, keepFrom: k)
        let g = Gradients(layout: L, trainable: sel.tensors)
        let loss = imgs.withUnsafeBufferPointer { i in
          labels.withUnsafeBufferPointer { t -> Float in
            model.forward(images: i.baseAddress!, acts: acts)
            let l = model.loss(acts: acts, targets: t.baseAddress!)
            g.zero()
            model.backward(acts: acts, targets: t.baseAddress!, grads: g)
            return l
          }
        }
        outs.append((loss, g.buffer.array(0..<g.buffer.count)))
        if k == keep {
          XCTAssertEqual(
            acts.forwardBytes + acts.backwardBytes,
            4
              * {
                let n = Activations.counts(config: c, batch: 6, keepFrom: k); return n.forward + n.backward
              }(), what)
        }
      }
      XCTAssertEqual(outs[0].0, outs[1].0, "\(what): loss")
      XCTAssertEqual(outs[0].1, outs[1].1, "\(what): gradients (keepFrom \(keep))")
    }
    XCTAssertEqual(
      L.firstLayerBackwardReads(
        trainable: ParameterSelection.tensors(L) { $0.hasPrefix("head.") }.tensors, anchors: []), 3)
    XCTAssertEqual(
      L.firstLayerBackwardReads(
        trainable: ParameterSelection.tensors(L) { $0.hasPrefix("blocks.1.") }.tensors, anchors: []), 1)
    XCTAssertEqual(L.firstLayerBackwardReads(trainable: ParameterSelection.all(L).tensors, anchors: []), 0)
  }

  /// FPT+ Table 1's ordering: a linear probe needs a small part of full fine-tuning's memory (there 14.8 %).
  func testLinearProbeTrainingMemoryIsAQuarterOfFullAtMost() throws {
    var c = try ViTConfig.preset("tiny-p4")
    c.numClasses = 5
    let model = try ViT(config: c, seed: 1)
    let cfg = TrainConfig(
      optimizer: .sgd(momentum: 0.9, weightDecay: 0),
      schedule: CosineSchedule(baseLR: 0.01, warmupSteps: 0, totalSteps: 1),
      batchSize: 64)
    let full = Trainer(model: model, selection: .all(model.layout), config: cfg).memory
    let probe = Trainer(model: model, selection: .tensors(model.layout) { $0.hasPrefix("head.") }, config: cfg).memory
    let ratio = Double(probe.total) / Double(full.total)
    XCTAssertLessThanOrEqual(ratio, 0.25, "linear probe \(probe) vs full \(full)")
    print(
      String(
        format: "tiny-p4, batch 64: linear probe %.1f MiB, full FT %.1f MiB (%.1f %%)",
        Double(probe.total) / 1_048_576, Double(full.total) / 1_048_576, 100 * ratio))
  }
}

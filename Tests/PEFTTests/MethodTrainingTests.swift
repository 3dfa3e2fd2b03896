//===--- MethodTrainingTests.swift - every method trains what it says ------===//
import Kernels
import Model
import PEFT
import Training
import XCTest
import Storage

final class MethodTrainingTests: XCTestCase {
  override func setUp() { Parallel.threads = 2 }

  /// A small fixed task: 16 images of 4 classes, learnable from a shift in mean.
  static func task(_ c: ViTConfig, B: Int = 16) -> ([Float], [Int32]) {
    var rng = Xoshiro256(seed: 11)
    let n = c.channels * c.imageSize * c.imageSize
    var imgs: [Float] = [], labels: [Int32] = []
    for i in 0..<B {
      let y = i % c.numClasses
      labels.append(Int32(y))
      for j in 0..<n { imgs.append(Float(rng.normal()) * 0.5 + (j % c.numClasses == y ? 1 : 0)) }
    }
    return (imgs, labels)
  }

  func testEveryMethodLowersTheLossAndLeavesFrozenTensorsUnchanged() throws {
    var c = try ViTConfig.preset("micro")
    c.head = .linear
    let (imgs, labels) = Self.task(c)
    for method in PEFTMethod.allCases where !method.isSideTuning {
      let model = try ViT(config: c, seed: 1)
      let before = model.params.array()
      var setup = MethodSetup.make(method, config: c)
      var selection = ParameterSelection(tensors: setup.tensors)
      if method.selectsElements {  // a fixed element choice stands in for the gradient-based one
        let picked = Array(stride(from: 0, to: WeightChanges.backboneCount(model.layout), by: 50))
        selection = .elements(model.layout, backbone: picked)
        if method == .sptLoRA {
          setup.modules = LowRankModules(config: c, targets: [(0, .q, 4), (1, .fc1, 4)], alpha: 4, svd: false, seed: 2)
        }
      }
      let cfg = TrainConfig(
        optimizer: .adamw(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0),
        schedule: CosineSchedule(baseLR: 0.01, warmupSteps: 0, totalSteps: 40), batchSize: 16)
      let trainer = Trainer(model: model, selection: selection, config: cfg, modules: setup.modules)
      var first: Float = 0, last: Float = 0
      for s in 0..<40 {
        let r = try trainer.step(images: imgs, labels: labels)
        if s == 0 { first = r.loss }
        last = r.loss
      }
      XCTAssertLessThan(last, first * 0.9, "\(method.rawValue): loss \(first) → \(last)")
      let after = model.params.array()
      for (i, t) in model.layout.tensors.enumerated() {
        let changed = t.range.contains { before[$0] != after[$0] }
        if let el = selection.elements {
          let allowed = Set(el)
          let bad = t.range.first { before[$0] != after[$0] && !allowed.contains($0) }
          XCTAssertNil(bad, "\(method.rawValue): \(t.name) changed outside the selection")
        } else if !selection.tensors[i] {
          XCTAssertFalse(changed, "\(method.rawValue): frozen \(t.name) changed")
        }
      }
      if method == .full { XCTAssertNotEqual(before, after) }
    }
  }

  func testFPTPlusSideNetworkLearnsFromFixedFeatures() throws {
    let frozen = try ViTConfig.preset("micro")
    var o = SideOptions()
    o.reduction = 2; o.sideSize = 8; o.sidePatch = 4
    for plus in [true, false] {
      var fc = frozen
      fc.numClasses = 4
      let plan = try SideTuningPlan(plus: plus, frozen: fc, classes: 4, options: o)
      let side = try ViT(config: plan.side, seed: 3)
      let fusion = FusionModules(plan: plan, seed: 4)
      // K/V that carry the label: the side model can only use them through the fusion modules.
      var rng = Xoshiro256(seed: 5)
      let B = 16
      let labels = (0..<B).map { Int32($0 % 4) }
      var kv = [Float](repeating: 0, count: 2 * B * plan.kvCount)
      for b in 0..<B {
        for j in 0..<plan.kvCount { kv[b * plan.kvCount + j] = Float(rng.normal()) + (j % 4 == Int(labels[b]) ? 2 : 0) }
      }
      for j in (B * plan.kvCount)..<kv.count {
        kv[j] = Float(rng.normal()) + (j % 4 == Int(labels[(j / plan.kvCount) % B]) ? 2 : 0)
      }
      let imgs = (0..<(B * 3 * 8 * 8)).map { _ in Float(rng.normal()) }  // side images carry no label
      let cfg = TrainConfig(
        optimizer: .adamw(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0),
        schedule: CosineSchedule(baseLR: 0.01, warmupSteps: 0, totalSteps: 60), batchSize: B)
      let trainer = Trainer(model: side, selection: .all(side.layout), config: cfg, modules: fusion)
      let prompts0 = fusion.store.values("fusion.prompts")!
      var first: Float = 0, last: Float = 0
      try kv.withUnsafeBufferPointer { p in
        fusion.keys = p.baseAddress!
        fusion.values = p.baseAddress! + B * plan.kvCount
        for s in 0..<60 {
          let r = try trainer.step(images: imgs, labels: labels)
          if s == 0 { first = r.loss }
          last = r.loss
        }
      }
      XCTAssertLessThan(last, first * 0.5, "FPT\(plus ? "+" : ""): loss \(first) → \(last)")
      XCTAssertNotEqual(fusion.store.values("fusion.prompts")!, prompts0, "prompts train")
    }
  }
}

//===--- MethodTests.swift - trainable counts, AdaLoRA schedule, FPT fusion ---===//
import Kernels
import Model
import PEFT
import XCTest
import Storage

final class MethodCountTests: XCTestCase {
  /// The reference numbers for ViT-B/16 (../shared/research/peft-anchors.md §1.1, §2.4).
  func testViTB16TrainableCountsMatchReferences() throws {
    let c = try ViTConfig.preset("vit-b16")
    let L = ViTLayout(c)
    func count(_ m: PEFTMethod, _ o: MethodOptions = MethodOptions()) -> Int {
      MethodSetup.make(m, config: c, options: o).methodParameters(L)
    }
    XCTAssertEqual(count(.lora), 294_912)
    XCTAssertEqual(count(.adapter), 1_189_632)
    XCTAssertEqual(count(.vptShallow), 3_840)
    XCTAssertEqual(count(.ftLN), 38_400)
    XCTAssertEqual(count(.full), L.totalCount - 769_000)
    XCTAssertEqual(count(.linearProbe), 0)
    XCTAssertEqual(MethodSetup.make(.ftLN, config: c).headParameters(L), 769_000)
    // SSF: 12 blocks × (norm1 768 + qkv 2304 + proj 768 + norm2 768 + fc1 3072 + fc2 768)·2
    // + patch embedding + final norm = 205,824 (anchors: "about 205.8 k")
    XCTAssertEqual(count(.ssf), 12 * 16_896 + 1_536 + 1_536)
    var deep = MethodOptions()
    deep.prompts = 10
    XCTAssertEqual(count(.vptDeep, deep), 12 * 10 * 768)
    // AdaLoRA at init: 12 ranks on q and v (SVD form: A, E, B).
    XCTAssertEqual(count(.adalora), 12 * 2 * 12 * (768 + 1 + 768))
    // FT-Att (deit --attn-only): qkv + proj weights and biases + pos_embed.
    XCTAssertEqual(count(.ftAtt), 12 * (768 * 2304 + 2304 + 768 * 768 + 768) + 197 * 768)
    // BitFit: every *bias incl. LayerNorm β.
    XCTAssertEqual(count(.bitfit), 768 + 12 * (768 + 2304 + 768 + 768 + 3072 + 768) + 768)
  }

  /// FPT+ ≈ 1.03 % and FPT ≈ 1.81 % of frozen model (incl. its 1000-class head) + side + fusion,
  /// for a 5-class task (the side head is trainable; the FPT README's tasks have 2–7 classes).
  func testSideTuningRatiosMatchFPTReadme() throws {
    var c = try ViTConfig.preset("vit-b16")
    c.imageSize = 512  // the papers' input: the side sees 128 px (FPT+, 64 of 1,024 tokens) / 224 px (FPT)
    let frozen = ViTLayout(c).totalCount
    let plus = try SideTuningPlan(plus: true, frozen: c, classes: 5, options: SideOptions())
    let fpt = try SideTuningPlan(plus: false, frozen: c, classes: 5, options: SideOptions())
    XCTAssertEqual(plus.side.width, 96)
    XCTAssertEqual(plus.side.depth, 6)
    XCTAssertEqual(plus.side.imageSize, 128)
    XCTAssertEqual(fpt.side.imageSize, 224)
    XCTAssertEqual(fpt.side.depth, 12)
    XCTAssertEqual(plus.keptTokens, 205)  // ⌊0.2 · 1025⌋
    // the side's share of the frozen model's patches is a parameter: 1/4 at the embedded 32 px, patch 4
    var o = SideOptions()
    o.tokenFraction = 0.25
    var tiny = try ViTConfig.preset("tiny-p4n")
    tiny.numClasses = 3
    XCTAssertEqual(try SideTuningPlan(plus: true, frozen: tiny, classes: 3, options: o).side.imageSize, 16)
    // 64 / 16
    XCTAssertEqual(try SideTuningPlan(plus: true, frozen: tiny, classes: 3, options: SideOptions()).side.numPatches, 4)
    let rPlus = 100 * Double(plus.trainableParameters()) / Double(plus.totalParameters(frozenParameters: frozen))
    let rFPT = 100 * Double(fpt.trainableParameters()) / Double(fpt.totalParameters(frozenParameters: frozen))
    XCTAssertEqual(rPlus, 1.03, accuracy: 0.015, "FPT+ ratio \(rPlus) %")
    XCTAssertEqual(rFPT, 1.81, accuracy: 0.02, "FPT ratio \(rFPT) %")
    let fusion = FusionModules(plan: plus, seed: 0)
    XCTAssertEqual(fusion.store.count, 6 * 16 * 768 + 1536 + 768 * 96 + 96)
  }
}

final class AdaLoRATests: XCTestCase {
  func testBudgetScheduleIsCubicBetweenWarmups() {
    var s = AdaLoRASchedule(totalSteps: 1000)
    s.tInit = 200; s.tFinal = 300; s.deltaT = 10
    let n = 4  // matrices: b0 = 48, bT = 32
    XCTAssertEqual(s.budget(step: 0, matrices: n).0, 48)
    XCTAssertFalse(s.budget(step: 200, matrices: n).1)
    XCTAssertEqual(s.budget(step: 701, matrices: n).0, 32)
    XCTAssertTrue(s.budget(step: 701, matrices: n).1)
    // halfway through the cubic: 32 + 16 · 0.5³ = 34
    XCTAssertEqual(s.budget(step: 450, matrices: n).0, 34)
    XCTAssertTrue(s.budget(step: 450, matrices: n).1)
    XCTAssertFalse(s.budget(step: 451, matrices: n).1, "masks only every ΔT steps")
    var last = Int.max
    for t in stride(from: 201, through: 700, by: 1) {
      let b = s.budget(step: t, matrices: n).0
      XCTAssertLessThanOrEqual(b, last); last = b
    }
  }

  /// The allocator keeps exactly the target budget at the end and zeroes the rest.
  func testMaskingReachesTargetRanks() throws {
    let c = try ViTConfig.preset("micro")
    var s = AdaLoRASchedule(totalSteps: 20)
    s.initRank = 4; s.targetRank = 2; s.tInit = 2; s.tFinal = 5; s.deltaT = 2
    let m = LowRankModules.adalora(config: c, targets: [(0, .q), (1, .v)], alpha: 4, schedule: s, seed: 1)
    var rng = Xoshiro256(seed: 3)
    for i in 0..<m.store.count { m.store.values.pointer[i] = Float(rng.normal()) }
    for step in 0..<20 {
      for i in 0..<m.store.count { m.store.grads.pointer[i] = Float(rng.normal()) }
      m.afterStep(step: step)
    }
    XCTAssertEqual(m.allocator!.keptRanks, 4)
    for (i, ad) in m.adapters.enumerated() {
      let e = m.store.values("blocks.\(ad.layer).attn.\(ad.target.rawValue).lora_E")!
      for j in 0..<4 where !m.keep[i][j] { XCTAssertEqual(e[j], 0) }
    }
  }

  /// ∂R/∂A and ∂R/∂B of the orthogonal regulariser against finite differences.
  func testOrthogonalRegulariserGradient() throws {
    let c = try ViTConfig.preset("micro")
    var s = AdaLoRASchedule(totalSteps: 10)
    s.initRank = 3
    s.orthReg = 0.7
    let m = LowRankModules.adalora(config: c, targets: [(0, .q), (1, .fc1)], alpha: 3, schedule: s, seed: 1)
    var rng = Xoshiro256(seed: 4)
    for i in 0..<m.store.count { m.store.values.pointer[i] = Float(rng.normal() * 0.3) }
    func R() -> Double {
      m.store.grads.zero()
      m.afterBackward(step: 0)  // adds ∂R; returns nothing, so recompute R via the gradient-free path
      return m.orthogonalPenalty()
    }
    _ = R()
    let g = m.store.grads.array()
    let eps: Float = 1e-3
    for j in stride(from: 0, to: m.store.count, by: 7) {
      let p = m.store.values.pointer + j, orig = p.pointee
      p.pointee = orig + eps; let fp = m.orthogonalPenalty()
      p.pointee = orig - eps; let fm = m.orthogonalPenalty()
      p.pointee = orig
      let numeric = (fp - fm) / Double(2 * eps)
      XCTAssertEqual(Double(g[j]), numeric, accuracy: 2e-3 + 0.02 * abs(numeric), "element \(j)")
    }
  }
}

final class FusionGradientTests: XCTestCase {
  override func setUp() { Parallel.threads = 2 }

  func checkFusion(plus: Bool, fusion kind: SideFusion = .crossAttention) throws {
    var frozen = try ViTConfig.preset("micro")
    frozen.imageSize = 16
    var o = SideOptions()
    o.reduction = 2; o.prompts = 3; o.sideSize = 8; o.sidePatch = 4; o.fusion = kind
    if kind == .mlp { o.tokenRatio = 0.5 }  // 8 of M's 17 tokens become side rows
    let plan = try SideTuningPlan(plus: plus, frozen: frozen, classes: 3, options: o)
    let side = try ViT(config: plan.side, seed: 2)
    var rng = Xoshiro256(seed: 5)
    for t in side.layout.tensors {
      try side.setValues(
        t.name,
        (0..<t.count).map { _ in
          Float(rng.uniform() - 0.5) * 0.6 + (t.name.contains("norm") && t.name.hasSuffix("weight") ? 1 : 0)
        })
    }
    let fusion = makeFusionModules(plan: plan, seed: 1)
    XCTAssertEqual(fusion.extraTokens, kind == .mlp ? plan.keptTokens : 3)
    XCTAssertEqual(fusion.store.count, FusionModules.parameterCount(plan))
    for i in 0..<fusion.store.count { fusion.store.values.pointer[i] = Float(rng.uniform() - 0.5) * 0.8 }
    let B = 2
    let kv = (0..<(2 * B * plan.kvCount)).map { _ in Float(rng.normal()) }
    let imgs = (0..<(B * 3 * 8 * 8)).map { _ in Float(rng.normal()) }
    let labels: [Int32] = [0, 2]
    let acts = Activations(config: plan.side, batch: B, modules: fusion)
    let grads = Gradients(layout: side.layout)
    try kv.withUnsafeBufferPointer { kvp in
      fusion.keys = UnsafePointer(kvp.baseAddress!)
      fusion.values = UnsafePointer(kvp.baseAddress! + B * plan.kvCount)
      func loss() -> Double {
        side.forward(images: imgs, acts: acts); return Double(side.loss(acts: acts, targets: labels))
      }
      _ = loss()
      side.backward(acts: acts, targets: labels, grads: grads)
      let g = fusion.store.grads.array()
      let eps: Float = 2e-3
      var worst = 0.0
      for j in stride(from: 0, to: fusion.store.count, by: max(1, fusion.store.count / 60)) {
        let p = fusion.store.values.pointer + j, orig = p.pointee
        p.pointee = orig + eps; let fp = loss()
        p.pointee = orig - eps; let fm = loss()
        p.pointee = orig
        let numeric = (fp - fm) / Double(2 * eps)
        worst = max(worst, abs(numeric - Double(g[j])) / (3e-4 + 2e-2 * abs(numeric)))
      }
      XCTAssertLessThan(worst, 1, "fusion (plus: \(plus), \(kind)) gradient error \(worst) × tolerance")
      XCTAssertGreaterThan(g.map(abs).max()!, 1e-4)
      _ = try XCTUnwrap(grads.values("blocks.0.attn.qkv.weight"))
    }
  }

  func testFPTPlusFusionGradients() throws { try checkFusion(plus: true) }
  func testFPTFusionGradients() throws { try checkFusion(plus: false) }
  /// FPT+ Fig. 7's "+ MLP": M's token features through the MLP as side rows.
  func testMLPFusionGradients() throws { try checkFusion(plus: true, fusion: .mlp) }

  /// Selected K/V are the frozen model's own rows for the most-attended tokens.
  func testFrozenFeaturesPickMostAttendedTokens() throws {
    let c = try ViTConfig.preset("micro")
    var o = SideOptions()
    o.reduction = 2; o.sideSize = 8; o.sidePatch = 4; o.tokenRatio = 0.25
    let plan = try SideTuningPlan(plus: true, frozen: c, classes: 2, options: o)
    let m = try ViT(config: c, seed: 1)
    let B = 2
    var rng = Xoshiro256(seed: 2)
    let imgs = (0..<(B * 3 * 16 * 16)).map { _ in Float(rng.normal()) }
    let acts = Activations(config: c, batch: B)  // keeps every layer: the reference
    var K = [Float](repeating: 0, count: B * plan.kvCount), V = K
    FrozenFeatures.extract(frozen: m, plan: plan, images: imgs, acts: acts, keys: &K, values: &V)
    // streamed (one block's buffers, as without preloading): the same K/V, bit for bit, in less memory
    let streamed = FrozenFeatures.streaming(for: m, batch: B)
    var K2 = [Float](repeating: 0, count: B * plan.kvCount), V2 = K2
    FrozenFeatures.extract(frozen: m, plan: plan, images: imgs, acts: streamed, keys: &K2, values: &V2)
    XCTAssertEqual(K2, K); XCTAssertEqual(V2, V)
    XCTAssertLessThan(streamed.forwardBytes, acts.forwardBytes)
    XCTAssertEqual(streamed.forwardBytes, 4 * Activations.counts(config: c, batch: B, keepFrom: c.depth).forward)
    let l = plan.pairedLayers[0], T = c.tokens, H = c.heads, hd = c.headDim
    let keys = acts.keysOrValues(layer: l, values: false)
    var score = [Float](repeating: 0, count: B * H * T)
    var attnOut = [Float](repeating: 0, count: B * T * c.width), probs = [Float](repeating: 0, count: B * H * T * T)
    Attention.forward(out: &attnOut, probs: &probs, qkv: acts.qkv(layer: l), B: B, T: T, D: c.width, H: H)
    Attention.attentionReceived(score: &score, probs: probs, B: B, T: T, H: H)
    let best = (0..<T).max { score[$0] < score[$1] }!  // b = 0, h = 0
    let row = Array(keys[(best * hd)..<(best * hd + hd)])
    let chosen = (0..<plan.keptTokens).map { Array(K[($0 * hd)..<($0 * hd + hd)]) }
    XCTAssertTrue(chosen.contains(row), "the most-attended token's key is selected")
    XCTAssertEqual(plan.keptTokens, 4)
  }
}

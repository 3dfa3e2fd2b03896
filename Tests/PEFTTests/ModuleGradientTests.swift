//===--- ModuleGradientTests.swift - PEFT modules vs finite differences -----===//
import Kernels
import Model
import PEFT
import XCTest
import Storage

final class ModuleGradientTests: XCTestCase {
  override func setUp() { Parallel.threads = 2 }

  static func microModel(_ c: ViTConfig, seed: UInt64) throws -> ViT {
    let m = try ViT(config: c, seed: seed)
    var rng = Xoshiro256(seed: seed &+ 99)
    for t in m.layout.tensors {
      let isNormWeight =
        t.name.hasSuffix("norm1.weight") || t.name.hasSuffix("norm2.weight")
        || t.name == "norm.weight" || t.name == "norm_pre.weight"
      try m.setValues(t.name, (0..<t.count).map { _ in Float(rng.uniform() - 0.5) * 0.6 + (isNormWeight ? 1 : 0) })
    }
    return m
  }

  static func batch(_ c: ViTConfig, B: Int, seed: UInt64) -> ([Float], [Int32]) {
    var rng = Xoshiro256(seed: seed)
    let imgs = (0..<(B * c.channels * c.imageSize * c.imageSize)).map { _ in Float(rng.normal()) }
    return (imgs, (0..<B).map { _ in Int32(rng.next() % UInt64(c.numClasses)) })
  }

  /// Randomises the module parameters so that every gradient is non-trivial.
  static func randomise(_ s: ModuleStore, seed: UInt64, around one: (String) -> Bool = { _ in false }) {
    var rng = Xoshiro256(seed: seed)
    for (i, t) in s.tensors.enumerated() {
      let p = s.p(i)
      for j in 0..<t.count { p[j] = Float(rng.uniform() - 0.5) * 0.6 + (one(t.name) ? 1 : 0) }
    }
  }

  /// Finite differences on sampled module parameters and on a few model tensors.
  func check(_ label: String, _ m: ViT, _ mods: any TrainableModules, modelTrainable: Bool) {
    let c = m.config, B = 3
    let (imgs, labels) = Self.batch(c, B: B, seed: 4)
    let acts = Activations(config: c, batch: B, modules: mods)
    let grads =
      modelTrainable
      ? Gradients(layout: m.layout)
      : Gradients(layout: m.layout, trainable: m.layout.tensors.map { $0.name.hasPrefix("head.") })
    func loss() -> Double {
      m.forward(images: imgs, acts: acts)
      return Double(m.loss(acts: acts, targets: labels))
    }
    _ = loss()
    mods.store.grads.zero()
    m.backward(acts: acts, targets: labels, grads: grads)
    let eps: Float = 2e-3
    func compare(_ name: String, _ p: UnsafeMutablePointer<Float>, _ g: [Float]) {
      var worst = 0.0
      for j in Swift.stride(from: 0, to: g.count, by: max(1, g.count / 5)) {
        let orig = p[j]
        p[j] = orig + eps; let fp = loss()
        p[j] = orig - eps; let fm = loss()
        p[j] = orig
        let numeric = (fp - fm) / Double(2 * eps)
        worst = max(worst, abs(numeric - Double(g[j])) / (3e-4 + 2e-2 * abs(numeric)))
      }
      XCTAssertLessThan(worst, 1, "\(label) \(name): error \(worst) × tolerance")
    }
    for (i, t) in mods.store.tensors.enumerated() {
      compare(t.name, mods.store.p(i), mods.store.gradient(t.name)!)
    }
    if modelTrainable {
      for name in [
        "patch_embed.proj.weight", "pos_embed", "blocks.0.attn.qkv.weight", "blocks.0.norm1.weight",
        "blocks.1.mlp.fc1.weight", "blocks.1.attn.proj.bias", "norm.weight",
      ] {
        let s = m.layout.spec(named: name)!
        compare("model " + name, m.params.pointer + s.offset, grads.values(name)!)
      }
    }
  }

  func micro() throws -> ViT { try Self.microModel(ViTConfig.preset("micro"), seed: 3) }

  func testLoRAGradients() throws {
    let m = try micro()
    let targets: [(Int, LinearTarget, Int)] = (0..<2).flatMap { l in LinearTarget.allCases.map { (l, $0, 3) } }
    let lora = LowRankModules(config: m.config, targets: targets, alpha: 6, svd: false, seed: 1)
    Self.randomise(lora.store, seed: 2)
    check("lora", m, lora, modelTrainable: false)
    check("lora+model", m, lora, modelTrainable: true)
  }

  func testSVDFormGradientsWithMaskedRank() throws {
    let m = try micro()
    let ada = LowRankModules(
      config: m.config, targets: [(0, .q, 3), (1, .v, 3), (1, .fc2, 3)], alpha: 6, svd: true, seed: 1)
    Self.randomise(ada.store, seed: 2)
    ada.store.p(ada.store.index(of: "blocks.0.attn.q.lora_E")!)[1] = 0  // a pruned singular value
    check("svd", m, ada, modelTrainable: true)
  }

  func testSSFGradients() throws {
    let m = try micro()
    let ssf = SSFModules(config: m.config, seed: 1)
    Self.randomise(ssf.store, seed: 2) { $0.hasSuffix("ssf_scale") }
    check("ssf", m, ssf, modelTrainable: false)
    check("ssf+model", m, ssf, modelTrainable: true)
  }

  func testAdapterGradients() throws {
    let m = try micro()
    let ad = AdapterModules(config: m.config, bottleneck: 5, scale: 0.5, seed: 1)
    Self.randomise(ad.store, seed: 2)
    check("adapter", m, ad, modelTrainable: false)
    check("adapter+model", m, ad, modelTrainable: true)
  }

  func testPromptGradients() throws {
    let m = try micro()
    for deep in [false, true] {
      let vpt = PromptModules(config: m.config, prompts: 3, deep: deep, seed: 1)
      Self.randomise(vpt.store, seed: 2)
      check(deep ? "vpt-deep" : "vpt-shallow", m, vpt, modelTrainable: false)
      check(deep ? "vpt-deep+model" : "vpt-shallow+model", m, vpt, modelTrainable: true)
    }
  }

  func testCLIPStylePromptsAndSSFGradients() throws {
    var c = try ViTConfig.preset("micro")
    c.preNorm = true
    c.head = .linear
    let m = try Self.microModel(c, seed: 7)
    let vpt = PromptModules(config: c, prompts: 2, deep: false, seed: 1)
    Self.randomise(vpt.store, seed: 2)
    check("clip vpt", m, vpt, modelTrainable: true)
  }

  /// Merged LoRA / SSF weights give the unmerged logits.
  func testMergedLoRAAndSSFGiveSameLogits() throws { try mergedGiveSameLogits(try micro()) }

  /// CLIP's layout: no patch-embedding bias (SSF's shift there folds into pos_embed's patch rows), ln_pre.
  func testMergedLoRAAndSSFGiveSameLogitsWithoutPatchBias() throws {
    var c = try ViTConfig.preset("micro")
    c.preNorm = true
    c.patchBias = false
    c.activation = .quickGELU
    try mergedGiveSameLogits(try Self.microModel(c, seed: 3))
  }

  func mergedGiveSameLogits(_ m: ViT) throws {
    let c = m.config, B = 2
    let (imgs, _) = Self.batch(c, B: B, seed: 9)
    let lora = LowRankModules(
      config: c, targets: [(0, .q, 2), (0, .v, 2), (1, .fc1, 2)], alpha: 2, svd: false, seed: 1)
    let ssf = SSFModules(config: c, seed: 1)
    Self.randomise(lora.store, seed: 5)
    Self.randomise(ssf.store, seed: 5) { $0.hasSuffix("ssf_scale") }
    for (name, mods, merge) in [
      ("lora", lora as any TrainableModules, { (v: ViT) in lora.merge(into: v) }),
      ("ssf", ssf, { (v: ViT) in ssf.merge(into: v) }),
    ] {
      let a = Activations(config: c, batch: B, modules: mods)
      m.forward(images: imgs, acts: a)
      let unmerged = a.logitsArray
      let merged = m.copy()
      merge(merged)
      let plain = Activations(config: c, batch: B)
      merged.forward(images: imgs, acts: plain)
      for (x, y) in zip(unmerged, plain.logitsArray) { XCTAssertEqual(x, y, accuracy: 1e-4, name) }
      m.forward(images: imgs, acts: plain)
      XCTAssertNotEqual(plain.logitsArray, unmerged, "\(name) changes the logits")
    }
  }
}

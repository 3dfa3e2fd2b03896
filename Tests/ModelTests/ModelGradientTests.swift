//===--- ModelGradientTests.swift - whole-model backward vs finite differences
import Kernels
import Model
import XCTest
import Storage

final class ModelGradientTests: XCTestCase {
  override func setUp() { Parallel.threads = 2 }

  /// A micro ViT with weights large enough that every gradient is well above
  /// Float finite-difference noise.
  static func microModel(_ c: ViTConfig, seed: UInt64) throws -> ViT {
    let m = try ViT(config: c, seed: seed)
    var rng = Xoshiro256(seed: seed &+ 99)
    for t in m.layout.tensors {
      let isNormWeight =
        t.name.hasSuffix("norm1.weight") || t.name.hasSuffix("norm2.weight")
        || t.name == "norm.weight" || t.name == "norm_pre.weight"
      let v = (0..<t.count).map { _ in Float(rng.uniform() - 0.5) * 0.6 + (isNormWeight ? 1 : 0) }
      try m.setValues(t.name, v)
    }
    return m
  }

  static func batch(_ c: ViTConfig, B: Int, seed: UInt64) -> ([Float], [Int32]) {
    var rng = Xoshiro256(seed: seed)
    let imgs = (0..<(B * c.channels * c.imageSize * c.imageSize)).map { _ in Float(rng.normal()) }
    let labels = (0..<B).map { _ in Int32(rng.next() % UInt64(c.numClasses)) }
    return (imgs, labels)
  }

  /// The loss against class `labels`, or (multi-label) against the multi-hot rows `multiHot`.
  func lossOf(
    _ m: ViT, _ imgs: [Float], _ labels: [Int32], _ acts: Activations, multiHot: [Float]? = nil
  ) -> Double {
    m.forward(images: imgs, acts: acts)
    if let multiHot {
      return multiHot.withUnsafeBufferPointer { Double(m.loss(acts: acts, targets: .multiHot($0.baseAddress!))) }
    }
    return Double(m.loss(acts: acts, targets: labels))
  }

  /// `multiLabel`: the sigmoid binary cross-entropy of a multi-label task (random multi-hot rows).
  func checkModel(_ c: ViTConfig, label: String, multiLabel: Bool = false) throws {
    let m = try Self.microModel(c, seed: 3)
    let B = 3
    let (imgs, labels) = Self.batch(c, B: B, seed: 4)
    var rng = Xoshiro256(seed: 5)
    let multiHot = multiLabel ? (0..<(B * c.numClasses)).map { _ in Float(rng.next() % 2) } : nil
    let acts = Activations(config: c, batch: B)
    let grads = Gradients(layout: m.layout)
    _ = lossOf(m, imgs, labels, acts, multiHot: multiHot)
    if let multiHot {
      multiHot.withUnsafeBufferPointer { m.backward(acts: acts, targets: .multiHot($0.baseAddress!), grads: grads) }
    } else {
      m.backward(acts: acts, targets: labels, grads: grads)
    }
    let eps: Float = 2e-3
    for t in m.layout.tensors {
      let g = grads.values(t.name)!
      let stride = max(1, t.count / 6)
      var worst = 0.0
      for j in Swift.stride(from: 0, to: t.count, by: stride) {
        let p = m.params.pointer + t.offset + j
        let orig = p.pointee
        p.pointee = orig + eps
        let fp = lossOf(m, imgs, labels, acts, multiHot: multiHot)
        p.pointee = orig - eps
        let fm = lossOf(m, imgs, labels, acts, multiHot: multiHot)
        p.pointee = orig
        let numeric = (fp - fm) / Double(2 * eps)
        // Float forward noise is ~1e-7 on a loss of ~1, i.e. ~1e-4 after
        // dividing by 2·eps: allow that absolutely, plus 2 % relative.
        let err = abs(numeric - Double(g[j])) / (3e-4 + 2e-2 * abs(numeric))
        worst = max(worst, err)
      }
      XCTAssertLessThan(worst, 1, "\(label) \(t.name): error \(worst) × tolerance")
    }
  }

  func testTimmStyleModelGradients() throws {
    var c = try ViTConfig.preset("micro")
    c.head = .l2Linear
    try checkModel(c, label: "timm/l2")
    c.head = .linear
    try checkModel(c, label: "timm/linear")
    try checkModel(c, label: "timm/linear multi-label", multiLabel: true)
  }

  func testCLIPStyleModelGradients() throws {
    var c = try ViTConfig.preset("micro")
    c.preNorm = true
    c.patchBias = false
    c.activation = .quickGELU
    c.layerNormEps = 1e-5
    c.head = .linear
    try checkModel(c, label: "clip")
  }

  /// Freezing tensors must not change the gradients of the trainable ones.
  func testFrozenTensorsGiveSameGradients() throws {
    let c = try ViTConfig.preset("micro")
    let m = try Self.microModel(c, seed: 5)
    let (imgs, labels) = Self.batch(c, B: 4, seed: 6)
    let acts = Activations(config: c, batch: 4)
    let full = Gradients(layout: m.layout)
    _ = lossOf(m, imgs, labels, acts)
    m.backward(acts: acts, targets: labels, grads: full)
    let subsets: [(String, (String) -> Bool)] = [
      ("head", { $0.hasPrefix("head.") }),
      ("bitfit", { $0.hasSuffix(".bias") || $0.hasPrefix("head.") }),
      ("ln", { $0.contains("norm") || $0.hasPrefix("head.") }),
      ("pos+block0.fc1", { $0 == "pos_embed" || $0 == "blocks.0.mlp.fc1.weight" || $0.hasPrefix("head.") }),
    ]
    for (name, pred) in subsets {
      let g = Gradients(layout: m.layout, trainable: m.layout.tensors.map { pred($0.name) })
      _ = lossOf(m, imgs, labels, acts)
      m.backward(acts: acts, targets: labels, grads: g)
      for t in m.layout.tensors where pred(t.name) {
        let a = g.values(t.name)!, b = full.values(t.name)!
        for j in 0..<a.count { XCTAssertEqual(a[j], b[j], accuracy: 1e-6, "\(name): \(t.name)[\(j)]") }
      }
      XCTAssertLessThan(g.buffer.count, full.buffer.count)
    }
  }

  func testQKVViewsAddressRowBlocks() throws {
    let c = try ViTConfig.preset("micro")
    let m = try ViT(config: c, seed: 1)
    let qkv = m.values("blocks.1.attn.qkv.weight")!
    let D = c.width
    XCTAssertEqual(m.values("blocks.1.attn.q.weight")!, Array(qkv[0..<(D * D)]))
    XCTAssertEqual(m.values("blocks.1.attn.v.weight")!, Array(qkv[(2 * D * D)...]))
    XCTAssertEqual(m.values("blocks.1.attn.k.bias")!, Array(m.values("blocks.1.attn.qkv.bias")![D..<(2 * D)]))
    XCTAssertNil(m.layout.spec(named: "blocks.9.attn.q.weight"))
  }

  func testExposedKeysValuesAndAttention() throws {
    let c = try ViTConfig.preset("micro")
    let m = try ViT(config: c, seed: 2)
    let (imgs, _) = Self.batch(c, B: 2, seed: 3)
    let acts = Activations(config: c, batch: 2)
    acts.recordsAttention = true
    m.forward(images: imgs, acts: acts)
    let T = c.tokens, H = c.heads, hd = c.headDim, D = c.width
    let keys = acts.keysOrValues(layer: 1, values: false)
    XCTAssertEqual(keys.count, 2 * H * T * hd)
    // K of (b=1, h=1, t=2) equals the packed qkv entry
    let q = acts.qkv(layer: 1)
    XCTAssertEqual(keys[((1 * H + 1) * T + 2) * hd], q[(1 * T + 2) * 3 * D + D + 1 * hd])
    // the last block's mean attention per key: each (b, h) row of scores sums to 1 (rows of P do)
    let r = acts.attentionReceived
    for bh in 0..<(2 * H) {
      var sum: Float = 0
      for j in 0..<T { sum += r[bh * T + j] }
      XCTAssertEqual(sum, 1, accuracy: 1e-5)
    }
  }

  func testPositionEmbeddingResampleKeepsClassTokenAndConstants() {
    // A constant grid stays constant under the normalised filter.
    let D = 3
    var pos = [Float](repeating: 0.25, count: (1 + 16) * D)
    pos[0] = 9; pos[1] = 8; pos[2] = 7
    let up = PositionEmbedding.resample(pos, width: D, from: (4, 4), to: (6, 6))
    XCTAssertEqual(up.count, 37 * D)
    XCTAssertEqual(Array(up[0..<3]), [9, 8, 7])
    for v in up[3...] { XCTAssertEqual(v, 0.25, accuracy: 1e-6) }
  }
}

//===--- Prompts.swift - visual prompt tuning (Jia et al., ECCV 2022) -------===//
//
// KMnP/vpt `src/models/vit_prompt/vit.py`: p learnable tokens join the
// sequence after the embedding (shallow); deep replaces them at every layer
// with that layer's own prompts. Prompts get no position embedding and the
// head reads the class token, so attention (permutation-equivariant over
// tokens) gives the same result whether they sit after the class token (VPT)
// or after the patches (here: rows T0..<T0+p), which keeps the image tokens
// contiguous. Init uniform ±√(6 / (3·P² + D)) (VPT's xavier-style bound).
// Shapes: prompts (layers, p, D); block input x (B, T0 + p, D).
//===----------------------------------------------------------------------===//
import Kernels
import Model
import Storage

public final class PromptModules: TrainableModules {
  public let config: ViTConfig
  public let store = ModuleStore()
  public let count: Int
  public let deep: Bool

  public init(config c: ViTConfig, prompts p: Int, deep: Bool, seed: UInt64) {
    config = c
    count = p
    self.deep = deep
    var ts: [Int] = []
    for l in 0..<(deep ? c.depth : 1) {
      ts.append(store.add(deep ? "prompt.deep.\(l)" : "prompt.shallow", [p, c.width], decay: false))
    }
    store.seal()
    var rng = Xoshiro256(seed: seed)
    let bound = (6 / Double(3 * c.patchSize * c.patchSize + c.width)).squareRoot()
    for t in ts { store.fillUniform(t, bound: bound, rng: &rng) }
    promptTensors = ts
  }
  private var promptTensors: [Int] = []

  public var extraTokens: Int { count }
  public var activationBytes: Int { 0 }
  public func activationCount(batch B: Int, tokens T: Int) -> Int { 0 }

  public func anchors(_ L: ViTLayout) -> [Int] {
    (0..<(deep ? config.depth : 1)).map { L.tokenAnchor(layer: $0) }
  }
  public func hooks(_ site: HookSite, layer: Int) -> Bool { false }

  private func tensor(at layer: Int) -> Int? { deep ? promptTensors[layer] : (layer == 0 ? promptTensors[0] : nil) }

  public func setTokens(layer: Int, x: UnsafeMutablePointer<Float>, B: Int, T: Int, D: Int) {
    guard let t = tensor(at: layer) else { return }
    let T0 = T - count
    for b in 0..<B { (x + (b * T + T0) * D).update(from: store.p(t), count: count * D) }
  }

  public func tokensBackward(layer: Int, dx: UnsafeMutablePointer<Float>, B: Int, T: Int, D: Int) {
    guard let t = tensor(at: layer) else { return }
    let T0 = T - count, g = store.g(t)
    for b in 0..<B {
      let rows = dx + (b * T + T0) * D
      Vec.add(g, rows, count * D)
      rows.update(repeating: 0, count: count * D)
    }
  }
}

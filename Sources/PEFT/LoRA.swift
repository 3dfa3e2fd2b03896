//===--- LoRA.swift - low-rank updates on linear maps (LoRA, AdaLoRA's SVD form)
//
// LoRA (Hu et al.; huggingface/peft `lora/layer.py`): out += s · x Aᵀ Bᵀ with
//   A (r, in) kaiming-uniform(a=√5), B (out, r) zero, s = α / r.
// SVD form (AdaLoRA, peft `adalora/layer.py`): out += c · (x Aᵀ ⊙ E) Bᵀ with
//   E (r) zero, A, B ~ N(0, .02), c = α / r_init (fixed as ranks are pruned).
// Targets address q, k, v (column blocks of the fused qkv), proj, fc1, fc2.
// Shapes per target (rows = B·T): h = x Aᵀ (rows, r); u = h ⊙ E (svd) or h.
// Backward (dout (rows, out) restricted to the target's columns):
//   dB += c·doutᵀ u;  du = c·dout B;  dE += Σ_rows du ⊙ h;  dh = du ⊙ E (svd) or du
//   dA += dhᵀ x;      dinp += dh A
//===----------------------------------------------------------------------===//
import Kernels
import Model
import Storage

public enum LinearTarget: String, Sendable, CaseIterable, Codable {
  case q, k, v, proj, fc1, fc2

  var site: HookSite {
    switch self {
    case .q, .k, .v: return .qkv
    case .proj: return .proj
    case .fc1: return .fc1
    case .fc2: return .fc2
    }
  }

  /// (in, out, column offset in the op's output, output row stride).
  func geometry(_ c: ViTConfig) -> (inp: Int, out: Int, col: Int, ld: Int) {
    let D = c.width, F = c.mlpDim
    switch self {
    case .q: return (D, D, 0, 3 * D)
    case .k: return (D, D, D, 3 * D)
    case .v: return (D, D, 2 * D, 3 * D)
    case .proj: return (D, D, 0, D)
    case .fc1: return (D, F, 0, F)
    case .fc2: return (F, D, 0, D)
    }
  }

  /// The stored weight the update merges into, and the row offset inside it.
  func weight(_ L: ViTLayout, layer l: Int) -> (tensor: Int, rowOffset: Int) {
    let b = L.blocks[l], D = L.config.width
    switch self {
    case .q: return (b.qkvW, 0)
    case .k: return (b.qkvW, D)
    case .v: return (b.qkvW, 2 * D)
    case .proj: return (b.projW, 0)
    case .fc1: return (b.fc1W, 0)
    case .fc2: return (b.fc2W, 0)
    }
  }

  var timmPrefix: String {
    switch self {
    case .q, .k, .v: return "attn.\(rawValue)"
    case .proj: return "attn.proj"
    case .fc1: return "mlp.fc1"
    case .fc2: return "mlp.fc2"
    }
  }
}

public final class LowRankModules: TrainableModules {
  public struct Adapter: Sendable {
    public let layer: Int
    public let target: LinearTarget
    public let a: Int, b: Int, e: Int?
    public let rank: Int
    let inp: Int, out: Int, col: Int, ld: Int
  }

  public let config: ViTConfig
  public let store = ModuleStore()
  public let adapters: [Adapter]
  /// Output factor: α/r (LoRA) or α/r_init (SVD form).
  public let scale: Float
  public let svd: Bool
  /// SVD form: per adapter, the rank pattern of the last masking (AdaLoRA
  /// zeroes pruned singular values in place, as peft's `masked_fill_`).
  public var keep: [[Bool]]
  /// AdaLoRA's rank allocation (nil: plain LoRA / fixed ranks).
  public internal(set) var allocator: RankAllocator?
  private var bySite: [Int: [Int]] = [:]
  private var hBuf = FloatBuffer(count: 0), uBuf = FloatBuffer(count: 0), dBuf = FloatBuffer(count: 0)
  private var rows = 0

  /// `targets`: (layer, target, rank) triples.
  public init(config c: ViTConfig, targets: [(Int, LinearTarget, Int)], alpha: Double, svd: Bool, seed: UInt64) {
    config = c
    self.svd = svd
    var ads: [Adapter] = []
    for (l, t, r) in targets {
      let g = t.geometry(c)
      let name = "blocks.\(l).\(t.timmPrefix)."
      let a = store.add(name + "lora_A", [r, g.inp])
      let e = svd ? store.add(name + "lora_E", [r], decay: false) : nil
      let b = store.add(name + "lora_B", [g.out, r])
      ads.append(Adapter(layer: l, target: t, a: a, b: b, e: e, rank: r, inp: g.inp, out: g.out, col: g.col, ld: g.ld))
    }
    adapters = ads
    let r0 = targets.first?.2 ?? 1
    scale = Float(alpha / Double(r0))
    keep = ads.map { Array(repeating: true, count: $0.rank) }
    store.seal()
    var rng = Xoshiro256(seed: seed)
    for (i, ad) in ads.enumerated() {
      var r = rng.fork(UInt64(i))
      if svd {
        store.fillNormal(ad.a, mean: 0, std: 0.02, rng: &r)
        store.fillNormal(ad.b, mean: 0, std: 0.02, rng: &r)
      } else {
        store.fillKaimingUniform(ad.a, rng: &r)
      }
      bySite[key(ad.target.site, ad.layer), default: []].append(i)
    }
  }

  private func key(_ s: HookSite, _ l: Int) -> Int { l * 16 + s.rawValue }
  private var maxRank: Int { adapters.map(\.rank).max() ?? 0 }

  public func anchors(_ L: ViTLayout) -> [Int] {
    adapters.map { L.anchor($0.target.site, layer: $0.layer) }
  }
  public func hooks(_ site: HookSite, layer: Int) -> Bool { bySite[key(site, layer)] != nil }

  public func beginForward(batch B: Int, tokens T: Int) {
    rows = B * T
    let n = rows * maxRank * adapters.count
    ensure(&hBuf, n)
    ensure(&uBuf, n)
    ensure(&dBuf, rows * maxRank * 2)
  }

  public var activationBytes: Int { (hBuf.count + uBuf.count + dBuf.count) * 4 }
  public func activationCount(batch B: Int, tokens T: Int) -> Int {
    2 * B * T * maxRank * adapters.count + B * T * maxRank * 2
  }

  public func afterBackward(step: Int) { allocator?.addOrthogonalRegulariser(self) }
  public func afterStep(step: Int) { allocator?.allocate(self, step: step) }

  /// Singular values (SVD form); pruned ones were zeroed by the allocator.
  private func maskedE(_ i: Int) -> [Float] {
    let ad = adapters[i], e = store.p(ad.e!)
    return (0..<ad.rank).map { e[$0] }
  }

  public func forward(
    _ site: HookSite, layer: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows n: Int
  ) {
    for i in bySite[key(site, layer)]! {
      let ad = adapters[i], r = ad.rank
      let h = hBuf.pointer + i * rows * maxRank, u = uBuf.pointer + i * rows * maxRank
      BLAS.parallelGemm(
        transA: false, transB: true, M: n, N: r, K: ad.inp, alpha: 1,
        A: inp, lda: ad.inp, B: store.p(ad.a), ldb: ad.inp, beta: 0, C: h, ldc: r)
      if svd {
        let e = maskedE(i)
        for row in 0..<n { for j in 0..<r { u[row * r + j] = h[row * r + j] * e[j] } }
      } else {
        u.update(from: h, count: n * r)
      }
      BLAS.parallelGemm(
        transA: false, transB: true, M: n, N: ad.out, K: r, alpha: scale,
        A: u, lda: r, B: store.p(ad.b), ldb: r, beta: 1, C: out + ad.col, ldc: ad.ld)
    }
  }

  public func backwardInput(
    _ site: HookSite, layer: Int, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
    dinp: UnsafeMutablePointer<Float>?, rows n: Int
  ) {
    for i in bySite[key(site, layer)]! {
      let ad = adapters[i], r = ad.rank
      let h = hBuf.pointer + i * rows * maxRank, u = uBuf.pointer + i * rows * maxRank
      let du = dBuf.pointer, dh = dBuf.pointer + rows * maxRank
      let dO = dout + ad.col
      // dB += c · doutᵀ u   (out, r)
      BLAS.parallelGemm(
        transA: true, transB: false, M: ad.out, N: r, K: n, alpha: scale,
        A: dO, lda: ad.ld, B: u, ldb: r, beta: 1, C: store.g(ad.b), ldc: r)
      // du = c · dout B     (rows, r)
      BLAS.parallelGemm(
        transA: false, transB: false, M: n, N: r, K: ad.out, alpha: scale,
        A: dO, lda: ad.ld, B: store.p(ad.b), ldb: r, beta: 0, C: du, ldc: r)
      if svd {
        let e = maskedE(i), ge = store.g(ad.e!)
        for row in 0..<n {
          for j in 0..<r {
            ge[j] += du[row * r + j] * h[row * r + j]
            dh[row * r + j] = du[row * r + j] * e[j]
          }
        }
      } else {
        dh.update(from: du, count: n * r)
      }
      // dA += dhᵀ x   (r, in)
      BLAS.parallelGemm(
        transA: true, transB: false, M: r, N: ad.inp, K: n, alpha: 1,
        A: dh, lda: r, B: inp, ldb: ad.inp, beta: 1, C: store.g(ad.a), ldc: ad.inp)
      if let dinp {
        BLAS.parallelGemm(
          transA: false, transB: false, M: n, N: ad.inp, K: r, alpha: 1,
          A: dh, lda: r, B: store.p(ad.a), ldb: ad.inp, beta: 1, C: dinp, ldc: ad.inp)
      }
    }
  }

  /// Folds every update into `model`'s weights: W[rows of the target] += c · B diag(E) A.
  public func merge(into model: ViT) {
    for (i, ad) in adapters.enumerated() {
      let (w, rowOff) = ad.target.weight(model.layout, layer: ad.layer)
      var bScaled = store.values.array(store.tensors[ad.b].offset..<(store.tensors[ad.b].offset + ad.out * ad.rank))
      if svd {
        let e = maskedE(i)
        for o in 0..<ad.out { for j in 0..<ad.rank { bScaled[o * ad.rank + j] *= e[j] } }
      }
      bScaled.withUnsafeBufferPointer { bp in
        BLAS.gemm(
          transA: false, transB: false, M: ad.out, N: ad.inp, K: ad.rank, alpha: scale,
          A: bp.baseAddress!, lda: ad.rank, B: store.p(ad.a), ldb: ad.inp, beta: 1,
          C: model.pointer(w) + rowOff * ad.inp, ldc: ad.inp)
      }
    }
  }
}

//===--- Adapter.swift - AdaptFormer's parallel bottleneck adapter ---------===//
//
// ShoufaChen/AdaptFormer `models/custom_modules.py`: the adapter reads the
// residual stream after attention (mid, not norm2(mid)) and its output is
// added beside the MLP's:  out = mid + MLP(LN(mid)) + s · up(ReLU(down(mid))).
// bottleneck 64, s = 0.1, "lora" init (down kaiming-uniform, up and biases 0),
// no adapter LayerNorm. (AdaptFormer's adapter dropout 0.1 is omitted: the
// engine has no dropout anywhere.)
// Shapes: mid (rows, D); z = mid downᵀ + b_d (rows, m); a = ReLU(z);
//   out += s · (a upᵀ + b_u) (rows, D).
// Backward (dout = ∂/∂out, rows × D):
//   dup += s·doutᵀ a; dbu += s·Σ dout; dz = (s·dout up) ⊙ [z > 0];
//   ddown += dzᵀ mid; dbd += Σ dz; dmid += dz down.
//===----------------------------------------------------------------------===//
import Kernels
import Model
import Storage

public final class AdapterModules: TrainableModules {
  public let config: ViTConfig
  public let store = ModuleStore()
  public let bottleneck: Int
  public let scale: Float
  struct Block { let down, downB, up, upB: Int }
  private let blocks: [Block]
  private var z = FloatBuffer(count: 0), act = FloatBuffer(count: 0), dz = FloatBuffer(count: 0)
  private var dmid = FloatBuffer(count: 0)
  private var midPointer: [UnsafePointer<Float>?]
  private var rows = 0

  public init(config c: ViTConfig, bottleneck m: Int = 64, scale: Float = 0.1, seed: UInt64) {
    config = c
    bottleneck = m
    self.scale = scale
    let D = c.width
    let st = store
    blocks = (0..<c.depth).map { l in
      let p = "blocks.\(l).adaptmlp."
      return Block(
        down: st.add(p + "down_proj.weight", [m, D]), downB: st.add(p + "down_proj.bias", [m], decay: false),
        up: st.add(p + "up_proj.weight", [D, m]), upB: st.add(p + "up_proj.bias", [D], decay: false))
    }
    midPointer = Array(repeating: nil, count: c.depth)
    store.seal()
    var rng = Xoshiro256(seed: seed)
    for b in blocks { store.fillKaimingUniform(b.down, rng: &rng) }
  }

  public func anchors(_ L: ViTLayout) -> [Int] { (0..<config.depth).map { L.anchor(.mlpOut, layer: $0) } }
  public func hooks(_ site: HookSite, layer: Int) -> Bool { site == .mlpOut }

  public func beginForward(batch B: Int, tokens T: Int) {
    rows = B * T
    ensure(&z, config.depth * rows * bottleneck)
    ensure(&act, config.depth * rows * bottleneck)
    ensure(&dz, rows * bottleneck)
    ensure(&dmid, rows * config.width)
  }
  public var activationBytes: Int { (z.count + act.count + dz.count + dmid.count) * 4 }
  public func activationCount(batch B: Int, tokens T: Int) -> Int {
    2 * config.depth * B * T * bottleneck + B * T * bottleneck + B * T * config.width
  }

  public func forward(
    _ site: HookSite, layer l: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows n: Int
  ) {
    let b = blocks[l], m = bottleneck, D = config.width
    let zl = z.pointer + l * rows * m, al = act.pointer + l * rows * m
    midPointer[l] = inp
    BLAS.parallelGemm(
      transA: false, transB: true, M: n, N: m, K: D, alpha: 1,
      A: inp, lda: D, B: store.p(b.down), ldb: D, beta: 0, C: zl, ldc: m)
    let bd = store.p(b.downB)
    for r in 0..<n { for j in 0..<m { zl[r * m + j] += bd[j]; al[r * m + j] = max(zl[r * m + j], 0) } }
    BLAS.parallelGemm(
      transA: false, transB: true, M: n, N: D, K: m, alpha: scale,
      A: al, lda: m, B: store.p(b.up), ldb: m, beta: 1, C: out, ldc: D)
    let bu = store.p(b.upB)
    for r in 0..<n { for j in 0..<D { out[r * D + j] += scale * bu[j] } }
  }

  public func backwardOutput(_ site: HookSite, layer l: Int, dout: UnsafeMutablePointer<Float>, rows n: Int) {
    let b = blocks[l], m = bottleneck, D = config.width
    let zl = z.pointer + l * rows * m, al = act.pointer + l * rows * m, d = dz.pointer
    BLAS.parallelGemm(
      transA: true, transB: false, M: D, N: m, K: n, alpha: scale,
      A: dout, lda: D, B: al, ldb: m, beta: 1, C: store.g(b.up), ldc: m)
    let gbu = store.g(b.upB)
    for r in 0..<n { for j in 0..<D { gbu[j] += scale * dout[r * D + j] } }
    BLAS.parallelGemm(
      transA: false, transB: false, M: n, N: m, K: D, alpha: scale,
      A: dout, lda: D, B: store.p(b.up), ldb: m, beta: 0, C: d, ldc: m)
    let gbd = store.g(b.downB)
    for r in 0..<n {
      for j in 0..<m {
        if zl[r * m + j] <= 0 { d[r * m + j] = 0 }
        gbd[j] += d[r * m + j]
      }
    }
    BLAS.parallelGemm(
      transA: true, transB: false, M: m, N: D, K: n, alpha: 1,
      A: d, lda: m, B: midPointer[l]!, ldb: D, beta: 1, C: store.g(b.down), ldc: D)
    BLAS.parallelGemm(
      transA: false, transB: false, M: n, N: D, K: m, alpha: 1,
      A: d, lda: m, B: store.p(b.down), ldb: D, beta: 0, C: dmid.pointer, ldc: D)
  }

  public func backwardInput(
    _ site: HookSite, layer: Int, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
    dinp: UnsafeMutablePointer<Float>?, rows n: Int
  ) {
    if let dinp { Vec.add(dinp, dmid.pointer, n * config.width) }
  }
}

//===--- SideTuning.swift - FPT and FPT+ (Huang et al.): side ViT + fusion ---===//
//
// FPT+ §3.2-3.6, YijinHuang/FPT `modules/{builder,bridge,side_vit,frozen_vit}.py`.
// A frozen large model M (L_M layers, width D, H heads) sees the high-
// resolution image; a randomly initialised side ViT S (width D/8, H heads;
// Hugging Face's initialisation as in the FPT code: `ViTInitialisation`),
// L_S layers) sees a low-resolution copy. Side layer i pairs with M's layer
// L_M − L_S + i. Per side layer, fine-grained prompts p_i (P × d_p) become
// queries of a cross-attention on M's own K/V at the paired layer, restricted
// per head to the top m% tokens by attention received; a shared out-projector
// maps to the side width, and the result joins the side layer's input as P
// extra rows that are dropped after the layer:
//   FPT+: q = LN(p_i) (d_p = D);            f_i = W_out(CA(q, K, V) + p_i)
//   FPT:  q = W_in p_i (d_p = D/8, Linear); f_i = W_out CA(q, K, V) + p_i
// (FPT's 0.5 dropout on f_i is omitted: the engine has no dropout.)
// Shapes: K, V (B, L_S, H, k, hd) with k = ⌊0.2·T_M⌋; prompts (L_S, P, d_p);
//   f (L_S, B, P, D/8).
// `fusion: .mlp` is FPT+'s Fig. 7 "+ MLP" step (§4.6: "an MLP layer to process and align the hidden
// dimension of these features with that of the side network, and then concatenate these features
// into the intermediate sequence"): no prompts; each of M's k tokens at the paired layer, as its
// keys and values of all heads x_t = [k_t ; v_t] (2D), becomes one extra side row
//   f_t = W_2 GELU(W_1 x_t + b_1) + b_2   (W_1: (D/8, 2D), W_2: (D/8, D/8), shared by the layers);
// the side sequence grows by k rows per layer instead of P. (K and V are linear maps of M's
// normalised hidden state, so an MLP on them sees what an MLP on the hidden state would.)
//===----------------------------------------------------------------------===//
import Kernels
import Model
import Storage

/// How M's features reach the side network.
public enum SideFusion: String, Sendable, Equatable, CaseIterable, Codable {
  /// Fine-grained prompts cross-attending to M's K/V (FPT, FPT+).
  case crossAttention = "cross-attention"
  /// M's token features through an MLP, concatenated to the side sequence (FPT+ Fig. 7's "+ MLP").
  case mlp
}

public struct SideOptions: Sendable, Equatable {
  /// Side width = D / reduction.
  public var reduction = 8
  /// Side layers (nil: L_M / 2 for FPT+, L_M for FPT).
  public var layers: Int?
  public var prompts = 16
  public var fusion = SideFusion.crossAttention
  /// Share of M's tokens whose K/V reach the fusion modules.
  public var tokenRatio = 0.2
  /// Side input size and patch (nil size: from `tokenFraction`; nil patch: M's patch).
  public var sideSize: Int?
  public var sidePatch: Int?
  /// Side patches / M's patches when `sideSize` is nil (nil: the paper's, `paperTokenFraction`):
  /// side grid = round(M's grid · √fraction), side size = grid · side patch.
  public var tokenFraction: Double?
  /// The papers' asymmetric input at 512 px, ViT-B/16 (1,024 tokens): FPT+ sees a 128-px copy
  /// (64 tokens, 1/16), FPT a 224-px one (196 tokens, 196/1024).
  public static func paperTokenFraction(plus: Bool) -> Double { plus ? 64.0 / 1024 : 196.0 / 1024 }
  public init() {}
}

public struct SideTuningPlan: Sendable {
  public let plus: Bool
  public let frozen: ViTConfig
  public let side: ViTConfig
  /// M's layers feeding side layers 0..<L_S.
  public let pairedLayers: [Int]
  public let prompts: Int
  public let promptDim: Int
  public let keptTokens: Int
  public let fusion: SideFusion

  public init(plus: Bool, frozen c: ViTConfig, classes: Int, options o: SideOptions) throws {
    self.plus = plus
    frozen = c
    let Ls = o.layers ?? (plus ? c.depth / 2 : c.depth)
    let patch = o.sidePatch ?? c.patchSize
    let fraction = o.tokenFraction ?? SideOptions.paperTokenFraction(plus: plus)
    guard fraction > 0, fraction.isFinite else {
      throw ModelError.invalidConfig("side token fraction \(fraction) must be > 0")
    }
    let size = o.sideSize ?? max(1, Int((Double(c.gridSize) * fraction.squareRoot()).rounded())) * patch
    side = ViTConfig(
      imageSize: size, patchSize: patch, width: c.width / o.reduction, depth: Ls, heads: c.heads,
      head: .linear, numClasses: classes, layerNormEps: 1e-12)
    try side.validate()
    pairedLayers = (0..<Ls).map { c.depth - Ls + $0 }
    fusion = o.fusion
    prompts = o.fusion == .mlp ? 0 : o.prompts
    promptDim = plus ? c.width : c.width / o.reduction
    keptTokens = max(1, Int(Double(c.tokens) * o.tokenRatio))
  }

  /// Floats of K (or V) per image: (L_S, H, k, hd).
  public var kvCount: Int { side.depth * frozen.heads * keptTokens * frozen.headDim }
}

/// The fusion's extra rows (the last `rows` of each image's T tokens) in a side block's input.
enum SideRows {
  /// x[i, T−rows ..< T, :] = f[i] for each image i; f (B, rows, D).
  static func write(
    _ f: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, rows R: Int, B: Int, T: Int, D: Int
  ) {
    for i in 0..<B { (x + (i * T + T - R) * D).update(from: f + i * R * D, count: R * D) }
  }
  /// d[i] = ∂x[i, T−rows ..< T, :], and those rows of ∂x are zeroed (the rows are dropped after the block).
  static func take(
    _ dx: UnsafeMutablePointer<Float>, into d: UnsafeMutablePointer<Float>, rows R: Int, B: Int, T: Int, D: Int
  ) {
    for i in 0..<B {
      let rows = dx + (i * T + T - R) * D
      (d + i * R * D).update(from: rows, count: R * D)
      rows.update(repeating: 0, count: R * D)
    }
  }
}

/// The modules that carry M's features into the side network; each batch's K/V are set before its forward.
public protocol SideFusionModules: TrainableModules {
  var keys: UnsafePointer<Float>? { get set }
  var values: UnsafePointer<Float>? { get set }
}

/// The plan's fusion: prompts with cross-attention, or the "+ MLP" rows.
public func makeFusionModules(plan: SideTuningPlan, seed: UInt64) -> any SideFusionModules {
  plan.fusion == .mlp ? MLPFusionModules(plan: plan, seed: seed) : FusionModules(plan: plan, seed: seed)
}

public final class FusionModules: SideFusionModules {
  public let plan: SideTuningPlan
  public let store = ModuleStore()
  let promptT: Int, lnW: Int?, lnB: Int?, inW: Int?, inB: Int?, outW: Int, outB: Int
  /// The current batch's K and V (B, L_S, H, k, hd), set before each forward.
  public var keys: UnsafePointer<Float>?
  public var values: UnsafePointer<Float>?
  private var B = 0
  private var qIn = FloatBuffer(count: 0), mean = FloatBuffer(count: 0), rstd = FloatBuffer(count: 0)
  private var q = FloatBuffer(count: 0), probs = FloatBuffer(count: 0), res = FloatBuffer(count: 0)
  private var fused = FloatBuffer(count: 0), dFused = FloatBuffer(count: 0)
  private var scratch = FloatBuffer(count: 0), attnScratch = FloatBuffer(count: 0), lnScratch = FloatBuffer(count: 0)

  public init(plan p: SideTuningPlan, seed: UInt64) {
    plan = p
    let D = p.frozen.width, ds = p.side.width, dp = p.promptDim, Ls = p.side.depth
    promptT = store.add("fusion.prompts", [Ls, p.prompts, dp], decay: false)
    if p.plus {
      lnW = store.add("fusion.prompt_norm.weight", [dp], decay: false)
      lnB = store.add("fusion.prompt_norm.bias", [dp], decay: false)
      inW = nil; inB = nil
    } else {
      lnW = nil; lnB = nil
      inW = store.add("fusion.prompt_proj.weight", [D, dp])
      inB = store.add("fusion.prompt_proj.bias", [D], decay: false)
    }
    outW = store.add("fusion.out_proj.weight", [ds, D])
    outB = store.add("fusion.out_proj.bias", [ds], decay: false)
    store.seal()
    var rng = Xoshiro256(seed: seed)
    // bridge.py: prompts normal(std 1e-6); Linear layers PyTorch default (±1/√in); LN (1, 0).
    store.fillNormal(promptT, mean: 0, std: 1e-6, rng: &rng)
    if let lnW { store.fill(lnW, 1) }
    for (w, b) in [(inW, inB), (outW, outB)] {
      guard let w, let b else { continue }
      store.fillKaimingUniform(w, rng: &rng)
      store.fillUniform(b, bound: 1 / Double(store.tensors[w].shape[1]).squareRoot(), rng: &rng)
    }
  }

  public var extraTokens: Int { plan.prompts }
  public func anchors(_ L: ViTLayout) -> [Int] { (0..<plan.side.depth).map { L.tokenAnchor(layer: $0) } }
  public func hooks(_ site: HookSite, layer: Int) -> Bool { false }
  public var activationBytes: Int {
    (qIn.count + mean.count + rstd.count + q.count + probs.count + res.count + fused.count + dFused.count
      + scratch.count
      + attnScratch.count + lnScratch.count) * 4
  }

  public func activationCount(batch B: Int, tokens T: Int) -> Int {
    let p = plan, P = p.prompts, D = p.frozen.width, Ls = p.side.depth, H = p.frozen.heads, S = p.keptTokens
    return Ls * P * p.promptDim + 2 * Ls * P + Ls * P * D + Ls * B * H * P * S + Ls * B * P * D
      + 2 * Ls * B * P * p.side.width + max(P * S, B * P * D) + P * D + P * p.promptDim
      + P * S + LayerNorm.scratchCount(N: P, C: p.promptDim)
  }

  public func beginForward(batch b: Int, tokens T: Int) {
    B = b
    guard plan.prompts > 0 else { return }
    let p = plan, P = p.prompts, D = p.frozen.width, Ls = p.side.depth, H = p.frozen.heads, S = p.keptTokens
    ensure(&qIn, Ls * P * p.promptDim)
    ensure(&mean, Ls * P)
    ensure(&rstd, Ls * P)
    ensure(&q, Ls * P * D)
    ensure(&probs, Ls * B * H * P * S)
    ensure(&res, Ls * B * P * D)
    ensure(&fused, Ls * B * P * p.side.width)
    ensure(&dFused, Ls * B * P * p.side.width)
    ensure(&scratch, max(P * S, B * P * D) + P * D + P * p.promptDim)
    ensure(&attnScratch, P * S)
    ensure(&lnScratch, LayerNorm.scratchCount(N: P, C: p.promptDim))
    for l in 0..<Ls { fuse(layer: l) }
  }

  private func fuse(layer l: Int) {
    let p = plan, P = p.prompts, D = p.frozen.width, dp = p.promptDim, ds = p.side.width
    let H = p.frozen.heads, S = p.keptTokens
    let prompts = store.p(promptT) + l * P * dp
    let qi = qIn.pointer + l * P * dp, ql = q.pointer + l * P * D
    if let lnW, let lnB {
      LayerNorm.forward(
        out: qi, mean: mean.pointer + l * P, rstd: rstd.pointer + l * P, inp: prompts,
        weight: store.p(lnW), bias: store.p(lnB), N: P, C: dp, eps: 1e-5)
      ql.update(from: qi, count: P * D)
    } else {
      qi.update(from: prompts, count: P * dp)
      Linear.forward(out: ql, inp: qi, weight: store.p(inW!), bias: store.p(inB!), N: P, C: dp, OC: D)
    }
    // This layer's K/V: a slice of each image's (L_S, H, S, hd) block; no copy.
    let r = res.pointer + l * B * P * D, per = p.kvCount / p.side.depth
    CrossAttention.forward(
      out: r, probs: probs.pointer + l * B * H * P * S, q: ql, k: keys! + l * per,
      v: values! + l * per, B: B, P: P, S: S, D: D, H: H, kvStride: p.kvCount)
    let f = fused.pointer + l * B * P * ds
    if p.plus {  // f = W_out(ctx + p)
      for b in 0..<B { Vec.add(r + b * P * D, prompts, P * D) }
      Linear.forward(out: f, inp: r, weight: store.p(outW), bias: store.p(outB), N: B * P, C: D, OC: ds)
    } else {  // f = W_out ctx + p
      Linear.forward(out: f, inp: r, weight: store.p(outW), bias: store.p(outB), N: B * P, C: D, OC: ds)
      for b in 0..<B { Vec.add(f + b * P * ds, prompts, P * ds) }
    }
  }

  public func setTokens(layer: Int, x: UnsafeMutablePointer<Float>, B b: Int, T: Int, D: Int) {
    SideRows.write(fused.pointer + layer * B * plan.prompts * D, into: x, rows: plan.prompts, B: b, T: T, D: D)
  }

  public func tokensBackward(layer: Int, dx: UnsafeMutablePointer<Float>, B b: Int, T: Int, D: Int) {
    SideRows.take(dx, into: dFused.pointer + layer * B * plan.prompts * D, rows: plan.prompts, B: b, T: T, D: D)
  }

  public func endBackward() {
    guard plan.prompts > 0 else { return }
    let p = plan, P = p.prompts, D = p.frozen.width, dp = p.promptDim, ds = p.side.width
    let H = p.frozen.heads, S = p.keptTokens
    for l in 0..<p.side.depth {
      let df = dFused.pointer + l * B * P * ds, r = res.pointer + l * B * P * D
      let gPrompts = store.g(promptT) + l * P * dp
      let dres = scratch.pointer  // (B·P, D)
      Linear.backward(
        dinp: dres, dweight: store.g(outW), dbias: store.g(outB), dout: df, inp: r,
        weight: store.p(outW), N: B * P, C: D, OC: ds, accumulate: false)
      // The prompt residual: into ∂p from ∂res (FPT+) or ∂f (FPT).
      for b in 0..<B { Vec.add(gPrompts, p.plus ? dres + b * P * D : df + b * P * ds, P * dp) }
      let dq = scratch.pointer + max(P * S, B * P * D)
      dq.update(repeating: 0, count: P * D)
      let per = p.kvCount / p.side.depth
      CrossAttention.backward(
        dq: dq, dout: dres, probs: probs.pointer + l * B * H * P * S, k: keys! + l * per,
        v: values! + l * per, B: B, P: P, S: S, D: D, H: H, scratch: attnScratch.pointer, kvStride: p.kvCount)
      let qi = qIn.pointer + l * P * dp
      if let lnW, let lnB {
        LayerNorm.backward(
          dinp: gPrompts, dweight: store.g(lnW), dbias: store.g(lnB), dout: dq,
          inp: store.p(promptT) + l * P * dp, weight: store.p(lnW), mean: mean.pointer + l * P,
          rstd: rstd.pointer + l * P, N: P, C: dp, scratch: lnScratch.pointer)
      } else {
        Linear.backward(
          dinp: gPrompts, dweight: store.g(inW!), dbias: store.g(inB!), dout: dq, inp: qi,
          weight: store.p(inW!), N: P, C: dp, OC: D, accumulate: true)
      }
    }
  }
}

extension SideTuningPlan {
  /// Trainable = side ViT (all of it, incl. its head) + fusion modules.
  public func trainableParameters() -> Int {
    ViTLayout(side).totalCount + FusionModules.parameterCount(self)
  }
  /// Denominator (as the FPT code prints it): frozen model incl. its head + trainable.
  public func totalParameters(frozenParameters: Int) -> Int { frozenParameters + trainableParameters() }
}

extension FusionModules {
  public static func parameterCount(_ p: SideTuningPlan) -> Int {
    let D = p.frozen.width, dp = p.promptDim, ds = p.side.width
    if p.fusion == .mlp { return ds * 2 * D + ds + ds * ds + ds }
    return p.side.depth * p.prompts * dp + (p.plus ? 2 * dp : D * dp + D) + ds * D + ds
  }
}

/// FPT+ Fig. 7's "+ MLP" step: M's k tokens per paired layer, x_t = [k_t ; v_t] (2D), through a
/// shared MLP to the side width, as k extra rows of the side layer's input (dropped after it).
///   h = W_1 x + b_1 (ds);  a = GELU(h);  f = W_2 a + b_2 (ds)
/// Shapes per layer: x (B·k, 2D), h, a, f (B·k, ds).
public final class MLPFusionModules: SideFusionModules {
  public let plan: SideTuningPlan
  public let store = ModuleStore()
  let w1: Int, b1: Int, w2: Int, b2: Int
  public var keys: UnsafePointer<Float>?
  public var values: UnsafePointer<Float>?
  private var B = 0
  private var x = FloatBuffer(count: 0), h = FloatBuffer(count: 0), a = FloatBuffer(count: 0)
  private var fused = FloatBuffer(count: 0), dFused = FloatBuffer(count: 0), scratch = FloatBuffer(count: 0)

  public init(plan p: SideTuningPlan, seed: UInt64) {
    plan = p
    let D = p.frozen.width, ds = p.side.width
    w1 = store.add("fusion.mlp.fc1.weight", [ds, 2 * D])
    b1 = store.add("fusion.mlp.fc1.bias", [ds], decay: false)
    w2 = store.add("fusion.mlp.fc2.weight", [ds, ds])
    b2 = store.add("fusion.mlp.fc2.bias", [ds], decay: false)
    store.seal()
    var rng = Xoshiro256(seed: seed)
    for (w, b) in [(w1, b1), (w2, b2)] {  // PyTorch's Linear default (±1/√in)
      store.fillKaimingUniform(w, rng: &rng)
      store.fillUniform(b, bound: 1 / Double(store.tensors[w].shape[1]).squareRoot(), rng: &rng)
    }
  }

  public var extraTokens: Int { plan.keptTokens }
  public func anchors(_ L: ViTLayout) -> [Int] { (0..<plan.side.depth).map { L.tokenAnchor(layer: $0) } }
  public func hooks(_ site: HookSite, layer: Int) -> Bool { false }
  public var activationBytes: Int { (x.count + h.count + a.count + fused.count + dFused.count + scratch.count) * 4 }
  public func activationCount(batch B: Int, tokens T: Int) -> Int {
    let n = B * plan.keptTokens, Ls = plan.side.depth, D = plan.frozen.width, ds = plan.side.width
    return Ls * n * (2 * D + 4 * ds) + 2 * n * ds
  }

  public func beginForward(batch b: Int, tokens T: Int) {
    B = b
    let p = plan, S = p.keptTokens, D = p.frozen.width, ds = p.side.width, Ls = p.side.depth, H = p.frozen.heads
    let hd = p.frozen.headDim, n = b * S, per = p.kvCount / Ls
    ensure(&x, Ls * n * 2 * D)
    ensure(&h, Ls * n * ds)
    ensure(&a, Ls * n * ds)
    ensure(&fused, Ls * n * ds)
    ensure(&dFused, Ls * n * ds)
    ensure(&scratch, 2 * n * ds)
    for l in 0..<Ls {
      let xl = x.pointer + l * n * 2 * D
      for i in 0..<b {
        for hh in 0..<H {
          for t in 0..<S {  // K, V (B, L_S, H, S, hd) -> row (i, t): [k of every head | v of every head]
            let src = i * p.kvCount + l * per + (hh * S + t) * hd, row = xl + (i * S + t) * 2 * D
            (row + hh * hd).update(from: keys! + src, count: hd)
            (row + D + hh * hd).update(from: values! + src, count: hd)
          }
        }
      }
      let hl = h.pointer + l * n * ds, al = a.pointer + l * n * ds
      Linear.forward(out: hl, inp: xl, weight: store.p(w1), bias: store.p(b1), N: n, C: 2 * D, OC: ds)
      Activation.forward(.gelu, out: al, inp: hl, n: n * ds)
      Linear.forward(
        out: fused.pointer + l * n * ds, inp: al, weight: store.p(w2), bias: store.p(b2),
        N: n, C: ds, OC: ds)
    }
  }

  public func setTokens(layer: Int, x: UnsafeMutablePointer<Float>, B b: Int, T: Int, D: Int) {
    SideRows.write(fused.pointer + layer * B * plan.keptTokens * D, into: x, rows: plan.keptTokens, B: b, T: T, D: D)
  }

  public func tokensBackward(layer: Int, dx: UnsafeMutablePointer<Float>, B b: Int, T: Int, D: Int) {
    SideRows.take(dx, into: dFused.pointer + layer * B * plan.keptTokens * D, rows: plan.keptTokens, B: b, T: T, D: D)
  }

  public func endBackward() {
    let p = plan, n = B * p.keptTokens, D = p.frozen.width, ds = p.side.width
    let da = scratch.pointer, dh = scratch.pointer + n * ds
    for l in 0..<p.side.depth {
      Linear.backward(
        dinp: da, dweight: store.g(w2), dbias: store.g(b2), dout: dFused.pointer + l * n * ds,
        inp: a.pointer + l * n * ds, weight: store.p(w2), N: n, C: ds, OC: ds, accumulate: false)
      Activation.backward(.gelu, dinp: dh, inp: h.pointer + l * n * ds, dout: da, n: n * ds, accumulate: false)
      Linear.backward(
        dinp: nil, dweight: store.g(w1), dbias: store.g(b1), dout: dh, inp: x.pointer + l * n * 2 * D,
        weight: store.p(w1), N: n, C: 2 * D, OC: ds)
    }
  }
}

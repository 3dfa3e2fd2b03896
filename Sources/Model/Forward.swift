//===--- Forward.swift - ViT forward pass ----------------------------------===//
//
//   x0 = [cls; patch_embed(img)] + pos_embed            (B, T, D)
//   x0 = norm_pre(x0)                                    (CLIP only)
//   for each block: x = x + proj(MHSA(norm1(x)));  x = x + fc2(act(fc1(norm2(x))))
//   f  = norm(x[:, 0]);  f = f / ‖f‖ (SH-PEFT head);  logits = head(f)
// The final LayerNorm is applied to the class tokens only: the head reads
// nothing else, so this equals timm's norm-then-pool.
//===----------------------------------------------------------------------===//
import Kernels

extension ViT {
  /// Runs the model on `images` (B, C, H, W), normalised float32, and
  /// leaves every activation (including logits) in `acts`. `afterBlock(l)` runs
  /// when block l is done, while its buffers still hold its values (a streamed
  /// prefix reuses them for block l + 1): FPT's frozen model reads K/V there.
  public func forward(images: UnsafePointer<Float>, acts a: Activations, afterBlock: ((Int) -> Void)? = nil) {
    let c = config, B = a.batch, T0 = c.tokens, T = a.tokens, D = c.width, Np = c.numPatches, L = layout
    precondition(a.config == c, "activations were made for another config")
    let mods = a.modules
    mods?.beginForward(batch: B, tokens: T)
    Patchify.forward(
      patches: a.p(a.patches), images: images, B: B, C: c.channels, H: c.imageSize,
      W: c.imageSize, P: c.patchSize)
    Linear.forward(
      out: a.p(a.patchOut), inp: a.p(a.patches), weight: pointer(L.patchW),
      bias: L.patchB.map { pointer($0) }, N: B * Np, C: c.patchDim, OC: D)
    hook(.patch, 0, a, out: a.p(a.patchOut), inp: a.p(a.patches), rows: B * Np)
    TokenEmbed.forward(
      x: a.p(a.embed), patchOut: a.p(a.patchOut), cls: pointer(L.cls), pos: pointer(L.pos),
      B: B, Np: Np, D: D)
    let x0 = a.p(a.layers.first?.x ?? a.xOut)
    // With prompt rows, the image tokens are assembled contiguously and then
    // copied into the first T0 rows of each image's T.
    let dense = T == T0 ? x0 : (c.preNorm ? a.p(a.embedOut) : a.p(a.embed))
    if let w = L.preNormW, let b = L.preNormB {
      LayerNorm.forward(
        out: dense, mean: a.p(a.preMean), rstd: a.p(a.preRstd), inp: a.p(a.embed),
        weight: pointer(w), bias: pointer(b), N: B * T0, C: D, eps: c.layerNormEps)
    } else if T == T0 {
      x0.update(from: a.p(a.embed), count: B * T * D)
    }
    if T != T0 {
      for b in 0..<B { (x0 + b * T * D).update(from: dense + b * T0 * D, count: T0 * D) }
    }
    for l in 0..<c.depth {
      if T != T0 { mods!.setTokens(layer: l, x: a.p(a.layers[l].x), B: B, T: T, D: D) }
      blockForward(l, acts: a)
      afterBlock?(l)
    }
    headForward(acts: a)
  }

  @inline(__always)
  func hook(
    _ site: HookSite, _ l: Int, _ a: Activations, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int
  ) {
    if let m = a.modules, m.hooks(site, layer: l) { m.forward(site, layer: l, out: out, inp: inp, rows: rows) }
  }

  /// A linear layer of block `l` and the hook at its site: out (N, OC) = inp (N, C) · W^T + b.
  func linear(
    _ site: HookSite, _ l: Int, _ a: Activations, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
    weight w: Int, bias b: Int, N: Int, C: Int, OC: Int
  ) {
    Linear.forward(out: out, inp: inp, weight: pointer(w), bias: pointer(b), N: N, C: C, OC: OC)
    hook(site, l, a, out: out, inp: inp, rows: N)
  }

  /// A LayerNorm of block `l` (mean and rstd kept for backward) and the hook at its site.
  func layerNorm(
    _ site: HookSite, _ l: Int, _ a: Activations, out: Int, mean: Int, rstd: Int, inp: Int, weight w: Int, bias b: Int,
    N: Int
  ) {
    LayerNorm.forward(
      out: a.p(out), mean: a.p(mean), rstd: a.p(rstd), inp: a.p(inp), weight: pointer(w), bias: pointer(b),
      N: N, C: config.width, eps: config.layerNormEps)
    hook(site, l, a, out: a.p(out), inp: a.p(inp), rows: N)
  }

  func blockForward(_ l: Int, acts a: Activations) {
    let c = config, N = a.batch * a.tokens, D = c.width, F = c.mlpDim
    let s = a.layers[l], t = layout.blocks[l]
    let out = a.p(l + 1 < c.depth ? a.layers[l + 1].x : a.xOut)
    layerNorm(
      .norm1, l, a, out: s.ln1, mean: s.mean1, rstd: s.rstd1, inp: s.x, weight: t.norm1W, bias: t.norm1B, N: N)
    linear(.qkv, l, a, out: a.p(s.qkv), inp: a.p(s.ln1), weight: t.qkvW, bias: t.qkvB, N: N, C: D, OC: 3 * D)
    Attention.forward(
      out: a.p(s.attn), probs: a.p(a.attnProbs), keepProbs: false, received: a.recordsAttention ? a.p(a.received) : nil,
      qkv: a.p(s.qkv), B: a.batch, T: a.tokens, D: D, H: c.heads)
    linear(.proj, l, a, out: a.p(s.mid), inp: a.p(s.attn), weight: t.projW, bias: t.projB, N: N, C: D, OC: D)
    Residual.forward(out: a.p(s.mid), a: a.p(s.mid), b: a.p(s.x), n: N * D)
    layerNorm(
      .norm2, l, a, out: s.ln2, mean: s.mean2, rstd: s.rstd2, inp: s.mid, weight: t.norm2W, bias: t.norm2B, N: N)
    linear(.fc1, l, a, out: a.p(s.fc1), inp: a.p(s.ln2), weight: t.fc1W, bias: t.fc1B, N: N, C: D, OC: F)
    Activation.forward(c.activation, out: a.p(s.act), inp: a.p(s.fc1), n: N * F)
    linear(.fc2, l, a, out: out, inp: a.p(s.act), weight: t.fc2W, bias: t.fc2B, N: N, C: F, OC: D)
    Residual.forward(out: out, a: out, b: a.p(s.mid), n: N * D)
    hook(.mlpOut, l, a, out: out, inp: a.p(s.mid), rows: N)
  }

  func headForward(acts a: Activations) {
    let c = config, B = a.batch, T = a.tokens, D = c.width
    for b in 0..<B { (a.p(a.cls) + b * D).update(from: a.p(a.xOut) + b * T * D, count: D) }
    LayerNorm.forward(
      out: a.p(a.normOut), mean: a.p(a.normMean), rstd: a.p(a.normRstd), inp: a.p(a.cls),
      weight: pointer(layout.normW), bias: pointer(layout.normB), N: B, C: D, eps: c.layerNormEps)
    hook(.norm, 0, a, out: a.p(a.normOut), inp: a.p(a.cls), rows: B)
    if c.head == .l2Linear {
      L2Normalize.forward(
        out: a.p(a.feat), norm: a.p(a.featNorm), inp: a.p(a.normOut), N: B, C: D, scale: c.headScale)
    } else {
      a.p(a.feat).update(from: a.p(a.normOut), count: B * D)
    }
    Linear.forward(
      out: a.p(a.logits), inp: a.p(a.feat), weight: pointer(layout.headW),
      bias: pointer(layout.headB), N: B, C: D, OC: c.numClasses)
  }

  /// Mean softmax cross-entropy of the last forward pass against `targets`
  /// (B labels in 0..<K); also fills the softmax probabilities.
  @discardableResult
  public func loss(acts a: Activations, targets: UnsafePointer<Int32>) -> Float {
    loss(acts: a, targets: .classes(targets))
  }

  /// The loss of the last forward pass against `targets`: softmax cross-entropy for class labels, mean
  /// sigmoid binary cross-entropy for multi-hot rows; fills `probs` with the softmax or the sigmoids.
  @discardableResult
  public func loss(acts a: Activations, targets: Targets) -> Float {
    switch targets {
    case .classes(let t):
      return SoftmaxCrossEntropy.forward(
        probs: a.p(a.probs), losses: a.p(a.losses), logits: a.p(a.logits), targets: t, B: a.batch,
        K: config.numClasses)
    case .multiHot(let t):
      return SigmoidBinaryCrossEntropy.forward(
        probs: a.p(a.probs), losses: a.p(a.losses), logits: a.p(a.logits), targets: t, B: a.batch,
        K: config.numClasses)
    }
  }
}

/// What a batch is trained against: one class per image (B labels in 0..<K; softmax cross-entropy), or
/// a multi-hot row per image (B × K entries in {0, 1}; a multi-label task, sigmoid binary cross-entropy).
public enum Targets {
  case classes(UnsafePointer<Int32>)
  case multiHot(UnsafePointer<Float>)
}

//===--- Backward.swift - ViT backward pass --------------------------------===//
//
// Accumulates ∂loss/∂θ into `grads` for the trainable tensors only. Tensor
// indices follow the order of computation, so "does anything before this op
// need a gradient" is a prefix test: the gradient w.r.t. an op's input is
// computed only then, and a frozen weight skips its GEMM. Linear probing
// therefore costs one head backward; BitFit and FT-LN skip every weight GEMM.
// PEFT modules (`Activations.modules`) count as trainable at their anchors
// and get their two backward phases around the op they hook (Modules.swift).
//===----------------------------------------------------------------------===//
import Kernels

extension ViT {
  /// Backward of mean cross-entropy; call after `forward` and `loss`.
  public func backward(acts a: Activations, targets: UnsafePointer<Int32>, grads: Gradients) {
    backward(acts: a, targets: .classes(targets), grads: grads)
  }

  /// Backward of the loss `targets` implies (softmax or sigmoid cross-entropy); call after `forward` and `loss`.
  public func backward(acts a: Activations, targets: Targets, grads: Gradients) {
    a.prepareBackward()
    let c = config, B = a.batch, T = a.tokens, D = c.width, K = c.numClasses, L = layout
    let mods = a.modules
    defer { mods?.endBackward() }
    // below[i]: some tensor (or module anchor) with index < i is trainable.
    var anchored = grads.trainable
    if let mods { for i in mods.anchors(L) { anchored[i] = true } }
    var below = [Bool](repeating: false, count: L.tensors.count + 1)
    for i in 0..<L.tensors.count { below[i + 1] = below[i] || anchored[i] }
    func gp(_ i: Int) -> UnsafeMutablePointer<Float>? { grads.pointer(i) }
    func gp(_ i: Int?) -> UnsafeMutablePointer<Float>? { i.flatMap { grads.pointer($0) } }

    let dlogits = a.g(a.dLogits)
    dlogits.update(repeating: 0, count: B * K)
    switch targets {
    case .classes(let t): SoftmaxCrossEntropy.backward(dlogits: dlogits, probs: a.p(a.probs), targets: t, B: B, K: K)
    case .multiHot(let t):
      SigmoidBinaryCrossEntropy.backward(dlogits: dlogits, probs: a.p(a.probs), targets: t, B: B, K: K)
    }
    let needFeat = below[L.headW]
    Linear.backward(
      dinp: needFeat ? a.g(a.dFeat) : nil, dweight: gp(L.headW), dbias: gp(L.headB),
      dout: dlogits, inp: a.p(a.feat), weight: pointer(L.headW), N: B, C: D, OC: K,
      accumulate: false)
    guard needFeat else { return }

    var dnorm = a.g(a.dFeat)
    if c.head == .l2Linear {
      dnorm = a.g(a.dNorm)
      dnorm.update(repeating: 0, count: B * D)
      L2Normalize.backward(
        dinp: dnorm, dout: a.g(a.dFeat), out: a.p(a.feat), norm: a.p(a.featNorm), N: B, C: D,
        scale: c.headScale)
    }
    let dcls = a.g(a.dCls)
    dcls.update(repeating: 0, count: B * D)
    hookOut(.norm, 0, a, dout: dnorm, rows: B)
    LayerNorm.backward(
      dinp: below[L.normW] ? dcls : nil, dweight: gp(L.normW), dbias: gp(L.normB), dout: dnorm,
      inp: a.p(a.cls), weight: pointer(L.normW), mean: a.p(a.normMean), rstd: a.p(a.normRstd),
      N: B, C: D, scratch: a.g(a.lnScratch))
    hookInp(.norm, 0, a, dout: dnorm, inp: a.p(a.cls), dinp: below[L.normW] ? dcls : nil, rows: B)
    guard below[L.normW] else { return }

    let dX = a.g(a.dX)
    dX.update(repeating: 0, count: B * T * D)
    for b in 0..<B { (dX + b * T * D).update(from: dcls + b * D, count: D) }

    for l in stride(from: c.depth - 1, through: 0, by: -1) {
      guard below[L.blocks[l].fc2B + 1] else { return }
      blockBackward(l, acts: a, grads: grads, below: below)
      if T != c.tokens { mods!.tokensBackward(layer: l, dx: dX, B: B, T: T, D: D) }
    }
    embedBackward(acts: a, grads: grads, below: below, anchored: anchored)
  }

  @inline(__always)
  func hookOut(_ site: HookSite, _ l: Int, _ a: Activations, dout: UnsafeMutablePointer<Float>, rows: Int) {
    if let m = a.modules, m.hooks(site, layer: l) { m.backwardOutput(site, layer: l, dout: dout, rows: rows) }
  }

  @inline(__always)
  func hookInp(
    _ site: HookSite, _ l: Int, _ a: Activations, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
    dinp: UnsafeMutablePointer<Float>?, rows: Int
  ) {
    if let m = a.modules, m.hooks(site, layer: l) {
      m.backwardInput(site, layer: l, dout: dout, inp: inp, dinp: dinp, rows: rows)
    }
  }

  /// ∂/∂out for a layer on the residual path: its output hook may rescale it, so the hook gets a copy in
  /// `scratch` and `dout` keeps ∂/∂out for the residual (returns the one the layer sees).
  private func residualOutput(
    _ site: HookSite, _ l: Int, _ a: Activations, dout: UnsafeMutablePointer<Float>,
    scratch: UnsafeMutablePointer<Float>, rows: Int
  ) -> UnsafeMutablePointer<Float> {
    guard let m = a.modules, m.hooks(site, layer: l) else { return dout }
    scratch.update(from: dout, count: rows * config.width)
    m.backwardOutput(site, layer: l, dout: scratch, rows: rows)
    return scratch
  }

  /// ∂ through a linear layer of block `l` (out (N, OC) = inp (N, C) · W^T + b; overwrites `dinp`),
  /// then its hook's input side.
  private func linearBackward(
    _ site: HookSite, _ l: Int, _ a: Activations, grads: Gradients, dinp: UnsafeMutablePointer<Float>?,
    dout: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight w: Int, bias b: Int, N: Int, C: Int, OC: Int
  ) {
    Linear.backward(
      dinp: dinp, dweight: grads.pointer(w), dbias: grads.pointer(b), dout: dout, inp: inp, weight: pointer(w),
      N: N, C: C, OC: OC, accumulate: false, plan: grads.plans[w])
    hookInp(site, l, a, dout: dout, inp: inp, dinp: dinp, rows: N)
  }

  /// ∂ through a LayerNorm of block `l` (mean and rstd from forward), with its hook's output and input sides.
  private func layerNormBackward(
    _ site: HookSite, _ l: Int, _ a: Activations, grads: Gradients, dinp: UnsafeMutablePointer<Float>?,
    dout: UnsafeMutablePointer<Float>, inp: Int, mean: Int, rstd: Int, weight w: Int, bias b: Int, N: Int
  ) {
    hookOut(site, l, a, dout: dout, rows: N)
    LayerNorm.backward(
      dinp: dinp, dweight: grads.pointer(w), dbias: grads.pointer(b), dout: dout, inp: a.p(inp), weight: pointer(w),
      mean: a.p(mean), rstd: a.p(rstd), N: N, C: config.width, scratch: a.g(a.lnScratch))
    hookInp(site, l, a, dout: dout, inp: a.p(inp), dinp: dinp, rows: N)
  }

  private func blockBackward(_ l: Int, acts a: Activations, grads: Gradients, below: [Bool]) {
    let c = config, N = a.batch * a.tokens, D = c.width, F = c.mlpDim
    let s = a.layers[l], t = layout.blocks[l]
    let dX = a.g(a.dX), dA = a.g(a.dA), dB = a.g(a.dB)
    let dF1 = a.g(a.dF1), dF2 = a.g(a.dF2), dQKV = a.g(a.dQKV)

    // Adapter branch: out += f(mid); its ∂/∂mid is added once dX holds ∂/∂mid.
    hookOut(.mlpOut, l, a, dout: dX, rows: N)
    // MLP branch: out = mid + fc2(act(fc1(norm2(mid)))); dX holds ∂/∂out.
    let dFc2 = residualOutput(.fc2, l, a, dout: dX, scratch: dB, rows: N)
    let needAct = below[t.fc2W]
    linearBackward(
      .fc2, l, a, grads: grads, dinp: needAct ? dF2 : nil, dout: dFc2, inp: a.p(s.act), weight: t.fc2W,
      bias: t.fc2B, N: N, C: F, OC: D)
    if needAct {
      Activation.backward(c.activation, dinp: dF1, inp: a.p(s.fc1), dout: dF2, n: N * F, accumulate: false)
      hookOut(.fc1, l, a, dout: dF1, rows: N)
      let needLn2 = below[t.fc1W]
      linearBackward(
        .fc1, l, a, grads: grads, dinp: needLn2 ? dA : nil, dout: dF1, inp: a.p(s.ln2), weight: t.fc1W,
        bias: t.fc1B, N: N, C: D, OC: F)
      if needLn2 {
        layerNormBackward(
          .norm2, l, a, grads: grads, dinp: below[t.norm2W] ? dX : nil, dout: dA, inp: s.mid, mean: s.mean2,
          rstd: s.rstd2, weight: t.norm2W, bias: t.norm2B, N: N)
      }
    }
    hookInp(.mlpOut, l, a, dout: dX, inp: a.p(s.mid), dinp: dX, rows: N)
    // dX now holds ∂/∂mid. Attention branch: mid = x + proj(attn(norm1(x))).
    guard below[t.projB + 1] else { return }
    let dProj = residualOutput(.proj, l, a, dout: dX, scratch: dB, rows: N)
    let needAttn = below[t.projW]
    linearBackward(
      .proj, l, a, grads: grads, dinp: needAttn ? dA : nil, dout: dProj, inp: a.p(s.attn), weight: t.projW,
      bias: t.projB, N: N, C: D, OC: D)
    guard needAttn else { return }
    dQKV.update(repeating: 0, count: N * 3 * D)
    Attention.backward(
      dqkv: dQKV, dout: dA, qkv: a.p(s.qkv), probs: nil, B: a.batch, T: a.tokens, D: D,
      H: c.heads, scratch: a.g(a.attnScratch))
    hookOut(.qkv, l, a, dout: dQKV, rows: N)
    let needLn1 = below[t.qkvW]
    linearBackward(
      .qkv, l, a, grads: grads, dinp: needLn1 ? dB : nil, dout: dQKV, inp: a.p(s.ln1), weight: t.qkvW,
      bias: t.qkvB, N: N, C: D, OC: 3 * D)
    if needLn1 {
      layerNormBackward(
        .norm1, l, a, grads: grads, dinp: below[t.norm1W] ? dX : nil, dout: dB, inp: s.x, mean: s.mean1,
        rstd: s.rstd1, weight: t.norm1W, bias: t.norm1B, N: N)
    }
  }

  private func embedBackward(acts a: Activations, grads: Gradients, below: [Bool], anchored: [Bool]) {
    let c = config, B = a.batch, T0 = c.tokens, T = a.tokens, D = c.width, Np = c.numPatches, L = layout
    func gp(_ i: Int?) -> UnsafeMutablePointer<Float>? { i.flatMap { grads.pointer($0) } }
    // ∂/∂(image tokens), contiguous (B, T0, D): with prompt rows, gather them.
    var dTokens = a.g(a.dX)
    if T != T0 {
      dTokens = a.g(a.dB)
      for b in 0..<B { (dTokens + b * T0 * D).update(from: a.g(a.dX) + b * T * D, count: T0 * D) }
    }
    var dEmbed = dTokens
    if let w = L.preNormW {
      dEmbed = a.g(a.dA)
      dEmbed.update(repeating: 0, count: B * T0 * D)
      LayerNorm.backward(
        dinp: below[w] ? dEmbed : nil, dweight: gp(L.preNormW), dbias: gp(L.preNormB),
        dout: dTokens, inp: a.p(a.embed), weight: pointer(w), mean: a.p(a.preMean),
        rstd: a.p(a.preRstd), N: B * T0, C: D, scratch: a.g(a.lnScratch))
      guard below[w] else { return }
    }
    let patchTrainable = anchored[L.patchW] || (L.patchB.map { grads.trainable[$0] } ?? false)
    TokenEmbed.backward(
      dpatchOut: patchTrainable ? a.g(a.dPatch) : nil, dcls: gp(L.cls), dpos: gp(L.pos), dx: dEmbed,
      B: B, Np: Np, D: D)
    if patchTrainable {
      hookOut(.patch, 0, a, dout: a.g(a.dPatch), rows: B * Np)
      Linear.backward(
        dinp: nil, dweight: gp(L.patchW), dbias: gp(L.patchB), dout: a.g(a.dPatch),
        inp: a.p(a.patches), weight: pointer(L.patchW), N: B * Np, C: c.patchDim, OC: D,
        plan: grads.plans[L.patchW])
      hookInp(.patch, 0, a, dout: a.g(a.dPatch), inp: a.p(a.patches), dinp: nil, rows: B * Np)
    }
  }
}

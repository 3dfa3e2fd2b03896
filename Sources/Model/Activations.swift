//===--- Activations.swift - saved activations and backward scratch --------===//
import Kernels

/// Every buffer one forward/backward pass of batch size B needs, carved out
/// of one allocation (llm.c's `ActivationTensors`). Shapes:
///   patches (B, Np, C·P·P), patchOut (B, Np, D), embed (B, T, D)
///   per layer l: x[l] (B,T,D) block input; ln1, ln2 (B,T,D) with mean/rstd (B·T);
///     qkv (B,T,3D); attn (B,T,D) before proj; mid (B,T,D)
///     after the attention residual; fc1 (B,T,F) before the activation; act (B,T,F)
///   x[L] (B,T,D) output of the last block
///   cls (B,D) class tokens; norm (B,D) final LN; feat (B,D) head input
///   logits, probs (B,K), losses (B)
///   attnProbs: one (T,T) attention matrix per worker, overwritten by every (b, h) pair of every
///     block (no attention matrix is kept: backward recomputes it from q, k); received (B,H,T):
///     the last block's per-key mean attention, filled only when `recordsAttention` is set
public final class Activations: @unchecked Sendable {
  public let batch: Int
  public let config: ViTConfig
  /// Tokens per image in the blocks: image tokens + prompt rows of `modules`.
  public let tokens: Int
  /// PEFT modules attached to the forward/backward passes run with these activations.
  public let modules: (any ModelModules)?
  let storage: FloatBuffer
  /// Backward scratch (nil until `prepareBackward`).
  private(set) var grads: FloatBuffer?

  struct Layer { var x, ln1, mean1, rstd1, qkv, attn, mid, ln2, mean2, rstd2, fc1, act: Int }
  let patches, patchOut, embed, embedOut, preMean, preRstd: Int
  let layers: [Layer]
  let xOut, cls, normOut, normMean, normRstd, feat, featNorm, logits, probs, losses, attnProbs, received: Int

  // backward scratch offsets
  var dX = 0, dA = 0, dB = 0, dQKV = 0, dF1 = 0, dF2 = 0, dPatch = 0, dCls = 0, dNorm = 0,
    dFeat = 0, dLogits = 0, lnScratch = 0, attnScratch = 0

  /// Layers below this one are a frozen prefix that no backward step reads: they share one set of
  /// buffers (inputs alternate between two), so their activations are not kept.
  public let keepFrom: Int

  /// - keepFrom: the first layer whose activations backward reads (`ViTLayout.firstLayerBackwardReads`);
  ///   0 keeps every layer, `depth` none (a linear probe: only the head's input is kept).
  public init(config c: ViTConfig, batch B: Int, modules: (any ModelModules)? = nil, keepFrom: Int = 0) {
    batch = B
    config = c
    self.modules = modules
    let k = min(max(keepFrom, 0), c.depth)
    self.keepFrom = k
    let T0 = c.tokens, T = T0 + (modules?.extraTokens ?? 0)
    tokens = T
    let D = c.width, F = c.mlpDim, H = c.heads, Np = c.numPatches
    var size = 0
    func take(_ n: Int) -> Int { defer { size += n }; return size }
    patches = take(B * Np * c.patchDim)
    patchOut = take(B * Np * D)
    embed = take(B * T0 * D)
    embedOut = take(c.preNorm && T > T0 ? B * T0 * D : 0)
    preMean = take(c.preNorm ? B * T0 : 0)
    preRstd = take(c.preNorm ? B * T0 : 0)
    func layer(x: Int) -> Layer {
      Layer(
        x: x, ln1: take(B * T * D), mean1: take(B * T), rstd1: take(B * T),
        qkv: take(B * T * 3 * D), attn: take(B * T * D),
        mid: take(B * T * D), ln2: take(B * T * D), mean2: take(B * T), rstd2: take(B * T),
        fc1: take(B * T * F), act: take(B * T * F))
    }
    var ls: [Layer] = []
    if k > 0 {  // the streamed prefix: one shared slot; block inputs ping-pong between two buffers
      let x0 = take(B * T * D), x1 = k > 1 ? take(B * T * D) : x0
      let shared = layer(x: x0)
      for l in 0..<k { var s = shared; s.x = l % 2 == 0 ? x0 : x1; ls.append(s) }
    }
    for _ in k..<c.depth { ls.append(layer(x: take(B * T * D))) }
    layers = ls
    xOut = take(B * T * D)
    cls = take(B * D)
    normOut = take(B * D)
    normMean = take(B)
    normRstd = take(B)
    feat = take(B * D)
    featNorm = take(B)
    logits = take(B * c.numClasses)
    probs = take(B * c.numClasses)
    losses = take(B)
    attnProbs = take(Attention.forwardScratchCount(B: B, T: T, H: H))
    received = take(B * H * T)
    storage = FloatBuffer(count: size)
  }

  /// Allocates the backward scratch (once). With no layer kept (a linear probe) only the head's.
  public func prepareBackward() {
    if grads != nil { return }
    let c = config, B = batch
    let T = tokens, D = c.width, F = c.mlpDim, Np = c.numPatches
    var size = 0
    func take(_ n: Int) -> Int { defer { size += n }; return size }
    if keepFrom == c.depth {
      dCls = take(B * D)
      dNorm = take(B * D)
      dFeat = take(B * D)
      dLogits = take(B * c.numClasses)
      lnScratch = take(LayerNorm.scratchCount(N: B, C: D))
      grads = FloatBuffer(count: size)
      return
    }
    dX = take(B * T * D)
    dA = take(B * T * D)
    dB = take(B * T * D)
    dQKV = take(B * T * 3 * D)
    dF1 = take(B * T * F)
    dF2 = take(B * T * F)
    dPatch = take(B * Np * D)
    dCls = take(B * D)
    dNorm = take(B * D)
    dFeat = take(B * D)
    dLogits = take(B * c.numClasses)
    lnScratch = take(LayerNorm.scratchCount(N: B * T, C: max(D, F)))
    attnScratch = take(Attention.scratchCount(B: B, T: T, H: c.heads))
    grads = FloatBuffer(count: size)
  }

  @inline(__always) func p(_ offset: Int) -> UnsafeMutablePointer<Float> { storage.pointer + offset }
  @inline(__always) func g(_ offset: Int) -> UnsafeMutablePointer<Float> { grads!.pointer + offset }

  /// Floats `init` and `prepareBackward` allocate, without allocating (for
  /// memory estimates at sizes that do not fit: ViT-L at 2048 px).
  public static func counts(
    config c: ViTConfig, batch B: Int, extraTokens: Int = 0, keepFrom: Int = 0
  ) -> (forward: Int, backward: Int) {
    let T0 = c.tokens, T = T0 + extraTokens, D = c.width, F = c.mlpDim, H = c.heads, Np = c.numPatches, K = c.numClasses
    let k = min(max(keepFrom, 0), c.depth)
    var f = B * Np * c.patchDim + B * Np * D + B * T0 * D
    f += c.preNorm && T > T0 ? B * T0 * D : 0
    f += c.preNorm ? 2 * B * T0 : 0
    let slot = 4 * B * T * D + 4 * B * T + 3 * B * T * D + 2 * B * T * F  // a layer without its input x
    let kept = c.depth - k, streamedInputs = k == 0 ? 0 : (k > 1 ? 2 : 1)
    f += kept * (slot + B * T * D) + (k > 0 ? slot + streamedInputs * B * T * D : 0)
    f += B * T * D + 3 * B * D + 3 * B + 2 * B * K + B
    f += Attention.forwardScratchCount(B: B, T: T, H: H) + B * H * T
    if k == c.depth { return (f, 3 * B * D + B * K + LayerNorm.scratchCount(N: B, C: D)) }
    let b =
      3 * B * T * D + 3 * B * T * D + 2 * B * T * F + B * Np * D + 3 * B * D + B * K
      + LayerNorm.scratchCount(N: B * T, C: max(D, F)) + Attention.scratchCount(B: B, T: T, H: H)
    return (f, b)
  }

  /// Bytes of the forward activations and of the backward scratch, as allocated.
  public var forwardBytes: Int { storage.bytes }
  public var backwardBytes: Int { grads?.bytes ?? 0 }

  // MARK: - Read access for callers (FPT+ reuses K/V and attention maps)

  /// Logits (B, K) of the last forward pass.
  public var logitsArray: [Float] { storage.array(logits..<(logits + batch * config.numClasses)) }
  /// Class-token features after the final LayerNorm (B, D) of the last forward pass: what a linear
  /// probe or a k-NN probe sees (before the SH-PEFT head's L2 normalisation).
  public var featuresArray: [Float] { storage.array(normOut..<(normOut + batch * config.width)) }
  /// Softmax probabilities (B, K) of the last loss computation.
  public var probsArray: [Float] { storage.array(probs..<(probs + batch * config.numClasses)) }

  /// Packed q|k|v (B, T, 3D) of layer `l`: K of head h, token t is at
  /// `[(b·T + t)·3D + D + h·hd ..< +hd]`, V at `+2D` instead of `+D`.
  public func qkv(layer l: Int) -> UnsafePointer<Float> { UnsafePointer(p(layers[l].qkv)) }
  /// Set before a forward pass to have each block write its per-key mean attention (FPT+'s
  /// important-token score) into `attentionReceived` (read it in `forward`'s `afterBlock`).
  public var recordsAttention = false
  /// Mean attention each key token receives over the queries, (B, H, T), of the last block run
  /// with `recordsAttention` set: score[b,h,j] = mean_i P[b,h,i,j].
  public var attentionReceived: UnsafePointer<Float> { UnsafePointer(p(received)) }
  /// Block input (B, T, D) of layer `l`; `l == depth` gives the last block's output.
  public func hidden(layer l: Int) -> UnsafePointer<Float> {
    UnsafePointer(p(l < layers.count ? layers[l].x : xOut))
  }

  /// Keys or values of layer `l` copied out as (B, H, T, hd).
  public func keysOrValues(layer l: Int, values: Bool) -> [Float] {
    let c = config, T = tokens, D = c.width, H = c.heads, hd = c.headDim
    var out = [Float](repeating: 0, count: batch * H * T * hd)
    let src = qkv(layer: l) + (values ? 2 * D : D)
    for b in 0..<batch {
      for h in 0..<H {
        for t in 0..<T {
          for j in 0..<hd { out[((b * H + h) * T + t) * hd + j] = src[(b * T + t) * 3 * D + h * hd + j] }
        }
      }
    }
    return out
  }
}

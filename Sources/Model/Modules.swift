//===--- Modules.swift - hook points where PEFT modules attach to the ViT ---===//
//
// PEFT methods never fork the model code: they attach small modules at the
// hook sites below and say which stored tensors train. Per block l:
//
//   x ─(tokens: prompts written into rows T0..<T0+P)─► norm1 ─► qkv ─► attn ─► proj ─(+x)─► mid
//   mid ─► norm2 ─► fc1 ─► act ─► fc2 ─(+mid)─► out ─(mlpOut: + f(mid))─► next block
//
// Sites `patch`, `norm1`, `qkv`, `proj`, `norm2`, `fc1`, `fc2`, `norm` (the
// final LayerNorm, class tokens only) transform the output of that op in
// place, given its input: out ← h(out, inp) (SSF: γ⊙out+β; LoRA: out + s·BAx).
// `mlpOut` adds f(mid) to the block output (AdaptFormer's parallel adapter).
//
// Backward at a site runs in two phases around the op's own backward:
//   `backwardOutput`: dout (∂/∂h's output) → ∂/∂op's output, in place, and the
//                     module's gradients that need only dout;
//   `backwardInput`:  the module's gradients that need the op's input, and its
//                     contribution to ∂/∂inp (added into `dinp` when non-nil).
// Prompt tokens: `setTokens` writes rows T0..<T (T = T0 + extraTokens) of a
// block's input; `tokensBackward` reads their gradient (and zeroes it where
// the rows were overwritten, so nothing flows into the previous block).
//===----------------------------------------------------------------------===//

public enum HookSite: Int, Sendable, CaseIterable {
  case patch, norm1, qkv, proj, norm2, fc1, fc2, mlpOut, norm
}

public protocol ModelModules: AnyObject {
  /// Prompt rows appended after the image tokens (0: none).
  var extraTokens: Int { get }
  /// Stored tensor indices whose place in the order of computation the
  /// modules' trainable parameters take: backward computes input gradients
  /// down to them, exactly as if those tensors trained.
  func anchors(_ layout: ViTLayout) -> [Int]
  func hooks(_ site: HookSite, layer: Int) -> Bool
  /// Called once per forward pass before anything else (batch B, tokens T).
  func beginForward(batch B: Int, tokens T: Int)
  func forward(_ site: HookSite, layer: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int)
  func backwardOutput(_ site: HookSite, layer: Int, dout: UnsafeMutablePointer<Float>, rows: Int)
  func backwardInput(
    _ site: HookSite, layer: Int, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
    dinp: UnsafeMutablePointer<Float>?, rows: Int)
  /// Block `layer`'s input x (B, T, D): write the prompt rows.
  func setTokens(layer: Int, x: UnsafeMutablePointer<Float>, B: Int, T: Int, D: Int)
  /// ∂/∂x of block `layer`'s input: take the prompt rows' gradient.
  func tokensBackward(layer: Int, dx: UnsafeMutablePointer<Float>, B: Int, T: Int, D: Int)
  /// Called once per backward pass after everything else.
  func endBackward()
}

extension ModelModules {
  public var extraTokens: Int { 0 }
  public func beginForward(batch B: Int, tokens T: Int) {}
  public func forward(
    _ site: HookSite, layer: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int
  ) {}
  public func backwardOutput(_ site: HookSite, layer: Int, dout: UnsafeMutablePointer<Float>, rows: Int) {}
  public func backwardInput(
    _ site: HookSite, layer: Int, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
    dinp: UnsafeMutablePointer<Float>?, rows: Int
  ) {}
  public func setTokens(layer: Int, x: UnsafeMutablePointer<Float>, B: Int, T: Int, D: Int) {}
  public func tokensBackward(layer: Int, dx: UnsafeMutablePointer<Float>, B: Int, T: Int, D: Int) {}
  public func endBackward() {}
}

extension ViTLayout {
  /// The stored tensor computed at `site` of block `layer` (its anchor).
  public func anchor(_ site: HookSite, layer l: Int) -> Int {
    switch site {
    case .patch: return patchW
    case .norm1: return blocks[l].norm1W
    case .qkv: return blocks[l].qkvW
    case .proj: return blocks[l].projW
    case .norm2: return blocks[l].norm2W
    case .mlpOut: return blocks[l].fc2B
    case .fc1: return blocks[l].fc1W
    case .fc2: return blocks[l].fc2W
    case .norm: return normW
    }
  }

  /// Anchor of prompt rows entering block `layer`: the last tensor before it.
  public func tokenAnchor(layer l: Int) -> Int { blocks[l].norm1W - 1 }
}

extension ViTLayout {
  /// The first block whose activations the backward pass reads (Backward.swift enters block l only if
  /// a tensor or module anchor at or before that block's last tensor trains): the blocks below it are
  /// a frozen prefix whose activations need not be kept (`Activations.keepFrom`). `depth` when only the
  /// final norm and the head train (a linear probe), 0 when anything in the patch embedding trains.
  public func firstLayerBackwardReads(trainable: [Bool], anchors: [Int]) -> Int {
    var first = trainable.firstIndex(of: true) ?? tensors.count
    for a in anchors { first = min(first, a) }
    for l in 0..<config.depth where first <= blocks[l].fc2B { return l }
    return config.depth
  }
}

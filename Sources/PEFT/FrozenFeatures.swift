//===--- FrozenFeatures.swift - the frozen model's selected K/V (preloading) --===//
//
// FPT+ `modules/frozen_vit.py` L49-60: at each paired layer, a token's score is
// the mean attention the queries pay to it (per image and head); the top
// k = ⌊ratio·T⌋ tokens' keys and values (after the layer's LayerNorm and qkv
// projection, already split into heads) go to the fusion modules. The class
// token can be selected. No augmentation on the high-resolution input, so
// these are computed once per image and cached (the `fpt-preload` stage).
// Output per image: K, V (L_S, H, k, hd), tokens in ascending score order
// irrelevant (attention over them is permutation-invariant); we keep index order.
//===----------------------------------------------------------------------===//
import Kernels
import Model

public enum FrozenFeatures {
  /// Runs `frozen` on `images` (B, C, H, W) at its resolution and writes the
  /// selected K and V: (B, L_S, H, k, hd) each.
  public static func extract(
    frozen: ViT, plan: SideTuningPlan, images: UnsafePointer<Float>, acts: Activations,
    keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>
  ) {
    frozen.forward(images: images, acts: acts)
    let c = frozen.config, B = acts.batch, T = acts.tokens, H = c.heads, hd = c.headDim, D = c.width
    let k = plan.keptTokens, Ls = plan.side.depth
    var score = [Float](repeating: 0, count: B * H * T)
    for (i, l) in plan.pairedLayers.enumerated() {
      score.withUnsafeMutableBufferPointer {
        Attention.attentionReceived(score: $0.baseAddress!, probs: acts.attentionProbs(layer: l), B: B, T: T, H: H)
      }
      let qkv = acts.qkv(layer: l)
      for b in 0..<B {
        for h in 0..<H {
          let s = (b * H + h) * T
          // top-k by score, ties to the lower index; then index order
          let idx = (0..<T).sorted { score[s + $0] > score[s + $1] || (score[s + $0] == score[s + $1] && $0 < $1) }
            .prefix(k).sorted()
          let dst = (((b * Ls + i) * H + h) * k) * hd
          for (j, t) in idx.enumerated() {
            let row = qkv + (b * T + t) * 3 * D + h * hd
            (keys + dst + j * hd).update(from: row + D, count: hd)
            (values + dst + j * hd).update(from: row + 2 * D, count: hd)
          }
        }
      }
    }
  }
}

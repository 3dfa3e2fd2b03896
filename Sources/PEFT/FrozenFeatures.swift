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
// Nothing of the frozen forward is kept but the selected K/V: the K/V of each
// paired layer are read right after that block (`afterBlock`), so `acts` may be
// a streamed set (`Activations(…, keepFrom: depth)`, `streaming(for:batch:)`):
// one block's buffers, as a no-grad forward without preloading would hold.
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
    let c = frozen.config, B = acts.batch, T = acts.tokens, H = c.heads, hd = c.headDim, D = c.width
    let k = plan.keptTokens, Ls = plan.side.depth
    let pairIndex = Dictionary(uniqueKeysWithValues: plan.pairedLayers.enumerated().map { ($1, $0) })
    let recorded = acts.recordsAttention
    acts.recordsAttention = true  // each block writes its (B, H, T) scores; no attention matrix is kept
    defer { acts.recordsAttention = recorded }
    frozen.forward(images: images, acts: acts) { l in
      guard let i = pairIndex[l] else { return }
      let score = acts.attentionReceived
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

  /// The activations a no-grad frozen forward needs: one block's buffers, reused by every block.
  public static func streaming(for frozen: ViT, batch: Int) -> Activations {
    Activations(config: frozen.config, batch: batch, keepFrom: frozen.config.depth)
  }
}

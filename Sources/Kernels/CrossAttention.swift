//===--- CrossAttention.swift - queries shared over a batch attend to per-image K/V
//
// FPT+'s fusion (YijinHuang/FPT `modules/bridge.py`): learnable queries attend
// to a frozen model's own keys and values; the queries are the same for every
// image, the keys/values are not, and no K/V weights exist.
// Shapes: q (P, D) with H heads of hd = D/H; k, v (B, H, S, hd), image b at
//   k + b·kvStride (kvStride = H·S·hd when packed; larger when the layer is one
//   slice of a per-image (L, H, S, hd) block, as preloaded features are);
//   probs (B, H, P, S) = softmax(q_h k_bhᵀ / √hd);  out (B, P, D) = probs v_bh.
// Backward (k, v frozen): dP = dO_h v_bhᵀ;  dS = P ⊙ (dP − rowsum(dP ⊙ P)) / √hd;
//   dq_h += Σ_b dS k_bh. `scratch`: P·S floats.
//===----------------------------------------------------------------------===//

public enum CrossAttention {
  public static func forward(
    out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
    k: UnsafePointer<Float>, v: UnsafePointer<Float>, B: Int, P: Int, S: Int, D: Int, H: Int, kvStride: Int? = nil
  ) {
    let hd = D / H
    let stride = kvStride ?? H * S * hd
    let scale = 1 / Float(hd).squareRoot()
    Parallel.forRanges(B * H) { _, pairs in
      for bh in pairs {
        let b = bh / H, h = bh % H
        let pr = probs + bh * P * S
        BLAS.gemm(
          transA: false, transB: true, M: P, N: S, K: hd, alpha: scale,
          A: q + h * hd, lda: D, B: k + b * stride + h * S * hd, ldb: hd, beta: 0, C: pr, ldc: S)
        for i in 0..<P { Attention.softmaxRow(pr + i * S, S) }
        BLAS.gemm(
          transA: false, transB: false, M: P, N: hd, K: S, alpha: 1,
          A: pr, lda: S, B: v + b * stride + h * S * hd, ldb: hd, beta: 0, C: out + b * P * D + h * hd, ldc: D)
      }
    }
  }

  /// Accumulates into dq (P, D). Serial over the batch (dq is shared).
  public static func backward(
    dq: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, probs: UnsafePointer<Float>,
    k: UnsafePointer<Float>, v: UnsafePointer<Float>, B: Int, P: Int, S: Int, D: Int, H: Int,
    scratch: UnsafeMutablePointer<Float>, kvStride: Int? = nil
  ) {
    let hd = D / H
    let stride = kvStride ?? H * S * hd
    let scale = 1 / Float(hd).squareRoot()
    for bh in 0..<(B * H) {
      let b = bh / H, h = bh % H
      let pr = probs + bh * P * S, dp = scratch
      BLAS.gemm(
        transA: false, transB: true, M: P, N: S, K: hd, alpha: 1,
        A: dout + b * P * D + h * hd, lda: D, B: v + b * stride + h * S * hd, ldb: hd, beta: 0, C: dp, ldc: S)
      Attention.softmaxRowsBackward(dp, probs: pr, rows: P, n: S, scale: scale)
      BLAS.gemm(
        transA: false, transB: false, M: P, N: hd, K: S, alpha: 1,
        A: dp, lda: S, B: k + b * stride + h * S * hd, ldb: hd, beta: 1, C: dq + h * hd, ldc: D)
    }
  }
}

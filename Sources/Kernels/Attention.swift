//===--- Attention.swift - multi-head self-attention core ------------------===//
//
// Shapes: qkv (B, T, 3D) packed as [q | k | v] per token (timm's qkv Linear),
//         H heads of size hd = D/H (head h owns columns h·hd ..< (h+1)·hd)
//   -> probs (B, H, T, T) = softmax(q kᵀ / √hd) row-wise (kept only if asked;
//                            the engine recomputes each pair's in backward)
//   -> out   (B, T, D)    = probs · v, heads concatenated
// The q/k/v projections and the output projection are Linear layers around
// this kernel. The per-head GEMMs are small (T×T×hd), so (b, h) pairs are
// spread across workers and each calls single-threaded sgemm.
//===----------------------------------------------------------------------===//
import Foundation

public enum Attention {
  /// Forward. `probs` is either every pair's (B, H, T, T) matrix (`keepProbs`, for callers that read
  /// the maps) or a scratch of `forwardScratchCount` floats (T·T per worker): the engine keeps no
  /// attention matrix, backward recomputes it from q, k (as `scaled_dot_product_attention` does).
  /// `received` (B, H, T), when given, gets each key's mean attention over the queries (FPT+'s
  /// important-token score, `attentionReceived`), computed from the matrix before it is overwritten.
  public static func forward(
    out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, keepProbs: Bool = true,
    received: UnsafeMutablePointer<Float>? = nil,
    qkv: UnsafePointer<Float>, B: Int, T: Int, D: Int, H: Int
  ) {
    let hd = D / H
    let ld = 3 * D
    Parallel.forRanges(B * H) { chunk, pairs in
      for bh in pairs {
        let b = bh / H, h = bh % H
        let q = qkv + b * T * ld + h * hd
        let v = q + 2 * D
        let p = keepProbs ? probs + bh * T * T : probs + chunk * T * T
        scores(p, q: q, T: T, D: D, hd: hd)
        if let r = received { columnMean(r + bh * T, p, T) }
        BLAS.gemm(
          transA: false, transB: false, M: T, N: hd, K: T, alpha: 1,
          A: p, lda: T, B: v, ldb: ld, beta: 0, C: out + b * T * D + h * hd, ldc: D)
      }
    }
  }

  /// P (T, T) = softmax(q kᵀ / √hd) row-wise for one (b, h) pair; q, k rows are 3D apart, k = q + D.
  /// Forward and the recomputing backward call this one function, so both see the same bits.
  @inline(__always)
  static func scores(_ p: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, T: Int, D: Int, hd: Int) {
    BLAS.gemm(
      transA: false, transB: true, M: T, N: T, K: hd, alpha: 1 / Float(hd).squareRoot(),
      A: q, lda: 3 * D, B: q + D, ldb: 3 * D, beta: 0, C: p, ldc: T)
    for t in 0..<T { softmaxRow(p + t * T, T) }
  }

  /// Backward; accumulates into dqkv (B,T,3D). `probs`: the kept (B,H,T,T) maps, or nil to recompute
  /// each pair's from q, k. `scratch`: `scratchCount` floats (2·T·T per worker).
  ///   dP = dO · vᵀ;  dv += Pᵀ · dO
  ///   dS = P ⊙ (dP − rowsum(dP ⊙ P)) / √hd
  ///   dq += dS · k;  dk += dSᵀ · q
  public static func backward(
    dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
    qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>?,
    B: Int, T: Int, D: Int, H: Int, scratch: UnsafeMutablePointer<Float>
  ) {
    let hd = D / H
    let scale = 1 / Float(hd).squareRoot()
    let ld = 3 * D
    Parallel.forRanges(B * H) { chunk, pairs in
      let dp = scratch + chunk * 2 * T * T, recomputed = dp + T * T
      for bh in pairs {
        let b = bh / H, h = bh % H
        let q = qkv + b * T * ld + h * hd
        let k = q + D, v = q + 2 * D
        let dq = dqkv + b * T * ld + h * hd
        let dk = dq + D, dv = dq + 2 * D
        let p: UnsafePointer<Float>
        if let kept = probs {
          p = kept + bh * T * T
        } else {
          scores(recomputed, q: q, T: T, D: D, hd: hd)
          p = UnsafePointer(recomputed)
        }
        let dO = dout + b * T * D + h * hd
        // product(C, ldc, beta, A, lda, transposed?, B, ldb, transposed?, M, N, K): C = op(A)·op(B) + beta·C
        product(dp, T, beta: 0, dO, D, false, v, ld, true, T, T, hd)  // dP = dO · vᵀ
        product(dv, ld, beta: 1, p, T, true, dO, D, false, T, hd, T)  // dv += Pᵀ · dO
        softmaxRowsBackward(dp, probs: p, rows: T, n: T, scale: scale)  // dP -> dS
        product(dq, ld, beta: 1, dp, T, false, k, ld, false, T, hd, T)  // dq += dS · k
        product(dk, ld, beta: 1, dp, T, true, q, ld, false, T, hd, T)  // dk += dSᵀ · q
      }
    }
  }

  /// C (M×N, leading dimension ldc) = op(A)·op(B) + beta·C, one head's blocks (ld: each matrix's leading
  /// dimension; true: transposed): backward's four products, each on one line beside its equation.
  @inline(__always)
  static func product(
    _ C: UnsafeMutablePointer<Float>, _ ldc: Int, beta: Float,
    _ A: UnsafePointer<Float>, _ lda: Int, _ tA: Bool, _ B: UnsafePointer<Float>, _ ldb: Int, _ tB: Bool,
    _ M: Int, _ N: Int, _ K: Int
  ) {
    BLAS.gemm(
      transA: tA, transB: tB, M: M, N: N, K: K, alpha: 1, A: A, lda: lda, B: B, ldb: ldb, beta: beta, C: C, ldc: ldc)
  }

  /// Backward scratch: dP and the recomputed P, T·T each, per worker.
  public static func scratchCount(B: Int, T: Int, H: Int) -> Int {
    2 * T * T * Parallel.chunkCount(B * H)
  }

  /// Forward scratch when the maps are not kept: one T·T matrix per worker.
  public static func forwardScratchCount(B: Int, T: Int, H: Int) -> Int {
    T * T * Parallel.chunkCount(B * H)
  }

  /// s[j] = mean_i P[i, j] for one (T, T) matrix (rows summed in order, then divided by T).
  @inline(__always)
  static func columnMean(_ s: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, _ T: Int) {
    s.update(repeating: 0, count: T)
    for i in 0..<T { Vec.add(s, p + i * T, T) }
    for j in 0..<T { s[j] /= Float(T) }
  }

  /// Softmax backward through `rows` rows of `n`, in place: d ← p ⊙ (d − ⟨p, d⟩) · scale per row, where p is
  /// the softmax output and d arrives as ∂L/∂p and leaves as ∂L/∂(logits / scale) (the 1/√hd of attention).
  @inline(__always)
  public static func softmaxRowsBackward(
    _ d: UnsafeMutablePointer<Float>, probs p: UnsafePointer<Float>, rows: Int, n: Int, scale: Float
  ) {
    for r in 0..<rows {
      let pr = p + r * n, dr = d + r * n
      let s = Vec.dot(pr, dr, n)
      for j in 0..<n { dr[j] = pr[j] * (dr[j] - s) * scale }
    }
  }

  /// In-place numerically stable softmax of one row (vectorised exp).
  @inline(__always)
  public static func softmaxRow(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
    var m = -Float.infinity
    for i in 0..<n where x[i] > m { m = x[i] }
    let mv = FastMath.V(repeating: m)
    var acc = FastMath.V(repeating: 0)
    var i = 0
    while i + 8 <= n {
      let e = FastMath.exp(FastMath.load(x + i) - mv)
      FastMath.store(e, x + i)
      acc += e
      i += 8
    }
    var s = acc.sum()
    if i < n {
      let c = n - i
      let e = FastMath.exp(FastMath.load(x + i, count: c, pad: m) - mv)
      FastMath.store(e, x + i, count: c)
      for j in 0..<c { s += e[j] }
    }
    let inv = 1 / s
    for j in 0..<n { x[j] *= inv }
  }

  /// Attention each token receives, averaged over the queries that attend
  /// to it (FPT+'s important-token score): score (B, H, T) = mean_i P[b,h,i,j].
  public static func attentionReceived(
    score: UnsafeMutablePointer<Float>, probs: UnsafePointer<Float>, B: Int, T: Int, H: Int
  ) {
    for bh in 0..<(B * H) { columnMean(score + bh * T, probs + bh * T * T, T) }
  }

  /// Naive twin of `forward` in Double, for tests.
  public static func forwardReference(
    out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>, B: Int, T: Int, D: Int, H: Int
  ) {
    let hd = D / H, ld = 3 * D
    let scale = 1 / Double(hd).squareRoot()
    for b in 0..<B {
      for h in 0..<H {
        for i in 0..<T {
          var row = [Double](repeating: 0, count: T)
          for j in 0..<T {
            var s = 0.0
            for c in 0..<hd {
              s += Double(qkv[(b * T + i) * ld + h * hd + c]) * Double(qkv[(b * T + j) * ld + D + h * hd + c])
            }
            row[j] = s * scale
          }
          let m = row.max()!
          let e = row.map { exp($0 - m) }
          let z = e.reduce(0, +)
          for c in 0..<hd {
            var acc = 0.0
            for j in 0..<T { acc += e[j] / z * Double(qkv[(b * T + j) * ld + 2 * D + h * hd + c]) }
            out[(b * T + i) * D + h * hd + c] = Float(acc)
          }
        }
      }
    }
  }
}

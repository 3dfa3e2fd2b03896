//===--- Attention.swift - multi-head self-attention core ------------------===//
//
// Shapes: qkv (B, T, 3D) packed as [q | k | v] per token (timm's qkv Linear),
//         H heads of size hd = D/H (head h owns columns h·hd ..< (h+1)·hd)
//   -> probs (B, H, T, T) = softmax(q kᵀ / √hd) row-wise
//   -> out   (B, T, D)    = probs · v, heads concatenated
// The q/k/v projections and the output projection are Linear layers around
// this kernel. The per-head GEMMs are small (T×T×hd), so (b, h) pairs are
// spread across workers and each calls single-threaded sgemm.
//===----------------------------------------------------------------------===//
import Foundation

public enum Attention {
  public static func forward(
    out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
    qkv: UnsafePointer<Float>, B: Int, T: Int, D: Int, H: Int
  ) {
    let hd = D / H
    let scale = 1 / Float(hd).squareRoot()
    let ld = 3 * D
    Parallel.forRanges(B * H) { _, pairs in
      for bh in pairs {
        let b = bh / H, h = bh % H
        let q = qkv + b * T * ld + h * hd
        let k = q + D, v = q + 2 * D
        let p = probs + bh * T * T
        BLAS.gemm(
          transA: false, transB: true, M: T, N: T, K: hd, alpha: scale,
          A: q, lda: ld, B: k, ldb: ld, beta: 0, C: p, ldc: T)
        for t in 0..<T { softmaxRow(p + t * T, T) }
        BLAS.gemm(
          transA: false, transB: false, M: T, N: hd, K: T, alpha: 1,
          A: p, lda: T, B: v, ldb: ld, beta: 0, C: out + b * T * D + h * hd, ldc: D)
      }
    }
  }

  /// Backward; accumulates into dqkv (B,T,3D). `scratch`: T·T floats per
  /// worker (`scratchCount`).
  ///   dP = dO · vᵀ;  dv += Pᵀ · dO
  ///   dS = P ⊙ (dP − rowsum(dP ⊙ P)) / √hd
  ///   dq += dS · k;  dk += dSᵀ · q
  public static func backward(
    dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
    qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>,
    B: Int, T: Int, D: Int, H: Int, scratch: UnsafeMutablePointer<Float>
  ) {
    let hd = D / H
    let scale = 1 / Float(hd).squareRoot()
    let ld = 3 * D
    Parallel.forRanges(B * H) { chunk, pairs in
      let dp = scratch + chunk * T * T
      for bh in pairs {
        let b = bh / H, h = bh % H
        let q = qkv + b * T * ld + h * hd
        let k = q + D, v = q + 2 * D
        let dq = dqkv + b * T * ld + h * hd
        let dk = dq + D, dv = dq + 2 * D
        let p = probs + bh * T * T
        let dO = dout + b * T * D + h * hd
        BLAS.gemm(
          transA: false, transB: true, M: T, N: T, K: hd, alpha: 1,
          A: dO, lda: D, B: v, ldb: ld, beta: 0, C: dp, ldc: T)
        BLAS.gemm(
          transA: true, transB: false, M: T, N: hd, K: T, alpha: 1,
          A: p, lda: T, B: dO, ldb: D, beta: 1, C: dv, ldc: ld)
        for t in 0..<T {
          let pr = p + t * T, dr = dp + t * T
          let s = Vec.dot(pr, dr, T)
          for j in 0..<T { dr[j] = pr[j] * (dr[j] - s) * scale }
        }
        BLAS.gemm(
          transA: false, transB: false, M: T, N: hd, K: T, alpha: 1,
          A: dp, lda: T, B: k, ldb: ld, beta: 1, C: dq, ldc: ld)
        BLAS.gemm(
          transA: true, transB: false, M: T, N: hd, K: T, alpha: 1,
          A: dp, lda: T, B: q, ldb: ld, beta: 1, C: dk, ldc: ld)
      }
    }
  }

  public static func scratchCount(B: Int, T: Int, H: Int) -> Int {
    T * T * Parallel.chunkCount(B * H)
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
    for bh in 0..<(B * H) {
      let s = score + bh * T
      s.update(repeating: 0, count: T)
      for i in 0..<T { Vec.add(s, probs + bh * T * T + i * T, T) }
      for j in 0..<T { s[j] /= Float(T) }
    }
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

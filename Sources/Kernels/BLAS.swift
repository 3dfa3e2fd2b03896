//===--- BLAS.swift - every matmul goes through cblas_sgemm ---------------===//
import COpenBLAS

public enum BLAS {
  /// Row-major `C(M,N) = alpha · op(A) · op(B) + beta · C`, where op(A) is
  /// (M,K) and op(B) is (K,N); `lda`, `ldb`, `ldc` are the row strides of the
  /// stored matrices. Runs on the calling thread (OpenBLAS is single-threaded).
  @inline(__always)
  public static func gemm(
    transA: Bool, transB: Bool, M: Int, N: Int, K: Int,
    alpha: Float, A: UnsafePointer<Float>, lda: Int,
    B: UnsafePointer<Float>, ldb: Int,
    beta: Float, C: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    if M == 0 || N == 0 { return }
    cblas_sgemm(
      CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
      Int32(M), Int32(N), Int32(K), alpha, A, Int32(lda), B, Int32(ldb), beta, C, Int32(ldc))
  }

  /// `gemm` split by rows of C across `Parallel.threads` workers; each
  /// worker calls single-threaded sgemm on its block of rows. Products with
  /// fewer than `minFlopsToSplit` FLOPs stay on one thread.
  public static func parallelGemm(
    transA: Bool, transB: Bool, M: Int, N: Int, K: Int,
    alpha: Float, A: UnsafePointer<Float>, lda: Int,
    B: UnsafePointer<Float>, ldb: Int,
    beta: Float, C: UnsafeMutablePointer<Float>, ldc: Int,
    minFlopsToSplit: Int = 1 << 21
  ) {
    let grain = max(16, minFlopsToSplit / max(1, 2 * N * K))
    Parallel.forRanges(M, grain: grain) { _, rows in
      // Row i of op(A): A + i*lda if not transposed, else column i: A + i.
      let a = transA ? A + rows.lowerBound : A + rows.lowerBound * lda
      gemm(
        transA: transA, transB: transB, M: rows.count, N: N, K: K, alpha: alpha,
        A: a, lda: lda, B: B, ldb: ldb, beta: beta, C: C + rows.lowerBound * ldc, ldc: ldc)
    }
  }

  /// Naive triple loop twin of `gemm`, for tests (Double accumulation).
  public static func gemmReference(
    transA: Bool, transB: Bool, M: Int, N: Int, K: Int,
    alpha: Float, A: UnsafePointer<Float>, lda: Int,
    B: UnsafePointer<Float>, ldb: Int,
    beta: Float, C: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    for i in 0..<M {
      for j in 0..<N {
        var acc = 0.0
        for k in 0..<K {
          let a = transA ? A[k * lda + i] : A[i * lda + k]
          let b = transB ? B[j * ldb + k] : B[k * ldb + j]
          acc += Double(a) * Double(b)
        }
        let prior = beta == 0 ? 0 : beta * C[i * ldc + j]
        C[i * ldc + j] = alpha * Float(acc) + prior
      }
    }
  }

  /// OpenBLAS build description, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Zen".
  public static var configDescription: String {
    String(cString: openblas_get_config()) + " core=" + String(cString: openblas_get_corename())
  }
}

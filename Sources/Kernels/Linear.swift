//===--- Linear.swift - fully connected layer ------------------------------===//
//
// Shapes (row-major, nn.Linear convention):
//   inp (N, C), weight (OC, C), bias (OC) -> out (N, OC)
// out = inp · weightᵀ + bias
//===----------------------------------------------------------------------===//

public enum Linear {
  /// out (N,OC) = inp (N,C) · weight (OC,C)ᵀ + bias (OC).
  public static func forward(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, N: Int, C: Int, OC: Int
  ) {
    var beta: Float = 0
    if let bias {
      Parallel.forRanges(N, grain: 64) { _, rows in
        for n in rows { (out + n * OC).update(from: bias, count: OC) }
      }
      beta = 1
    }
    BLAS.parallelGemm(
      transA: false, transB: true, M: N, N: OC, K: C, alpha: 1,
      A: inp, lda: C, B: weight, ldb: C, beta: beta, C: out, ldc: OC)
  }

  /// Backward. Every output is optional (nil = not needed, and its work is
  /// skipped: a frozen weight costs no GEMM).
  ///   dinp (N,C)     (+)= dout (N,OC) · weight (OC,C)     (`accumulate` false overwrites)
  ///   dweight (OC,C) += doutᵀ · inp
  ///   dbias (OC)     += Σ_n dout[n]
  /// With a `plan` (masked training), only the planned elements of dweight.
  public static func backward(
    dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
    dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
    inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    N: Int, C: Int, OC: Int, accumulate: Bool = true, plan: WeightGradientPlan? = nil
  ) {
    if let dinp {
      BLAS.parallelGemm(
        transA: false, transB: false, M: N, N: C, K: OC, alpha: 1,
        A: dout, lda: OC, B: weight, ldb: C, beta: accumulate ? 1 : 0, C: dinp, ldc: C)
    }
    if let dweight, let plan {
      plan.accumulate(dweight: dweight, dout: dout, inp: inp, N: N, C: C, OC: OC)
    } else if let dweight {
      // Rows of dW are output channels: split over OC, reduce over N.
      BLAS.parallelGemm(
        transA: true, transB: false, M: OC, N: C, K: N, alpha: 1,
        A: dout, lda: OC, B: inp, ldb: C, beta: 1, C: dweight, ldc: C)
    }
    if let dbias { columnSum(into: dbias, dout, rows: N, cols: OC) }
  }

  /// into[j] += Σ_i x[i, j] for x (rows, cols); split over columns, fixed order.
  public static func columnSum(
    into: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, cols: Int
  ) {
    Parallel.forRanges(cols, grain: 64) { _, cs in
      let width = cs.count
      let dst = into + cs.lowerBound
      for i in 0..<rows { Vec.add(dst, x + i * cols + cs.lowerBound, width) }
    }
  }

  /// Naive twin of `forward` (Double accumulation), for tests.
  public static func forwardReference(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, N: Int, C: Int, OC: Int
  ) {
    for n in 0..<N {
      for o in 0..<OC {
        var acc = Double(bias?[o] ?? 0)
        for c in 0..<C { acc += Double(inp[n * C + c]) * Double(weight[o * C + c]) }
        out[n * OC + o] = Float(acc)
      }
    }
  }
}

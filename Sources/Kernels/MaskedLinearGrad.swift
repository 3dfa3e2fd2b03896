//===--- MaskedLinearGrad.swift - weight gradient of selected elements -----===//
//
// SH-PEFT trains a few elements of each weight. Its weight gradient needs
// only those elements, so instead of the full GEMM
//   dweight (OC, C) += doutᵀ (OC, N) · inp (N, C)
// a plan computes
//   .rows:     the output rows that hold a selected element: dout's columns for
//              those rows are gathered (N, R) and one GEMM gives (R, C);
//   .elements: each selected element (o, c) as one dot product
//              Σ_n dout[n, o] · inp[n, c] over transposed copies (contiguous N).
// Elements outside the plan are left untouched (they are never read: the
// optimizer updates only selected elements). The cheaper plan is chosen from
// a cost model in units of multiply-adds per sample (a dot runs at about a
// eighth of GEMM throughput (measured with `peftlab bench shpeft`); the transposes cost one pass each).
//===----------------------------------------------------------------------===//

public struct WeightGradientPlan: Sendable, Equatable {
  public enum Mode: Sendable, Equatable { case rows, elements }
  public let mode: Mode
  /// Sorted output rows that hold at least one selected element.
  public let rows: [Int32]
  /// `.elements`: for each selected element, its position in `rows` and its column.
  public let elementRow: [Int32]
  public let elementCol: [Int32]

  /// A plan for the selected element offsets (sorted, within the tensor) of a
  /// (OC, C) weight, or nil when the full GEMM is cheapest.
  public static func make(selected: [Int], OC: Int, C: Int) -> WeightGradientPlan? {
    var rows: [Int32] = []
    var erow: [Int32] = [], ecol: [Int32] = []
    erow.reserveCapacity(selected.count)
    ecol.reserveCapacity(selected.count)
    for e in selected {
      let o = Int32(e / C)
      if rows.last != o { rows.append(o) }
      erow.append(Int32(rows.count - 1))
      ecol.append(Int32(e % C))
    }
    let full = Double(OC * C)
    let rowCost = Double(rows.count * C) * 1.1 + Double(rows.count)
    let elementCost = 8 * Double(selected.count) + 2 * Double(rows.count + C)
    if min(rowCost, elementCost) >= 0.9 * full { return nil }
    if rowCost <= elementCost { return WeightGradientPlan(mode: .rows, rows: rows, elementRow: [], elementCol: []) }
    return WeightGradientPlan(mode: .elements, rows: rows, elementRow: erow, elementCol: ecol)
  }

  /// dweight (+)= the planned part of doutᵀ · inp.
  ///   dout (N, OC), inp (N, C), dweight (OC, C); `scratch` is allocated here.
  public func accumulate(
    dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
    N: Int, C: Int, OC: Int
  ) {
    let R = rows.count
    guard R > 0 else { return }
    // Gathered dout columns, transposed: g (R, N) with g[r, n] = dout[n, rows[r]].
    let g = UnsafeMutablePointer<Float>.allocate(capacity: R * N)
    defer { g.deallocate() }
    rows.withUnsafeBufferPointer { rs in
      Parallel.forRanges(R, grain: 8) { _, range in
        for r in range {
          let o = Int(rs[r])
          let dst = g + r * N
          for n in 0..<N { dst[n] = dout[n * OC + o] }
        }
      }
    }
    switch mode {
    case .rows:
      // tmp (R, C) = g (R, N) · inp (N, C), then scattered into dweight's rows.
      let tmp = UnsafeMutablePointer<Float>.allocate(capacity: R * C)
      defer { tmp.deallocate() }
      BLAS.parallelGemm(
        transA: false, transB: false, M: R, N: C, K: N, alpha: 1,
        A: g, lda: N, B: inp, ldb: C, beta: 0, C: tmp, ldc: C)
      rows.withUnsafeBufferPointer { rs in
        Parallel.forRanges(R, grain: 8) { _, range in
          for r in range { Vec.add(dweight + Int(rs[r]) * C, tmp + r * C, C) }
        }
      }
    case .elements:
      // inpT (C, N): each column of inp contiguous.
      let inpT = UnsafeMutablePointer<Float>.allocate(capacity: C * N)
      defer { inpT.deallocate() }
      Parallel.forRanges(C, grain: 16) { _, range in
        for c in range { for n in 0..<N { inpT[c * N + n] = inp[n * C + c] } }
      }
      rows.withUnsafeBufferPointer { rs in
        elementRow.withUnsafeBufferPointer { er in
          elementCol.withUnsafeBufferPointer { ec in
            Parallel.forRanges(er.count, grain: 64) { _, range in
              for j in range {
                let r = Int(er[j]), c = Int(ec[j])
                dweight[Int(rs[r]) * C + c] += Vec.dot(g + r * N, inpT + c * N, N)
              }
            }
          }
        }
      }
    }
  }
}

//===--- Hybridity.swift - overlap of the top-k % positions across tasks ----===//
//
// SH-PEFT §2.1, Fig. 2 right: overlap(m, n) = |S_m ∩ S_n| / |S_m| of the tasks' top-k % position sets.
// The `hybridity` stage kind runs it over tasks, seeds and k.
//===----------------------------------------------------------------------===//
public enum Hybridity {
  /// overlap[m][n] = |S_m ∩ S_n| / |S_m| for index sets within 0..<universe.
  public static func overlapMatrix(_ sets: [ArraySlice<Int32>], universe: Int) -> [[Double]] {
    let bits = sets.map { s -> [UInt64] in
      var b = [UInt64](repeating: 0, count: (universe + 63) / 64)
      for i in s { b[Int(i) >> 6] |= 1 << UInt64(Int(i) & 63) }
      return b
    }
    return sets.indices.map { m in
      sets.indices.map { n in
        guard !sets[m].isEmpty else { return 0 }
        var c = 0
        for w in bits[m].indices { c += (bits[m][w] & bits[n][w]).nonzeroBitCount }
        return Double(c) / Double(sets[m].count)
      }
    }
  }

  /// f of each entry across the matrices `ms` (e.g. the mean over seeds).
  public static func elementwise(_ ms: [[[Double]]], _ f: ([Double]) -> Double) -> [[Double]] {
    ms[0].indices.map { i in ms[0][i].indices.map { j in f(ms.map { $0[i][j] }) } }
  }

  /// Mean, min and max of the entries off the diagonal.
  public static func offDiagonal(_ m: [[Double]]) -> (mean: Double, min: Double, max: Double) {
    var v: [Double] = []
    for i in m.indices { for j in m.indices where i != j { v.append(m[i][j]) } }
    return (v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count), v.min() ?? 0, v.max() ?? 0)
  }
}

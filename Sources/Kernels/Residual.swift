//===--- Residual.swift - residual connection ------------------------------===//
// Shapes: a (n), b (n) -> out (n);  out = a + b.

public enum Residual {
  public static func forward(
    out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, n: Int
  ) {
    Parallel.forRanges(n, grain: 8192) { _, r in
      Vec.sum(out + r.lowerBound, a + r.lowerBound, b + r.lowerBound, r.count)
    }
  }

  /// da += dout, db += dout (either may be nil).
  public static func backward(
    da: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?,
    dout: UnsafePointer<Float>, n: Int
  ) {
    Parallel.forRanges(n, grain: 8192) { _, r in
      if let da { Vec.add(da + r.lowerBound, dout + r.lowerBound, r.count) }
      if let db { Vec.add(db + r.lowerBound, dout + r.lowerBound, r.count) }
    }
  }
}

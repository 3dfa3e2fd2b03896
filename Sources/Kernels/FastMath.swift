//===--- FastMath.swift - vectorised exp and erf on SIMD8<Float> -----------===//
//
// libm's expf/erff are scalar calls: GELU over a (B·T, 4D) activation spent
// more time in erff than the MLP's GEMMs. These run eight lanes at a time
// with only mul/add/compare and integer bit tricks (no FMA, no SSE4.1
// rounding instructions, so they vectorise on baseline x86-64).
//   exp: Cephes expf — x = n·ln2 + r, |r| ≤ ln2/2, degree-5 polynomial,
//        2ⁿ built in the exponent bits; max relative error ~2 ulp.
//   erf: the odd/even rational approximation on [−4, 4] used by Eigen and
//        XLA (`generic_fast_erf_float`); max absolute error ~1e-7.
// Tests compare both against Foundation's double-precision exp/erf.
//===----------------------------------------------------------------------===//

public enum FastMath {
  public typealias V = SIMD8<Float>

  /// min(max(x, lo), hi) lane-wise. (`SIMD.clamped` calls the generic
  /// pointwiseMin/Max out of line: 5× slower here.)
  @inline(__always)
  static func clamp(_ x: V, _ lo: Float, _ hi: Float) -> V {
    var y = x
    y.replace(with: lo, where: x .< lo)
    y.replace(with: hi, where: x .> hi)
    return y
  }

  @inline(__always)
  public static func exp(_ x0: V) -> V {
    var x = clamp(x0, -87.3, 88.3)
    // n = round(x·log2 e) via the 1.5·2²³ magic constant (exact for |n| < 2²²)
    let magic = V(repeating: 12_582_912)
    let t = x * V(repeating: 1.44269504088896341) + magic
    let n = t - magic
    x = x - n * V(repeating: 0.693359375) - n * V(repeating: -2.12194440e-4)
    let z = x * x
    var y = V(repeating: 1.9875691500e-4)
    y = y * x + V(repeating: 1.3981999507e-3)
    y = y * x + V(repeating: 8.3334519073e-3)
    y = y * x + V(repeating: 4.1665795894e-2)
    y = y * x + V(repeating: 1.6666665459e-1)
    y = y * x + V(repeating: 5.0000001201e-1)
    y = y * z + x + V(repeating: 1)
    // 2ⁿ: (n + 127) << 23, with n = bits(t) − bits(magic)
    let nInt = unsafeBitCast(t, to: SIMD8<Int32>.self) &- SIMD8<Int32>(repeating: 0x4B40_0000)
    let pow2 = unsafeBitCast((nInt &+ 127) &<< 23, to: V.self)
    return y * pow2
  }

  @inline(__always)
  public static func erf(_ a: V) -> V {
    let x = clamp(a, -4, 4)
    let x2 = x * x
    var p = x2 * V(repeating: -2.72614225801306e-10) + V(repeating: 2.77068142495902e-08)
    p = x2 * p + V(repeating: -2.10102402082508e-06)
    p = x2 * p + V(repeating: -5.69250639462346e-05)
    p = x2 * p + V(repeating: -7.34990630326855e-04)
    p = x2 * p + V(repeating: -2.95459980854025e-03)
    p = x2 * p + V(repeating: -1.60960333262415e-02)
    p = x * p
    var q = x2 * V(repeating: -1.45660718464996e-05) + V(repeating: -2.13374055278905e-04)
    q = x2 * q + V(repeating: -1.68282697438203e-03)
    q = x2 * q + V(repeating: -7.37332916720468e-03)
    q = x2 * q + V(repeating: -1.42647390514189e-02)
    return p / q
  }

  @inline(__always)
  static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

  @inline(__always)
  static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
  }

  /// Applies `f` to `n` floats, eight at a time; the tail goes through a
  /// zero-padded vector so every element takes the same code path.
  @inline(__always)
  public static func map(
    _ n: Int, _ body: (Int, Int) -> Void
  ) {
    var i = 0
    while i + 8 <= n { body(i, 8); i &+= 8 }
    if i < n { body(i, n - i) }
  }

  /// Loads `count` ≤ 8 floats, padding with `pad`.
  @inline(__always)
  static func load(_ p: UnsafePointer<Float>, count: Int, pad: Float = 0) -> V {
    if count == 8 { return load(p) }
    var v = V(repeating: pad)
    for j in 0..<count { v[j] = p[j] }
    return v
  }

  @inline(__always)
  static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, count: Int) {
    if count == 8 { store(v, p); return }
    for j in 0..<count { p[j] = v[j] }
  }

  /// Scalar conveniences (same approximation as the vector path).
  public static func exp(_ x: Float) -> Float { exp(V(repeating: x))[0] }
  public static func erf(_ x: Float) -> Float { erf(V(repeating: x))[0] }
}

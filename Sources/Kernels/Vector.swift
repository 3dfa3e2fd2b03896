//===--- Vector.swift - small SIMD helpers for reductions -----------------===//
//
// Swift never reassociates floating point, so a scalar reduction loop is bound
// by add latency (~2 GFLOP/s). These helpers keep eight partial sums in a
// SIMD8 register, in a fixed order: results are deterministic.
// (No `addingProduct`: without an FMA target it lowers to a libm call.)
//===----------------------------------------------------------------------===//

public enum Vec {
  @inline(__always)
  static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
  }

  @inline(__always)
  static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
  }

  /// Σ x[i], i < n.
  @inline(__always)
  public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= n { acc += load8(x + i); i &+= 8 }
    var s = acc.sum()
    while i < n { s += x[i]; i &+= 1 }
    return s
  }

  /// Σ x[i]·y[i], i < n.
  @inline(__always)
  public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= n { acc += load8(x + i) * load8(y + i); i &+= 8 }
    var s = acc.sum()
    while i < n { s += x[i] * y[i]; i &+= 1 }
    return s
  }

  /// Σ (x[i] − c)², i < n.
  @inline(__always)
  public static func sumSquaredDeviation(_ x: UnsafePointer<Float>, _ c: Float, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    let cv = SIMD8<Float>(repeating: c)
    var i = 0
    while i + 8 <= n { let d = load8(x + i) - cv; acc += d * d; i &+= 8 }
    var s = acc.sum()
    while i < n { let d = x[i] - c; s += d * d; i &+= 1 }
    return s
  }

  /// y[i] += x[i], i < n.
  @inline(__always)
  public static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 8 <= n { store8(load8(y + i) + load8(x + i), y + i); i &+= 8 }
    while i < n { y[i] += x[i]; i &+= 1 }
  }

  /// out[i] = a[i] + b[i], i < n.
  @inline(__always)
  public static func sum(
    _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int
  ) {
    var i = 0
    while i + 8 <= n { store8(load8(a + i) + load8(b + i), out + i); i &+= 8 }
    while i < n { out[i] = a[i] + b[i]; i &+= 1 }
  }

  /// Σ x[i]² in Double, for norms that must not overflow or lose precision.
  public static func sumOfSquaresDouble(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
    var acc = SIMD8<Float>(repeating: 0)
    var total = 0.0
    var i = 0
    while i + 8 <= n {
      let v = load8(x + i)
      acc += v * v
      i &+= 8
      if i & 4095 == 0 { total += Double(acc.sum()); acc = .zero }
    }
    total += Double(acc.sum())
    while i < n { total += Double(x[i]) * Double(x[i]); i &+= 1 }
    return total
  }
}

//===--- Ticks.swift - "nice" axis ticks (Heckbert, Graphics Gems 1990) ----===//
//
// nice(x): 1, 2, 5 or 10 times a power of ten, rounded or ceiled; ticks step
// by nice(range / (n − 1)) from floor(min/step)·step to ceil(max/step)·step.
// Log axes tick at powers of ten (and 2, 5 between them over short spans).
//===----------------------------------------------------------------------===//
import Foundation

public enum Ticks {
  static func nice(_ x: Double, round: Bool) -> Double {
    guard x > 0, x.isFinite else { return 1 }
    let e = floor(log10(x)), f = x / pow(10, e)
    let nf: Double
    if round { nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10 } else { nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10 }
    return nf * pow(10, e)
  }

  /// Tick values covering [lo, hi] with about `count` ticks; the axis range is their span.
  public static func linear(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
    var lo = lo, hi = hi
    if !(hi > lo) {
      let c = lo.isFinite ? lo : 0; lo = c - (c == 0 ? 1 : abs(c) * 0.1); hi = c + (c == 0 ? 1 : abs(c) * 0.1)
    }
    let range = nice(hi - lo, round: false)
    let step = nice(range / Double(max(count - 1, 1)), round: true)
    let start = floor(lo / step) * step, end = ceil(hi / step) * step
    let n = Int(((end - start) / step).rounded())
    let digits = max(0, -Int(floor(log10(step))) + 1)
    let scale = pow(10, Double(digits))
    return (0...n).map { i in
      let v = ((start + Double(i) * step) * scale).rounded() / scale
      return abs(v) < step * 1e-9 ? 0 : v
    }
  }

  /// Powers of ten (with 2 and 5 when the span is under three decades) covering [lo, hi] > 0.
  public static func log(_ lo: Double, _ hi: Double) -> [Double] {
    let a = floor(log10(max(lo, 1e-300))), b = ceil(log10(max(hi, lo * 10)))
    var t: [Double] = []
    for e in Int(a)...Int(b) {
      let p = pow(10, Double(e))
      t.append(p)
      if b - a < 3 && e < Int(b) { t.append(2 * p); t.append(5 * p) }
    }
    return t
  }

  /// Labels with the fewest decimals (the same for all) that show every tick exactly.
  public static func labels(_ ticks: [Double]) -> [String] {
    let scale = ticks.map(abs).max() ?? 1
    for d in 0...8 {
      let s = ticks.map { format($0, decimals: d) }
      if zip(s, ticks).allSatisfy({ abs((Double($0.0) ?? .nan) - $0.1) <= 1e-9 * max(scale, 1e-300) })
        && Set(s).count == s.count
      {
        return s
      }
    }
    return ticks.map { String($0) }
  }

  /// Log-axis labels: each tick in its shortest exact form (0.01, 0.1, 1, 10, 100).
  public static func logLabels(_ ticks: [Double]) -> [String] {
    ticks.map { v in
      for d in 0...8 { let s = format(v, decimals: d); if abs((Double(s) ?? .nan) - v) <= 1e-9 * v { return s } }
      return String(format: "%g", v)
    }
  }

  static func format(_ v: Double, decimals d: Int) -> String {
    if abs(v) >= 1e6 || (abs(v) < 1e-4 && v != 0) { return String(format: "%.0e", v) }
    return String(format: "%.\(d)f", v)
  }
}

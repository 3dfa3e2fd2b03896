//===--- GradCheck.swift - finite-difference gradient checking -------------===//
import Foundation
import XCTest

/// Central differences in Double of a scalar function of Float inputs.
/// `f` must read `x` afresh each call. Compares to `analytic` with a mixed
/// absolute/relative tolerance and reports the worst element.
func checkGradient(
  _ label: String, x: inout [Float], analytic: [Float], eps: Float = 1e-2, tol: Double = 2e-2,
  sample: Int = 64, file: StaticString = #filePath, line: UInt = #line, f: ([Float]) -> Double
) {
  precondition(x.count == analytic.count)
  let stride = max(1, x.count / sample)
  var worst = 0.0, worstAt = -1
  for i in Swift.stride(from: 0, to: x.count, by: stride) {
    let orig = x[i]
    x[i] = orig + eps
    let fp = f(x)
    x[i] = orig - eps
    let fm = f(x)
    x[i] = orig
    let numeric = (fp - fm) / Double(2 * eps)
    let err = abs(numeric - Double(analytic[i])) / max(1e-2, abs(numeric) + abs(Double(analytic[i])))
    if err > worst { worst = err; worstAt = i }
  }
  XCTAssertLessThan(worst, tol, "\(label): worst relative error \(worst) at element \(worstAt)", file: file, line: line)
}

/// Deterministic pseudo-random floats in [-scale, scale].
func randomFloats(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
  var s = seed &* 6364136223846793005 &+ 1442695040888963407
  return (0..<n).map { _ in
    s = s &* 6364136223846793005 &+ 1442695040888963407
    return (Float(s >> 40) / Float(1 << 24) * 2 - 1) * scale
  }
}

/// Σ w ⊙ y: a fixed random linear functional makes any output a scalar loss
/// whose gradient w.r.t. y is w.
func project(_ y: [Float], _ w: [Float]) -> Double {
  zip(y, w).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
}

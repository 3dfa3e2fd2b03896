//===--- Activation.swift - GELU (exact) and QuickGELU ---------------------===//
//
// Shapes: inp (n) -> out (n), elementwise.
// GELU(x)      = x · Φ(x) = ½x(1 + erf(x/√2))        (timm, torch default)
// QuickGELU(x) = x · σ(1.702x)                        (OpenAI CLIP)
//===----------------------------------------------------------------------===//
import Foundation

public enum ActivationKind: String, Codable, Sendable, CaseIterable {
  case gelu
  case quickGELU = "quick_gelu"
}

public enum Activation {
  typealias V = FastMath.V

  public static func forward(
    _ kind: ActivationKind, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, n: Int
  ) {
    Parallel.forRanges(n, grain: 4096) { _, r in
      var i = r.lowerBound
      while i < r.upperBound {
        let c = min(8, r.upperBound - i)
        let x = FastMath.load(inp + i, count: c)
        let y: V
        switch kind {
        case .gelu: y = 0.5 * x * (1 + FastMath.erf(x * 0.70710678118654752))
        case .quickGELU: y = x / (1 + FastMath.exp(-1.702 * x))
        }
        FastMath.store(y, out + i, count: c)
        i += 8
      }
    }
  }

  /// dinp (+)= dout ⊙ f'(inp).
  ///   GELU'(x) = Φ(x) + x·φ(x);  QuickGELU'(x) = σ(1.702x)·(1 + 1.702x·(1 − σ(1.702x)))
  public static func backward(
    _ kind: ActivationKind, dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
    dout: UnsafePointer<Float>, n: Int, accumulate: Bool = true
  ) {
    Parallel.forRanges(n, grain: 4096) { _, r in
      var i = r.lowerBound
      while i < r.upperBound {
        let c = min(8, r.upperBound - i)
        let x = FastMath.load(inp + i, count: c)
        let dy = FastMath.load(dout + i, count: c)
        var g: V
        switch kind {
        case .gelu:
          let cdf = 0.5 * (1 + FastMath.erf(x * 0.70710678118654752))
          let pdf = FastMath.exp(-0.5 * x * x) * 0.39894228040143268
          g = (cdf + x * pdf) * dy
        case .quickGELU:
          let s = 1 / (1 + FastMath.exp(-1.702 * x))
          g = s * (1 + 1.702 * x * (1 - s)) * dy
        }
        if accumulate { g += FastMath.load(dinp + i, count: c) }
        FastMath.store(g, dinp + i, count: c)
        i += 8
      }
    }
  }

  /// Double-precision twin of `forward`, for tests.
  public static func forwardReference(_ kind: ActivationKind, _ x: Double) -> Double {
    switch kind {
    case .gelu: return 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
    case .quickGELU: return x / (1 + exp(-1.702 * x))
    }
  }
}

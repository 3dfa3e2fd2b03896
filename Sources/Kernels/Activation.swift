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
  public static func forward(
    _ kind: ActivationKind, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, n: Int
  ) {
    Parallel.forRanges(n, grain: 4096) { _, r in
      switch kind {
      case .gelu:
        for i in r { let x = inp[i]; out[i] = 0.5 * x * (1 + erff(x * 0.70710678118654752)) }
      case .quickGELU:
        for i in r { let x = inp[i]; out[i] = x / (1 + expf(-1.702 * x)) }
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
      switch kind {
      case .gelu:
        for i in r {
          let x = inp[i]
          let cdf = 0.5 * (1 + erff(x * 0.70710678118654752))
          let pdf = expf(-0.5 * x * x) * 0.39894228040143268
          let g = (cdf + x * pdf) * dout[i]
          dinp[i] = accumulate ? dinp[i] + g : g
        }
      case .quickGELU:
        for i in r {
          let x = inp[i]
          let s = 1 / (1 + expf(-1.702 * x))
          let g = s * (1 + 1.702 * x * (1 - s)) * dout[i]
          dinp[i] = accumulate ? dinp[i] + g : g
        }
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

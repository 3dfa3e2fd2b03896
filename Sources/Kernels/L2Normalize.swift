//===--- L2Normalize.swift - row-wise L2 normalisation ---------------------===//
//
// Shapes: inp (N, C) -> out (N, C), norm (N)
// out = inp / max(‖inp‖₂, eps)   (torch.nn.functional.normalize, eps = 1e-12)
// The SH-PEFT head normalises the class-token feature before the classifier.
//===----------------------------------------------------------------------===//

public enum L2Normalize {
  public static let defaultEps: Float = 1e-12

  public static func forward(
    out: UnsafeMutablePointer<Float>, norm: UnsafeMutablePointer<Float>,
    inp: UnsafePointer<Float>, N: Int, C: Int, eps: Float = defaultEps
  ) {
    for n in 0..<N {
      let x = inp + n * C
      let r = Vec.dot(x, x, C).squareRoot()
      norm[n] = r
      let inv = 1 / max(r, eps)
      for i in 0..<C { out[n * C + i] = x[i] * inv }
    }
  }

  /// dinp += (dout − out · ⟨out, dout⟩) / ‖inp‖   (when ‖inp‖ > eps; else dout / eps).
  public static func backward(
    dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
    out: UnsafePointer<Float>, norm: UnsafePointer<Float>, N: Int, C: Int,
    eps: Float = defaultEps
  ) {
    for n in 0..<N {
      let y = out + n * C, dy = dout + n * C
      if norm[n] > eps {
        let d = Vec.dot(y, dy, C)
        let inv = 1 / norm[n]
        for i in 0..<C { dinp[n * C + i] += (dy[i] - y[i] * d) * inv }
      } else {
        for i in 0..<C { dinp[n * C + i] += dy[i] / eps }
      }
    }
  }
}

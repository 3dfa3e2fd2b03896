//===--- L2Normalize.swift - row-wise L2 normalisation ---------------------===//
//
// Shapes: inp (N, C) -> out (N, C), norm (N)
// out = scale · inp / max(‖inp‖₂, eps)   (scale · torch.nn.functional.normalize, eps = 1e-12)
// The SH-PEFT head normalises the class-token feature before the classifier; `scale` is the
// head's fixed logit scale (1: the paper's head; CLIP's zero-shot head uses 100).
//===----------------------------------------------------------------------===//

public enum L2Normalize {
  public static let defaultEps: Float = 1e-12

  public static func forward(
    out: UnsafeMutablePointer<Float>, norm: UnsafeMutablePointer<Float>,
    inp: UnsafePointer<Float>, N: Int, C: Int, scale: Float = 1, eps: Float = defaultEps
  ) {
    for n in 0..<N {
      let x = inp + n * C
      let r = Vec.dot(x, x, C).squareRoot()
      norm[n] = r
      let inv = scale / max(r, eps)
      for i in 0..<C { out[n * C + i] = x[i] * inv }
    }
  }

  /// With û = out / scale: dinp += scale · (dout − û · ⟨û, dout⟩) / ‖inp‖
  /// (when ‖inp‖ > eps; else scale · dout / eps).
  public static func backward(
    dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
    out: UnsafePointer<Float>, norm: UnsafePointer<Float>, N: Int, C: Int,
    scale: Float = 1, eps: Float = defaultEps
  ) {
    for n in 0..<N {
      let y = out + n * C, dy = dout + n * C
      if norm[n] > eps {
        // ⟨û, dy⟩ · û = ⟨y, dy⟩ · y / scale²
        let d = Vec.dot(y, dy, C) / (scale * scale)
        let inv = scale / norm[n]
        for i in 0..<C { dinp[n * C + i] += (dy[i] - y[i] * d) * inv }
      } else {
        for i in 0..<C { dinp[n * C + i] += scale * dy[i] / eps }
      }
    }
  }
}

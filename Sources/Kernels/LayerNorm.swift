//===--- LayerNorm.swift - layer normalisation (Ba et al., 2016) ----------===//
//
// Shapes: inp (N, C), weight (C), bias (C) -> out (N, C), mean (N), rstd (N)
// out = (inp − mean) · rstd · weight + bias,  rstd = 1 / sqrt(var + eps)
// (biased variance, as torch.nn.LayerNorm). timm ViTs use eps = 1e-6,
// CLIP uses 1e-5.
//===----------------------------------------------------------------------===//
import Foundation

public enum LayerNorm {
  public static func forward(
    out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
    rstd: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, N: Int, C: Int, eps: Float
  ) {
    let invC = 1 / Float(C)
    Parallel.forRanges(N, grain: 16) { _, rows in
      for n in rows {
        let x = inp + n * C
        let m = Vec.sum(x, C) * invC
        let v = Vec.sumSquaredDeviation(x, m, C) * invC
        let s = 1 / (v + eps).squareRoot()
        let o = out + n * C
        for i in 0..<C { o[i] = (x[i] - m) * s * weight[i] + bias[i] }
        mean[n] = m
        rstd[n] = s
      }
    }
  }

  /// Backward (llm.c's derivation, doc in layernorm.md there):
  ///   dnorm = weight ⊙ dout,  x̂ = (inp − mean) · rstd
  ///   dinp   += rstd · (dnorm − mean(dnorm) − x̂ · mean(dnorm ⊙ x̂))
  ///   dweight += Σ_n x̂ ⊙ dout,  dbias += Σ_n dout
  /// `scratch` holds 2·C floats per chunk of rows (`scratchCount(N:C:)`);
  /// weight/bias partial sums are reduced in chunk order (deterministic).
  public static func backward(
    dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
    dbias: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>,
    inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
    N: Int, C: Int, scratch: UnsafeMutablePointer<Float>
  ) {
    let grain = 16
    let chunks = Parallel.chunkCount(N, grain: grain)
    let wantParams = dweight != nil || dbias != nil
    if wantParams { scratch.update(repeating: 0, count: 2 * C * chunks) }
    let invC = 1 / Float(C)
    Parallel.forRanges(N, grain: grain) { chunk, rows in
      let pw = scratch + 2 * C * chunk
      let pb = pw + C
      for n in rows {
        let x = inp + n * C, dy = dout + n * C
        let m = mean[n], s = rstd[n]
        var dnormMean: Float = 0, dnormNormMean: Float = 0
        for i in 0..<C {
          let xh = (x[i] - m) * s
          let dn = weight[i] * dy[i]
          dnormMean += dn
          dnormNormMean += dn * xh
        }
        dnormMean *= invC
        dnormNormMean *= invC
        if let dinp {
          let dx = dinp + n * C
          for i in 0..<C {
            let xh = (x[i] - m) * s
            dx[i] += (weight[i] * dy[i] - dnormMean - xh * dnormNormMean) * s
          }
        }
        if wantParams {
          for i in 0..<C {
            pw[i] += (x[i] - m) * s * dy[i]
            pb[i] += dy[i]
          }
        }
      }
    }
    if wantParams {
      for c in 0..<chunks {
        if let dweight { Vec.add(dweight, scratch + 2 * C * c, C) }
        if let dbias { Vec.add(dbias, scratch + 2 * C * c + C, C) }
      }
    }
  }

  /// Floats of scratch `backward` needs.
  public static func scratchCount(N: Int, C: Int) -> Int { 2 * C * Parallel.chunkCount(N, grain: 16) }

  /// Naive twin of `forward` in Double, for tests.
  public static func forwardReference(
    out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, N: Int, C: Int, eps: Float
  ) {
    for n in 0..<N {
      var m = 0.0, v = 0.0
      for i in 0..<C { m += Double(inp[n * C + i]) }
      m /= Double(C)
      for i in 0..<C { let d = Double(inp[n * C + i]) - m; v += d * d }
      v /= Double(C)
      let s = 1 / (v + Double(eps)).squareRoot()
      for i in 0..<C {
        out[n * C + i] = Float((Double(inp[n * C + i]) - m) * s * Double(weight[i]) + Double(bias[i]))
      }
    }
  }
}

//===--- Embedding.swift - patchify and token assembly ---------------------===//
//
// Patch embedding = patchify + Linear, equal to timm's Conv2d(C, D, P, stride P):
//   images (B, C, H, W) -> patches (B, Np, C·P·P), each patch flattened in
//   (c, py, px) order so that `patch_embed.proj.weight` (D, C, P, P) is the
//   Linear weight (D, C·P·P) unchanged. Patches are in row-major grid order.
// Token assembly (class token first, then patches, plus position embedding):
//   x[b, 0]   = cls + pos[0]
//   x[b, 1+n] = patchOut[b, n] + pos[1+n]        x (B, T = 1+Np, D)
//===----------------------------------------------------------------------===//

public enum Patchify {
  public static func forward(
    patches: UnsafeMutablePointer<Float>, images: UnsafePointer<Float>,
    B: Int, C: Int, H: Int, W: Int, P: Int
  ) {
    let gh = H / P, gw = W / P, np = gh * gw, k = C * P * P
    Parallel.forRanges(B * np, grain: 64) { _, items in
      for item in items {
        let b = item / np, n = item % np
        let gy = n / gw, gx = n % gw
        let dst = patches + item * k
        var j = 0
        for c in 0..<C {
          let plane = images + (b * C + c) * H * W
          for py in 0..<P {
            let src = plane + (gy * P + py) * W + gx * P
            (dst + j).update(from: src, count: P)
            j += P
          }
        }
      }
    }
  }
}

public enum TokenEmbed {
  public static func forward(
    x: UnsafeMutablePointer<Float>, patchOut: UnsafePointer<Float>,
    cls: UnsafePointer<Float>, pos: UnsafePointer<Float>, B: Int, Np: Int, D: Int
  ) {
    let T = Np + 1
    Parallel.forRanges(B, grain: 1) { _, bs in
      for b in bs {
        Vec.sum(x + b * T * D, cls, pos, D)
        Vec.sum(x + (b * T + 1) * D, patchOut + b * Np * D, pos + D, Np * D)
      }
    }
  }

  /// dpatchOut (=) dx[:, 1:], dcls += Σ_b dx[b, 0], dpos += Σ_b dx[b].
  public static func backward(
    dpatchOut: UnsafeMutablePointer<Float>?, dcls: UnsafeMutablePointer<Float>?,
    dpos: UnsafeMutablePointer<Float>?, dx: UnsafePointer<Float>, B: Int, Np: Int, D: Int
  ) {
    let T = Np + 1
    if let dpatchOut {
      for b in 0..<B { (dpatchOut + b * Np * D).update(from: dx + (b * T + 1) * D, count: Np * D) }
    }
    if let dcls { for b in 0..<B { Vec.add(dcls, dx + b * T * D, D) } }
    if let dpos {
      Parallel.forRanges(T * D, grain: 1024) { _, r in
        for b in 0..<B { Vec.add(dpos + r.lowerBound, dx + b * T * D + r.lowerBound, r.count) }
      }
    }
  }
}

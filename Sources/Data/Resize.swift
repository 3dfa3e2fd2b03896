//===--- Resize.swift - resize uint8 images: area down, bilinear up --------===//
//
// Separable: along each axis an output pixel is a weighted sum of input
// pixels. Shrinking uses area weights (the fraction of each input pixel the
// output pixel covers, cv2.INTER_AREA); enlarging uses bilinear weights with
// half-pixel centres (align_corners=False).
//===----------------------------------------------------------------------===//

public enum Resize {
  static func weights(in n: Int, out m: Int) -> [[(Int, Float)]] {
    let scale = Double(n) / Double(m)
    return (0..<m).map { i in
      if scale >= 1 {  // area
        let lo = Double(i) * scale, hi = lo + scale
        var ws: [(Int, Float)] = []
        var j = Int(lo)
        while Double(j) < hi && j < n {
          let cover = min(hi, Double(j + 1)) - max(lo, Double(j))
          if cover > 1e-9 { ws.append((j, Float(cover / scale))) }
          j += 1
        }
        return ws
      }
      let c = (Double(i) + 0.5) * scale - 0.5  // bilinear
      let j0 = Int(c.rounded(.down)), t = c - Double(j0)
      let a = min(max(j0, 0), n - 1), b = min(max(j0 + 1, 0), n - 1)
      return [(a, Float(1 - t)), (b, Float(t))]
    }
  }

  /// (H, W, C) -> (h, w, C).
  public static func resize(_ px: [UInt8], height H: Int, width W: Int, channels C: Int, to h: Int, _ w: Int) -> [UInt8]
  {
    if H == h && W == w { return px }
    let wx = weights(in: W, out: w), wy = weights(in: H, out: h)
    var tmp = [Float](repeating: 0, count: H * w * C)
    for y in 0..<H {
      for x in 0..<w {
        for (j, wt) in wx[x] { for c in 0..<C { tmp[(y * w + x) * C + c] += wt * Float(px[(y * W + j) * C + c]) } }
      }
    }
    var out = [UInt8](repeating: 0, count: h * w * C)
    for y in 0..<h {
      for x in 0..<w {
        for c in 0..<C {
          var acc: Float = 0
          for (j, wt) in wy[y] { acc += wt * tmp[(j * w + x) * C + c] }
          out[(y * w + x) * C + c] = UInt8(min(255, max(0, acc.rounded())))
        }
      }
    }
    return out
  }
}

//===--- PositionEmbedding.swift - resample pos_embed to another grid ------===//
//
// timm's `resample_abs_pos_embed`: the class-token row is kept, the grid rows
// (gh·gw, D) are resized as an image with
// F.interpolate(mode="bicubic", antialias=True, align_corners=False), i.e.
// PIL's separable bicubic filter (a = −0.5) whose support widens by the scale
// factor when shrinking.
//===----------------------------------------------------------------------===//
import Foundation

public enum PositionEmbedding {
  /// `pos` is (1 + oldH·oldW, D); returns (1 + newH·newW, D).
  public static func resample(
    _ pos: [Float], width D: Int, from old: (h: Int, w: Int), to new: (h: Int, w: Int)
  ) -> [Float] {
    precondition(pos.count == (1 + old.h * old.w) * D)
    if old == new { return pos }
    // grid (oldH, oldW, D) -> rows resized along w, then along h.
    let wWeights = weights(inSize: old.w, outSize: new.w)
    let hWeights = weights(inSize: old.h, outSize: new.h)
    var tmp = [Double](repeating: 0, count: old.h * new.w * D)
    for y in 0..<old.h {
      for x in 0..<new.w {
        let (start, ws) = wWeights[x]
        for (j, w) in ws.enumerated() {
          let src = 1 + y * old.w + start + j
          for c in 0..<D { tmp[(y * new.w + x) * D + c] += w * Double(pos[src * D + c]) }
        }
      }
    }
    var out = [Float](repeating: 0, count: (1 + new.h * new.w) * D)
    for c in 0..<D { out[c] = pos[c] }
    for y in 0..<new.h {
      let (start, ws) = hWeights[y]
      for x in 0..<new.w {
        for c in 0..<D {
          var acc = 0.0
          for (j, w) in ws.enumerated() { acc += w * tmp[((start + j) * new.w + x) * D + c] }
          out[(1 + y * new.w + x) * D + c] = Float(acc)
        }
      }
    }
    return out
  }

  /// PyTorch's antialiased bicubic weights (aten UpSampleKernel, `_compute_weights_aa`).
  static func weights(inSize: Int, outSize: Int) -> [(Int, [Double])] {
    let scale = Double(inSize) / Double(outSize)
    let support = scale >= 1 ? 2 * scale : 2
    let invScale = scale >= 1 ? 1 / scale : 1
    func filter(_ x: Double) -> Double {
      let a = -0.5, x = abs(x)
      if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
      if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
      return 0
    }
    return (0..<outSize).map { i in
      let center = scale * (Double(i) + 0.5)
      let xmin = max(Int(center - support + 0.5), 0)
      let xmax = min(Int(center + support + 0.5), inSize)
      var ws = (0..<(xmax - xmin)).map { j in filter((Double(j + xmin) - center + 0.5) * invScale) }
      let total = ws.reduce(0, +)
      if total != 0 { ws = ws.map { $0 / total } }
      return (xmin, ws)
    }
  }
}

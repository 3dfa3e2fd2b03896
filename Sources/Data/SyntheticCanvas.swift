//===--- SyntheticCanvas.swift - drawing primitives for generated images ---===//
import Foundation
import Storage

/// A float image (H, W, C) in [0, 1] with the primitives the generators use.
/// Coordinates are in units of the image side (0...1), so a generator draws
/// the same picture at any resolution.
struct Sketch {
  let size: Int, channels: Int
  var px: [Float]

  init(size: Int, channels: Int, fill: [Float]) {
    self.size = size
    self.channels = channels
    px = (0..<(size * size)).flatMap { _ in fill }
  }

  /// Smooth value noise in [0, 1]: `octaves` layers of a random grid of
  /// `cells`² values, bilinearly interpolated with smoothstep.
  static func noise(size: Int, cells: Int, octaves: Int, rng: inout Xoshiro256) -> [Float] {
    var out = [Float](repeating: 0, count: size * size)
    var amp: Float = 1, total: Float = 0, c = cells
    for _ in 0..<octaves {
      let grid = (0..<((c + 1) * (c + 1))).map { _ in Float(rng.uniform()) }
      for y in 0..<size {
        let gy = Float(y) / Float(size) * Float(c)
        let y0 = min(Int(gy), c - 1); var ty = gy - Float(y0); ty = ty * ty * (3 - 2 * ty)
        for x in 0..<size {
          let gx = Float(x) / Float(size) * Float(c)
          let x0 = min(Int(gx), c - 1); var tx = gx - Float(x0); tx = tx * tx * (3 - 2 * tx)
          let a = grid[y0 * (c + 1) + x0], b = grid[y0 * (c + 1) + x0 + 1]
          let d = grid[(y0 + 1) * (c + 1) + x0], e = grid[(y0 + 1) * (c + 1) + x0 + 1]
          out[y * size + x] += amp * ((a * (1 - tx) + b * tx) * (1 - ty) + (d * (1 - tx) + e * tx) * ty)
        }
      }
      total += amp; amp *= 0.5; c *= 2
    }
    return out.map { $0 / total }
  }

  /// Blends `color` into an ellipse centred at (cx, cy) with radii (rx, ry),
  /// rotated by `angle`; `soft` widens the edge (fraction of the radius).
  /// `rough` > 0 makes the margin irregular (spiculated / lobulated).
  mutating func ellipse(
    _ cx: Double, _ cy: Double, _ rx: Double, _ ry: Double, angle: Double = 0,
    color: [Float], alpha: Float = 1, soft: Double = 0.15, rough: Double = 0, lobes: Int = 7,
    phase: Double = 0
  ) {
    let s = Double(size), ca = cos(angle), sa = sin(angle)
    let reach = max(rx, ry) * (1 + rough + soft) + 1.5 / s
    let x0 = max(0, Int((cx - reach) * s)), x1 = min(size - 1, Int((cx + reach) * s))
    let y0 = max(0, Int((cy - reach) * s)), y1 = min(size - 1, Int((cy + reach) * s))
    guard x0 <= x1, y0 <= y1 else { return }
    for y in y0...y1 {
      for x in x0...x1 {
        let dx = (Double(x) + 0.5) / s - cx, dy = (Double(y) + 0.5) / s - cy
        let u = (dx * ca + dy * sa) / rx, v = (-dx * sa + dy * ca) / ry
        var r = (u * u + v * v).squareRoot()
        if rough > 0 { r /= 1 + rough * sin(Double(lobes) * atan2(v, u) + phase) }
        let edge = max(soft, 0.5 / (min(rx, ry) * s))
        let w = Float(min(1, max(0, (1 + edge / 2 - r) / edge))) * alpha
        if w <= 0 { continue }
        let p = (y * size + x) * channels
        for c in 0..<channels { px[p + c] = px[p + c] * (1 - w) + color[min(c, color.count - 1)] * w }
      }
    }
  }

  /// A stroke from (x0, y0) to (x1, y1) of width `width` (image units).
  mutating func line(
    _ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, width: Double, color: [Float], alpha: Float = 1
  ) {
    let steps = max(2, Int(hypot(x1 - x0, y1 - y0) * Double(size) * 2))
    for i in 0...steps {
      let t = Double(i) / Double(steps)
      ellipse(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, width / 2, width / 2, color: color, alpha: alpha, soft: 0.5)
    }
  }

  /// Adds `amount · (n − 0.5)` of a noise field to every channel (or multiplies: speckle).
  mutating func add(_ n: [Float], amount: Float, multiply: Bool = false) {
    for i in 0..<(size * size) {
      for c in 0..<channels {
        let p = i * channels + c
        px[p] = multiply ? px[p] * (1 + amount * (n[i] - 0.5)) : px[p] + amount * (n[i] - 0.5)
      }
    }
  }

  /// Per-pixel Gaussian noise of standard deviation `sigma`.
  mutating func grain(_ sigma: Double, rng: inout Xoshiro256, multiplicative: Bool = false) {
    for i in 0..<px.count {
      let g = Float(rng.normal() * sigma)
      px[i] = multiplicative ? px[i] * max(0, 1 + g) : px[i] + g
    }
  }

  /// 3×3 box blur, `passes` times.
  mutating func blur(_ passes: Int = 1) {
    for _ in 0..<passes {
      var out = px
      for y in 0..<size {
        for x in 0..<size {
          for c in 0..<channels {
            var acc: Float = 0, n: Float = 0
            for dy in -1...1 {
              for dx in -1...1 {
                let yy = y + dy, xx = x + dx
                if yy >= 0 && yy < size && xx >= 0 && xx < size { acc += px[(yy * size + xx) * channels + c]; n += 1 }
              }
            }
            out[(y * size + x) * channels + c] = acc / n
          }
        }
      }
      px = out
    }
  }

  /// Mean of each channel.
  var meanColour: [Float] {
    var m = [Float](repeating: 0, count: channels)
    for i in 0..<(size * size) { for c in 0..<channels { m[c] += px[i * channels + c] } }
    return m.map { $0 / Float(size * size) }
  }

  /// The same picture with 3 channels (grey replicated).
  var rgb: Sketch {
    if channels == 3 { return self }
    var s = Sketch(size: size, channels: 3, fill: [0, 0, 0])
    for i in 0..<(size * size) { for c in 0..<3 { s.px[i * 3 + c] = px[i * channels] } }
    return s
  }

  /// Stripes of `period` (image units) at `angle` inside a soft disc of radius `r` around (cx, cy).
  mutating func texture(
    _ cx: Double, _ cy: Double, _ r: Double, period: Double, angle: Double, color: [Float], alpha: Float
  ) {
    let s = Double(size), ca = cos(angle), sa = sin(angle)
    for y in 0..<size {
      for x in 0..<size {
        let dx = (Double(x) + 0.5) / s - cx, dy = (Double(y) + 0.5) / s - cy
        let d = (dx * dx + dy * dy).squareRoot() / r
        guard d < 1.2 else { continue }
        let wave = 0.5 + 0.5 * sin(2 * .pi * (dx * ca + dy * sa) / period)
        let w = Float(wave * min(1, max(0, (1.2 - d) / 0.4))) * alpha
        let p = (y * size + x) * channels
        for c in 0..<channels { px[p + c] = px[p + c] * (1 - w) + color[min(c, color.count - 1)] * w }
      }
    }
  }

  var bytes: [UInt8] { px.map { UInt8(min(255, max(0, ($0 * 255).rounded()))) } }
}

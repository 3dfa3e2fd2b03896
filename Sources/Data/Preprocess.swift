//===--- Preprocess.swift - raw uint8 images -> normalised model inputs ----===//
//
// uint8 (H, W, C) at any size -> float (3, S, S):
//   grey is replicated to 3 channels; the image is resized to S (area when
//   shrinking, bilinear when enlarging) or, with augmentation, a random
//   resized crop (area fraction in `cropScale`, aspect in [3/4, 4/3],
//   bilinear sampling) is taken; then an optional horizontal flip and
//   colour jitter (brightness, contrast, saturation by up to ±jitter); then
//   (x/255 − mean) / std per channel.
// Every random choice comes from the generator passed in, so a batch is
// identical whatever the thread count.
//===----------------------------------------------------------------------===//
import Dispatch
import Foundation
import Storage

public struct Normalization: Sendable, Equatable {
  public var mean: [Float]
  public var std: [Float]
  public init(mean: [Float], std: [Float]) { self.mean = mean; self.std = std }
  /// OpenAI CLIP's preprocessing.
  public static let clip = Normalization(
    mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711])
  /// timm's ImageNet default.
  public static let imagenet = Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
  /// Per-channel mean and std of a dataset (after grey -> RGB), in [0, 1] units.
  public static func of(_ r: RawImages) -> Normalization {
    var s = [Double](repeating: 0, count: 3), s2 = s
    let n = r.count * r.height * r.width
    for i in 0..<n {
      for c in 0..<3 {
        let v = Double(r.images[i * r.channels + min(c, r.channels - 1)]) / 255
        s[c] += v; s2[c] += v * v
      }
    }
    let mean = s.map { $0 / Double(max(n, 1)) }
    let std = zip(s2, mean).map { max(1e-3, ($0 / Double(max(n, 1)) - $1 * $1).squareRoot()) }
    return Normalization(mean: mean.map(Float.init), std: std.map(Float.init))
  }
}

public struct Augmentation: Sendable, Equatable {
  public var cropScale: ClosedRange<Double> = 0.6...1
  public var hflip = true
  public var jitter: Float = 0.2
  public init(cropScale: ClosedRange<Double> = 0.6...1, hflip: Bool = true, jitter: Float = 0.2) {
    self.cropScale = cropScale
    self.hflip = hflip
    self.jitter = jitter
  }
}

public struct Preprocessor: Sendable {
  public var size: Int
  public var normalization: Normalization
  public var augmentation: Augmentation?

  public init(size: Int, normalization: Normalization, augmentation: Augmentation? = nil) {
    self.size = size
    self.normalization = normalization
    self.augmentation = augmentation
  }

  /// Writes image `i` of `r` as float (3, size, size) into `dst`.
  public func apply(_ r: RawImages, _ i: Int, into dst: UnsafeMutablePointer<Float>, rng: inout Xoshiro256) {
    let S = size, C = r.channels, H = r.height, W = r.width
    let src = r.images[(i * r.imageSize)..<((i + 1) * r.imageSize)]
    var rgb = [Float](repeating: 0, count: S * S * 3)  // (S, S, 3) in [0, 1]
    if let a = augmentation {
      let area =
        Double(H * W) * (a.cropScale.lowerBound + (a.cropScale.upperBound - a.cropScale.lowerBound) * rng.uniform())
      let ratio = exp(log(3.0 / 4) + (log(4.0 / 3) - log(3.0 / 4)) * rng.uniform())
      let cw = min(Double(W), (area * ratio).squareRoot()), ch = min(Double(H), (area / ratio).squareRoot())
      let x0 = (Double(W) - cw) * rng.uniform(), y0 = (Double(H) - ch) * rng.uniform()
      let flip = a.hflip && rng.uniform() < 0.5
      src.withUnsafeBufferPointer { p in
        for oy in 0..<S {
          let sy = y0 + (Double(oy) + 0.5) * ch / Double(S) - 0.5
          let yA = min(max(Int(sy.rounded(.down)), 0), H - 1), yB = min(yA + 1, H - 1)
          let ty = Float(min(max(sy - Double(yA), 0), 1))
          for ox in 0..<S {
            let sxo = flip ? S - 1 - ox : ox
            let sx = x0 + (Double(sxo) + 0.5) * cw / Double(S) - 0.5
            let xA = min(max(Int(sx.rounded(.down)), 0), W - 1), xB = min(xA + 1, W - 1)
            let tx = Float(min(max(sx - Double(xA), 0), 1))
            for c in 0..<3 {
              let cc = min(c, C - 1)
              func at(_ y: Int, _ x: Int) -> Float { Float(p[(y * W + x) * C + cc]) }
              let v =
                (at(yA, xA) * (1 - tx) + at(yA, xB) * tx) * (1 - ty) + (at(yB, xA) * (1 - tx) + at(yB, xB) * tx) * ty
              rgb[(oy * S + ox) * 3 + c] = v / 255
            }
          }
        }
      }
      if a.jitter > 0 {
        let b = 1 + a.jitter * Float(rng.uniform() * 2 - 1)
        let k = 1 + a.jitter * Float(rng.uniform() * 2 - 1)
        let s = 1 + a.jitter * Float(rng.uniform() * 2 - 1)
        var mean: Float = 0
        for v in rgb { mean += v }
        mean /= Float(rgb.count)
        for q in 0..<(S * S) {
          let g = (rgb[q * 3] + rgb[q * 3 + 1] + rgb[q * 3 + 2]) / 3
          for c in 0..<3 {
            var v = rgb[q * 3 + c] * b
            v = (v - mean * b) * k + mean * b
            v = C == 3 ? g * b + (v - g * b) * s : v
            rgb[q * 3 + c] = min(1, max(0, v))
          }
        }
      }
    } else {
      let resized = Resize.resize(Array(src), height: H, width: W, channels: C, to: S, S)
      for q in 0..<(S * S) { for c in 0..<3 { rgb[q * 3 + c] = Float(resized[q * C + min(c, C - 1)]) / 255 } }
    }
    let m = normalization.mean, sd = normalization.std
    for c in 0..<3 {
      for q in 0..<(S * S) { dst[c * S * S + q] = (rgb[q * 3 + c] - m[c]) / sd[c] }
    }
  }

  /// A whole split without augmentation (evaluation sets).
  public func imageSet(_ r: RawImages) -> ImageSet {
    var out = [Float](repeating: 0, count: r.count * 3 * size * size)
    let n = 3 * size * size
    out.withUnsafeMutableBufferPointer { o in
      nonisolated(unsafe) let base = o.baseAddress!
      DispatchQueue.concurrentPerform(iterations: r.count) { i in
        var rng = Xoshiro256(seed: UInt64(i))
        var plain = self
        plain.augmentation = nil
        plain.apply(r, i, into: base + i * n, rng: &rng)
      }
    }
    var set = ImageSet(
      images: out, labels: (0..<r.count).map { Int32(r.label($0)) }, channels: 3, height: size,
      width: size, classes: r.labelWidth > 1 ? r.labelWidth : max(2, (r.labels.max() ?? 1) + 1))
    if r.labelWidth > 1 { set.multiHot = r.multiHot(Array(0..<r.count)) }
    return set
  }
}

/// Shuffled, augmented mini-batches drawn from raw images. Sample k of step t
/// uses its own generator (seed, t, k), so batches do not depend on threads.
public struct AugmentedSampler {
  let raw: RawImages
  let batch: Int
  public let preprocessor: Preprocessor
  /// Optional second view of the same images (FPT+: high-res, no augmentation).
  public let second: Preprocessor?
  let seed: UInt64
  var order: [Int] = []
  var cursor = 0
  var step: UInt64 = 0
  var rng: Xoshiro256
  /// Sample indices of the last batch (into the split), e.g. to look up preloaded features.
  public private(set) var lastIndices: [Int] = []

  public init(_ raw: RawImages, batch: Int, preprocessor: Preprocessor, second: Preprocessor? = nil, seed: UInt64) {
    precondition(raw.count >= batch, "batch \(batch) larger than the set (\(raw.count))")
    self.raw = raw
    self.batch = batch
    self.preprocessor = preprocessor
    self.second = second
    self.seed = seed
    rng = Xoshiro256(seed: seed)
  }

  /// Fills `images` (B, 3, S, S), `labels` (B) and, with a second view, `secondImages`.
  public mutating func next(images: inout [Float], labels: inout [Int32], secondImages: inout [Float]) {
    if order.isEmpty || cursor + batch > order.count {
      order = Array(0..<raw.count)
      order.shuffle(using: &rng)
      cursor = 0
    }
    let idx = Array(order[cursor..<(cursor + batch)])
    lastIndices = idx
    cursor += batch
    step += 1
    let n1 = 3 * preprocessor.size * preprocessor.size
    let n2 = second.map { 3 * $0.size * $0.size } ?? 0
    images = [Float](repeating: 0, count: batch * n1)
    secondImages = [Float](repeating: 0, count: batch * n2)
    labels = idx.map { Int32(raw.label($0)) }
    let (st, sd, pre, sec, r) = (step, seed, preprocessor, second, raw)
    images.withUnsafeMutableBufferPointer { a in
      secondImages.withUnsafeMutableBufferPointer { b in
        nonisolated(unsafe) let pa = a.baseAddress!, pb = b.baseAddress
        DispatchQueue.concurrentPerform(iterations: idx.count) { k in
          var g = Xoshiro256(seed: sd ^ (st &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(k) &* 0xBF58_476D_1CE4_E5B9)
          pre.apply(r, idx[k], into: pa + k * n1, rng: &g)
          if let sec, let pb { sec.apply(r, idx[k], into: pb + k * n2, rng: &g) }
        }
      }
    }
  }
}

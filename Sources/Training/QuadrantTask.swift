//===--- QuadrantTask.swift - a simple generated classification task -------===//
import Data
import Model
import Storage

/// A deliberately easy task for sanity checks and the smoke run: class k of
/// `classes` (≤ 4) is a bright square placed in quadrant k at a random
/// offset, on Gaussian noise, with a random per-image contrast. A ViT that
/// trains correctly reaches > 90 % accuracy within a few hundred steps.
public enum QuadrantTask {
  public static func make(
    count: Int, classes: Int = 4, channels: Int = 3, size: Int = 16, seed: UInt64
  ) -> ImageSet {
    precondition(classes >= 2 && classes <= 4)
    var rng = Xoshiro256(seed: seed)
    var images = [Float](repeating: 0, count: count * channels * size * size)
    var labels = [Int32](repeating: 0, count: count)
    let half = size / 2, side = max(2, size / 4)
    for i in 0..<count {
      let k = Int(rng.next() % UInt64(classes))
      labels[i] = Int32(k)
      let oy = (k / 2) * half + Int(rng.next() % UInt64(half - side + 1))
      let ox = (k % 2) * half + Int(rng.next() % UInt64(half - side + 1))
      let contrast = Float(0.8 + 0.6 * rng.uniform())
      for c in 0..<channels {
        let plane = (i * channels + c) * size * size
        for y in 0..<size {
          for x in 0..<size {
            var v = Float(rng.normal()) * 0.5
            if y >= oy && y < oy + side && x >= ox && x < ox + side { v += contrast * 2 }
            images[plane + y * size + x] = v
          }
        }
      }
    }
    return ImageSet(images: images, labels: labels, channels: channels, height: size, width: size, classes: classes)
  }
}

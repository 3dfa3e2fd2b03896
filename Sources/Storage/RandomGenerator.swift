//===--- RandomGenerator.swift - seeded, platform-independent randomness --===//
import Foundation

/// xoshiro256** seeded through SplitMix64: the same seed gives the same
/// stream on every machine (unlike SystemRandomNumberGenerator).
public struct Xoshiro256: RandomNumberGenerator, Sendable {
  private var s: (UInt64, UInt64, UInt64, UInt64)

  public init(seed: UInt64) {
    var x = seed
    func splitmix() -> UInt64 {
      x &+= 0x9E37_79B9_7F4A_7C15
      var z = x
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    s = (splitmix(), splitmix(), splitmix(), splitmix())
  }

  public mutating func next() -> UInt64 {
    let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
    let t = s.1 << 17
    s.2 ^= s.0
    s.3 ^= s.1
    s.1 ^= s.2
    s.0 ^= s.3
    s.2 ^= t
    s.3 = (s.3 << 45) | (s.3 >> 19)
    return result
  }

  /// Uniform in [0, 1) with 53 random bits.
  public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

  /// Standard normal (Box–Muller).
  public mutating func normal() -> Double {
    let u1 = max(uniform(), 1e-300), u2 = uniform()
    return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
  }

  /// Normal(0, std) restricted to [lo, hi] by rejection (timm's trunc_normal_).
  public mutating func truncatedNormal(std: Double, lo: Double = -2, hi: Double = 2) -> Double {
    while true {
      let v = normal() * std
      if v >= lo && v <= hi { return v }
    }
  }

  /// A derived generator for a named sub-stream (so adding one stream does not shift others).
  public func fork(_ label: UInt64) -> Xoshiro256 {
    var copy = self
    return Xoshiro256(seed: copy.next() ^ (label &* 0x9E37_79B9_7F4A_7C15))
  }
}

//===--- SHA256.swift - FIPS 180-4 SHA-256, streaming ----------------------===//
//
// Written here rather than pulled from swift-crypto, whose BoringSSL build
// would add a minute to every CI run. Tested against the FIPS vectors and
// Python's hashlib.
//===----------------------------------------------------------------------===//
import Foundation

public struct SHA256Hasher {
  private var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
    (0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19)
  private var buffer = [UInt8](repeating: 0, count: 64)
  private var buffered = 0
  private var length: UInt64 = 0

  static let k: [UInt32] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]

  public init() {}

  @inline(__always) private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

  private mutating func compress(_ p: UnsafeRawPointer) {
    var w = (0..<64).map { _ in UInt32(0) }
    w.withUnsafeMutableBufferPointer { w in
      for i in 0..<16 { w[i] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
      for i in 16..<64 {
        let s0 = Self.rotr(w[i - 15], 7) ^ Self.rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
        let s1 = Self.rotr(w[i - 2], 17) ^ Self.rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
        w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
      }
      var (a, b, c, d, e, f, g, hh) = h
      Self.k.withUnsafeBufferPointer { k in
        for i in 0..<64 {
          let s1 = Self.rotr(e, 6) ^ Self.rotr(e, 11) ^ Self.rotr(e, 25)
          let ch = (e & f) ^ (~e & g)
          let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
          let s0 = Self.rotr(a, 2) ^ Self.rotr(a, 13) ^ Self.rotr(a, 22)
          let maj = (a & b) ^ (a & c) ^ (b & c)
          let t2 = s0 &+ maj
          hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
        }
      }
      h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e, h.5 &+ f, h.6 &+ g, h.7 &+ hh)
    }
  }

  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    guard var p = bytes.baseAddress else { return }
    var n = bytes.count
    length &+= UInt64(n)
    if buffered > 0 {
      let take = min(64 - buffered, n)
      buffer.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: buffered).copyMemory(from: p, byteCount: take) }
      buffered += take; p += take; n -= take
      if buffered == 64 {
        let copy = buffer
        copy.withUnsafeBytes { compress($0.baseAddress!) }
        buffered = 0
      }
    }
    while n >= 64 { compress(p); p += 64; n -= 64 }
    if n > 0 {
      buffer.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: p, byteCount: n) }
      buffered = n
    }
  }

  public mutating func update(_ data: Data) { data.withUnsafeBytes { update($0) } }
  public mutating func update(_ string: String) { update(Data(string.utf8)) }

  public mutating func finalize() -> String {
    let bits = length &* 8
    var pad: [UInt8] = [0x80]
    let rem = (buffered + 1) % 64
    pad += [UInt8](repeating: 0, count: rem <= 56 ? 56 - rem : 120 - rem)
    for i in (0..<8).reversed() { pad.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i)))) }
    let saved = length
    pad.withUnsafeBytes { update($0) }
    length = saved
    let words = [h.0, h.1, h.2, h.3, h.4, h.5, h.6, h.7]
    return words.map { String(format: "%08x", $0) }.joined()
  }

  public static func hex(_ data: Data) -> String { var s = SHA256Hasher(); s.update(data); return s.finalize() }
  public static func hex(_ string: String) -> String { hex(Data(string.utf8)) }

  /// Digest of a file, read in 1 MiB chunks.
  public static func hex(file path: String) throws -> String {
    guard let fh = FileHandle(forReadingAtPath: path) else {
      throw PipelineError.io(path: path, message: "cannot open for reading")
    }
    defer { try? fh.close() }
    var s = SHA256Hasher()
    while let chunk = try fh.read(upToCount: 1 << 20), !chunk.isEmpty { s.update(chunk) }
    return s.finalize()
  }
}

//===--- MD5.swift - RFC 1321, for the checksums MedMNIST publishes --------===//
import Foundation

public struct MD5Hasher {
  private var a0: UInt32 = 0x6745_2301, b0: UInt32 = 0xefcd_ab89, c0: UInt32 = 0x98ba_dcfe, d0: UInt32 = 0x1032_5476
  private var buffer: [UInt8] = []
  private var length: UInt64 = 0
  static let s: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                            5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                            4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                            6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
  static let k: [UInt32] = (0..<64).map { UInt32(truncatingIfNeeded: Int64(abs(sin(Double($0 + 1))) * 4_294_967_296)) }

  public init() {}

  private mutating func block(_ p: UnsafeRawPointer) {
    var m = [UInt32](repeating: 0, count: 16)
    for i in 0..<16 { m[i] = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
    var a = a0, b = b0, c = c0, d = d0
    for i in 0..<64 {
      var f: UInt32, g: Int
      switch i {
      case 0..<16: f = (b & c) | (~b & d); g = i
      case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
      case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
      default: f = c ^ (b | ~d); g = (7 * i) % 16
      }
      f = f &+ a &+ Self.k[i] &+ m[g]
      a = d; d = c; c = b
      b = b &+ ((f << Self.s[i]) | (f >> (32 - Self.s[i])))
    }
    a0 = a0 &+ a; b0 = b0 &+ b; c0 = c0 &+ c; d0 = d0 &+ d
  }

  public mutating func update(_ data: Data) {
    length &+= UInt64(data.count)
    buffer.append(contentsOf: data)
    let full = buffer.count / 64 * 64
    if full > 0 {
      buffer.withUnsafeBytes { raw in for off in stride(from: 0, to: full, by: 64) { block(raw.baseAddress! + off) } }
      buffer.removeFirst(full)
    }
  }

  public mutating func finalize() -> String {
    let bits = length &* 8
    var pad: [UInt8] = [0x80]
    while (buffer.count + pad.count) % 64 != 56 { pad.append(0) }
    for i in 0..<8 { pad.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i)))) }
    buffer.append(contentsOf: pad)
    buffer.withUnsafeBytes { raw in for off in stride(from: 0, to: buffer.count, by: 64) { block(raw.baseAddress! + off) } }
    return [a0, b0, c0, d0].map { w in (0..<4).map { String(format: "%02x", (w >> (8 * UInt32($0))) & 0xff) }.joined() }.joined()
  }

  public static func hex(_ data: Data) -> String { var h = MD5Hasher(); h.update(data); return h.finalize() }

  public static func hex(file path: String) throws -> String {
    guard let fh = FileHandle(forReadingAtPath: path) else { throw DataError.file(path, "cannot open for reading") }
    defer { try? fh.close() }
    var h = MD5Hasher()
    while let chunk = try fh.read(upToCount: 1 << 20), !chunk.isEmpty { h.update(chunk) }
    return h.finalize()
  }
}

public enum DataError: Error, CustomStringConvertible, Equatable {
  /// Something wrong with one file: its path and what is wrong.
  case file(String, String)

  public var description: String {
    switch self { case .file(let p, let m): return "\(p): \(m)" }
  }
}

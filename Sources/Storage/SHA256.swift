//===--- SHA256.swift - streaming SHA-256 as lowercase hex ------------------===//
//
// swift-crypto's SHA-256 (BoringSSL; SHA-NI/AVX2 code paths where the CPU has
// them) behind the small API the cache uses. Tested against the FIPS vectors.
//===----------------------------------------------------------------------===//
import Crypto
import Foundation

public struct SHA256Hasher {
  private var h = SHA256()

  public init() {}

  public mutating func update(_ bytes: UnsafeRawBufferPointer) { h.update(bufferPointer: bytes) }
  public mutating func update(_ data: Data) { h.update(data: data) }
  public mutating func update(_ string: String) { update(Data(string.utf8)) }

  /// The digest as 64 lowercase hex digits.
  public mutating func finalize() -> String { hexDigits(h.finalize()) }

  public static func hex(_ data: Data) -> String { var s = SHA256Hasher(); s.update(data); return s.finalize() }
  public static func hex(_ string: String) -> String { hex(Data(string.utf8)) }

  /// Digest of a file, read in 4 MiB chunks.
  public static func hex(file path: String) throws -> String {
    var s = SHA256Hasher()
    try FileChunks.forEach(path) { s.update($0) }
    return s.finalize()
  }
}

/// Reading a file in chunks (read(2) into one reused 4 MiB buffer: no `Data` per chunk).
public enum FileChunks {
  /// Calls `body` with successive chunks of the file at `path`.
  public static func forEach(_ path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw StorageError.file(path: path, message: "cannot open for reading") }
    defer { close(fd) }
    let size = 4 << 20
    let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
    defer { buf.deallocate() }
    while true {
      let n = read(fd, buf.baseAddress, size)
      guard n >= 0 else { throw StorageError.file(path: path, message: "read failed (errno \(errno))") }
      if n == 0 { return }
      try body(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
    }
  }
}

/// Bytes as lowercase hex digits (a digest's usual spelling).
func hexDigits<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
  let digits = Array("0123456789abcdef".utf8)
  var out = [UInt8]()
  for b in digest { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
  return String(decoding: out, as: UTF8.self)
}

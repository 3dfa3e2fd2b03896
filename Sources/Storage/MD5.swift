//===--- MD5.swift - the MD5 checksums MedMNIST publishes (swift-crypto) ---===//
import Crypto
import Foundation

public struct MD5Hasher {
  private var h = Insecure.MD5()

  public init() {}

  public mutating func update(_ data: Data) { h.update(data: data) }

  /// The digest as 32 lowercase hex digits.
  public mutating func finalize() -> String { hexDigits(h.finalize()) }

  public static func hex(_ data: Data) -> String { var h = MD5Hasher(); h.update(data); return h.finalize() }

  public static func hex(file path: String) throws -> String {
    var h = Insecure.MD5()
    try FileChunks.forEach(path) { h.update(bufferPointer: $0) }
    return hexDigits(h.finalize())
  }
}

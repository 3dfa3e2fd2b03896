//===--- JPEG.swift - JPEG decoding and encoding through libjpeg -----------===//
import CJPEG
import Foundation

public enum JPEG {
  /// Decodes a JPEG to uint8 (H, W, C), C = 1 (grey) or 3.
  public static func decode(_ path: String) throws -> (pixels: [UInt8], height: Int, width: Int, channels: Int) {
    guard FileManager.default.fileExists(atPath: path) else { throw DataError.file(path, "no such file") }
    var out: UnsafeMutablePointer<UInt8>?
    var w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
    var err = [CChar](repeating: 0, count: 256)
    guard cjpeg_decode(path, &out, &w, &h, &c, &err, err.count) == 0, let out else {
      throw DataError.file(path, "not a readable JPEG (\(String(cString: err)))")
    }
    defer { cjpeg_free(out) }
    return (Array(UnsafeBufferPointer(start: out, count: Int(w * h * c))), Int(h), Int(w), Int(c))
  }

  public static func encode(
    _ pixels: [UInt8], height: Int, width: Int, channels: Int, quality: Int = 95, to path: String
  ) throws {
    var err = [CChar](repeating: 0, count: 256)
    guard cjpeg_encode(path, pixels, Int32(width), Int32(height), Int32(channels), Int32(quality), &err, err.count) == 0
    else {
      throw DataError.file(path, "cannot write JPEG (\(String(cString: err)))")
    }
  }
}

//===--- PNG.swift - PNG decoding and encoding through Cairo ---------------===//
import CCairo
import Foundation
import Storage

public enum PNG {
  /// Decodes a PNG to uint8 (H, W, C): C = 1 when every pixel is grey, else 3.
  public static func decode(_ path: String) throws -> (pixels: [UInt8], height: Int, width: Int, channels: Int) {
    guard FileManager.default.fileExists(atPath: path) else { throw DataError.file(path, "no such file") }
    let s = cairo_image_surface_create_from_png(path)
    defer { cairo_surface_destroy(s) }
    let status = cairo_surface_status(s)
    guard status == CAIRO_STATUS_SUCCESS else {
      throw DataError.file(path, "not a readable PNG (\(String(cString: cairo_status_to_string(status))))")
    }
    cairo_surface_flush(s)
    let w = Int(cairo_image_surface_get_width(s)), h = Int(cairo_image_surface_get_height(s))
    let stride = Int(cairo_image_surface_get_stride(s))
    let format = cairo_image_surface_get_format(s)
    guard let data = cairo_image_surface_get_data(s) else { throw DataError.file(path, "PNG has no pixel data") }
    var rgb = [UInt8](repeating: 0, count: h * w * 3)
    var grey = true
    for y in 0..<h {
      for x in 0..<w {
        var r: UInt8, g: UInt8, b: UInt8
        if format == CAIRO_FORMAT_A8 {
          r = data[y * stride + x]; g = r; b = r
        } else {
          // ARGB32/RGB24, native-endian 32-bit pixels: B, G, R, A in memory on little-endian
          let p = y * stride + 4 * x
          let a = format == CAIRO_FORMAT_ARGB32 ? Int(data[p + 3]) : 255
          func un(_ v: UInt8) -> UInt8 { a == 0 || a == 255 ? v : UInt8(min(255, Int(v) * 255 / a)) }
          r = un(data[p + 2]); g = un(data[p + 1]); b = un(data[p])
        }
        if r != g || g != b { grey = false }
        rgb[(y * w + x) * 3] = r
        rgb[(y * w + x) * 3 + 1] = g
        rgb[(y * w + x) * 3 + 2] = b
      }
    }
    if grey { return (stride3(rgb), h, w, 1) }
    return (rgb, h, w, 3)
  }

  static func stride3(_ rgb: [UInt8]) -> [UInt8] { (0..<(rgb.count / 3)).map { rgb[$0 * 3] } }

  /// Writes uint8 (H, W, C) pixels (C = 1 or 3) as an 8-bit PNG, atomically.
  public static func encode(_ pixels: [UInt8], height h: Int, width w: Int, channels c: Int, to path: String) throws {
    let s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(w), Int32(h))
    defer { cairo_surface_destroy(s) }
    let stride = Int(cairo_image_surface_get_stride(s))
    let data = cairo_image_surface_get_data(s)!
    for y in 0..<h {
      for x in 0..<w {
        let q = (y * w + x) * c
        let p = y * stride + 4 * x
        data[p + 2] = pixels[q]
        data[p + 1] = pixels[q + (c == 3 ? 1 : 0)]
        data[p] = pixels[q + (c == 3 ? 2 : 0)]
        data[p + 3] = 255
      }
    }
    cairo_surface_mark_dirty(s)
    try writeAtomically(path) { tmp in
      guard cairo_surface_write_to_png(s, tmp) == CAIRO_STATUS_SUCCESS else {
        throw DataError.file(path, "cannot write PNG")
      }
    }
  }
}

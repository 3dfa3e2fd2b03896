//===--- PNGInfo.swift - size and ink of a PNG (for tests and the report) ---===//
import CCairo

public struct PNGInfo {
  public let width: Int, height: Int
  /// Share of pixels that are not (near) white.
  public let nonWhiteFraction: Double

  public static func read(_ path: String) throws -> PNGInfo {
    let s = cairo_image_surface_create_from_png(path)
    defer { cairo_surface_destroy(s) }
    guard cairo_surface_status(s) == CAIRO_STATUS_SUCCESS else {
      throw CanvasError(path: path, message: "not a readable PNG")
    }
    let w = Int(cairo_image_surface_get_width(s)), h = Int(cairo_image_surface_get_height(s))
    let stride = Int(cairo_image_surface_get_stride(s))
    cairo_surface_flush(s)
    guard let data = cairo_image_surface_get_data(s) else { throw CanvasError(path: path, message: "no pixel data") }
    var ink = 0
    for y in 0..<h {
      let row = data + y * stride
      for x in 0..<w {
        let px = row + 4 * x
        if px[0] < 235 || px[1] < 235 || px[2] < 235 { ink += 1 }
      }
    }
    return PNGInfo(width: w, height: h, nonWhiteFraction: Double(ink) / Double(max(w * h, 1)))
  }
}

//===--- Canvas.swift - one drawing surface for PDF and PNG ----------------===//
//
// The same drawing code renders a vector PDF or a PNG at a given dpi: sizes
// are in points (1/72 inch) and the PNG surface is scaled by dpi/72.
//===----------------------------------------------------------------------===//
import CCairo
import Foundation

public enum OutputFormat: String, Sendable { case pdf, png }

public final class Canvas {
  public let cr: OpaquePointer
  let surface: OpaquePointer
  let format: OutputFormat
  let path: String
  public let width: Double, height: Double

  /// A canvas of `width` × `height` points writing to `path`.
  public init(path: String, format: OutputFormat, width: Double, height: Double, dpi: Double = 150) throws {
    self.path = path
    self.format = format
    self.width = width
    self.height = height
    switch format {
    case .pdf:
      surface = cairo_pdf_surface_create(path, width, height)
      // No creation date: the same figure gives the same bytes (cairo writes the wall clock otherwise).
      cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, "")
    case .png:
      let scale = dpi / 72
      surface = cairo_image_surface_create(
        CAIRO_FORMAT_ARGB32, Int32((width * scale - 1e-6).rounded(.up)), Int32((height * scale - 1e-6).rounded(.up)))
    }
    guard cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
      throw CanvasError(path: path, message: "cannot create a \(format.rawValue) surface")
    }
    cr = cairo_create(surface)
    if format == .png { cairo_scale(cr, dpi / 72, dpi / 72) }
    cairo_set_source_rgb(cr, 1, 1, 1)
    cairo_paint(cr)
  }

  /// Finishes the file (PNG: written here).
  public func finish() throws {
    cairo_destroy(cr)
    defer { cairo_surface_destroy(surface) }
    if format == .png {
      guard cairo_surface_write_to_png(surface, path) == CAIRO_STATUS_SUCCESS else {
        throw CanvasError(path: path, message: "cannot write PNG")
      }
    } else {
      cairo_surface_finish(surface)
    }
  }

  // MARK: - Primitives

  public func setColor(_ rgb: (Double, Double, Double), alpha: Double = 1) {
    cairo_set_source_rgba(cr, rgb.0, rgb.1, rgb.2, alpha)
  }

  public func font(size: Double, bold: Bool = false) {
    cairo_select_font_face(
      cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
    cairo_set_font_size(cr, size)
  }

  /// Width and height of `text` in the current font (points).
  public func measure(_ text: String) -> (width: Double, height: Double) {
    var e = cairo_text_extents_t()
    cairo_text_extents(cr, text, &e)
    var f = cairo_font_extents_t()
    cairo_font_extents(cr, &f)
    return (e.x_advance, f.ascent + f.descent)
  }

  /// Draws `text` centred on (x, y).
  public func text(_ text: String, centeredAt x: Double, _ y: Double) {
    var e = cairo_text_extents_t()
    cairo_text_extents(cr, text, &e)
    var f = cairo_font_extents_t()
    cairo_font_extents(cr, &f)
    cairo_move_to(cr, x - e.x_advance / 2, y + (f.ascent - f.descent) / 2)
    cairo_show_text(cr, text)
  }

  public func roundedRect(x: Double, y: Double, w: Double, h: Double, r: Double) {
    cairo_new_sub_path(cr)
    cairo_arc(cr, x + w - r, y + r, r, -Double.pi / 2, 0)
    cairo_arc(cr, x + w - r, y + h - r, r, 0, Double.pi / 2)
    cairo_arc(cr, x + r, y + h - r, r, Double.pi / 2, Double.pi)
    cairo_arc(cr, x + r, y + r, r, Double.pi, 3 * Double.pi / 2)
    cairo_close_path(cr)
  }

  public func fillPreserve() { cairo_fill_preserve(cr) }
  public func fill() { cairo_fill(cr) }
  public func stroke(width: Double = 1) { cairo_set_line_width(cr, width); cairo_stroke(cr) }
  public func move(_ x: Double, _ y: Double) { cairo_move_to(cr, x, y) }
  public func line(_ x: Double, _ y: Double) { cairo_line_to(cr, x, y) }
  public func curve(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ x3: Double, _ y3: Double) {
    cairo_curve_to(cr, x1, y1, x2, y2, x3, y3)
  }
}

public struct CanvasError: Error, CustomStringConvertible {
  public var path: String
  public var message: String
  public var description: String { "\(path): \(message)" }
}

/// Okabe–Ito, the colour-blind-safe categorical palette.
public enum Palette {
  public static let okabeIto: [(Double, Double, Double)] = [
    (0.902, 0.624, 0.000), (0.337, 0.706, 0.914), (0.000, 0.620, 0.451), (0.941, 0.894, 0.259),
    (0.000, 0.447, 0.698), (0.835, 0.369, 0.000), (0.800, 0.475, 0.655), (0.0, 0.0, 0.0),
  ]
}

//===--- Render.swift - draw a Figure on a Canvas (PDF or PNG) --------------===//
//
// Panels in a grid; each panel: title, axes with nice ticks and light grid,
// the chart kind's marks, a legend in the corner that covers the fewest data
// points (below the plot when every corner covers some), all text measured
// with Cairo so margins fit the labels. Okabe–Ito for categories, viridis
// for heatmaps, DejaVu Sans throughout.
//===----------------------------------------------------------------------===//
import CCairo
import Foundation

public struct Rect {
  public var x, y, w, h: Double
  public init(x: Double, y: Double, w: Double, h: Double) { self.x = x; self.y = y; self.w = w; self.h = h }
  func intersects(_ o: Rect) -> Bool { x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h }
  func contains(_ px: Double, _ py: Double) -> Bool { px >= x && px <= x + w && py >= y && py <= y + h }
}

public enum Viridis {
  static let anchors: [(Double, Double, Double)] = [
    (0.267004, 0.004874, 0.329415), (0.282623, 0.140926, 0.457517), (0.253935, 0.265254, 0.529983),
    (0.206756, 0.371758, 0.553117), (0.163625, 0.471133, 0.558148), (0.127568, 0.566949, 0.550556),
    (0.134692, 0.658636, 0.517649), (0.266941, 0.748751, 0.440573), (0.477504, 0.821444, 0.318195),
    (0.741388, 0.873449, 0.149561), (0.993248, 0.906157, 0.143936),
  ]
  public static func colour(_ t: Double) -> (Double, Double, Double) {
    let u = min(max(t.isFinite ? t : 0, 0), 1) * 10, i = min(Int(u), 9), f = u - Double(i)
    let a = anchors[i], b = anchors[i + 1]
    return (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f, a.2 + (b.2 - a.2) * f)
  }
}

extension Canvas {
  public func text(_ s: String, x: Double, y: Double, anchor: (Double, Double) = (0, 0), rotate: Double = 0) {
    let (w, h) = measure(s)
    cairo_save(cr)
    cairo_translate(cr, x, y)
    if rotate != 0 { cairo_rotate(cr, rotate) }
    var f = cairo_font_extents_t()
    cairo_font_extents(cr, &f)
    cairo_move_to(cr, -w * anchor.0, -h * anchor.1 + f.ascent)
    cairo_show_text(cr, s)
    cairo_restore(cr)
  }
  public func rect(_ r: Rect) { cairo_rectangle(cr, r.x, r.y, r.w, r.h) }
  public func dash(_ on: Bool) {
    if on { var d: [Double] = [4, 2.5]; cairo_set_dash(cr, &d, 2, 0) } else { cairo_set_dash(cr, nil, 0, 0) }
  }
  public func circle(_ x: Double, _ y: Double, _ r: Double) {
    cairo_new_sub_path(cr); cairo_arc(cr, x, y, r, 0, 2 * Double.pi)
  }
  public func clip(_ r: Rect) { cairo_save(cr); rect(r); cairo_clip(cr) }
  public func unclip() { cairo_restore(cr) }
  public func newPage() { cairo_show_page(cr) }
  public func save() { cairo_save(cr) }
  public func restore() { cairo_restore(cr) }
  /// Moves the origin to (x, y) and scales by `scale` (until `restore`).
  public func translate(_ x: Double, _ y: Double, scale: Double) {
    cairo_translate(cr, x, y); cairo_scale(cr, scale, scale)
  }
}

public enum FigureRenderer {
  /// Writes `figure` as `base.pdf` and `base.png` (150 dpi unless given).
  public static func write(_ figure: Figure, to base: String, dpi: Double = 150) throws {
    for f in [OutputFormat.pdf, .png] {
      let c = try Canvas(path: base + "." + f.rawValue, format: f, width: figure.width, height: figure.height, dpi: dpi)
      draw(figure, on: c, in: Rect(x: 0, y: 0, w: figure.width, h: figure.height))
      try c.finish()
    }
  }

  public static func draw(_ figure: Figure, on c: Canvas, in r: Rect) {
    var top = r.y + 6
    if !figure.title.isEmpty {
      c.font(size: 11, bold: true); c.setColor((0, 0, 0))
      c.text(figure.title, x: r.x + r.w / 2, y: top, anchor: (0.5, 0))
      top += c.measure(figure.title).height + 4
    }
    let cols = max(1, min(figure.columns, figure.panels.count))
    let rows = (figure.panels.count + cols - 1) / cols
    let pw = r.w / Double(cols), ph = (r.y + r.h - top) / Double(max(rows, 1))
    for (i, p) in figure.panels.enumerated() {
      let cell = Rect(x: r.x + Double(i % cols) * pw, y: top + Double(i / cols) * ph, w: pw, h: ph)
      Panel(chart: p, canvas: c).draw(in: Rect(x: cell.x + 4, y: cell.y + 2, w: cell.w - 8, h: cell.h - 4))
    }
  }
}

struct Panel {
  let chart: Chart
  let canvas: Canvas
  var c: Canvas { canvas }
  static let markers = ["circle", "square", "triangle", "diamond"]

  func colour(_ s: Series, _ i: Int) -> (Double, Double, Double) {
    Palette.okabeIto[(s.colour ?? i) % Palette.okabeIto.count]
  }

  func draw(in r: Rect) {
    var area = r
    if !chart.title.isEmpty {
      c.font(size: 9.5, bold: true); c.setColor((0, 0, 0))
      c.text(chart.title, x: r.x + r.w / 2, y: r.y, anchor: (0.5, 0))
      let h = c.measure(chart.title).height + 4
      area.y += h; area.h -= h
    }
    switch chart.kind {
    case .table: drawTable(in: area)
    case .heatmap: drawHeatmap(in: area)
    default: drawXY(in: area)
    }
  }

  // MARK: - Axes charts

  /// Marker shape of series k: cycles so that (colour, marker) pairs stay distinct past 8 series.
  func marker(_ k: Int, _ x: Double, _ y: Double, _ s: Double) {
    switch Self.markers[(k + k / Palette.okabeIto.count) % Self.markers.count] {
    case "square": c.rect(Rect(x: x - s, y: y - s, w: 2 * s, h: 2 * s))
    case "triangle":
      c.move(x, y - s * 1.2); c.line(x + s * 1.1, y + s * 0.8); c.line(x - s * 1.1, y + s * 0.8); cairo_close_path(c.cr)
    case "diamond":
      c.move(x, y - s * 1.3); c.line(x + s * 1.1, y); c.line(x, y + s * 1.3); c.line(x - s * 1.1, y);
      cairo_close_path(c.cr)
    default: c.circle(x, y, s)
    }
  }

  func drawLines(px: (Double) -> Double, py: (Double) -> Double) {
    for (i, s) in chart.series.enumerated() {
      let col = colour(s, i)
      let idx = s.x.indices.filter { s.x[$0].isFinite && s.y[$0].isFinite && (!chart.logX || s.x[$0] > 0) }
      if let lo = s.low, let hi = s.high, !idx.isEmpty {
        c.setColor(col, alpha: 0.2)
        c.move(px(s.x[idx[0]]), py(hi[idx[0]]))
        for j in idx { c.line(px(s.x[j]), py(hi[j])) }
        for j in idx.reversed() { c.line(px(s.x[j]), py(lo[j])) }
        c.fill()
      }
      c.setColor(col); c.dash(s.dashed ?? false)
      for (n, j) in idx.enumerated() {
        if n == 0 { c.move(px(s.x[j]), py(s.y[j])) } else { c.line(px(s.x[j]), py(s.y[j])) }
      }
      c.stroke(width: 1.4); c.dash(false)
      for j in idx { marker(i, px(s.x[j]), py(s.y[j]), 2.4) }
      c.fill()
    }
  }

  func drawScatter(px: (Double) -> Double, py: (Double) -> Double, plot: Rect) {
    let allSizes = chart.series.flatMap { $0.sizes ?? [] }.filter(\.isFinite)
    let smax = allSizes.max() ?? 1
    var placed: [Rect] = []
    var points: [Rect] = []
    var radius: [Int: Double] = [:]
    for (i, s) in chart.series.enumerated() {
      let col = colour(s, i)
      let order = s.y.indices.sorted { (s.sizes?[$0] ?? 0) > (s.sizes?[$1] ?? 0) }
      for j in order where s.x[j].isFinite && s.y[j].isFinite {
        let rad = s.sizes.map { 3 + 13 * (max($0[j], 0) / smax).squareRoot() } ?? 3.2
        c.setColor(col, alpha: s.sizes == nil ? 1 : 0.55)
        if s.sizes == nil { marker(i, px(s.x[j]), py(s.y[j]), rad) } else { c.circle(px(s.x[j]), py(s.y[j]), rad) }
        c.fill()
        points.append(Rect(x: px(s.x[j]) - rad, y: py(s.y[j]) - rad, w: 2 * rad, h: 2 * rad))
        radius[i * 100_000 + j] = rad
      }
    }
    c.font(size: 7.5); c.setColor((0.1, 0.1, 0.1))
    for (si, s) in chart.series.enumerated() {
      guard let labels = s.labels else { continue }
      for j in s.y.indices where j < labels.count && s.x[j].isFinite && s.y[j].isFinite {
        let (w, h) = c.measure(labels[j]), x = px(s.x[j]), y = py(s.y[j])
        let o = (radius[si * 100_000 + j] ?? 3) + 2
        let options = [
          Rect(x: x + o, y: y - h / 2, w: w, h: h), Rect(x: x - o - w, y: y - h / 2, w: w, h: h),
          Rect(x: x - w / 2, y: y - o - h, w: w, h: h), Rect(x: x - w / 2, y: y + o, w: w, h: h),
          Rect(x: x + o * 0.7, y: y - h - o * 0.7, w: w, h: h), Rect(x: x - o * 0.7 - w, y: y + o * 0.7, w: w, h: h),
          Rect(x: x + o * 0.7, y: y + o * 0.7, w: w, h: h), Rect(x: x - o * 0.7 - w, y: y - h - o * 0.7, w: w, h: h),
          Rect(x: x - w / 2, y: y - o - 2 * h - 2, w: w, h: h), Rect(x: x - w / 2, y: y + o + h + 2, w: w, h: h),
        ]
        let inside = options.filter {
          $0.x >= plot.x && $0.x + $0.w <= plot.x + plot.w && $0.y >= plot.y && $0.y + $0.h <= plot.y + plot.h
        }
        let best = (inside.isEmpty ? options : inside).min { a, b in
          let ca = placed.filter(a.intersects).count * 10 + points.filter(a.intersects).count * 3
          let cb = placed.filter(b.intersects).count * 10 + points.filter(b.intersects).count * 3
          return ca < cb
        }!
        placed.append(best)
        c.text(labels[j], x: best.x, y: best.y)
      }
    }
  }

  func drawBars(plot: Rect, py: (Double) -> Double, y0: Double) {
    let n = max(chart.series.count, 1), cats = chart.categories.count
    let slot = plot.w / Double(max(cats, 1)), bw = slot * 0.8 / Double(n)
    for (i, s) in chart.series.enumerated() {
      for j in 0..<min(cats, s.y.count) where s.y[j].isFinite {
        let x = plot.x + slot * Double(j) + slot * 0.1 + bw * Double(i)
        c.setColor(colour(s, i))
        c.rect(Rect(x: x, y: min(py(s.y[j]), py(y0)), w: bw * 0.92, h: abs(py(y0) - py(s.y[j]))))
        c.fill()
        if let e = s.err, j < e.count, e[j] > 0 {
          let cx = x + bw * 0.46
          c.setColor((0.15, 0.15, 0.15))
          c.move(cx, py(s.y[j] - e[j])); c.line(cx, py(s.y[j] + e[j]))
          c.move(cx - bw * 0.2, py(s.y[j] - e[j])); c.line(cx + bw * 0.2, py(s.y[j] - e[j]))
          c.move(cx - bw * 0.2, py(s.y[j] + e[j])); c.line(cx + bw * 0.2, py(s.y[j] + e[j]))
          c.stroke(width: 0.8)
        }
      }
    }
  }

  func drawLegend(_ items: [(Int, Series)], in r: Rect, columns: Int, colW: Double) {
    c.setColor((1, 1, 1), alpha: 0.9); c.rect(r); c.fill()
    c.setColor((0.7, 0.7, 0.7)); c.rect(r); c.stroke(width: 0.5)
    c.font(size: 8)
    let th = c.measure("0").height
    let rowsPerCol = (items.count + max(columns, 1) - 1) / max(columns, 1)
    for (k, (i, s)) in items.enumerated() {
      let col = k / rowsPerCol, row = k % rowsPerCol
      let r = Rect(x: r.x + Double(col) * colW, y: r.y, w: colW, h: r.h)
      let y = r.y + 3 + Double(row) * (th + 2) + th / 2
      c.setColor(colour(s, i))
      switch chart.kind {
      case .bars: c.rect(Rect(x: r.x + 5, y: y - 3.5, w: 12, h: 7)); c.fill()
      case .scatter: if s.sizes == nil { marker(i, r.x + 11, y, 2.8) } else { c.circle(r.x + 11, y, 3.5) }; c.fill()
      default:
        c.dash(s.dashed ?? false); c.move(r.x + 4, y); c.line(r.x + 18, y); c.stroke(width: 1.4); c.dash(false)
        marker(i, r.x + 11, y, 2.2); c.fill()
      }
      c.setColor((0.1, 0.1, 0.1))
      c.text(s.name, x: r.x + 22, y: y, anchor: (0, 0.5))
    }
  }

  // MARK: - Heatmap

  func drawHeatmap(in r: Rect) {
    guard let m = chart.matrix, !m.isEmpty else { return }
    let rows = m.count, cols = m[0].count
    let vals = m.flatMap { $0 }.filter(\.isFinite)
    let lo = chart.yMin ?? (vals.min() ?? 0), hi = chart.yMax ?? (vals.max() ?? 1)
    c.font(size: 8)
    let rlw = (chart.rowLabels.map { c.measure($0).width }.max() ?? 0) + 6
    let clh = c.measure("0").height + 4
    let barW = 10.0,
      barLabelW = (Ticks.labels(Ticks.linear(lo, hi, count: 4)).map { c.measure($0).width }.max() ?? 0) + 4
    let availW = r.w - rlw - barW - barLabelW - 16, availH = r.h - clh - 4 - (chart.colourLabel.isEmpty ? 0 : 12)
    let cell = min(availW / Double(cols), availH / Double(rows))
    let gx = r.x + rlw, gy = r.y + clh
    for i in 0..<rows {
      for j in 0..<cols {
        let v = m[i][j], t = hi > lo ? (v - lo) / (hi - lo) : 0.5
        let rc = Rect(x: gx + Double(j) * cell, y: gy + Double(i) * cell, w: cell, h: cell)
        c.setColor(v.isFinite ? Viridis.colour(t) : (0.85, 0.85, 0.85)); c.rect(rc); c.fill()
        if cell > 18 && v.isFinite {
          c.setColor(t > 0.6 ? (0, 0, 0) : (1, 1, 1))
          c.font(size: min(8, cell / 3.2))
          c.text(String(format: chart.cellFormat, v), x: rc.x + cell / 2, y: rc.y + cell / 2, anchor: (0.5, 0.5))
        }
      }
    }
    c.font(size: 8); c.setColor((0.1, 0.1, 0.1))
    for (i, l) in chart.rowLabels.prefix(rows).enumerated() {
      c.text(l, x: gx - 4, y: gy + (Double(i) + 0.5) * cell, anchor: (1, 0.5))
    }
    for (j, l) in chart.columnLabels.prefix(cols).enumerated() {
      let w = c.measure(l).width
      if w > cell { c.font(size: 8 * cell / w) }
      c.text(l, x: gx + (Double(j) + 0.5) * cell, y: gy - 3, anchor: (0.5, 1))
      c.font(size: 8)
    }
    // colour bar
    let bx = gx + Double(cols) * cell + 10, bh = Double(rows) * cell
    for k in 0..<64 {
      c.setColor(Viridis.colour(1 - Double(k) / 63));
      c.rect(Rect(x: bx, y: gy + bh * Double(k) / 64, w: barW, h: bh / 64 + 0.5)); c.fill()
    }
    c.setColor((0.1, 0.1, 0.1))
    let bt = Ticks.linear(lo, hi, count: 4).filter { $0 >= lo - 1e-12 && $0 <= hi + 1e-12 }
    for (t, l) in zip(bt, Ticks.labels(bt)) {
      let y = gy + bh * (1 - (hi > lo ? (t - lo) / (hi - lo) : 0.5))
      c.move(bx + barW, y); c.line(bx + barW + 2, y); c.stroke(width: 0.6)
      c.text(l, x: bx + barW + 3, y: y, anchor: (0, 0.5))
    }
    if !chart.colourLabel.isEmpty {
      c.font(size: 7.5); c.text(chart.colourLabel, x: bx + barW / 2, y: gy + bh + 3, anchor: (0.5, 0))
    }
  }

  // MARK: - Table

  func drawTable(in r: Rect) {
    guard let t = chart.table else { return }
    var size = 8.0
    func natural() -> [Double] {
      c.font(size: size, bold: true)
      var w = t.header.map { c.measure($0).width + 8 }
      c.font(size: size)
      for row in t.rows {
        for (j, s) in row.enumerated() where j < w.count { w[j] = max(w[j], c.measure(s).width + 8) }
      }
      return w
    }
    /// Column widths that fit `r.w`: the widest columns are capped at one width (water-filling), and
    /// their cells wrap at spaces.
    func fitted(_ w: [Double]) -> [Double] {
      guard w.reduce(0, +) > r.w else { return w }
      var lo = 0.0, hi = w.max() ?? 0
      for _ in 0..<40 {
        let mid = (lo + hi) / 2
        if w.map({ min($0, mid) }).reduce(0, +) > r.w { hi = mid } else { lo = mid }
      }
      return w.map { min($0, lo) }
    }
    /// `s` broken at spaces into lines no wider than `width` (a word wider than that stays whole).
    func wrap(_ s: String, _ width: Double) -> [String] {
      guard c.measure(s).width > width else { return [s] }
      var lines: [String] = [], cur = ""
      for word in s.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
        let next = cur.isEmpty ? word : cur + " " + word
        if c.measure(next).width > width && !cur.isEmpty { lines.append(cur); cur = word } else { cur = next }
      }
      if !cur.isEmpty { lines.append(cur) }
      return lines
    }
    var w: [Double] = [], nw: [Double] = [], cells: [[[String]]] = [], lineH = 0.0
    func layout() -> Double {
      nw = natural()
      w = fitted(nw)
      c.font(size: size)
      lineH = c.measure("0").height + 1
      cells = t.rows.map { row in row.enumerated().map { j, s in j < w.count ? wrap(s, w[j] - 8) : [s] } }
      return lineH + 3 + cells.reduce(0) { $0 + Double($1.map(\.count).max() ?? 1) * lineH + 3 }
    }
    // shrink the font until the wrapped table fits the panel's height and no capped column is too narrow
    func cramped() -> Bool { zip(w, nw).contains { $0 < $1 && $0 < 60 } }
    while (layout() > r.h || cramped()) && size > 4 { size -= 0.5 }
    let total = w.reduce(0, +)
    let x0 = r.x + max(0, (r.w - total) / 2)
    var y = r.y
    c.setColor((0, 0, 0))
    c.move(x0, y); c.line(x0 + total, y); c.stroke(width: 0.9)
    c.font(size: size, bold: true)
    var x = x0
    for (j, s) in t.header.enumerated() where j < w.count { c.text(s, x: x + 4, y: y + 2); x += w[j] }
    y += lineH + 3
    c.move(x0, y); c.line(x0 + total, y); c.stroke(width: 0.6)
    for (i, row) in cells.enumerated() {
      x = x0
      let rowH = Double(row.map(\.count).max() ?? 1) * lineH + 3
      for (j, lines) in row.enumerated() where j < w.count {
        let mark = t.marks.flatMap { i < $0.count && j < $0[i].count ? $0[i][j] : nil } ?? 0
        c.font(size: size, bold: mark == 1)
        c.setColor((0, 0, 0))
        for (k, line) in lines.enumerated() {
          c.text(line, x: x + 4, y: y + 2 + Double(k) * lineH)
          if mark == 2 {
            let tw = c.measure(line).width, ly = y + 2 + Double(k + 1) * lineH - 1
            c.move(x + 4, ly); c.line(x + 4 + tw, ly); c.stroke(width: 0.6)
          }
        }
        x += w[j]
      }
      y += rowH
    }
    c.move(x0, y); c.line(x0 + total, y); c.stroke(width: 0.9)
  }
}

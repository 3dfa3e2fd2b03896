//===--- XYPanel.swift - a chart with axes: lines, scatter, bars -----------===//
//
// `drawXY` in steps: the two axes' ranges and ticks (`yAxis`, `xAxis`), the plot area with its
// legend (`placeLegend`: a free corner, else columns below), the frame (grid, ticks, labels), then
// the data, the reference line and the legend. Units: points; the y axis of `logY` runs in log10.
//===----------------------------------------------------------------------===//
import Foundation

/// One axis: its ticks and labels, and the range [lo, hi] it spans (log10 units on a log axis).
struct AxisRange {
  var ticks: [Double]
  var labels: [String]
  var lo: Double, hi: Double
}

/// Where the data go: the plot rectangle and the maps from data to points.
struct XYFrame {
  var plot: Rect
  let x: AxisRange, y: AxisRange
  let logX: Bool, logY: Bool, bars: Bool

  func px(_ v: Double) -> Double {
    let u = logX && !bars ? log10(v) : v
    return plot.x + (u - x.lo) / (x.hi - x.lo) * plot.w
  }
  func py(_ v: Double) -> Double {
    let u = logY ? log10(max(v, 1e-300)) : v
    return plot.y + plot.h - (u - y.lo) / (y.hi - y.lo) * plot.h
  }
  /// A category slot's x (bar charts) or a data x.
  func bx(_ v: Double) -> Double { bars ? plot.x + (v - x.lo) / (x.hi - x.lo) * plot.w : px(v) }
}

extension Panel {
  func drawXY(in r: Rect) {
    let bars = chart.kind == .bars, logY = chart.logY && !bars
    let ya = yAxis(logY: logY), xa = xAxis(bars: bars)
    c.font(size: 8)
    let th = c.measure("0").height
    let ylw = ya.labels.map { c.measure($0).width }.max() ?? 0
    let maxXL = xa.labels.map { c.measure($0).width }.max() ?? 0
    let named = chart.series.enumerated().filter { !$0.element.name.isEmpty }
    let colW = (named.map { c.measure($0.element.name).width }.max() ?? 0) + 26
    let perCol = Double(th + 2)
    func belowHeight(_ plotW: Double) -> (height: Double, columns: Int) {
      let cols = max(1, min(named.count, Int((plotW) / colW)))
      return (Double((named.count + cols - 1) / cols) * perCol + 6, cols)
    }
    func layout(legendBelow: Bool) -> (plot: Rect, rotate: Bool) {
      let left = r.x + th + 6 + ylw + 6
      var plot = Rect(x: left, y: r.y + 2, w: r.x + r.w - left - 6, h: 0)
      let slot = plot.w / Double(max(xa.labels.count, 1))
      let rotate = bars && maxXL > slot * 0.95
      let xlh = rotate ? maxXL * 0.6 + th : th
      let below = legendBelow ? belowHeight(plot.w).height + 4 : 0
      plot.h = r.y + r.h - plot.y - (xlh + 6 + th + 6) - below
      return (plot, rotate)
    }
    var (plot, rotate) = layout(legendBelow: false)
    var frame = XYFrame(plot: plot, x: xa, y: ya, logX: chart.logX, logY: logY, bars: bars)
    var legendRect: Rect? = nil
    if !named.isEmpty {
      let size = (w: colW, h: Double(named.count) * perCol + 6)
      if let corner = freeCorner(frame, legend: size, entries: named.count) {
        legendRect = corner
      } else {
        (plot, rotate) = layout(legendBelow: true)
        frame.plot = plot
        let (h, cols) = belowHeight(plot.w)
        let w = Double(cols) * colW
        legendRect = Rect(x: plot.x + (plot.w - w) / 2, y: r.y + r.h - h - 2, w: w, h: h)
      }
    }
    drawFrame(frame, in: r, rotate: rotate, labelHeight: rotate ? maxXL * 0.6 + th : th)
    drawData(frame, y0: max(ya.lo, 0))
    if let lr = legendRect {
      drawLegend(
        named.map { ($0.offset, $0.element) }, in: lr, columns: Int((lr.w / colW).rounded()), colW: colW)
    }
  }

  /// The y axis: every value, error bar and band of the series (and the reference line; 0 for bars).
  func yAxis(logY: Bool) -> AxisRange {
    var ys: [Double] = []
    for s in chart.series {
      ys += s.y
      ys += s.low ?? []
      ys += s.high ?? []
      for (y, e) in zip(s.y, s.err ?? []) { ys.append(y - e); ys.append(y + e) }
    }
    if let ref = chart.referenceY { ys.append(ref) }
    if chart.kind == .bars { ys.append(0) }
    ys = ys.filter { $0.isFinite && (!chart.logY || $0 > 0) }
    if logY {  // the axis runs in log10 units; ticks at powers of ten
      let lo = chart.yMin ?? (ys.min() ?? 1), hi = chart.yMax ?? (ys.max() ?? 10)
      let ticks = Ticks.log(lo, hi).filter {
        $0 >= lo / 1.0001 && $0 <= hi * 1.0001 && Double(Int(log10($0).rounded())) == log10($0).rounded()
          && abs(log10($0) - log10($0).rounded()) < 1e-9
      }
      return AxisRange(
        ticks: ticks, labels: Ticks.logLabels(ticks), lo: floor(log10(lo) * 4) / 4, hi: ceil(log10(hi) * 4) / 4)
    }
    let t = Ticks.linear(chart.yMin ?? (ys.min() ?? 0), chart.yMax ?? (ys.max() ?? 1))
    let y0 = chart.yMin ?? t.first!, y1 = chart.yMax ?? t.last!
    let ticks = t.filter { $0 >= y0 - 1e-12 && $0 <= y1 + 1e-12 }
    return AxisRange(ticks: ticks, labels: Ticks.labels(ticks), lo: y0, hi: y1)
  }

  /// The x axis: category slots (bars), powers of ten (logX) or nice linear ticks (scatter padded 4 %).
  func xAxis(bars: Bool) -> AxisRange {
    let xs = chart.series.flatMap(\.x).filter { $0.isFinite && (!chart.logX || $0 > 0) }
    if bars {
      return AxisRange(
        ticks: chart.categories.indices.map(Double.init), labels: chart.categories, lo: -0.5,
        hi: Double(chart.categories.count) - 0.5)
    }
    if chart.logX {
      let lo = xs.min() ?? 1, hi = xs.max() ?? 10
      let ticks = Ticks.log(lo, hi).filter { $0 >= lo / 1.0001 && $0 <= hi * 1.0001 }
      let pad = 0.05 * (log10(hi) - log10(lo) + 1e-9)
      return AxisRange(ticks: ticks, labels: Ticks.logLabels(ticks), lo: log10(lo) - pad, hi: log10(hi) + pad)
    }
    let ticks = Ticks.linear(xs.min() ?? 0, xs.max() ?? 1)
    var x0 = ticks.first!, x1 = ticks.last!
    if chart.kind == .scatter { let pad = (x1 - x0) * 0.04; x0 -= pad; x1 += pad }
    return AxisRange(ticks: ticks, labels: Ticks.labels(ticks), lo: x0, hi: x1)
  }

  /// The corner of the plot whose legend box covers no data (nor the reference line), or nil: then the
  /// legend goes below (also with more than six entries, labelled points, or a box too big for a corner).
  func freeCorner(_ f: XYFrame, legend: (w: Double, h: Double), entries: Int) -> Rect? {
    let plot = f.plot, bars = f.bars
    var pts: [(Double, Double)] = []
    for s in chart.series {
      for (i, y) in s.y.enumerated() { pts.append((bars ? Double(i) : (i < s.x.count ? s.x[i] : 0), y)) }
    }
    if bars {  // a bar covers everything from 0 to its top, across its category slot
      for s in chart.series {
        for (i, y) in s.y.enumerated() where y.isFinite {
          for k in stride(from: 0.0, through: 1.0, by: 0.25) {
            for dx in [-0.4, 0, 0.4] { pts.append((Double(i) + dx, y * k)) }
          }
        }
      }
    }
    if let ref = chart.referenceY, !bars {  // keep the reference line and its label visible
      for k in 0...20 {
        let v = f.x.lo + (f.x.hi - f.x.lo) * Double(k) / 20
        pts.append((chart.logX ? pow(10, v) : v, ref))
      }
    }
    let labelled = chart.kind == .scatter && chart.series.contains { $0.labels != nil }
    let (legW, legH) = legend
    let corners = [
      Rect(x: plot.x + plot.w - legW - 4, y: plot.y + 4, w: legW, h: legH),
      Rect(x: plot.x + 4, y: plot.y + 4, w: legW, h: legH),
      Rect(x: plot.x + plot.w - legW - 4, y: plot.y + plot.h - legH - 4, w: legW, h: legH),
      Rect(x: plot.x + 4, y: plot.y + plot.h - legH - 4, w: legW, h: legH),
    ]
    let scored = corners.map { box -> (Rect, Int) in
      let grown = Rect(x: box.x - 6, y: box.y - 6, w: box.w + 12, h: box.h + 12)  // keep a gap to the data
      return (box, pts.filter { grown.contains(f.bx($0.0), f.py($0.1)) }.count)
    }.min { $0.1 < $1.1 }!
    let fits = legW < plot.w * 0.6 && legH < plot.h * 0.7
    return !labelled && entries <= 6 && scored.1 == 0 && fits ? scored.0 : nil
  }

  /// Grid, axes, ticks and their labels, the axis titles.
  func drawFrame(_ f: XYFrame, in r: Rect, rotate: Bool, labelHeight xlh: Double) {
    let plot = f.plot
    c.setColor((0.88, 0.88, 0.88))
    for t in f.y.ticks { c.move(plot.x, f.py(t)); c.line(plot.x + plot.w, f.py(t)) }
    c.stroke(width: 0.5)
    c.setColor((0.2, 0.2, 0.2))
    c.move(plot.x, plot.y); c.line(plot.x, plot.y + plot.h); c.line(plot.x + plot.w, plot.y + plot.h);
    c.stroke(width: 0.8)
    c.font(size: 8)
    for (t, l) in zip(f.y.ticks, f.y.labels) {
      c.move(plot.x - 3, f.py(t)); c.line(plot.x, f.py(t)); c.stroke(width: 0.6)
      c.text(l, x: plot.x - 5, y: f.py(t), anchor: (1, 0.5))
    }
    for (t, l) in zip(f.x.ticks, f.x.labels) {
      let x = f.bx(t)
      c.move(x, plot.y + plot.h); c.line(x, plot.y + plot.h + 3); c.stroke(width: 0.6)
      c.text(l, x: x, y: plot.y + plot.h + 5, anchor: rotate ? (1, 0) : (0.5, 0), rotate: rotate ? -0.6 : 0)
    }
    c.font(size: 8.5)
    if !chart.xLabel.isEmpty {
      c.text(chart.xLabel, x: plot.x + plot.w / 2, y: plot.y + plot.h + 8 + xlh, anchor: (0.5, 0))
    }
    if !chart.yLabel.isEmpty {
      c.text(chart.yLabel, x: r.x + 1, y: plot.y + plot.h / 2, anchor: (0.5, 0), rotate: -Double.pi / 2)
    }
  }

  /// The series (clipped to the plot, with a margin), the dashed reference line and its label.
  func drawData(_ f: XYFrame, y0: Double) {
    let plot = f.plot
    c.clip(Rect(x: plot.x - 6, y: plot.y - 6, w: plot.w + 12, h: plot.h + 12))
    if let ref = chart.referenceY {
      c.setColor((0.35, 0.35, 0.35)); c.dash(true)
      c.move(plot.x, f.py(ref)); c.line(plot.x + plot.w, f.py(ref)); c.stroke(width: 0.8); c.dash(false)
    }
    switch chart.kind {
    case .line: drawLines(px: f.px, py: f.py)
    case .scatter: drawScatter(px: f.px, py: f.py, plot: plot)
    case .bars: drawBars(plot: plot, py: f.py, y0: y0)
    default: break
    }
    c.unclip()
    if let ref = chart.referenceY, let l = chart.referenceLabel {  // below the line near the top, else above
      c.font(size: 7.5)
      let y = f.py(ref), (w, h) = c.measure(l), x = plot.x + plot.w - 4
      let top = y - h - 1 < plot.y ? y + 2 : y - h - 1
      c.setColor((1, 1, 1), alpha: 0.85)  // a light box, so bars behind the label do not hide it
      c.rect(Rect(x: x - w - 2, y: top - 1, w: w + 4, h: h + 2)); c.fill()
      c.setColor((0.3, 0.3, 0.3))
      c.text(l, x: x, y: top, anchor: (1, 0))
    }
  }
}

//===--- GraphDrawing.swift - a layered drawing of a DAG -------------------===//
//
// Layers by longest path from the roots (left to right); within a layer,
// nodes ordered by the mean position of their parents (one barycentre sweep);
// edges as cubic curves. Box widths come from measured text.
//===----------------------------------------------------------------------===//
import Foundation

public struct GraphNode: Sendable {
  public var name: String
  public var label: String
  public var needs: [String]
  /// Index into the Okabe–Ito palette (e.g. by kind or state).
  public var colour: Int
  public init(name: String, label: String, needs: [String], colour: Int) {
    self.name = name
    self.label = label
    self.needs = needs
    self.colour = colour
  }
}

public enum GraphDrawing {
  public static func draw(_ nodes: [GraphNode], title: String, to path: String, format: OutputFormat) throws {
    let index = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1.name, $0) })
    var layer = [Int](repeating: 0, count: nodes.count)
    var changed = true
    while changed {  // longest path (the graph is acyclic)
      changed = false
      for (i, n) in nodes.enumerated() {
        for p in n.needs { if let j = index[p], layer[i] < layer[j] + 1 { layer[i] = layer[j] + 1; changed = true } }
      }
    }
    let layers = (layer.max() ?? 0) + 1
    var columns: [[Int]] = Array(repeating: [], count: layers)
    for i in nodes.indices { columns[layer[i]].append(i) }
    var row = [Double](repeating: 0, count: nodes.count)
    for (c, col) in columns.enumerated() {
      let sorted =
        c == 0
        ? col
        : col.sorted { a, b in
          func bary(_ i: Int) -> Double {
            let ps = nodes[i].needs.compactMap { index[$0] }
            return ps.isEmpty ? 0 : ps.map { row[$0] }.reduce(0, +) / Double(ps.count)
          }
          return bary(a) < bary(b)
        }
      columns[c] = sorted
      for (r, i) in sorted.enumerated() { row[i] = Double(r) }
    }
    // measure
    let probe = try Canvas(path: "/dev/null", format: .png, width: 10, height: 10, dpi: 72)
    probe.font(size: 9)
    let boxW = (nodes.map { probe.measure($0.label).width }.max() ?? 40) + 16
    try? probe.finish()
    let boxH = 20.0, gapX = 50.0, gapY = 8.0, margin = 20.0, titleH = 24.0
    let maxRows = columns.map(\.count).max() ?? 1
    let width = margin * 2 + Double(layers) * boxW + Double(layers - 1) * gapX
    let height = margin * 2 + titleH + Double(maxRows) * (boxH + gapY)
    let cv = try Canvas(path: path, format: format, width: width, height: height)
    func pos(_ i: Int) -> (Double, Double) {
      let col = columns[layer[i]]
      let offset = (Double(maxRows) - Double(col.count)) * (boxH + gapY) / 2
      return (margin + Double(layer[i]) * (boxW + gapX), margin + titleH + offset + row[i] * (boxH + gapY))
    }
    cv.setColor((0, 0, 0))
    cv.font(size: 12, bold: true)
    cv.text(title, centeredAt: width / 2, margin + 6)
    cv.setColor((0.45, 0.45, 0.45))
    for (i, n) in nodes.enumerated() {
      let (x2, y2) = pos(i)
      for p in n.needs {
        guard let j = index[p] else { continue }
        let (x1, y1) = pos(j)
        let sx = x1 + boxW, sy = y1 + boxH / 2, ex = x2, ey = y2 + boxH / 2
        cv.move(sx, sy)
        cv.curve(sx + gapX / 2, sy, ex - gapX / 2, ey, ex, ey)
        cv.stroke(width: 0.6)
      }
    }
    cv.font(size: 9)
    for (i, n) in nodes.enumerated() {
      let (x, y) = pos(i)
      cv.roundedRect(x: x, y: y, w: boxW, h: boxH, r: 4)
      cv.setColor(Palette.okabeIto[n.colour % Palette.okabeIto.count], alpha: 0.35)
      cv.fillPreserve()
      cv.setColor((0.2, 0.2, 0.2))
      cv.stroke(width: 0.8)
      cv.setColor((0, 0, 0))
      cv.text(n.label, centeredAt: x + boxW / 2, y + boxH / 2)
    }
    try cv.finish()
  }
}

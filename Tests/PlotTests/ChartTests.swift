//===--- ChartTests.swift - every chart kind renders; nice ticks -------------===//
import Foundation
import Plot
import XCTest

/// Fixed data for each chart kind (also used to look at the output by eye).
enum SampleFigures {
  static func all() -> [Figure] {
    let k = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 50, 100]
    var line = Chart(kind: .line, title: "Sparsity: W_ori ← ft@k%")
    line.xLabel = "k (% of backbone weights)"; line.yLabel = "test F1 / full FT"; line.logX = true
    line.series = [
      Series(
        name: "chaoyang", x: k, y: k.map { min(1, 0.3 + 0.2 * log10($0 + 1)) },
        low: k.map { min(1, 0.25 + 0.2 * log10($0 + 1)) },
        high: k.map { min(1, 0.35 + 0.2 * log10($0 + 1)) }),
      Series(name: "busi", x: k, y: k.map { min(1, 0.5 + 0.15 * log10($0 + 1)) }),
      Series(name: "linear probe", x: k, y: k.map { _ in 0.4 }, dashed: true),
    ]
    line.referenceY = 1; line.referenceLabel = "full fine-tuning"
    var scatter = Chart(kind: .scatter, title: "AUC against trainable ratio")
    scatter.xLabel = "trainable parameters (%)"; scatter.yLabel = "average AUC (%)"; scatter.logX = true
    scatter.series = [
      Series(
        name: "", x: [100, 0.04, 1.0, 2.6, 9.8, 2.0, 2.4], y: [80.7, 60.8, 74.1, 74.9, 74.1, 72.8, 70.5],
        sizes: [34, 26, 28, 27, 29, 7, 12], labels: ["full", "linear", "SH-PEFT", "LoRA", "Adapter", "FPT+", "FPT"])
    ]
    var bars = Chart(kind: .bars, title: "Prompts per layer (Table 4)")
    bars.categories = ["4", "8", "16", "32"]; bars.yLabel = "test AUC (%)"; bars.xLabel = "prompts"
    bars.series = [
      Series(name: "AUC", y: [82.4, 85.3, 89.1, 92.2], err: [1.2, 0.8, 1.5, 0.6]),
      Series(name: "F1", y: [35.1, 39.3, 43.0, 67.8], err: [2, 1, 3, 2]),
    ]
    var heat = Chart(kind: .heatmap, title: "Overlap of top-1 % positions")
    heat.matrix = [[1, 0.02, 0.03], [0.02, 1, 0.05], [0.03, 0.05, 1]]
    heat.rowLabels = ["chaoyang", "busi", "covid19-ct"]; heat.columnLabels = heat.rowLabels;
    heat.colourLabel = "overlap"
    var table = Chart(kind: .table, title: "Table 1")
    table.table = TableSpec(
      header: ["method", "F1", "AUC", "ratio %"],
      rows: [
        ["full", "46.9", "80.7", "100"], ["LoRA", "42.7", "74.9", "2.64"], ["SH-PEFT", "40.6", "74.1", "1.04"],
      ],
      marks: [[0, 1, 1, 0], [0, 2, 2, 0], [0, 0, 0, 1]])
    return [
      Figure(name: "line", title: "", caption: "", panels: [line]),
      Figure(name: "scatter", title: "", caption: "", panels: [scatter]),
      Figure(name: "bars", title: "", caption: "", panels: [bars]),
      Figure(name: "heatmap", title: "", caption: "", panels: [heat], width: 340, height: 280),
      Figure(name: "table", title: "", caption: "", panels: [table], height: 120),
      Figure(
        name: "panels", title: "Two panels", caption: "", panels: [line, heat], columns: 2, width: 700, height: 300),
    ]
  }
}

final class ChartTests: XCTestCase {
  func testNiceTicks() {
    XCTAssertEqual(Ticks.linear(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1.0].map { $0 })
    XCTAssertEqual(Ticks.linear(3, 97), [0, 20, 40, 60, 80, 100])
    XCTAssertEqual(Ticks.linear(-0.13, 0.42), [-0.2, 0, 0.2, 0.4, 0.6])
    let t = Ticks.linear(0.0012, 0.0087)
    XCTAssertEqual(t.first!, 0, accuracy: 1e-12); XCTAssertEqual(t.last!, 0.01, accuracy: 1e-12)
    XCTAssertGreaterThanOrEqual(Ticks.linear(5, 5).count, 3, "a constant gets a small span around it")
    XCTAssertEqual(Ticks.log(0.01, 100), [0.01, 0.1, 1, 10, 100])
    XCTAssertEqual(Ticks.labels([0, 0.5, 1]), ["0.0", "0.5", "1.0"])
    XCTAssertEqual(Ticks.labels([0, 20, 40]), ["0", "20", "40"])
    XCTAssertEqual(Ticks.labels([0.5, 1]), ["0.5", "1.0"])
    XCTAssertEqual(Ticks.logLabels([0.01, 0.1, 1, 10]), ["0.01", "0.1", "1", "10"])
  }

  func testEveryChartKindRendersPDFAndPNG() throws {
    let dir = NSTemporaryDirectory() + "peftlab-charts-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for f in SampleFigures.all() {
      try FigureRenderer.write(f, to: dir + "/" + f.name, dpi: 150)
      let pdf = try Data(contentsOf: URL(fileURLWithPath: dir + "/\(f.name).pdf"))
      XCTAssertEqual(String(decoding: pdf.prefix(5), as: UTF8.self), "%PDF-")
      let info = Process()
      info.executableURL = URL(fileURLWithPath: "/usr/bin/pdfinfo")
      info.arguments = [dir + "/\(f.name).pdf"]
      info.standardOutput = FileHandle.nullDevice
      if FileManager.default.fileExists(atPath: info.executableURL!.path) {
        try info.run(); info.waitUntilExit()
        XCTAssertEqual(info.terminationStatus, 0, "pdfinfo opens \(f.name).pdf")
      }
      let png = try PNGInfo.read(dir + "/\(f.name).png")
      XCTAssertEqual(png.width, Int((f.width * 150 / 72 - 1e-6).rounded(.up)))
      XCTAssertEqual(png.height, Int((f.height * 150 / 72 - 1e-6).rounded(.up)))
      XCTAssertGreaterThan(png.nonWhiteFraction, 0.01, "\(f.name).png is not blank")
    }
  }

  /// A PDF drawn twice, a second apart, has the same bytes (cairo writes no creation date).
  func testPDFBytesDoNotDependOnTheClock() throws {
    let dir = NSTemporaryDirectory() + "pdf-bytes-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    func draw(_ name: String) throws -> Data {
      let c = try Canvas(path: dir + "/" + name, format: .pdf, width: 100, height: 60)
      c.font(size: 10)
      c.text("peftlab", centeredAt: 50, 30)
      try c.finish()
      return try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
    }
    let a = try draw("a.pdf")
    Thread.sleep(forTimeInterval: 1.1)
    let b = try draw("b.pdf")
    XCTAssertEqual(a, b)
    XCTAssertFalse(String(decoding: a, as: UTF8.self).contains("/CreationDate"))
  }
}

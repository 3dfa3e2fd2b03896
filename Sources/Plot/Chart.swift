//===--- Chart.swift - chart and figure specifications (Codable) -----------===//
//
// A figure is data: one or more panels, each a chart kind with its series.
// Figure stages write it as figure.json beside figure.pdf / figure.png, and
// the report redraws the same spec as vector graphics on its pages.
//===----------------------------------------------------------------------===//
import Foundation

public struct Series: Codable, Sendable {
  public var name: String
  public var x: [Double]
  public var y: [Double]
  /// Shaded band (mean ± std): lower and upper edges.
  public var low: [Double]?
  public var high: [Double]?
  /// Error bars (bars: ± err).
  public var err: [Double]?
  /// Bubble sizes (scatter), in data units mapped to area.
  public var sizes: [Double]?
  /// Point labels (scatter).
  public var labels: [String]?
  public var dashed: Bool?
  public var colour: Int?

  public init(
    name: String, x: [Double] = [], y: [Double], low: [Double]? = nil, high: [Double]? = nil,
    err: [Double]? = nil, sizes: [Double]? = nil, labels: [String]? = nil, dashed: Bool? = nil, colour: Int? = nil
  ) {
    self.name = name; self.x = x; self.y = y; self.low = low; self.high = high; self.err = err
    self.sizes = sizes; self.labels = labels; self.dashed = dashed; self.colour = colour
  }
}

public struct TableSpec: Codable, Sendable {
  public var header: [String]
  public var rows: [[String]]
  /// Per cell: 1 = best (bold), 2 = second best (underlined), 0 = plain.
  public var marks: [[Int]]?
  public init(header: [String], rows: [[String]], marks: [[Int]]? = nil) {
    self.header = header; self.rows = rows; self.marks = marks
  }
}

public enum ChartKind: String, Codable, Sendable { case line, scatter, bars, heatmap, table }

public struct Chart: Codable, Sendable {
  public var kind: ChartKind
  public var title: String
  public var xLabel = ""
  public var yLabel = ""
  public var logX = false
  public var logY = false
  public var series: [Series] = []
  /// Bars: category names along x (series = bar groups).
  public var categories: [String] = []
  /// Heatmap: values, row/column labels, annotation format (e.g. "%.2f"), colour-bar label.
  public var matrix: [[Double]]?
  public var rowLabels: [String] = []
  public var columnLabels: [String] = []
  public var cellFormat = "%.2f"
  public var colourLabel = ""
  /// Horizontal reference line (e.g. chance level) and its label.
  public var referenceY: Double?
  public var referenceLabel: String?
  public var yMin: Double?
  public var yMax: Double?
  public var table: TableSpec?

  public init(kind: ChartKind, title: String) { self.kind = kind; self.title = title }
}

public struct Figure: Codable, Sendable {
  public var name: String
  public var title: String
  public var caption: String
  public var panels: [Chart]
  public var columns: Int
  /// Size in points.
  public var width: Double
  public var height: Double

  public init(
    name: String, title: String, caption: String, panels: [Chart], columns: Int = 1, width: Double = 460,
    height: Double = 300
  ) {
    self.name = name; self.title = title; self.caption = caption; self.panels = panels
    self.columns = columns; self.width = width; self.height = height
  }
}

extension JSONDecoder {
  /// Decodes figure.json (NaN and infinities are written as strings).
  public static var figures: JSONDecoder {
    let d = JSONDecoder()
    d.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return d
  }
}

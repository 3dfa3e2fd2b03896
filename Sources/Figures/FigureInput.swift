//===--- FigureInput.swift - what a figure builder reads and returns -------===//
//
// `FigureInput`: the needed stages' folders and JSON outputs; `BuiltFigure`: the chart spec and its
// table; `TableExport`: the table as Markdown, CSV and LaTeX. The `figure` stage kind (Stages) runs a
// builder and writes them.
//===----------------------------------------------------------------------===//
import Foundation
import Outputs
import Pipeline
import Plot
import Storage

extension JSONEncoder {
  /// Pretty, key-sorted JSON with non-finite numbers as strings (figure.json).
  public static var sorted: JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    e.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return e
  }
}

/// What a builder sees: the needed stages' folders and parameters.
/// The `figure` kind's parameters (declared by the kind in Stages).
public struct FigureParameters: Decodable {
  /// The builder's name (`Builders.all`).
  public var figure, title, caption: String
  /// Ablation figures: the varied setting and the base name of the main-run stages.
  public var vary, main: String
  /// The papers' published numbers (relative to the project).
  public var published: String
}

public struct FigureInput {
  let ctx: StageContext
  public let parameters: FigureParameters
  public init(ctx: StageContext) throws {
    self.ctx = ctx
    parameters = try ctx.decode(FigureParameters.self)
  }

  /// Needed stages with base name `base` (before '@'), sorted by name.
  func stages(_ base: String) -> [(name: String, dir: String)] {
    ctx.inputs.filter { $0.key.split(separator: "@").first.map(String.init) == base }.sorted { $0.key < $1.key }.map {
      ($0.key, $0.value)
    }
  }
  /// Every needed stage that has `file`.
  func with(_ file: String) -> [(name: String, dir: String)] {
    ctx.inputs.filter { FileManager.default.fileExists(atPath: $0.value + "/" + file) }.sorted { $0.key < $1.key }.map {
      ($0.key, $0.value)
    }
  }
  /// Every needed stage that has a `T` file (recorded by `T.writtenBy`'s kind, if it names one), read
  /// through `T`, by stage name.
  func all<T: JSONFile>(_ type: T.Type) throws -> [(name: String, dir: String, value: T)] {
    try ctx.inputs.sorted { $0.key < $1.key }.filter { T.exists(in: $0.value) }.map {
      ($0.key, $0.value, try T.read(in: $0.value))
    }
  }
  /// The first of `all(T)`, or an error naming the figure stage and what it needs.
  func first<T: JSONFile>(_ type: T.Type) throws -> (dir: String, value: T) {
    guard let s = try all(T.self).first else {
      throw PipelineError.stageFailed(
        stage: ctx.stage, message: "needs a stage with \(T.fileName)" + (T.writtenBy.map { " (\($0))" } ?? ""))
    }
    return (s.dir, s.value)
  }
  /// The one needed stage's `T` file, or an error naming the figure stage.
  func one<T: JSONFile>(_ type: T.Type) throws -> T {
    let s = try all(T.self)
    guard s.count == 1 else {
      throw PipelineError.stageFailed(
        stage: ctx.stage, message: "needs exactly one stage with \(T.fileName) (has \(s.count))")
    }
    return s[0].value
  }
}

public struct BuiltFigure {
  public var figure: Figure
  public var table: TableSpec?
}

/// A table as Markdown, CSV and LaTeX (the `figure` stage writes all three).
public enum TableExport {
  public static func markdown(_ t: TableSpec, title: String) -> String {
    var s = title.isEmpty ? "" : "# \(title)\n\n"
    s += "| " + t.header.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: t.header.count) + "\n"
    for (i, r) in t.rows.enumerated() {
      let cells = r.enumerated().map { j, c -> String in
        let m = t.marks.flatMap { i < $0.count && j < $0[i].count ? $0[i][j] : nil } ?? 0
        return m == 1 ? "**\(c)**" : m == 2 ? "<u>\(c)</u>" : c
      }
      s += "| " + cells.joined(separator: " | ") + " |\n"
    }
    return s
  }
  public static func csv(_ t: TableSpec) -> String {
    func q(_ s: String) -> String {
      s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
    return ([t.header] + t.rows).map { $0.map(q).joined(separator: ",") }.joined(separator: "\n") + "\n"
  }
  public static func latex(_ t: TableSpec, caption: String) -> String {
    func esc(_ s: String) -> String {
      var o = ""
      for ch in s {
        switch ch {
        case "%", "&", "_", "#", "$": o += "\\" + String(ch)
        case "±": o += "$\\pm$"
        case "←": o += "$\\leftarrow$"
        default: o.append(ch)
        }
      }
      return o
    }
    var s =
      "\\begin{table}\n\\centering\n\\caption{\(esc(caption))}\n\\begin{tabular}{l"
      + String(repeating: "r", count: max(t.header.count - 1, 0)) + "}\n\\hline\n"
    s += t.header.map(esc).joined(separator: " & ") + " \\\\\n\\hline\n"
    for (i, r) in t.rows.enumerated() {
      s +=
        r.enumerated().map { j, c -> String in
          let m = t.marks.flatMap { i < $0.count && j < $0[i].count ? $0[i][j] : nil } ?? 0
          return m == 1 ? "\\textbf{\(esc(c))}" : m == 2 ? "\\underline{\(esc(c))}" : esc(c)
        }.joined(separator: " & ") + " \\\\\n"
    }
    return s + "\\hline\n\\end{tabular}\n\\end{table}\n"
  }
}

//===--- FigureStage.swift - `figure`: one figure or table of the papers ----===//
//
// Reads the JSON outputs of its needed stages (sparsity, hybridity, the
// SH-PEFT summary, sweep summaries, peft runs, memory-scaling) and writes
//   figure.json   the chart spec (the report redraws it as vector graphics)
//   figure.pdf    vector PDF;  figure.png  150 dpi
//   table.md / table.csv / table.tex   for tables (and figures with a table view)
// `figure` names the builder (Builders.swift); `caption` is what the report prints.
//===----------------------------------------------------------------------===//
import Foundation
import Figures
import Pipeline
import Plot

public struct FigureStageKind: StageKind {
  public init() {}
  public let name = "figure"
  /// Bump when a builder or the renderer changes what is drawn.
  public let version = 21  // 18: Table 1 per protocol with its chosen rates, Fig. 7 "+ MLP"; 19: verdict (c);
  // 20: a reference line's label on a light box; the papers' probes beside the converged one; 21: Table 1's
  // subtitle fits the page with the collapse marker (the criterion is in table.md's footnote)
  public var parameters: [ParameterSpec] {
    [
      ParameterSpec("figure", help: Builders.all.keys.sorted().joined(separator: ", ")),
      ParameterSpec("title", default: .string("")), ParameterSpec("caption", default: .string("")),
      ParameterSpec(
        "vary", default: .string(""),
        help: "ablation figures: the varied side-network setting (size, prompts, layers, token_ratio, ...)"),
      ParameterSpec("main", default: .string(""), help: "ablation figures: base name of the main-run stages"),
      ParameterSpec("published", default: .string("Reports/published.yaml")),
    ]
  }

  public func run(_ ctx: StageContext) throws {
    let input = try FigureInput(ctx: ctx)
    let v = input.parameters, key = v.figure
    guard let b = Builders.all[key] else {
      throw PipelineError.stageFailed(
        stage: ctx.stage,
        message: "unknown figure '\(key)'; known: \(Builders.all.keys.sorted().joined(separator: ", "))")
    }
    var out = try b(input)
    if !v.title.isEmpty { out.figure.title = v.title }
    out.figure.caption = v.caption
    out.figure.name = ctx.stage
    try FigureRenderer.write(out.figure, to: ctx.outputDir + "/figure")
    let data = try JSONEncoder.sorted.encode(out.figure)
    try data.write(to: URL(fileURLWithPath: ctx.outputDir + "/figure.json"))
    if let t = out.table {
      try TableExport.markdown(t, title: out.figure.title).write(
        toFile: ctx.outputDir + "/table.md", atomically: true, encoding: .utf8)
      try TableExport.csv(t).write(toFile: ctx.outputDir + "/table.csv", atomically: true, encoding: .utf8)
      try TableExport.latex(t, caption: out.figure.caption).write(
        toFile: ctx.outputDir + "/table.tex", atomically: true, encoding: .utf8)
    }
    ctx.log("\(key): \(out.figure.panels.count) panel(s)\(out.table == nil ? "" : ", table")")
  }
}

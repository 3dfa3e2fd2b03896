//===--- Calibration.swift - "Is the embedded model a foundation model?" ----===//
//
// From the calibration-summary stage: per task, the linear probe's, the k-NN probe's and (when the
// pipeline runs it) the converged logistic-regression probe's test F1
// as a fraction of full fine-tuning, beside the ratios the papers' backbones reach (SH-PEFT's
// CLIP ViT-B/16: 73.8 / 79.3; FPT+'s ImageNet ViT-B: 83.28 / 88.82 AUC — from
// Reports/published.yaml), and the table of every target with its value and outcome.
//===----------------------------------------------------------------------===//
import Foundation
import Outputs
import Pipeline
import Plot
import Yams

enum CalibrationFigure {
  static func build(_ i: FigureInput) throws -> BuiltFigure {
    let s = try i.first(CalibrationSummaryOutput.self).value
    let (rows, targets) = (s.tasks, s.targets)
    let published = try publishedRatios(i)
    var bars = Chart(kind: .bars, title: "Test F1 of a probe on frozen features, as a fraction of full fine-tuning")
    // tasks, their mean, then the papers' backbones (their linear probe only; no k-NN published)
    let lp = rows.map(\.lpRatio), kn = rows.map(\.knnRatio)
    bars.categories =
      rows.map { $0.task.replacingOccurrences(of: "-synth", with: "") } + ["mean"]
      + published.map(\.0)
    // the papers' probes were trained to convergence: their bars join the converged probe's series when it ran
    let lg = rows.map(\.logisticRatio), converged = lg.contains(where: \.isFinite)
    let papers = published.map(\.1), none = published.map { _ in Double.nan }
    bars.series = [
      Series(name: "the recipe's linear probe / full FT", y: lp + [avg(lp)] + (converged ? none : papers)),
      Series(name: "k-NN probe / full FT", y: kn + [avg(kn)] + none),
    ]
    if converged {
      bars.series.append(Series(name: "converged linear probe / full FT", y: lg + [avg(lg)] + papers))
    }
    bars.referenceY = targets.first { $0.target == "lp_ratio_mean" }?.threshold ?? .nan
    bars.referenceLabel = s.ratioProbe == "logistic" ? "target (mean converged LP/FT)" : "target (mean LP/FT)"
    bars.yLabel = "probe F1 / full-FT F1"; bars.yMin = 0; bars.yMax = 1.1
    var table = TableSpec(
      header: ["task", "full FT", "linear probe", "LP/FT", "k-NN", "converged LP", "scratch", "FT − scratch"],
      rows: [])
    for r in rows {
      table.rows.append([
        r.task.replacingOccurrences(of: "-synth", with: ""), pct(r.fullFt, 3), pct(r.linearProbe, 3),
        pct(r.lpRatio, 2), pct(r.knn, 3), pct(r.logistic, 3), pct(r.scratch, 3), pct(r.pretrainingGain, 3),
      ])
    }
    for t in targets {
      table.rows.append(["target", t.rule, pct(t.value, 3), t.pass ? "met" : "NOT met", "", "", "", ""])
    }
    var tc = Chart(kind: .table, title: "Per task (test macro-F1, mean over seeds) and the calibration targets")
    tc.table = table
    let fig = Figure(
      name: "", title: "Is the embedded model a foundation model?", caption: "", panels: [bars, tc], columns: 1,
      height: 330 + 18 * Double(table.rows.count))
    return BuiltFigure(figure: fig, table: table)
  }

  /// The papers' linear-probe / full-FT ratios, from the published numbers.
  static func publishedRatios(_ i: FigureInput) throws -> [(String, Double)] {
    let t = try PublishedNumbers.read(i)
    let (sh, fp) = (t.shPeft.table1AvgF1, t.fptPlus.table1AvgAuc)
    var out: [(String, Double)] = []
    if let lp = sh["linear-probe"], let ft = sh["full"] { out.append(("SH-PEFT CLIP", lp / ft)) }
    if let lp = fp["linear-probe"], let ft = fp["full"] { out.append(("FPT+ ViT-B (AUC)", lp / ft)) }
    return out
  }
}

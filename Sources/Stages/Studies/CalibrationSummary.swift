//===--- CalibrationSummary.swift - is the embedded model a foundation model? --===//
//
// `calibration-summary` reads, per task and seed, the test macro-F1 of full fine-tuning
// (`cal-finetune@…`), the linear probe (`cal-linear-probe@…`), training from scratch
// (`cal-scratch@…`), the k-NN probe (`cal-knn@…`) and, where present, the converged logistic-regression probe
// (`cal-logistic@…`, CLIP's protocol), averages seeds within a task, and checks the
// properties of the papers' setting that the embedded world is calibrated on (CALIBRATION.md; never a paper's claim):
//   linear probe / full FT  ≥ 0.85 on average and ≥ 0.70 on every task (CLIP: 0.93, ImageNet ViT-B: 0.94);
//     `ratio_probe` says which probe: `linear-probe` (the recipe's, trained for the profile's steps) or
//     `logistic` (fitted to convergence, as the papers' probes were: SH-PEFT trains every method 40k iterations)
//   full FT test F1 in [0.65, 0.92] on every task (learnable, not saturated)
//   full FT − scratch ≥ 0.10 on average (pretraining matters)
//   no fine-tuning or probe run collapses onto one class (every class but one recalled < 1 %; the sweep's
//     methods — the issue's "no method collapses"; training from scratch is no method of the sweep, its
//     collapses are listed apart)
// With `cal-lr-search@…` (full FT) and `cal-lp-lr-search@…` (linear probe) stages it reports the validation
// macro-F1 per learning rate, the one that is best on average over tasks, and whether the
// `finetune` / `linear-probe` stages use it.
// Outputs: summary.json (rows, targets with pass/fail, learning-rate search), table.md.
//===----------------------------------------------------------------------===//
import Foundation
import Outputs
import Pipeline
import Training

public struct CalibrationSummaryStageKind: StageKind {
  public init() {}
  public let name = "calibration-summary"
  public let version = 4  // 4: collapsed = every class but one recalled below 1 % (SplitMetrics.collapsed)
  public var parameters: [ParameterSpec] {
    [
      ParameterSpec("min_ratio_mean", default: .double(0.85)), ParameterSpec("min_ratio_task", default: .double(0.70)),
      ParameterSpec("ft_low", default: .double(0.65)), ParameterSpec("ft_high", default: .double(0.92)),
      ParameterSpec("min_pretraining_gain", default: .double(0.10)),
      ParameterSpec(
        "ratio_probe", default: .string("linear-probe"),
        help: "the probe the LP/FT targets read: the recipe's (linear-probe) or the converged one (logistic)"
      ).oneOf(["linear-probe", "logistic"]),
    ]
  }

  /// One training or probe run's test result.
  struct Run {
    let role: String, task: String, seed: Int, f1: Double, collapsed: Bool, minRecall: Double
  }

  struct Values: Decodable {
    var minRatioMean, minRatioTask, ftLow, ftHigh, minPretrainingGain: Double
    var ratioProbe: String
  }

  public func run(_ ctx: StageContext) throws {
    let p = try ctx.decode(Values.self)
    var runs: [Run] = []
    for role in ["finetune", "linear-probe", "scratch", "knn", "logistic"] {
      for (stage, dir) in ctx.inputs(base: "cal-" + role) {
        let j = try RunMetrics.read(dir)
        guard let test = j.test else { throw StudyError.missingInput("\(stage): no test metrics") }
        runs.append(
          Run(
            role: role, task: j.dataset ?? stage, seed: j.seed ?? 0, f1: test.macroF1 ?? .nan,
            collapsed: test.collapsed ?? false, minRecall: (test.recall ?? []).compactMap { $0 }.min() ?? .nan
          ))
      }
    }
    let tasks = Array(Set(runs.map(\.task))).sorted()
    func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
    func f1(_ role: String, _ task: String) -> Double {
      mean(runs.filter { $0.role == role && $0.task == task }.map(\.f1))
    }
    var rows: [CalibrationSummaryOutput.Task] = []
    var md =
      "| task | full FT | linear probe | LP / FT | k-NN | k-NN / FT | converged LP | / FT | scratch | FT − scratch "
      + "| seeds |\n"
    md += "|---|---|---|---|---|---|---|---|---|---|---|\n"
    for t in tasks {
      let ft = f1("finetune", t), lp = f1("linear-probe", t), sc = f1("scratch", t), kn = f1("knn", t)
      let lg = f1("logistic", t)
      let seeds = runs.filter { $0.role == "finetune" && $0.task == t }.count
      rows.append(.init(task: t, fullFt: ft, linearProbe: lp, knn: kn, logistic: lg, scratch: sc, seeds: seeds))
      md += String(
        format: "| %@ | %.3f | %.3f | %.2f | %.3f | %.2f | %.3f | %.2f | %.3f | %+.3f | %d |\n", t, ft, lp, lp / ft, kn,
        kn / ft, lg, lg / ft, sc, ft - sc, seeds)
    }
    let converged = p.ratioProbe == "logistic"
    let ratios = rows.map { converged ? $0.logisticRatio : $0.lpRatio }, fts = rows.map(\.fullFt),
      gains = rows.map(\.pretrainingGain)
    let collapsed = runs.filter(\.collapsed).map { "\($0.role)@\($0.task)@seed\($0.seed)" }.sorted()
    let methodsCollapsed = collapsed.filter { !$0.hasPrefix("scratch@") }
    let lo = p.ftLow, hi = p.ftHigh
    let probe = converged ? "converged linear probe" : "linear probe (the recipe's)"
    let targets: [CalibrationSummaryOutput.Target] = [
      .init(
        "lp_ratio_mean", mean(ratios), mean(ratios) >= p.minRatioMean,
        "\(probe) / full FT, mean over tasks ≥ \(p.minRatioMean)",
        threshold: p.minRatioMean),
      .init(
        "lp_ratio_min", ratios.min() ?? .nan, (ratios.min() ?? .nan) >= p.minRatioTask,
        "\(probe) / full FT on every task ≥ \(p.minRatioTask)"),
      .init(
        "full_ft_range", fts.min() ?? .nan, fts.allSatisfy { $0 >= lo && $0 <= hi },
        "full FT test F1 within [\(lo), \(hi)] on every task (value: the lowest; highest "
          + "\(String(format: "%.3f", fts.max() ?? .nan)))"
      ),
      .init(
        "pretraining_gain", mean(gains), mean(gains) >= p.minPretrainingGain,
        "full FT − scratch, mean over tasks ≥ \(p.minPretrainingGain)"),
      .init(
        "no_collapse", Double(methodsCollapsed.count), methodsCollapsed.isEmpty,
        "no fine-tuning or probe run collapses onto one class (every other class recalled < 1 %; value: how many do; "
          + "scratch runs listed apart)"),
    ]
    md += "\n| target | value | pass |\n|---|---|---|\n"
    for t in targets {
      md += String(
        format: "| %@ | %.3f | %@ |\n", t.rule, t.value, t.pass ? "yes" : "**no**")
    }
    if !collapsed.isEmpty { md += "\nCollapsed onto one class: \(collapsed.joined(separator: ", "))\n" }
    // learning-rate searches (validation split, seed 1): full fine-tuning and the linear probe
    var searches: [String: CalibrationSummaryOutput.Search] = [:]
    for (base, role) in [("cal-lr-search", "finetune"), ("cal-lp-lr-search", "linear-probe")] {
      var search: [Double: [Double]] = [:]
      for (stage, dir) in ctx.inputs(base: base) {
        let j = try RunMetrics.read(dir)
        guard let lr = j.lr, let val = j.val?.macroF1 else {
          throw StudyError.missingInput("\(stage): no lr or validation macro-F1 in metrics.json")
        }
        search[lr, default: []].append(val)
      }
      guard !search.isEmpty else { continue }
      let grid = search.keys.sorted()
      let best = grid.max { mean(search[$0]!) < mean(search[$1]!) }!
      let used = Set(
        ctx.inputs(base: "cal-" + role).compactMap { try? RunMetrics.read($0.dir).lr })
      searches[role] = .init(
        grid: grid.map { .init(lr: $0, valMacroF1: mean(search[$0]!), tasks: search[$0]!.count) }, bestLr: best,
        usedLr: Array(used).sorted())
      md += "\n| lr (\(role), validation) | macro-F1, mean over tasks |\n|---|---|\n"
      for g in grid { md += String(format: "| %g%@ | %.3f |\n", g, g == best ? " (best)" : "", mean(search[g]!)) }
      md +=
        "\nThe \(role) stages use lr \(used.sorted().map { String(format: "%g", $0) }.joined(separator: ", "))"
        + (used == [best]
          ? " (the validation choice).\n" : " — **not** the validation choice \(String(format: "%g", best)).\n")
    }
    try md.write(toFile: ctx.outputDir + "/table.md", atomically: true, encoding: .utf8)
    try CalibrationSummaryOutput(
      tasks: rows, targets: targets, collapsedRuns: collapsed, ratioProbe: p.ratioProbe, lpRatioMean: mean(ratios),
      runs: runs.count,
      lrSearch: searches.isEmpty ? nil : searches
    ).write(in: ctx.outputDir)
    ctx.log(md)
  }
}

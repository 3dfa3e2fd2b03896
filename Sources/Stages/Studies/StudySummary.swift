//===--- StudySummary.swift - `shpeft-summary`: tables and verdicts --------===//
//
// Needs the SH-PEFT study's stages (finetune, linear probe, sparsity,
// hybridity, importance, shpeft runs incl. the ablations) and reads their
// JSON outputs by content (`stage_kind`), not by stage names. Writes
//   summary.json  every table: sparsity F1 fraction per k and task, overlap
//                 per k, SH-PEFT vs baselines, Table 4, Table 5, Fig. 4
//                 points, selection vs training time
//   verdicts.md   one verdict per claim of the paper, reproduced or not,
//                 with the numbers and their spread over seeds:
//     (a) the top 10 % of changes keep ≥ 95 % of full fine-tuning's F1
//     (b) overlaps of key weights are small (< 50 %) but above chance
//     (c) SH-PEFT beats the other selective strategies at the same budget
//     (d) ta+L2 is the best strategy of Table 4
//     (e) λ is robust: average F1 within 2 points over λ (the paper's own
//         spread is 1.5) — and whether λ = 1 is best
// Means are over tasks of the per-task mean over seeds; comparisons between
// configurations use only the (task, seed) pairs they all have.
//===----------------------------------------------------------------------===//
import Foundation
import Outputs
import Pipeline
import Training

public struct StudySummaryStageKind: StageKind {
  public init() {}
  public let name = "shpeft-summary"
  public let version = 4  // 4: stage_kind; (a)'s k and target as data; Tables 4/5 rows by `label`
  public var parameters: [ParameterSpec] {
    MaskParams.specs.map {
      ParameterSpec($0.name, default: $0.defaultValue, help: "the main SH-PEFT configuration: " + $0.help)
    }
      + [
        ParameterSpec(
          "note",
          default: .string("embedded scale: procedurally generated tasks and a small ViT pretrained in the pipeline"))
      ]
  }

  struct Values: Decodable { var note: String }

  public func run(_ ctx: StageContext) throws {
    let main = try MaskParams.values(ctx.params)
    let note = try ctx.decode(Values.self).note
    var s = StudyResults()
    for (name, dir) in ctx.inputs.sorted(by: { $0.key < $1.key }) {
      try s.add(stage: name, dir: dir)
    }
    let out = try s.summarize(
      main: (main.strategy.rawValue, main.lambda, main.budget), note: note)
    try out.summary.write(in: ctx.outputDir)
    if !out.selectionTime.isEmpty { try Timing(selectionTime: out.selectionTime).merge(in: ctx.outputDir) }
    try out.markdown.write(toFile: ctx.outputDir + "/verdicts.md", atomically: true, encoding: .utf8)
    if !out.timing.isEmpty {
      try out.timing.write(toFile: ctx.outputDir + "/timing.md", atomically: true, encoding: .utf8)
    }
    ctx.log(out.markdown)
  }
}

/// One (task, seed) result.
struct Run {
  var task: String, seed: Int
  var f1: Double, accuracy: Double, auc: Double
  var trainable: Int, total: Int, backbone: Int, seconds: Double, steps: Int, batch: Int, trainImages: Int
  var memory: Int
}

struct Key: Hashable, Comparable {
  var task: String, seed: Int
  static func < (a: Key, b: Key) -> Bool { (a.task, a.seed) < (b.task, b.seed) }
}

struct StudyResults {
  var full: [Key: Run] = [:], probe: [Key: Run] = [:]
  /// SH-PEFT runs by configuration "strategy|lambda|budget".
  var shpeft: [String: [Key: Run]] = [:]
  var sparsity: [Key: SparsityOutput] = [:]
  var hybridity: HybridityOutput?
  /// Wall-clock seconds of each importance stage's selection.
  var selectionSeconds: [Key: Double] = [:]

  static func config(_ s: String, _ l: Double, _ b: Double) -> String { "\(s)|\(l)|\(b)" }

  mutating func add(stage: String, dir: String) throws {
    let fm = FileManager.default
    if fm.fileExists(atPath: dir + "/metrics.json") {
      let m = try RunMetrics.read(dir)
      guard let test = m.test, let task = m.dataset else { return }
      let r = Run(
        task: task, seed: m.seed ?? 0, f1: test.macroF1 ?? .nan, accuracy: test.accuracy ?? .nan,
        auc: test.macroAuc ?? .nan, trainable: m.trainableParameters ?? 0, total: m.totalParameters ?? 0,
        backbone: m.backboneParameters ?? 0, seconds: m.seconds ?? 0, steps: m.steps ?? 0, batch: m.batch ?? 0,
        trainImages: m.trainImages ?? 0, memory: m.memoryBytes?.total ?? 0)
      let k = Key(task: r.task, seed: r.seed)
      switch m.stageKind {
      case "finetune":
        if m.mode == "linear-probe" { probe[k] = r } else { full[k] = r }
      case "shpeft":
        let c = Self.config(m.strategy ?? "?", m.lambda ?? .nan, m.budgetPercent ?? .nan)
        shpeft[c, default: [:]][k] = r
      default: break
      }
    }
    if SparsityOutput.exists(in: dir) {
      let m = try SparsityOutput.read(in: dir)
      sparsity[Key(task: m.dataset, seed: m.seed)] = m
    }
    if HybridityOutput.exists(in: dir) { hybridity = try HybridityOutput.read(in: dir) }
    if ImportanceOutput.exists(in: dir) {
      let m = try ImportanceOutput.read(in: dir)
      selectionSeconds[Key(task: m.dataset, seed: m.seed)] = (try? Timing.read(in: dir))?.secondsSelection ?? .nan
    }
  }

  /// Mean over tasks of the per-task mean over seeds, restricted to `keys`; and the std over seeds of that average.
  static func average(
    _ runs: [Key: Run], keys: Set<Key>, _ f: (Run) -> Double = { $0.f1 }
  ) -> (mean: Double, std: Double, n: Int) {
    let ks = keys.filter { runs[$0] != nil }
    let tasks = Set(ks.map(\.task)), seeds = Set(ks.map(\.seed))
    var perTask: [Double] = []
    for t in tasks.sorted() { perTask.append(mean(ks.filter { $0.task == t }.sorted().map { f(runs[$0]!) })) }
    // Spread over seeds: the task average per seed (seeds that have every task).
    let perSeed = seeds.sorted().compactMap { s -> Double? in
      let v = tasks.sorted().compactMap { runs[Key(task: $0, seed: s)] }.filter {
        ks.contains(Key(task: $0.task, seed: s))
      }
      return v.count == tasks.count ? mean(v.map(f)) : nil
    }
    return (mean(perTask), std(perSeed), ks.count)
  }

  /// Per task, the mean over seeds (of `keys`): the unit the verdicts test over.
  static func byTask(_ runs: [Key: Run], keys: Set<Key>? = nil, _ f: (Run) -> Double = { $0.f1 }) -> [String: Double] {
    let ks = (keys ?? Set(runs.keys)).filter { runs[$0] != nil }
    var out: [String: Double] = [:]
    for t in Set(ks.map(\.task)) { out[t] = mean(ks.filter { $0.task == t }.sorted().map { f(runs[$0]!) }) }
    return out
  }

  func summarize(
    main: (String, Double, Double), note: String
  ) throws -> (summary: StudySummaryOutput, selectionTime: [SelectionTime], markdown: String, timing: String) {
    var r = StudyReport(
      summary: StudySummaryOutput(
        note: note, byTask: ["full": Self.byTask(full), "linear-probe": Self.byTask(probe)]),
      md: "# SH-PEFT claims at peftlab's scale\n\n_\(note)._ Macro-F1 on the test splits, in %; ± is the standard "
        + "deviation over seeds of the task average.\n\n")
    learned(&r)
    sparsity(&r)
    hybridity(&r)
    let mainKey = Self.config(main.0, main.1, main.2)
    let sh = shpeft[mainKey] ?? [:]
    selective(&r, main: main, mainKey: mainKey, sh: sh)
    strategiesAndLambdas(&r, main: main)
    figure4(&r, main: main)
    selectionTime(&r, sh: sh)
    return (r.summary, r.selectionTime, r.md, r.timing)
  }

  /// Is there anything to study? Full fine-tuning must have learned the tasks.
  func learned(_ r: inout StudyReport) {
    if !full.isEmpty {
      let f = Self.average(full, keys: Set(full.keys)), lp = Self.average(probe, keys: Set(probe.keys))
      let learned = f.mean >= 0.5
      r.md +=
        "Full fine-tuning reached an average test F1 of \(pct(f.mean)) ± \(pct(f.std)) %"
        + (probe.isEmpty ? "" : " (linear probe: \(pct(lp.mean)) %)") + ". "
      r.md +=
        learned
        ? "The studies below compare against it.\n\n"
        : "**That is too little learning for the studies below to mean much: use a longer profile (`full`).**\n\n"
      r.summary.fullFinetuneLearned = learned
    }
  }

  /// (a) The top 10 % of weight changes keep ≥ 95 % of full fine-tuning's F1.
  func sparsity(_ r: inout StudyReport) {
    var aRows: [StudySummaryOutput.SparsityClaim.Row] = []
    let (claimK, target) = (10.0, 0.95)  // the paper: the top 10 % keep ≥ 95 % of full fine-tuning's F1
    if let anyS = sparsity.min(by: { $0.key < $1.key })?.value {
      let ks = anyS.grid.map(\.kPercent)
      let tasks = Set(sparsity.keys.map(\.task)).sorted()
      r.md += "## (a) Sparsity: the top 10 % of weight changes keep ≥ 95 % of full fine-tuning's F1\n\n"
      r.md +=
        "| k % | " + tasks.joined(separator: " | ") + " | average |\n|---|"
        + String(repeating: "---|", count: tasks.count + 1) + "\n"
      var atK: (Double, Double) = (.nan, .nan)
      var smallest: Double?
      for (i, k) in ks.enumerated() {
        var cells: [String] = []
        var perTask: [Double] = []
        for t in tasks {
          let v = sparsity.filter { $0.key.task == t }.sorted { $0.key < $1.key }.compactMap {
            $0.value.grid.indices.contains(i) ? $0.value.grid[i].f1Fraction : nil
          }
          perTask.append(mean(v))
          cells.append(String(format: "%.2f ± %.2f", mean(v), std(v)))
        }
        let seeds = Set(sparsity.keys.map(\.seed)).sorted()
        let perSeed = seeds.map { s in
          mean(
            tasks.compactMap { t in
              sparsity[Key(task: t, seed: s)].flatMap { $0.grid.indices.contains(i) ? $0.grid[i].f1Fraction : nil }
            })
        }
        let avg = (mean(perTask), std(perSeed))
        if k == claimK { atK = avg }
        if smallest == nil && avg.0 >= target { smallest = k }
        r.md += "| \(k) | " + cells.joined(separator: " | ") + String(format: " | %.2f ± %.2f |\n", avg.0, avg.1)
        aRows.append(
          .init(
            kPercent: k, f1FractionByTask: Dictionary(uniqueKeysWithValues: zip(tasks, perTask)), mean: avg.0,
            stdOverSeeds: avg.1))
      }
      let ok = atK.0 >= target
      r.md +=
        "\nF1 as a fraction of full fine-tuning (W_ori←ft@k% on the test split). At k = 10 %: "
        + "\(String(format: "%.3f ± %.3f", atK.0, atK.1)) → \(verdict(ok)). "
      r.md +=
        smallest.map { "The smallest k whose average reaches 0.95 is \($0) %.\n\n" }
        ?? "No k below 100 % reaches 0.95 on average.\n\n"
      r.summary.aSparsity = .init(
        rows: aRows, k: claimK, target: target, atK: atK, smallestKReachingTarget: smallest, reproduced: ok)
    }
  }

  /// (b) Overlaps of key weights are small but above chance.
  func hybridity(_ r: inout StudyReport) {
    if let h = hybridity {
      r.md +=
        "## (b) Hybridity: overlaps of key weights are small but above chance\n\n| k % | mean overlap | min | max | "
        + "chance | enrichment | min over seeds of the mean overlap / chance |\n|---|---|---|---|---|---|---|\n"
      var ok = true
      var rows: [StudySummaryOutput.HybridityClaim.Row] = []
      for e in h.ks {
        let (k, m, c) = (e.kPercent, e.offdiagonalMean, e.chance)
        let minEnrich = (e.offdiagonalMeanPerSeed.min() ?? .nan) / c
        ok = ok && m < 0.5 && minEnrich > 1
        r.md += String(
          format: "| %g | %.3f | %.3f | %.3f | %.4f | %.1f× | %.1f× |\n", k, m,
          e.offdiagonalMin, e.offdiagonalMax, c, m / c, minEnrich)
        rows.append(
          .init(
            kPercent: k, meanOverlap: m, chance: c, minSeedEnrichment: minEnrich, crossTaskByTask: e.crossTaskByTask,
            sameTaskByTask: e.sameTaskByTask))
      }
      r.md +=
        "\nOff-diagonal |S_m ∩ S_n| / |S_m| over \(h.tasks.count) tasks and seeds "
        + "\(h.seeds). Small (< 0.5) and above chance on every seed at every k → "
        + "\(verdict(ok)).\n\n"
      if let last = h.ks.last {
        let (shares, all) = (last.groupShares, h.groupShareOfBackbone)
        let groups = WeightGroup.allCases.map(\.name)
        r.md +=
          "Where the key weights live (share of the top \(String(format: "%g", last.kPercent))% per weight group, "
          + "vs the group's share of the backbone):\n\n| task | "
          + groups.joined(separator: " | ") + " |\n|---|" + String(repeating: "---|", count: groups.count) + "\n"
        r.md += "| (backbone) | " + groups.map { pct(all[$0] ?? 0) }.joined(separator: " | ") + " |\n"
        for t in shares.keys.sorted() {
          r.md += "| \(t) | " + groups.map { pct(shares[t]?[$0] ?? 0) }.joined(separator: " | ") + " |\n"
        }
        r.md += "\n"
      }
      r.summary.bHybridity = .init(rows: rows, reproduced: ok)
    }
  }

  /// (c) SH-PEFT against the other selective strategies at the same budget.
  func selective(_ r: inout StudyReport, main: (String, Double, Double), mainKey: String, sh: [Key: Run]) {
    if !sh.isEmpty {
      r.md += "## (c) SH-PEFT beats the other selective strategies\n\n"
      var others: [(String, [Key: Run])] = []
      for (c, runs) in shpeft.sorted(by: { $0.key < $1.key }) where c != mainKey {
        let parts = c.split(separator: "|")
        // Table 4's strategies are claim (d); here: the selective baselines of the same budget.
        if parts.count == 3, parts[0] == "random", Double(parts[2]) == main.2 {
          others.append(("random selection at r = \(main.2) %", runs))
        }
      }
      if !probe.isEmpty { others.append(("linear probe (head only)", probe)) }
      var ok = !others.isEmpty
      r.md +=
        "| method | trainable (% of all parameters) | F1 % (SH-PEFT on the same runs) | "
        + "paired Δ F1 (SH-PEFT − method) | wins |\n|---|---|---|---|---|\n"
      var rows: [StudySummaryOutput.SelectiveClaim.Row] = []
      for (label, runs) in others {
        let keys = Set(sh.keys).intersection(runs.keys)
        let a = Self.average(sh, keys: keys), b = Self.average(runs, keys: keys)
        let diffs = keys.sorted().map { sh[$0]!.f1 - runs[$0]!.f1 }
        let wins = diffs.filter { $0 > 0 }.count
        let ratio = mean(keys.sorted().map { Double(runs[$0]!.trainable) / Double(max(runs[$0]!.total, 1)) })
        ok = ok && a.mean > b.mean
        r.md +=
          "| \(label) | \(String(format: "%.3f", 100 * ratio)) | \(pct(b.mean)) ± \(pct(b.std)) (\(pct(a.mean))) | "
          + "\(String(format: "%+.1f ± %.1f", 100 * mean(diffs), 100 * std(diffs))) | \(wins)/\(diffs.count) |\n"
        rows.append(
          .init(
            method: label, f1: (b.mean, b.std), shpeftF1: a.mean, pairedMeanDiff: mean(diffs), wins: wins,
            pairs: diffs.count))
      }
      let fk = Set(sh.keys).intersection(full.keys)
      if !fk.isEmpty {
        let a = Self.average(sh, keys: fk), b = Self.average(full, keys: fk)
        r.md +=
          "| (full fine-tuning, not selective) | 100 | \(pct(b.mean)) ± \(pct(b.std)) (\(pct(a.mean))) | "
          + "\(String(format: "%+.1f", 100 * (a.mean - b.mean))) | "
          + "\(fk.filter { sh[$0]!.f1 > full[$0]!.f1 }.count)/\(fk.count) |\n"
        r.summary.fullFinetuneF1 = b.mean
      }
      r.md +=
        "\nSH-PEFT = \(main.0), λ = \(main.1), r = \(main.2) % (+ head). SH-PEFT's mean above every other selective "
        + "strategy → \(verdict(ok)). The other PEFT methods of Table 1 come with the method sweep.\n\n"
      r.summary.cSelective = .init(rows: rows, reproduced: ok)
    }
  }

  /// (d) Table 4 and (e) Table 5, on the pairs every configuration of the table has.
  func strategiesAndLambdas(_ r: inout StudyReport, main: (String, Double, Double)) {
    func table(
      _ configs: [(String, String)], title: String
    ) -> (rows: [StudySummaryOutput.ConfigTable.Row], md: String, byTask: [String: [String: Double]]) {
      let present = configs.filter { shpeft[$0.1] != nil }
      guard present.count >= 2 else { return ([], "", [:]) }
      var keys = Set(shpeft[present[0].1]!.keys)
      for c in present { keys.formIntersection(shpeft[c.1]!.keys) }
      var rows: [StudySummaryOutput.ConfigTable.Row] = []
      var text = "| \(title) | F1 % | ACC % | n |\n|---|---|---|---|\n"
      for (label, c) in present {
        let f = Self.average(shpeft[c]!, keys: keys), a = Self.average(shpeft[c]!, keys: keys) { $0.accuracy }
        rows.append(.init(label: label, f1: f.mean, f1Std: f.std, accuracy: a.mean))
        text += "| \(label) | \(pct(f.mean)) ± \(pct(f.std)) | \(pct(a.mean)) | \(f.n) |\n"
      }
      return (
        rows, text, Dictionary(uniqueKeysWithValues: present.map { ($0.0, Self.byTask(shpeft[$0.1]!, keys: keys)) })
      )
    }
    let strategies = ["ta", "l1", "ta+l1", "l2", "ta+l2"]
    let t4 = table(strategies.map { ($0, Self.config($0, main.1, main.2)) }, title: "strategy (Table 4)")
    if !t4.rows.isEmpty {
      let best = t4.rows.max { $0.f1 < $1.f1 }!
      let ok = best.label == "ta+l2"
      r.md +=
        "## (d) ta+L2 is the best importance strategy (Table 4)\n\n" + t4.md
        + "\nBest: \(best.label) → \(verdict(ok)) (λ = \(main.1), r = \(main.2) %).\n\n"
      r.summary.dTable4 = .init(rows: t4.rows, best: best.label, reproduced: ok, byTask: t4.byTask)
    }
    let lambdas = Set(
      shpeft.keys.compactMap { c -> Double? in
        let p = c.split(separator: "|")
        return p.count == 3 && p[0] == main.0 && Double(p[2]) == main.2 ? Double(p[1]) : nil
      }
    ).sorted()
    let t5 = table(lambdas.map { ("\($0)", Self.config(main.0, $0, main.2)) }, title: "λ (Table 5)")
    if !t5.rows.isEmpty {
      let f = t5.rows.map(\.f1)
      let range = f.max()! - f.min()!
      let best = t5.rows.max { $0.f1 < $1.f1 }!
      let ok = range <= 0.02
      r.md +=
        "## (e) λ is robust (Table 5)\n\n" + t5.md
        + "\nRange of the average F1 over λ: \(String(format: "%.1f", 100 * range)) points (the paper: 1.5) → "
        + "\(verdict(ok)); best at λ = "
        + "\(best.label)\(Double(best.label) == 1 ? " (as in the paper)" : " (the paper: λ = 1)").\n\n"
      r.summary.eTable5 = .init(rows: t5.rows, best: best.label, range: range, reproduced: ok, byTask: t5.byTask)
    }
  }

  /// Fig. 4: average F1 against the trainable ratio (SH-PEFT's budget sweep, and the references).
  func figure4(_ r: inout StudyReport, main: (String, Double, Double)) {
    let budgets = Set(
      shpeft.keys.compactMap { c -> Double? in
        let p = c.split(separator: "|")
        return p.count == 3 && p[0] == main.0 && Double(p[1]) == main.1 ? Double(p[2]) : nil
      }
    ).sorted()
    var fig4: [StudySummaryOutput.Point] = []
    if budgets.count > 1 {
      r.md +=
        "## Fig. 4: average F1 against the trainable ratio\n\n| method | trainable % of all parameters | F1 % | n "
        + "|\n|---|---|---|---|\n"
      // Every point on the (task, seed) pairs all budgets ran.
      var common = Set(shpeft[Self.config(main.0, main.1, budgets[0])]!.keys)
      for b in budgets { common.formIntersection(shpeft[Self.config(main.0, main.1, b)]!.keys) }
      func point(_ label: String, _ runs: [Key: Run]) {
        let keys = common.intersection(runs.keys)
        guard !keys.isEmpty else { return }
        let f = Self.average(runs, keys: keys)
        let ratio = mean(keys.sorted().map { Double(runs[$0]!.trainable) / Double(max(runs[$0]!.total, 1)) })
        fig4.append(.init(method: label, trainableRatio: ratio, f1: f.mean, f1Std: f.std, n: f.n))
        r.md += "| \(label) | \(String(format: "%.4f", 100 * ratio)) | \(pct(f.mean)) ± \(pct(f.std)) | \(f.n) |\n"
      }
      for b in budgets { point("SH-PEFT r = \(b) %", shpeft[Self.config(main.0, main.1, b)]!) }
      if !probe.isEmpty { point("linear probe", probe) }
      if !full.isEmpty { point("full fine-tuning", full) }
      r.md += "\n(On the \(common.count) task/seed pairs every budget ran.)\n\n"
      r.summary.fig4 = fig4
    }
  }

  /// Selection time against training time (wall-clock: timing.md, kept out of the content hash).
  func selectionTime(_ r: inout StudyReport, sh: [Key: Run]) {
    if !selectionSeconds.isEmpty {
      r.md += "Selection time against training time: `timing.md` (wall-clock, kept out of the content hash).\n"
      r.timing +=
        "## Selection time against training time\n\n| task | selection s (one epoch of gradients) | one epoch of full "
        + "fine-tuning s | SH-PEFT training s |\n|---|---|---|---|\n"
      var rows: [SelectionTime] = []
      for t in Set(selectionSeconds.keys.map(\.task)).sorted() {
        let imp = selectionSeconds.filter { $0.key.task == t }.map(\.value)
        let ft = full.filter { $0.key.task == t }.map { r in
          r.value.seconds / Double(max(r.value.steps, 1))
            * (Double(r.value.trainImages) / Double(max(r.value.batch, 1))).rounded(.up)
        }
        let shs = sh.filter { $0.key.task == t }.map(\.value.seconds)
        r.timing += String(format: "| %@ | %.2f | %.2f | %.1f |\n", t, mean(imp), mean(ft), mean(shs))
        rows.append(
          .init(task: t, selectionSeconds: mean(imp), fullFtEpochSeconds: mean(ft), shpeftTrainingSeconds: mean(shs)))
      }
      r.timing += "\n(One epoch of full fine-tuning = its measured seconds per step × batches per epoch.)\n"
      r.selectionTime = rows
    }
  }
}

/// What `summarize` builds, section by section: summary.json, the Markdown report, and the wall-clock
/// selection times with timing.md (left out of the content hash).
struct StudyReport {
  var summary: StudySummaryOutput
  var md: String
  var selectionTime: [SelectionTime] = []
  var timing = ""
}

/// A fraction as a percentage with one decimal.
private func pct(_ x: Double) -> String { String(format: "%.1f", 100 * x) }
private func verdict(_ ok: Bool) -> String { ok ? "**reproduced**" : "**not reproduced**" }

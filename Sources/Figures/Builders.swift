//===--- Builders.swift - the figures and tables of both papers -------------===//
//
// Each builder turns its stages' JSON into a Figure (and a table view where
// the paper has a table). Numbers are read, never typed in: the only
// hard-coded numbers are the papers' published ones, in Reports/published.yaml.
//===----------------------------------------------------------------------===//
import Foundation
import Outputs
import Pipeline
import Plot

func avg(_ v: [Double]) -> Double {
  let f = v.filter(\.isFinite); return f.isEmpty ? .nan : f.reduce(0, +) / Double(f.count)
}
func sd(_ v: [Double]) -> Double {
  let f = v.filter(\.isFinite); guard f.count > 1 else { return 0 }
  let m = avg(f); return (f.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(f.count - 1)).squareRoot()
}
func pct(_ x: Double, _ d: Int = 1) -> String { x.isFinite ? String(format: "%.\(d)f", x) : "–" }

/// Best (1) and second best (2) per column among numeric cells (higher is better unless `lower`).
func marks(_ rows: [[Double]], lowerIsBetter: Set<Int> = []) -> [[Int]] {
  guard let w = rows.first?.count else { return [] }
  var m = rows.map { $0.map { _ in 0 } }
  for j in 0..<w {
    let vals = rows.indices.map { rows[$0][j] }.enumerated().filter { $0.element.isFinite }
    let sorted = vals.sorted { lowerIsBetter.contains(j) ? $0.element < $1.element : $0.element > $1.element }
    if let a = sorted.first { m[a.offset][j] = 1 }
    if sorted.count > 1 { m[sorted[1].offset][j] = 2 }
  }
  return m
}

public enum Builders {
  nonisolated(unsafe) public static let all: [String: (FigureInput) throws -> BuiltFigure] = [
    "sh-sparsity": sparsity, "sh-overlap": overlap, "sh-key-weights": keyWeights, "sh-fig4": shFig4,
    "sh-table4": shTable4, "sh-table5": shTable5, "sh-selection-time": selectionTime,
    "table1": table1, "fpt-fig1": fptFig1, "fpt-memory": fptMemory, "fpt-ablation": fptAblation, "fpt-fig7": fptFig7,
    "paper-vs-peftlab": PaperComparison.build, "calibration": CalibrationFigure.build,
  ]

  // MARK: SH-PEFT Fig. 2 (left): W_ori ← ft@k%
  static func sparsity(_ i: FigureInput) throws -> BuiltFigure {
    let byTask = Dictionary(grouping: try i.all(SparsityOutput.self).map(\.value), by: \.dataset)
    var chart = Chart(kind: .line, title: "W_ori←ft@k%: test F1 as a fraction of full fine-tuning")
    chart.xLabel = "k (% of backbone weights, largest |W_ft − W_ori|)"; chart.yLabel = "F1 / full-FT F1";
    chart.logX = true
    chart.referenceY = 1; chart.referenceLabel = "full fine-tuning"
    var rows: [[String]] = []
    for (n, task) in byTask.keys.sorted().enumerated() {
      let runs = byTask[task]!
      guard let grid = runs.first?.grid else { continue }
      let ks = grid.map(\.kPercent)
      var m: [Double] = [], s: [Double] = []
      for (gi, k) in ks.enumerated() {
        let v = runs.compactMap { $0.grid.indices.contains(gi) ? $0.grid[gi].f1Fraction : nil }
        m.append(avg(v)); s.append(sd(v))
        rows.append([task, pct(k, k < 1 ? 2 : 0), pct(avg(v), 3), pct(sd(v), 3), "\(v.count)"])
      }
      let keep = ks.indices.filter { ks[$0] > 0 }
      chart.series.append(
        Series(
          name: task, x: keep.map { ks[$0] }, y: keep.map { m[$0] }, low: keep.map { m[$0] - s[$0] },
          high: keep.map { m[$0] + s[$0] }, colour: n))
    }
    return BuiltFigure(
      figure: Figure(name: "", title: "SH-PEFT Fig. 2 (left): sparsity", caption: "", panels: [chart]),
      table: TableSpec(header: ["task", "k %", "F1 fraction (mean)", "std", "seeds"], rows: rows))
  }

  // MARK: SH-PEFT Fig. 2 (right): overlap matrices
  static func overlap(_ i: FigureInput) throws -> BuiltFigure {
    let h = try i.one(HybridityOutput.self)
    var panels: [Chart] = []
    var rows: [[String]] = []
    for k in h.ks {
      var c = Chart(kind: .heatmap, title: String(format: "top %g %% (chance %.4g)", k.kPercent, k.chance))
      // the diagonal (a task with itself, 1 by definition) is left grey so the colour scale shows the off-diagonal
      c.matrix = k.overlapMean.enumerated().map { r, row in
        row.enumerated().map { $0.offset == r ? .nan : $0.element }
      }
      c.yMin = 0  // scale 0 … max(largest overlap, 2 × chance): chance sits mid-scale or below
      c.yMax = max((c.matrix ?? []).flatMap { $0 }.filter(\.isFinite).max() ?? 0, 2 * k.chance)
      c.rowLabels = h.tasks.map { $0.replacingOccurrences(of: "-synth", with: "") }; c.columnLabels = c.rowLabels
      c.cellFormat = "%.3f"; c.colourLabel = "overlap"
      panels.append(c)
      rows.append([
        String(format: "%g", k.kPercent), String(format: "%.4f", k.offdiagonalMean),
        String(format: "%.4f", k.chance), String(format: "%.2f", k.offdiagonalMean / k.chance),
      ])
    }
    return BuiltFigure(
      figure: Figure(
        name: "", title: "SH-PEFT Fig. 2 (right): overlap of top-k % positions between tasks (mean over seeds)",
        caption: "", panels: panels, columns: 2, width: 620, height: 560),
      table: TableSpec(header: ["k %", "mean off-diagonal overlap", "chance", "enrichment"], rows: rows))
  }

  // MARK: Beyond: where key weights live
  static func keyWeights(_ i: FigureInput) throws -> BuiltFigure {
    let h = try i.one(HybridityOutput.self)
    let backbone = h.groupShareOfBackbone
    let groups = backbone.keys.sorted()
    var c = Chart(
      kind: .bars, title: "Share of the key weights (top-k % changes) per weight group, mean over tasks and seeds")
    c.categories = groups; c.yLabel = "share (%)"
    c.series = [Series(name: "share of the backbone", y: groups.map { 100 * (backbone[$0] ?? .nan) }, colour: 7)]
    for k in h.ks where k.kPercent == 1 || k.kPercent == 0.05 {
      let per = k.groupShares.sorted { $0.key < $1.key }.map(\.value)  // by task: a fixed order of summation
      c.series.append(
        Series(
          name: String(format: "key weights, top %g %%", k.kPercent),
          y: groups.map { g in 100 * avg(per.map { $0[g] ?? .nan }) }))
    }
    return BuiltFigure(
      figure: Figure(name: "", title: "Where key weights live", caption: "", panels: [c]),
      table: TableSpec(
        header: ["group"] + c.series.map(\.name),
        rows: groups.indices.map { gi in [groups[gi]] + c.series.map { pct($0.y[gi], 2) } }))
  }

  // MARK: SH-PEFT Fig. 4: average F1 against trainable ratio
  static func shFig4(_ i: FigureInput) throws -> BuiltFigure {
    var c = Chart(kind: .scatter, title: "Average F1 against trainable parameters")
    c.xLabel = "trainable parameters (% of the model)"; c.yLabel = "average test F1 (%)"; c.logX = true
    var rows: [[String]] = []
    if let s = try i.all(SweepSummaryOutput.self).first?.value {
      let names = s.order.filter { s.methods[$0] != nil }
      let ms = names.map { s.methods[$0]! }
      c.series.append(
        Series(
          name: "methods (sweep)", x: ms.map { 100 * $0.trainableRatio }, y: ms.map(\.avgF1), labels: names,
          colour: 4))
      rows += zip(names, ms).map { [$0, pct(100 * $1.trainableRatio, 3), pct($1.avgF1)] }
    }
    if let pts = try i.all(StudySummaryOutput.self).first?.value.fig4 {
      let sorted = pts.sorted { $0.trainableRatio < $1.trainableRatio }
      c.series.append(
        Series(
          name: "SH-PEFT budgets (one task)", x: sorted.map { 100 * $0.trainableRatio }, y: sorted.map { 100 * $0.f1 },
          labels: sorted.map { $0.method.replacingOccurrences(of: "SH-PEFT ", with: "") }, colour: 5))
      rows += sorted.map { [$0.method, pct(100 * $0.trainableRatio, 3), pct(100 * $0.f1)] }
    }
    return BuiltFigure(
      figure: Figure(name: "", title: "SH-PEFT Fig. 4", caption: "", panels: [c]),
      table: TableSpec(header: ["method", "trainable %", "F1 %"], rows: rows))
  }

  static func shTable4(_ i: FigureInput) throws -> BuiltFigure {
    let rows = try i.first(StudySummaryOutput.self).value.dTable4?.rows ?? []
    let vals = rows.map { [100 * $0.f1, 100 * $0.accuracy] }
    let t = TableSpec(
      header: ["importance", "F1 %", "accuracy %"],
      rows: rows.map { [$0.label, pct(100 * $0.f1), pct(100 * $0.accuracy)] },
      marks: marks(vals).map { [0] + $0 })
    var c = Chart(kind: .table, title: "SH-PEFT Table 4: importance strategies (r = 1 %)"); c.table = t
    return BuiltFigure(
      figure: Figure(name: "", title: "", caption: "", panels: [c], height: 60 + 18 * Double(rows.count)), table: t)
  }

  static func shTable5(_ i: FigureInput) throws -> BuiltFigure {
    let rows = try i.first(StudySummaryOutput.self).value.eTable5?.rows ?? []
    let vals = rows.map { [100 * $0.f1, 100 * $0.accuracy] }
    let t = TableSpec(
      header: ["λ", "F1 %", "accuracy %"],
      rows: rows.map { [String(format: "%g", Double($0.label) ?? .nan), pct(100 * $0.f1), pct(100 * $0.accuracy)] },
      marks: marks(vals).map { [0] + $0 })
    var c = Chart(kind: .table, title: "SH-PEFT Table 5: λ of the hybrid importance"); c.table = t
    return BuiltFigure(
      figure: Figure(name: "", title: "", caption: "", panels: [c], height: 60 + 18 * Double(rows.count)), table: t)
  }

  static func selectionTime(_ i: FigureInput) throws -> BuiltFigure {
    let dir = try i.first(StudySummaryOutput.self).dir
    let rows = Timing.exists(in: dir) ? try Timing.read(in: dir).selectionTime ?? [] : []
    var c = Chart(kind: .bars, title: "Selection time against training time (seconds)")
    c.categories = rows.map { $0.task.replacingOccurrences(of: "-synth", with: "") }
    c.yLabel = "seconds"
    c.series = [
      Series(name: "selection (one epoch of gradients)", y: rows.map(\.selectionSeconds)),
      Series(name: "SH-PEFT training", y: rows.map(\.shpeftTrainingSeconds)),
      Series(name: "one full-FT epoch", y: rows.map(\.fullFtEpochSeconds)),
    ]
    return BuiltFigure(
      figure: Figure(name: "", title: "Selection vs training time", caption: "", panels: [c]),
      table: TableSpec(
        header: ["task"] + c.series.map(\.name),
        rows: c.categories.indices.map { k in [c.categories[k]] + c.series.map { pct($0.y[k], 2) } }))
  }

  // MARK: Table 1 of both papers (sweep-summary)
  static func table1(_ i: FigureInput) throws -> BuiltFigure {
    let s = try i.first(SweepSummaryOutput.self).value
    let (methods, datasets) = (s.methods, s.datasets)
    let order = s.order.filter { methods[$0] != nil }
    func cell(_ m: String, _ d: String) -> (Double, Double)? { methods[m]?.byDataset[d].map { ($0.f1, $0.f1Std) } }
    // runs that predicted one class on the test split: the cell is marked "†n"
    let collapsed = s.collapsedCells
    func dagger(_ key: String) -> String { collapsed[key].map { " †\($0)" } ?? "" }
    // the protocol's validation-chosen rates (lr-choice): one per method, one per method and task (in the
    // table's task order, "/"-separated), or full fine-tuning's for all
    let choice = try i.all(LRChoiceOutput.self).first?.value
    let chosen = choice?.methods ?? [:]
    func lr(_ m: String) -> String {
      if let perTask = choice?.byTask?[m] {
        return datasets.map { d in perTask[d].map { String(format: "%g", $0.lr) } ?? "–" }.joined(separator: "/")
      }
      let one = chosen.count == 1 ? chosen.values.first : nil
      guard let c = chosen[m] ?? one else { return "–" }
      return String(format: "%g", c.lr)
    }
    let header =
      ["method"] + datasets.map { $0.replacingOccurrences(of: "-synth", with: "") }
      + ["avg F1", "avg AUC", "ratio %", "memory MiB", "PPE", "PME"] + (chosen.isEmpty ? [] : ["lr (val)"])
    var vals: [[Double]] = [], rows: [[String]] = []
    for m in order {
      let r = methods[m]!
      var v = datasets.map { cell(m, $0)?.0 ?? .nan }
      v += [r.avgF1, r.avgAuc, 100 * r.trainableRatio, r.memoryMib, r.ppeAuc, r.pmeAuc]
      vals.append(v)
      rows.append(
        [m]
          + datasets.map { d in
            cell(m, d).map { pct($0.0) + "±" + pct($0.1) + dagger(m + "|" + d) } ?? "–"
          }
          + [
            pct(v[datasets.count]), pct(v[datasets.count + 1]), String(format: "%.3g", v[datasets.count + 2]),
            pct(v[datasets.count + 3]),
            pct(v[datasets.count + 4]), pct(v[datasets.count + 5]),
          ] + (chosen.isEmpty ? [] : [lr(m)]))
    }
    let lower: Set<Int> = [datasets.count + 2, datasets.count + 3]
    let lrMark: [Int] = chosen.isEmpty ? [] : [0]
    let t = TableSpec(header: header, rows: rows, marks: marks(vals, lowerIsBetter: lower).map { [0] + $0 + lrMark })
    var c = Chart(
      kind: .table,
      title: "Test F1 (mean ± std over seeds), averages, trainable ratio, memory, PPE/PME (on AUC)"
        + (collapsed.isEmpty ? "; no run collapsed onto one class" : "; †n: n runs collapsed onto one class"))
    c.table = t
    return BuiltFigure(
      figure: Figure(
        name: "", title: "Table 1", caption: "", panels: [c], width: 720,
        height: 70 + 17 * Double(rows.count)), table: t)
  }

  // MARK: FPT+ Fig. 1: AUC against trainable ratio, bubble = memory
  static func fptFig1(_ i: FigureInput) throws -> BuiltFigure {
    let s = try i.first(SweepSummaryOutput.self).value
    let order = s.order.filter { s.methods[$0] != nil }
    let ms = order.map { s.methods[$0]! }
    var c = Chart(kind: .scatter, title: "Average AUC against trainable parameters (bubble area = training memory)")
    c.xLabel = "trainable parameters (%)"; c.yLabel = "average test AUC (%)"; c.logX = true
    c.series = [
      Series(
        name: "", x: ms.map { 100 * $0.trainableRatio }, y: ms.map(\.avgAuc), sizes: ms.map(\.memoryMib),
        labels: order, colour: 4)
    ]
    return BuiltFigure(
      figure: Figure(name: "", title: "FPT+ Fig. 1", caption: "", panels: [c]),
      table: TableSpec(
        header: ["method", "trainable %", "AUC %", "memory MiB"],
        rows: zip(order, ms).map {
          [$0, String(format: "%.3g", 100 * $1.trainableRatio), pct($1.avgAuc), pct($1.memoryMib)]
        }
      ))
  }

  // MARK: FPT+ Fig. 2 / Table 2: memory against resolution
  static func fptMemory(_ i: FigureInput) throws -> BuiltFigure {
    var panels: [Chart] = []
    var rows: [[String]] = []
    if let j = try i.all(MemoryScalingOutput.self).first?.value {
      for preset in Array(Set(j.rows.map(\.preset))).sorted() {
        let r = j.rows.filter { $0.preset == preset }
        var c = Chart(kind: .line, title: "\(preset), batch \(j.batch): computed")
        c.xLabel = "input resolution (px)"; c.yLabel = "training memory (GiB, log scale)"; c.logY = true
        c.referenceY = 48; c.referenceLabel = "48 GB GPU (the FPT+ paper's RTX A6000)"
        let show = ["full", "lora", "adapter", "vpt-deep", "ssf", "sh-peft", "fpt", "fpt+", "fpt+ (no preload)"]
        for (n, m) in show.enumerated() {
          let pts = r.filter { $0.method == m }.sorted { $0.size < $1.size }
          guard !pts.isEmpty else { continue }
          c.series.append(
            Series(
              name: m, x: pts.map { Double($0.size) }, y: pts.map { Double($0.totalBytes) / 1_073_741_824 },
              dashed: m.contains("no preload"), colour: n))
        }
        panels.append(c)
        for x in r {
          rows.append([
            preset, String(format: "%g", Double(x.size)), x.method, sideInput(x.side),
            String(format: "%.2f", Double(x.totalBytes) / 1_073_741_824),
          ])
        }
      }
    }
    // measured at our scale: peft runs that vary the input size
    let runs = i.with("metrics.json").compactMap { try? RunMetrics.read($0.dir) }
    if !runs.isEmpty {
      var mem = Chart(kind: .line, title: "embedded scale: measured (engine accounting)")
      mem.xLabel = "input resolution of the (frozen) model (px)"; mem.yLabel = "training memory (MiB)"
      var auc = Chart(kind: .line, title: "embedded scale: test AUC")
      auc.xLabel = mem.xLabel; auc.yLabel = "test AUC (%)"
      let methods = Array(Set(runs.compactMap(\.method))).sorted()
      for (n, m) in methods.enumerated() {
        let pts = runs.filter { $0.method == m }.map { r -> (Double, Double, Double, String) in
          let size = r.side.map { $0.value("frozen_size") ?? .nan } ?? r.imageSize ?? .nan
          return (size, r.memoryTotal / 1_048_576, 100 * (r.test?.macroAuc ?? .nan), sideInput(r.side))
        }.sorted { $0.0 < $1.0 }
        mem.series.append(Series(name: m, x: pts.map(\.0), y: pts.map(\.1), colour: n))
        auc.series.append(Series(name: m, x: pts.map(\.0), y: pts.map(\.2), colour: n))
        for p in pts {
          rows.append(["embedded (measured)", String(format: "%g", p.0), m, p.3, String(format: "%.4f", p.1 / 1024)])
        }
      }
      panels += [mem, auc]
    }
    return BuiltFigure(
      figure: Figure(
        name: "", title: "FPT+ Fig. 2 / Table 2: training memory against input resolution", caption: "",
        panels: panels, columns: 2, width: 720, height: 300 * Double((panels.count + 1) / 2)),
      table: TableSpec(
        header: ["model", "resolution", "method", "side input (tokens: side / frozen)", "memory GiB"],
        rows: rows))
  }

  /// "128 px (64 / 1024)" for a side network's input, "–" for methods without one.
  static func sideInput(_ side: SideNetworkShape?) -> String {
    guard let s = side else { return "–" }
    return "\(s.size) px (\(s.sidePatches) / \(s.frozenPatches))"
  }

  // MARK: FPT+ ablations (Tables 3, 4; Figs. 6, 8): one setting varied
  static func fptAblation(_ i: FigureInput) throws -> BuiltFigure {
    let vary = i.parameters.vary
    let key = vary.split(separator: ".").last.map(String.init) ?? vary
    guard SideNetworkShape.settings.contains(key) else {
      throw PipelineError.parameter(
        "vary '\(vary)' is no side-network setting; one of \(SideNetworkShape.settings.joined(separator: ", "))")
    }
    var pts: [(Double, Double, Double, Double)] = []
    // the ablation runs, plus the main FPT+ runs (`side`) on the same datasets and seeds
    let all = try i.with("metrics.json").map { ($0.name, try RunMetrics.read($0.dir)) }
    let abl = all.filter { !$0.0.hasPrefix("side@") }.map(\.1)
    let keys = Set(abl.map(\.taskAndSeed))
    let runs =
      abl + all.filter { $0.0.hasPrefix("side@") && $0.1.method == "fpt+" && keys.contains($0.1.taskAndSeed) }.map(\.1)
    for r in runs {
      pts.append(
        (
          r.side?.value(key) ?? .nan, 100 * (r.test?.macroAuc ?? .nan), 100 * (r.test?.macroF1 ?? .nan),
          r.memoryTotal / 1_048_576
        ))
    }
    let values = Array(Set(pts.map(\.0))).sorted()
    let agg = values.map { v -> (Double, Double, Double, Double, Double) in
      let p = pts.filter { $0.0 == v }
      return (avg(p.map(\.1)), sd(p.map(\.1)), avg(p.map(\.2)), sd(p.map(\.2)), avg(p.map(\.3)))
    }
    var c = Chart(kind: .bars, title: "FPT+: test AUC and F1 against \(key.replacingOccurrences(of: "_", with: " "))")
    c.categories = values.map { String(format: "%g", $0) }; c.xLabel = key.replacingOccurrences(of: "_", with: " ");
    c.yLabel = "%"
    c.series = [
      Series(name: "AUC", y: agg.map(\.0), err: agg.map(\.1)), Series(name: "F1", y: agg.map(\.2), err: agg.map(\.3)),
    ]
    var m = Chart(kind: .bars, title: "training memory (MiB)")
    m.categories = c.categories; m.xLabel = c.xLabel; m.yLabel = "MiB"
    m.series = [Series(name: "", y: agg.map(\.4), colour: 2)]
    return BuiltFigure(
      figure: Figure(name: "", title: "", caption: "", panels: [c, m], columns: 2, width: 640, height: 260),
      table: TableSpec(
        header: [key, "AUC %", "F1 %", "memory MiB"],
        rows: values.indices.map {
          [
            c.categories[$0], pct(agg[$0].0) + "±" + pct(agg[$0].1),
            pct(agg[$0].2) + "±" + pct(agg[$0].3), pct(agg[$0].4, 2),
          ]
        }))
  }

  // MARK: FPT+ Fig. 7: components added one by one
  static func fptFig7(_ i: FigureInput) throws -> BuiltFigure {
    let steps: [(String, String, String)] = [
      ("fig7-side-only", "side ViT alone", "side only"),
      ("fig7-mlp", "+ the frozen model's tokens through an MLP, as side rows (all tokens, symmetric input)", "+ MLP"),
      ("fig7-symmetric", "MLP replaced by prompts and fusion (all tokens, symmetric input)", "fusion"),
      ("ablate-tokens", "+ asymmetric input", "+ asymmetric"), ("side", "+ important tokens (FPT+)", "+ token sel."),
    ]
    var short: [String] = []
    var names: [String] = [], auc: [Double] = [], mem: [Double] = [], memNo: [Double] = []
    for (base, label, shortLabel) in steps {
      let ablationKeys = Set(i.stages("fig7-side-only").compactMap { try? RunMetrics.read($0.dir) }.map(\.taskAndSeed))
      let runs = i.stages(base).compactMap { try? RunMetrics.read($0.dir) }
        .filter { base != "ablate-tokens" || $0.side?.tokenRatio == 1.0 }
        .filter { base != "side" || ($0.method == "fpt+" && ablationKeys.contains($0.taskAndSeed)) }
      guard !runs.isEmpty else { continue }
      names.append(label)
      short.append(shortLabel)
      auc.append(avg(runs.map { 100 * ($0.test?.macroAuc ?? .nan) }))
      mem.append(avg(runs.map { $0.memoryTotal / 1_048_576 }))
      memNo.append(avg(runs.map { ($0.memoryWithoutPreloadBytes ?? .nan) / 1_048_576 }))
    }
    var a = Chart(kind: .bars, title: "test AUC (%)"); a.categories = short; a.yLabel = "%"
    a.xLabel = "components"
    a.series = [Series(name: "", y: auc, colour: 4)]
    var m = Chart(kind: .bars, title: "training memory (MiB)"); m.categories = a.categories; m.yLabel = "MiB";
    m.xLabel = a.xLabel
    m.series = [
      Series(name: "without preloading", y: memNo, colour: 5), Series(name: "with preloading", y: mem, colour: 2),
    ]
    return BuiltFigure(
      figure: Figure(
        name: "", title: "FPT+ Fig. 7: components added one by one", caption: "", panels: [a, m],
        columns: 2, width: 640, height: 260),
      table: TableSpec(
        header: ["step", "components", "AUC %", "memory MiB (preloaded)", "memory MiB (not preloaded)"],
        rows: names.indices.map { ["\($0 + 1)", names[$0], pct(auc[$0]), pct(mem[$0], 2), pct(memNo[$0], 2)] }))
  }
}

//===--- SweepSummary.swift - `sweep-summary`: the Table 1 of a method sweep --===//
//
// Reads metrics.json of every needed `peft` (or finetune) stage and writes
//   table.csv     one row per method × dataset: seeds, F1/accuracy/AUC mean
//                 and std (test split, %), trainable ratio (%), peak training
//                 memory (MiB, engine accounting), train seconds
//   summary.json  per method: averages over datasets, ratio, memory ratio to
//                 full fine-tuning, PPE and PME (FPT+'s `utils/peme.py`:
//                 score·exp(−log10(r + 1)), r and m as fractions, full FT = 1)
//                 on AUC and on F1; paired tests of each `compare` method
//                 against every other method over (dataset, seed) pairs:
//                 mean difference, Cohen's d_z, two-sided sign-flip
//                 permutation p (exact for n ≤ 16, else 20,000 seeded flips)
//                 runs that collapsed onto one class on the test split (every other class recalled < 1 %)
//                 (collapsed_runs; per cell in collapsed_cells)
//   table.md      the same, readable; a collapsed cell is marked † n
//===----------------------------------------------------------------------===//
import Foundation
import Model
import Outputs
import Pipeline
import Storage
import Training

public struct SweepSummaryStageKind: StageKind {
  public init() {}
  public let name = "sweep-summary"
  public let version = 5  // 5: collapsed = every class but one recalled below 1 % (was: exactly one class predicted)
  public var parameters: [ParameterSpec] {
    [
      ParameterSpec(
        "compare", default: .string("sh-peft,fpt+"), help: "methods tested against every other (comma-separated)"),
      ParameterSpec("title", default: .string("Table 1")),
      ParameterSpec(
        "protocol",
        help: "whose protocol the runs followed: sh-peft or fpt-plus (the report tests its paper's claims)"
      )
      .oneOf(["sh-peft", "fpt-plus"]).optional(like: .string("sh-peft")),
    ]
  }

  struct Run {
    let method, dataset: String; let seed: Int; let f1, acc, auc, ratio, memory, seconds: Double
    /// The run collapsed onto one class on the test split (`SplitMetrics.collapsed`: every other class's recall < 1 %).
    let collapsed: Bool
  }

  struct Values: Decodable {
    /// Comma-separated methods.
    var compare, title: String
    var `protocol`: String?
  }

  public func run(_ ctx: StageContext) throws {
    let v = try ctx.decode(Values.self)
    var runs: [Run] = []
    for (_, dir) in ctx.inputs.sorted(by: { $0.key < $1.key }) {
      guard FileManager.default.fileExists(atPath: dir + "/metrics.json") else { continue }
      let j = try RunMetrics.read(dir)
      let method = j.method ?? (j.mode == "linear-probe" ? "linear-probe" : "full")
      guard let test = j.test else { continue }
      runs.append(
        Run(
          method: method, dataset: j.dataset ?? "?", seed: j.seed ?? 0, f1: 100 * (test.macroF1 ?? .nan),
          acc: 100 * (test.accuracy ?? .nan), auc: 100 * (test.macroAuc ?? .nan),
          ratio: j.trainableRatio ?? Double(j.trainableParameters ?? 0) / Double(j.totalParameters ?? 1),
          memory: j.memoryTotal, seconds: j.seconds ?? .nan,
          collapsed: test.collapsed ?? false))
    }
    guard !runs.isEmpty else { throw StudyError.missingInput("sweep-summary needs peft stages with metrics.json") }
    let methods = orderedMethods(runs), datasets = Array(Set(runs.map(\.dataset))).sorted()
    func ms(_ xs: [Double]) -> (Double, Double) { (mean(xs), xs.count > 1 ? std(xs) : 0) }
    var csv =
      "method,dataset,seeds,f1_mean,f1_std,accuracy_mean,accuracy_std,auc_mean,auc_std,"
      + "trainable_ratio_percent,memory_mib\n"
    var timing: [[String: Any]] = []  // wall-clock: timing.json, left out of the content hash
    var perMethod: [String: SweepSummaryOutput.Method] = [:]
    let fullMem = mean(runs.filter { $0.method == "full" }.map(\.memory))
    var md =
      "# \(v.title)\n\nTest split, % (mean ± std over seeds). Ratio: trainable / "
      + "total parameters "
      + "(denominator per method in each stage's metrics.json). Memory: engine accounting (parameters, gradients, "
      + "optimizer state, activations).\n\n"
      + "| method | " + datasets.joined(separator: " | ")
      + " | avg F1 | avg AUC | ratio % | memory MiB | PPE (AUC) | PME (AUC) |\n"
      + "|" + String(repeating: "---|", count: datasets.count + 7) + "\n"
    for m in methods {
      let rs = runs.filter { $0.method == m }
      var cells: [String] = [], f1s: [Double] = [], aucs: [Double] = [], accs: [Double] = []
      var byDataset: [String: SweepSummaryOutput.Cell] = [:]  // seed means per task: the verdicts' unit
      for d in datasets {
        let x = rs.filter { $0.dataset == d }
        guard !x.isEmpty else { cells.append("–"); continue }
        let f = ms(x.map(\.f1)), a = ms(x.map(\.acc)), u = ms(x.map(\.auc))
        f1s.append(f.0); accs.append(a.0); aucs.append(u.0)
        byDataset[d] = .init(f1: f.0, f1Std: f.1, auc: u.0, seeds: x.count, collapsed: x.filter(\.collapsed).count)
        csv +=
          "\(m),\(d),\(x.count),\(f.0),\(f.1),\(a.0),\(a.1),\(u.0),\(u.1),"
          + "\(100 * mean(x.map(\.ratio))),\(mean(x.map(\.memory)) / 1_048_576)\n"
        timing.append(["method": m, "dataset": d, "seeds": x.count, "train_seconds_mean": mean(x.map(\.seconds))])
        let k = x.filter(\.collapsed).count  // runs that predicted one class: marked, never hidden
        cells.append(String(format: "%.1f±%.1f", f.0, f.1) + (k > 0 ? " †\(k)" : ""))
      }
      let r = mean(rs.map(\.ratio)), mem = mean(rs.map(\.memory)), memRatio = fullMem.isFinite ? mem / fullMem : .nan
      let (f1, auc) = (mean(f1s), mean(aucs))
      let ppe = { (s: Double) in s * exp(-log10(r + 1)) }, pme = { (s: Double) in s * exp(-log10(memRatio + 1)) }
      perMethod[m] = .init(
        avg: (f1, mean(accs), auc), trainableRatio: r, memoryMib: mem / 1_048_576, memoryRatioToFull: memRatio,
        ppe: (ppe(auc), ppe(f1)), pme: (pme(auc), pme(f1)), datasets: f1s.count, runs: rs.count, byDataset: byDataset)
      md +=
        "| \(m) | " + cells.joined(separator: " | ")
        + String(
          format: " | %.1f | %.1f | %.3g | %.1f | %.1f | %.1f |\n", f1, auc, 100 * r, mem / 1_048_576, ppe(auc),
          pme(auc))
    }
    let collapsed = runs.filter(\.collapsed).map { "\($0.method)@\($0.dataset)@seed\($0.seed)" }
    md +=
      collapsed.isEmpty
      ? "\nNo run collapsed onto one class (every class but one recalled below 1 %).\n"
      : "\n† n: n runs of that cell collapsed onto one class on the test split "
        + "(every other class recalled below 1 %): \(collapsed.joined(separator: ", ")).\n"
    var tests: [SweepSummaryOutput.PairedTest] = []
    let compare = v.compare.split(separator: ",").map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    md +=
      "\n## Paired tests over (dataset, seed) pairs (neither paper reports one)\n\n| method | vs | metric | n | mean "
      + "diff | d_z | p |\n|---|---|---|---|---|---|---|\n"
    for a in compare where methods.contains(a) {
      for b in methods where b != a {
        for metric in ["f1", "auc"] {
          var diffs: [Double] = []
          for x in runs where x.method == a {
            guard let y = runs.first(where: { $0.method == b && $0.dataset == x.dataset && $0.seed == x.seed }) else {
              continue
            }
            diffs.append(metric == "f1" ? x.f1 - y.f1 : x.auc - y.auc)
          }
          guard diffs.count >= 2 else { continue }
          let md0 = mean(diffs), sd = std(diffs), p = signFlipP(diffs)
          tests.append(
            .init(
              method: a, baseline: b, metric: metric, n: diffs.count, meanDifference: md0,
              cohensDz: sd > 0 ? md0 / sd : 0, p: p))
          md += String(
            format: "| %@ | %@ | %@ | %d | %+.2f | %.2f | %.3g |\n", a, b, metric, diffs.count, md0,
            sd > 0 ? md0 / sd : 0, p)
        }
      }
    }
    try csv.write(toFile: ctx.outputDir + "/table.csv", atomically: true, encoding: .utf8)
    try JSONCoding.merge(["seconds_by_cell": timing], into: ctx.outputDir + "/" + timingFileName)  // wall-clock
    try md.write(toFile: ctx.outputDir + "/table.md", atomically: true, encoding: .utf8)
    try SweepSummaryOutput(
      protocol: v.protocol, methods: perMethod, datasets: datasets, order: methods, pairedTests: tests,
      collapsedRuns: collapsed,
      collapsedCells: Dictionary(grouping: runs.filter(\.collapsed)) { "\($0.method)|\($0.dataset)" }.mapValues(
        \.count),
      runs: runs.count
    ).write(in: ctx.outputDir)
    ctx.log("\(runs.count) runs, \(methods.count) methods, \(datasets.count) datasets")
  }

  func orderedMethods(_ runs: [Run]) -> [String] {
    let known = [
      "full", "linear-probe", "bitfit", "ft-ln", "ft-att", "lora", "adalora", "adapter", "ssf",
      "vpt-shallow", "vpt-deep", "spt-lora", "sh-peft", "fpt", "fpt+",
    ]
    let present = Set(runs.map(\.method))
    return known.filter(present.contains) + present.subtracting(known).sorted()
  }
}

/// Two-sided sign-flip permutation p-value of the mean of paired differences.
func signFlipP(_ d: [Double], samples: Int = 20_000) -> Double {
  let n = d.count, obs = abs(d.reduce(0, +))
  var hits = 0, total = 0
  if n <= 16 {
    for mask in 0..<(1 << n) {
      var s = 0.0
      for i in 0..<n { s += (mask >> i) & 1 == 1 ? -d[i] : d[i] }
      if abs(s) >= obs - 1e-12 { hits += 1 }
      total += 1
    }
    return Double(hits) / Double(total)
  }
  var rng = Xoshiro256(seed: 12345)
  for _ in 0..<samples {
    var s = 0.0
    for i in 0..<n { s += rng.next() & 1 == 1 ? -d[i] : d[i] }
    if abs(s) >= obs - 1e-12 { hits += 1 }
    total += 1
  }
  return Double(hits + 1) / Double(total + 1)
}

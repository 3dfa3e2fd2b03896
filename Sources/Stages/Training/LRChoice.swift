//===--- LRChoice.swift - `lr-choice`: a learning rate per method, on validation --===//
//
// Reads metrics.json of every needed training stage (a search: method × lr × task × one or more
// seeds) and, per method, averages the validation score of each learning rate over the tasks and
// seeds it ran on, then takes the best (ties: the smaller rate). Nothing of the test split is read.
// With `per: task` it also chooses per method *and task* (the FPT code's protocol: one rate in each
// dataset's config, found by a grid search on that dataset's validation split).
//   choice.json  {"split": "val", "metric": "macro_f1",
//                 "methods": {METHOD: {"lr": best, "by_lr": {"0.001": mean, ...}, "runs": n}},
//                 "by_task": {METHOD: {TASK: {"lr": ..., "by_lr": ..., "runs": n}}}}   (per: task only)
//   choice.md    the same as a table (the report shows it beside the tables it tuned)
// A `peft` stage that needs this stage and sets `lr_from` trains at the chosen rate: its own
// method's (`lr_from: method`, FPT+'s protocol: a search per method) or one method's for all
// (`lr_from: full`, SH-PEFT's protocol: one recipe, its rate chosen for full fine-tuning); with
// `per: task`, the rate chosen on its own task (a task the search did not run on is an error).
//===----------------------------------------------------------------------===//
import Foundation
import Outputs
import Pipeline
import Training

public struct LRChoiceStageKind: StageKind {
  public init() {}
  public let name = "lr-choice"
  public let version = 1
  public var parameters: [ParameterSpec] {
    [
      ParameterSpec("metric", default: .string("macro_f1"), help: "validation metric maximised")
        .oneOf(["macro_f1", "macro_auc", "accuracy"]),
      ParameterSpec(
        "per", default: .string("method"),
        help: "method: one rate per method (mean over the search's tasks); task: one per method and task"
      ).oneOf(["method", "task"]),
    ]
  }

  /// One search run: its method, task, rate and validation score.
  public struct Trial: Equatable, Sendable {
    public let method: String, task: String, lr: Double, score: Double
    public init(method: String, task: String = "", lr: Double, score: Double) {
      (self.method, self.task, self.lr, self.score) = (method, task, lr, score)
    }
  }

  /// One choice: the best rate, every rate's mean score, and how many runs the means are over.
  public typealias Pick = (lr: Double, byLR: [Double: Double], runs: Int)

  /// `choose` within each task: [method: [task: choice]].
  public static func chooseByTask(
    _ trials: [Trial]
  ) -> [String: [String: Pick]] {
    var out: [String: [String: Pick]] = [:]
    for (task, ts) in Dictionary(grouping: trials, by: \.task) {
      for (method, c) in choose(ts) { out[method, default: [:]][task] = c }
    }
    return out
  }

  /// Per method the rate with the highest mean score (ties: the smaller rate), and every rate's mean.
  public static func choose(_ trials: [Trial]) -> [String: Pick] {
    var out: [String: Pick] = [:]
    for (method, ts) in Dictionary(grouping: trials, by: \.method) {
      var byLR: [Double: Double] = [:]
      for (lr, xs) in Dictionary(grouping: ts, by: \.lr) { byLR[lr] = xs.map(\.score).reduce(0, +) / Double(xs.count) }
      let best = byLR.keys.sorted().max { byLR[$0]! < byLR[$1]! }!  // max keeps the first of equals: the smaller rate
      out[method] = (best, byLR, ts.count)
    }
    return out
  }

  struct Values: Decodable { var metric, per: String }

  public func run(_ ctx: StageContext) throws {
    let v = try ctx.decode(Values.self), metric = v.metric
    var trials: [Trial] = []
    for (stage, dir) in ctx.inputs.sorted(by: { $0.key < $1.key }) {
      guard FileManager.default.fileExists(atPath: dir + "/metrics.json") else { continue }
      let j = try RunMetrics.read(dir)
      let method = j.method ?? j.mode ?? "full"
      guard let lr = j.lr, let s = j.val?.value(metric) else {
        throw StudyError.missingInput("lr-choice: '\(stage)' has no lr or no validation \(metric) in metrics.json")
      }
      trials.append(Trial(method: method, task: j.dataset ?? "", lr: lr, score: s.isFinite ? s : -1))
    }
    guard !trials.isEmpty else { throw StudyError.missingInput("lr-choice needs training stages with metrics.json") }
    // one choice as choice.json stores it, and its Markdown cells (every rate's mean score)
    func entry(_ c: Pick) -> (LRChoiceOutput.Choice, String) {
      let byLR = Dictionary(uniqueKeysWithValues: c.byLR.map { (String($0.key), $0.value) })
      let cells = c.byLR.keys.sorted().map { String(format: "%g: %.3f", $0, c.byLR[$0]!) }.joined(separator: ", ")
      return (.init(lr: c.lr, byLr: byLR, runs: c.runs), "\(String(format: "%g", c.lr)) | \(cells) | \(c.runs)")
    }
    var methods: [String: LRChoiceOutput.Choice] = [:]
    var md =
      "| method | chosen lr | validation \(metric) by lr (mean over the search's tasks) | runs |\n"
      + "|---|---|---|---|\n"
    for (m, c) in Self.choose(trials).sorted(by: { $0.key < $1.key }) {
      let (choice, row) = entry(c)
      methods[m] = choice
      md += "| \(m) | \(row) |\n"
      ctx.log("\(m): \(row)")
    }
    var out = LRChoiceOutput(metric: metric, methods: methods)
    if v.per == "task" {
      md += "\n| method | task | chosen lr | validation \(metric) by lr | runs |\n|---|---|---|---|---|\n"
      var byTask: [String: [String: LRChoiceOutput.Choice]] = [:]
      for (m, tasks) in Self.chooseByTask(trials).sorted(by: { $0.key < $1.key }) {
        for (t, c) in tasks.sorted(by: { $0.key < $1.key }) {
          let (choice, row) = entry(c)
          byTask[m, default: [:]][t] = choice
          md += "| \(m) | \(t) | \(row) |\n"
          ctx.log("\(m) on \(t): \(row)")
        }
      }
      out.byTask = byTask
    }
    try out.write(in: ctx.outputDir)
    try md.write(toFile: ctx.outputDir + "/choice.md", atomically: true, encoding: .utf8)
  }

  /// The rate a needed `lr-choice` stage chose for `method` (on `task` when it chose per task) and that stage's
  /// name; throws naming what is missing.
  static func chosenLR(_ ctx: StageContext, method: String, task: String?) throws -> (lr: Double, from: String) {
    let withChoice = ctx.inputs.sorted { $0.key < $1.key }.filter { LRChoiceOutput.exists(in: $0.value) }
    guard let (from, dir) = withChoice.first else {
      throw PipelineError.stageFailed(stage: ctx.stage, message: "lr_from needs an lr-choice stage in needs:")
    }
    let j = try LRChoiceOutput.read(in: dir)
    if let byTask = j.byTask {
      guard let task, let lr = byTask[method]?[task]?.lr else {
        let searched = (byTask[method]?.keys.sorted() ?? []).joined(separator: ", ")
        throw PipelineError.stageFailed(
          stage: ctx.stage,
          message: "lr_from: the lr-choice chose per task and has no rate for '\(method)' on '\(task ?? "?")' "
            + "(searched: \(searched.isEmpty ? "none" : searched)); add the task to the search")
      }
      return (lr, from)
    }
    guard let lr = j.methods[method]?.lr else {
      let known = j.methods.keys.sorted().joined(separator: ", ")
      throw PipelineError.stageFailed(
        stage: ctx.stage, message: "lr_from: the lr-choice has no rate for '\(method)' (it has: \(known))")
    }
    return (lr, from)
  }
}

//===--- Sweep.swift - summary.json of `sweep-summary`, choice.json of `lr-choice` ===//
//
// Table 1 of both papers: per method the seed means per task, their averages, the trainable ratio, the
// training memory and the PPE/PME scores (FPT+ Eq. 9/10); paired tests; runs that collapsed onto one class.
//===----------------------------------------------------------------------===//
import Storage

public struct SweepSummaryOutput: JSONFile {
  public static let fileName = "summary.json"
  public static let writtenBy: String? = "sweep-summary"

  /// One (method, task) cell: means over seeds (F1, AUC in %), the F1's std, the seeds and collapsed runs.
  public struct Cell: Codable {
    public var f1, f1Std, auc: Double
    public var seeds, collapsed: Int
    public init(f1: Double, f1Std: Double, auc: Double, seeds: Int, collapsed: Int) {
      (self.f1, self.f1Std, self.auc, self.seeds, self.collapsed) = (f1, f1Std, auc, seeds, collapsed)
    }
  }

  /// One method: averages over tasks of the seed means (%), the trainable ratio (a fraction), memory (MiB and
  /// as a fraction of full fine-tuning's), PPE/PME on AUC and F1, and its cells by task.
  public struct Method: Codable {
    public var avgF1, avgAccuracy, avgAuc, trainableRatio, memoryMib, memoryRatioToFull: Double
    public var ppeAuc, pmeAuc, ppeF1, pmeF1: Double
    public var datasets, runs: Int
    public var byDataset: [String: Cell]
    public init(
      avg: (f1: Double, accuracy: Double, auc: Double), trainableRatio: Double, memoryMib: Double,
      memoryRatioToFull: Double, ppe: (auc: Double, f1: Double), pme: (auc: Double, f1: Double), datasets: Int,
      runs: Int, byDataset: [String: Cell]
    ) {
      (avgF1, avgAccuracy, avgAuc) = avg
      (self.trainableRatio, self.memoryMib, self.memoryRatioToFull) = (trainableRatio, memoryMib, memoryRatioToFull)
      (ppeAuc, ppeF1, pmeAuc, pmeF1) = (ppe.auc, ppe.f1, pme.auc, pme.f1)
      (self.datasets, self.runs, self.byDataset) = (datasets, runs, byDataset)
    }
  }

  /// A paired comparison over (task, seed) pairs: mean difference, Cohen's d_z, sign-flip p.
  public struct PairedTest: Codable {
    public var method, baseline, metric: String
    public var n: Int
    public var meanDifference, cohensDz, p: Double
    public init(
      method: String, baseline: String, metric: String, n: Int, meanDifference: Double, cohensDz: Double, p: Double
    ) {
      (self.method, self.baseline, self.metric, self.n) = (method, baseline, metric, n)
      (self.meanDifference, self.cohensDz, self.p) = (meanDifference, cohensDz, p)
    }
  }

  public var stageKind = "sweep-summary"
  /// Whose protocol the runs followed (sh-peft, fpt-plus); nil: either.
  public var `protocol`: String?
  public var methods: [String: Method]
  /// Tasks, sorted; methods in the papers' table order.
  public var datasets, order: [String]
  public var pairedTests: [PairedTest]
  /// "method@task@seedN" of every run that predicted one class; per "method|task" their number.
  public var collapsedRuns: [String]
  public var collapsedCells: [String: Int]
  public var runs: Int

  public init(
    protocol: String?, methods: [String: Method], datasets: [String], order: [String], pairedTests: [PairedTest],
    collapsedRuns: [String], collapsedCells: [String: Int], runs: Int
  ) {
    (self.protocol, self.methods, self.datasets, self.order) = (`protocol`, methods, datasets, order)
    (self.pairedTests, self.collapsedRuns, self.collapsedCells, self.runs) = (
      pairedTests, collapsedRuns, collapsedCells, runs
    )
  }

}

/// choice.json of `lr-choice`: per method the validation-chosen learning rate.
public struct LRChoiceOutput: JSONFile {
  public static let fileName = "choice.json"

  /// The chosen rate, the mean validation score of every rate tried (key: the rate as written), the runs.
  public struct Choice: Codable {
    public var lr: Double
    public var byLr: [String: Double]
    public var runs: Int
    public init(lr: Double, byLr: [String: Double], runs: Int) { (self.lr, self.byLr, self.runs) = (lr, byLr, runs) }
  }

  public var split = "val"
  public var metric: String
  public var methods: [String: Choice]
  /// `per: task` only: per method and task (absent otherwise, so a per-method choice's file is unchanged).
  public var byTask: [String: [String: Choice]]?
  public init(metric: String, methods: [String: Choice]) { (self.metric, self.methods) = (metric, methods) }
}

//===--- Calibration.swift - summary.json of `calibration-summary` ---------===//
//
// Is the embedded model a foundation model? Per task the test macro-F1 (mean over seeds) of full
// fine-tuning, the recipe's linear probe, the k-NN probe, the converged logistic probe and training from
// scratch, their ratios to full fine-tuning; every calibration target with its value; the learning-rate
// searches (validation split).
//===----------------------------------------------------------------------===//
import Storage

public struct CalibrationSummaryOutput: JSONFile {
  public static let fileName = "summary.json"
  public static let writtenBy: String? = "calibration-summary"

  public struct Task: Codable {
    public var task: String
    public var fullFt, linearProbe, knn, logistic, scratch: Double
    public var lpRatio, knnRatio, logisticRatio, pretrainingGain: Double
    public var seeds: Int
    public init(
      task: String, fullFt: Double, linearProbe: Double, knn: Double, logistic: Double, scratch: Double, seeds: Int
    ) {
      (self.task, self.fullFt, self.linearProbe, self.knn) = (task, fullFt, linearProbe, knn)
      (self.logistic, self.scratch, self.seeds) = (logistic, scratch, seeds)
      (lpRatio, knnRatio, logisticRatio) = (linearProbe / fullFt, knn / fullFt, logistic / fullFt)
      pretrainingGain = fullFt - scratch
    }
  }

  /// One target: its name, the measured value, whether it holds, the rule in words, its threshold if one number.
  public struct Target: Codable {
    public var target: String
    public var value: Double
    public var pass: Bool
    public var rule: String
    public var threshold: Double?
    public init(_ target: String, _ value: Double, _ pass: Bool, _ rule: String, threshold: Double? = nil) {
      (self.target, self.value, self.pass, self.rule) = (target, value, pass && value.isFinite, rule)
      self.threshold = threshold
    }
  }

  /// A validation search: mean validation macro-F1 per rate, the best rate, the rates the runs used.
  public struct Search: Codable {
    public struct Point: Codable {
      public var lr, valMacroF1: Double
      public var tasks: Int
      public init(lr: Double, valMacroF1: Double, tasks: Int) {
        (self.lr, self.valMacroF1, self.tasks) = (lr, valMacroF1, tasks)
      }
    }
    public var grid: [Point]
    public var bestLr: Double
    public var usedLr: [Double]
    public var usedIsBest: Bool
    public init(grid: [Point], bestLr: Double, usedLr: [Double]) {
      (self.grid, self.bestLr, self.usedLr, usedIsBest) = (grid, bestLr, usedLr, usedLr == [bestLr])
    }
  }

  public var stageKind = "calibration-summary"
  public var tasks: [Task]
  public var targets: [Target]
  /// "role@task@seedN" of every run that predicted one class.
  public var collapsedRuns: [String]
  /// The probe the LP/FT targets read: "linear-probe" (the recipe's) or "logistic" (converged).
  public var ratioProbe: String
  /// Its ratio to full fine-tuning, mean over tasks.
  public var lpRatioMean: Double
  public var runs: Int
  /// "finetune", "linear-probe" → its search (absent without search stages).
  public var lrSearch: [String: Search]?

  public init(
    tasks: [Task], targets: [Target], collapsedRuns: [String], ratioProbe: String, lpRatioMean: Double, runs: Int,
    lrSearch: [String: Search]?
  ) {
    (self.tasks, self.targets, self.collapsedRuns) = (tasks, targets, collapsedRuns)
    (self.ratioProbe, self.lpRatioMean, self.runs, self.lrSearch) = (ratioProbe, lpRatioMean, runs, lrSearch)
  }

}

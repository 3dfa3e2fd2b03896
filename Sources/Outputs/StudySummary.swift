//===--- StudySummary.swift - summary.json of `shpeft-summary` -------------===//
//
// SH-PEFT's claims at peftlab's scale, one section per claim (absent when its stages are not in the
// pipeline); fractions and F1 are in [0, 1]. verdicts.md prints the same numbers.
//   (a) sparsity: the top k % of weight changes keep ≥ target of full fine-tuning's F1 (paper: 10 %, 0.95)
//   (b) hybridity: overlaps of key weights are small (< 0.5) but above chance
//   (c) SH-PEFT beats the other selective strategies at the same budget
//   (d) Table 4: ta+L2 is the best strategy;  (e) Table 5: λ is robust
//===----------------------------------------------------------------------===//
import Storage

public struct StudySummaryOutput: JSONFile {
  public static let fileName = "summary.json"
  public static let writtenBy: String? = "shpeft-summary"

  /// (a) Per k of the grid: F1 fraction of W_{ori←ft@k%} per task (seed means), their mean and its std over seeds.
  public struct SparsityClaim: Codable {
    public struct Row: Codable {
      public var kPercent: Double
      public var f1FractionByTask: [String: Double]
      public var f1FractionMean, f1FractionStdOverSeeds: Double
      public init(kPercent: Double, f1FractionByTask: [String: Double], mean: Double, stdOverSeeds: Double) {
        (self.kPercent, self.f1FractionByTask) = (kPercent, f1FractionByTask)
        (f1FractionMean, f1FractionStdOverSeeds) = (mean, stdOverSeeds)
      }
    }
    public var rows: [Row]
    /// The claim's k (%) and threshold (a fraction of full fine-tuning's F1); the mean at that k, its std.
    public var k, target, atK, atKStd: Double
    /// The smallest k whose mean reaches the target (nil: none below 100 %).
    public var smallestKReachingTarget: Double?
    public var reproduced: Bool
    public init(
      rows: [Row], k: Double, target: Double, atK: (Double, Double), smallestKReachingTarget: Double?,
      reproduced: Bool
    ) {
      (self.rows, self.k, self.target, (self.atK, self.atKStd)) = (rows, k, target, atK)
      (self.smallestKReachingTarget, self.reproduced) = (smallestKReachingTarget, reproduced)
    }
  }

  /// (b) Per k: the mean off-diagonal overlap, chance, their ratio, the smallest per-seed ratio, and per task the
  /// overlap with the other tasks and between its own seeds.
  public struct HybridityClaim: Codable {
    public struct Row: Codable {
      public var kPercent, meanOverlap, chance, enrichment, minSeedEnrichment: Double
      public var crossTaskByTask, sameTaskByTask: [String: Double]
      public init(
        kPercent: Double, meanOverlap: Double, chance: Double, minSeedEnrichment: Double,
        crossTaskByTask: [String: Double], sameTaskByTask: [String: Double]
      ) {
        (self.kPercent, self.meanOverlap, self.chance) = (kPercent, meanOverlap, chance)
        (enrichment, self.minSeedEnrichment) = (meanOverlap / chance, minSeedEnrichment)
        (self.crossTaskByTask, self.sameTaskByTask) = (crossTaskByTask, sameTaskByTask)
      }
    }
    public var rows: [Row]
    public var reproduced: Bool
    public init(rows: [Row], reproduced: Bool) { (self.rows, self.reproduced) = (rows, reproduced) }
  }

  /// (c) Each other selective strategy on the (task, seed) pairs it shares with SH-PEFT.
  public struct SelectiveClaim: Codable {
    public struct Row: Codable {
      public var method: String
      /// The method's F1 (mean, std over seeds), SH-PEFT's on the same pairs, the paired mean difference.
      public var f1, f1Std, shpeftF1, pairedMeanDiff: Double
      /// Pairs SH-PEFT won, of all pairs.
      public var wins, pairs: Int
      public init(
        method: String, f1: (Double, Double), shpeftF1: Double, pairedMeanDiff: Double, wins: Int, pairs: Int
      ) {
        (self.method, (self.f1, self.f1Std), self.shpeftF1) = (method, f1, shpeftF1)
        (self.pairedMeanDiff, self.wins, self.pairs) = (pairedMeanDiff, wins, pairs)
      }
    }
    public var rows: [Row]
    public var reproduced: Bool
    public init(rows: [Row], reproduced: Bool) { (self.rows, self.reproduced) = (rows, reproduced) }
  }

  /// (d) Table 4 (one row per importance strategy) and (e) Table 5 (one row per λ, `label` = λ as written).
  public struct ConfigTable: Codable {
    public struct Row: Codable {
      public var label: String
      public var f1, f1Std, accuracy: Double
      public init(label: String, f1: Double, f1Std: Double, accuracy: Double) {
        (self.label, self.f1, self.f1Std, self.accuracy) = (label, f1, f1Std, accuracy)
      }
    }
    public var rows: [Row]
    /// The best row's label; (e): the range of F1 over the rows.
    public var best: String
    public var range: Double?
    public var reproduced: Bool
    /// Per row label, per task: the seed mean (the verdicts test over tasks).
    public var byTask: [String: [String: Double]]
    public init(rows: [Row], best: String, range: Double? = nil, reproduced: Bool, byTask: [String: [String: Double]]) {
      (self.rows, self.best, self.range, self.reproduced, self.byTask) = (rows, best, range, reproduced, byTask)
    }
  }

  /// Fig. 4: a point of average F1 against the trainable ratio (a fraction of all parameters).
  public struct Point: Codable {
    public var method: String
    public var trainableRatio, f1, f1Std: Double
    public var n: Int
    public init(method: String, trainableRatio: Double, f1: Double, f1Std: Double, n: Int) {
      (self.method, self.trainableRatio, self.f1, self.f1Std, self.n) = (method, trainableRatio, f1, f1Std, n)
    }
  }

  public var stageKind = "shpeft-summary"
  public var note: String
  /// "full", "linear-probe" → per task the seed mean of test F1.
  public var byTask: [String: [String: Double]]
  /// Whether full fine-tuning learned (average F1 ≥ 0.5), and its F1 on SH-PEFT's pairs.
  public var fullFinetuneLearned: Bool?
  public var fullFinetuneF1: Double?
  public var aSparsity: SparsityClaim?
  public var bHybridity: HybridityClaim?
  public var cSelective: SelectiveClaim?
  public var dTable4, eTable5: ConfigTable?
  public var fig4: [Point]?

  public init(note: String, byTask: [String: [String: Double]]) { (self.note, self.byTask) = (note, byTask) }

}

/// Selection time against training time, per task (wall-clock seconds: in timing.json, outside the hash).
public struct SelectionTime: Codable {
  public var task: String
  public var selectionSeconds, fullFtEpochSeconds, shpeftTrainingSeconds: Double
  public init(task: String, selectionSeconds: Double, fullFtEpochSeconds: Double, shpeftTrainingSeconds: Double) {
    (self.task, self.selectionSeconds) = (task, selectionSeconds)
    (self.fullFtEpochSeconds, self.shpeftTrainingSeconds) = (fullFtEpochSeconds, shpeftTrainingSeconds)
  }
}

//===--- Importance.swift - summary.json of an `importance` stage ----------===//
//
// SH-PEFT §2.2: the selected mask of one task and seed (strategy, λ, budget), where it lives per weight
// group, and the histogram of log10 importance. Its wall-clock times are in `Timing`.
//===----------------------------------------------------------------------===//
import Storage

public struct ImportanceOutput: JSONFile {
  public static let fileName = "summary.json"
  public static let writtenBy: String? = "importance"

  /// Counts of log10(score) in bins between `log10Edges`; `zeros`: scores of exactly 0.
  public struct Histogram: Codable {
    public var log10Edges: [Double]
    public var counts: [Int]
    public var zeros: Int
    public init(log10Edges: [Double], counts: [Int], zeros: Int) {
      (self.log10Edges, self.counts, self.zeros) = (log10Edges, counts, zeros)
    }
  }

  public var stageKind = "importance"
  public var dataset: String
  public var seed: Int
  /// The selection: strategy, λ, budget (% of backbone elements), elements selected of all.
  public var strategy: String
  public var lambda, budgetPercent: Double
  public var selected, backboneParameters: Int
  /// The gradient pass: batches and images.
  public var batches, images: Int
  /// Share of the mask, and of the backbone, per weight group.
  public var maskGroupShares, backboneGroupShares: [String: Double]
  public var histogram: Histogram

  public init(
    dataset: String, seed: Int, strategy: String, lambda: Double, budgetPercent: Double, selected: Int,
    backboneParameters: Int, batches: Int, images: Int, maskGroupShares: [String: Double],
    backboneGroupShares: [String: Double], histogram: Histogram
  ) {
    (self.dataset, self.seed, self.strategy, self.lambda, self.budgetPercent) = (
      dataset, seed, strategy, lambda, budgetPercent
    )
    (self.selected, self.backboneParameters, self.batches, self.images) = (
      selected, backboneParameters, batches, images
    )
    (self.maskGroupShares, self.backboneGroupShares, self.histogram) = (
      maskGroupShares, backboneGroupShares, histogram
    )
  }

}

/// timing.json: a stage's wall-clock measurements (outside its content hash), the fields stages read.
/// Several writers add to one file: `merge(in:)` keeps what is there and replaces the fields this value has.
public struct Timing: JSONFile {
  public static let fileName = timingFileName
  /// Training loop; an importance stage's gradient pass and selection.
  public var seconds, secondsGradients, secondsSelection: Double?
  /// shpeft-summary: selection against training time per task.
  public var selectionTime: [SelectionTime]?
  public init(
    seconds: Double? = nil, secondsGradients: Double? = nil, secondsSelection: Double? = nil,
    selectionTime: [SelectionTime]? = nil
  ) {
    (self.seconds, self.secondsGradients, self.secondsSelection) = (seconds, secondsGradients, secondsSelection)
    self.selectionTime = selectionTime
  }

  /// Adds this value's fields to `dir`'s timing.json (other fields stay).
  public func merge(in dir: String) throws {
    if let mine = try JSONCoding.object(self) as? [String: Any] {
      try JSONCoding.merge(mine, into: dir + "/" + Self.fileName)
    }
  }
}

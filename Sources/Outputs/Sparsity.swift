//===--- Sparsity.swift - sparsity.json of a `sparsity` stage --------------===//
//
// SH-PEFT §2.1, Fig. 2 left: W_{ori←ft@k%} evaluated for every k of the grid, each metric also as a
// fraction of full fine-tuning (W_ft evaluated the same way).
//===----------------------------------------------------------------------===//
import Storage

public struct SparsityOutput: JSONFile {
  public static let fileName = "sparsity.json"

  /// One k of the grid: the transplanted elements and the evaluation of W_{ori←ft@k%}.
  public struct Row: Codable {
    /// k, % of backbone elements; the number of elements taken from W_ft.
    public var kPercent: Double
    public var elements: Int
    public var metrics: SplitMetrics
    /// accuracy, macro-F1, macro-AUC as fractions of full fine-tuning's.
    public var f1Fraction, accuracyFraction, aucFraction: Double

    public init(
      kPercent: Double, elements: Int, metrics: SplitMetrics, f1Fraction: Double, accuracyFraction: Double,
      aucFraction: Double
    ) {
      (self.kPercent, self.elements, self.metrics) = (kPercent, elements, metrics)
      (self.f1Fraction, self.accuracyFraction, self.aucFraction) = (f1Fraction, accuracyFraction, aucFraction)
    }

    enum CodingKeys: String, CodingKey { case kPercent, elements, f1Fraction, accuracyFraction, aucFraction }

    /// The row's metrics sit beside its own fields (one flat JSON object per k).
    public init(from decoder: Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      kPercent = try c.decode(Double.self, forKey: .kPercent)
      elements = try c.decode(Int.self, forKey: .elements)
      f1Fraction = try c.decode(Double.self, forKey: .f1Fraction)
      accuracyFraction = try c.decode(Double.self, forKey: .accuracyFraction)
      aucFraction = try c.decode(Double.self, forKey: .aucFraction)
      metrics = try SplitMetrics(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
      try metrics.encode(to: encoder)
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(kPercent, forKey: .kPercent)
      try c.encode(elements, forKey: .elements)
      try c.encode(f1Fraction, forKey: .f1Fraction)
      try c.encode(accuracyFraction, forKey: .accuracyFraction)
      try c.encode(aucFraction, forKey: .aucFraction)
    }
  }

  public var stageKind = "sparsity"
  /// The task, the fine-tuned model's seed and stage, the evaluated split.
  public var dataset: String
  public var seed: Int
  public var finetunedStage, split: String
  public var backboneParameters: Int
  /// W_ft on the split: the reference of every fraction.
  public var full: SplitMetrics
  public var grid: [Row]

  public init(
    dataset: String, seed: Int, finetunedStage: String, split: String, backboneParameters: Int, full: SplitMetrics,
    grid: [Row]
  ) {
    (self.dataset, self.seed, self.finetunedStage, self.split) = (dataset, seed, finetunedStage, split)
    (self.backboneParameters, self.full, self.grid) = (backboneParameters, full, grid)
  }
}

//===--- Hybridity.swift - hybridity.json of a `hybridity` stage -----------===//
//
// SH-PEFT §2.1, Fig. 2 right: for each k, S_t = the top-k % positions of dW for task t and
//   overlap(m, n) = |S_m ∩ S_n| / |S_m|,   chance = k / 100,
// over seeds; the same-task reference (two seeds of one task) and where the key weights live.
//===----------------------------------------------------------------------===//
import Storage

public struct HybridityOutput: JSONFile {
  public static let fileName = "hybridity.json"

  /// One k: the overlap matrices (tasks × tasks, in `tasks` order) and their summaries.
  public struct AtK: Codable {
    /// k, % of backbone elements; |S_t|; the chance overlap k / 100 (as a fraction).
    public var kPercent: Double
    public var elements: Int
    public var chance: Double
    /// Mean and sample std over seeds; one matrix per seed; the mean divided by chance.
    public var overlapMean, overlapStd, enrichmentMean: [[Double]]
    public var perSeed: [[[Double]]]
    /// The off-diagonal entries of the mean matrix: mean, min, max; and the mean per seed.
    public var offdiagonalMean, offdiagonalMin, offdiagonalMax: Double
    public var offdiagonalMeanPerSeed: [Double]
    /// Per task: its mean overlap with the other tasks, and between its own seeds (absent with one seed).
    public var crossTaskByTask, sameTaskByTask: [String: Double]
    /// Per task: the share of S_t in each weight group (WeightGroup names).
    public var groupShares: [String: [String: Double]]

    public init(
      kPercent: Double, elements: Int, chance: Double, overlapMean: [[Double]], overlapStd: [[Double]],
      perSeed: [[[Double]]], offdiagonal: (mean: Double, min: Double, max: Double), offdiagonalMeanPerSeed: [Double],
      crossTaskByTask: [String: Double], sameTaskByTask: [String: Double], groupShares: [String: [String: Double]]
    ) {
      (self.kPercent, self.elements, self.chance) = (kPercent, elements, chance)
      (self.overlapMean, self.overlapStd, self.perSeed) = (overlapMean, overlapStd, perSeed)
      enrichmentMean = overlapMean.map { $0.map { $0 / chance } }
      (offdiagonalMean, offdiagonalMin, offdiagonalMax) = offdiagonal
      self.offdiagonalMeanPerSeed = offdiagonalMeanPerSeed
      (self.crossTaskByTask, self.sameTaskByTask, self.groupShares) = (crossTaskByTask, sameTaskByTask, groupShares)
    }
  }

  public var stageKind = "hybridity"
  public var tasks: [String]
  public var seeds: [Int]
  public var backboneParameters: Int
  public var ks: [AtK]
  /// Each weight group's share of all backbone elements (the reference for `groupShares`).
  public var groupShareOfBackbone: [String: Double]

  public init(tasks: [String], seeds: [Int], backboneParameters: Int, ks: [AtK], groupShareOfBackbone: [String: Double])
  {
    (self.tasks, self.seeds, self.backboneParameters) = (tasks, seeds, backboneParameters)
    (self.ks, self.groupShareOfBackbone) = (ks, groupShareOfBackbone)
  }
}

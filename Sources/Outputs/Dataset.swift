//===--- Dataset.swift - info.json of the `dataset` stage kind -------------===//
import Storage

/// info.json of a `dataset` stage: what the decoded data.h5 holds.
public struct DatasetInfoOutput: JSONFile {
  public static let fileName = "info.json"
  public static let writtenBy: String? = "dataset"
  /// Per-channel (RGB; grey is replicated) mean and standard deviation of the training pixels, in [0, 1].
  public struct Normalization: Codable {
    public var mean, std: [Float]
    public init(mean: [Float], std: [Float]) { (self.mean, self.std) = (mean, std) }
  }
  public var stageKind = "dataset"
  public var name, task: String
  public var classes: [String]
  /// Image side in px.
  public var size: Int
  /// Split → images per class (in `classes` order).
  public var counts: [String: [Int]]
  public var normalization: Normalization?
  public init(
    name: String, task: String, classes: [String], size: Int, counts: [String: [Int]], normalization: Normalization?
  ) {
    (self.name, self.task, self.classes, self.size) = (name, task, classes, size)
    (self.counts, self.normalization) = (counts, normalization)
  }
}

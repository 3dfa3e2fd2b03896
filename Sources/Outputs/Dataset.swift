//===--- Dataset.swift - info.json of the `dataset` stage kind -------------===//
import Storage

/// info.json of a `dataset` stage: what its decoded data-<size>.h5 files hold.
public struct DatasetInfoOutput: JSONFile {
  public static let fileName = "info.json"
  public static let writtenBy: String? = "dataset"
  /// Per-channel (RGB; grey is replicated) mean and standard deviation of the training pixels, in [0, 1].
  public struct Normalization: Codable {
    public var mean, std: [Float]
    public init(mean: [Float], std: [Float]) { (self.mean, self.std) = (mean, std) }
  }
  /// One decoded size: its file (data-<size>.h5 in the stage's folder).
  public struct Decoded: Codable {
    public var size: Int
    public var file: String
    public var normalization: Normalization?
    public init(size: Int, file: String, normalization: Normalization?) {
      (self.size, self.file, self.normalization) = (size, file, normalization)
    }
  }
  public var stageKind = "dataset"
  public var name, task: String
  public var classes: [String]
  /// Split → images per class (in `classes` order).
  public var counts: [String: [Int]]
  /// Every size decoded, ascending.
  public var decoded: [Decoded]
  public init(name: String, task: String, classes: [String], counts: [String: [Int]], decoded: [Decoded]) {
    (self.name, self.task, self.classes, self.counts, self.decoded) = (name, task, classes, counts, decoded)
  }

  /// The file name of the splits decoded at `size` px.
  public static func fileName(size: Int) -> String { "data-\(size).h5" }
}

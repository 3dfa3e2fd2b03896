//===--- ImageSet.swift - an in-memory labelled image set ------------------===//
import Storage

/// Images (N, C, H, W) as normalised float32 and integer labels (N).
public struct ImageSet: Sendable {
  public var images: [Float]
  public var labels: [Int32]
  public let channels: Int, height: Int, width: Int
  public let classes: Int
  /// A multi-label set's truth, (N, classes) row-major in {0, 1} (nil: one class per image, `labels`).
  public var multiHot: [Float]? = nil

  public init(images: [Float], labels: [Int32], channels: Int, height: Int, width: Int, classes: Int) {
    precondition(images.count == labels.count * channels * height * width)
    self.images = images
    self.labels = labels
    self.channels = channels
    self.height = height
    self.width = width
    self.classes = classes
  }

  public var count: Int { labels.count }
  public var imageSize: Int { channels * height * width }

  /// Copies the samples `indices` into a batch (images, labels).
  public func gather(_ indices: ArraySlice<Int>, images dst: inout [Float], labels lab: inout [Int32]) {
    let n = imageSize
    dst.removeAll(keepingCapacity: true)
    lab.removeAll(keepingCapacity: true)
    for i in indices {
      dst.append(contentsOf: images[(i * n)..<((i + 1) * n)])
      lab.append(labels[i])
    }
  }
}

/// Shuffled mini-batches over an `ImageSet`, reshuffled each epoch with a
/// seeded generator; the last incomplete batch of an epoch is dropped.
public struct BatchSampler {
  let set: ImageSet
  let batch: Int
  var rng: Xoshiro256
  var order: [Int] = []
  var cursor = 0
  public private(set) var epoch = 0

  public init(_ set: ImageSet, batch: Int, seed: UInt64) {
    precondition(set.count >= batch, "batch \(batch) larger than the set (\(set.count))")
    self.set = set
    self.batch = batch
    rng = Xoshiro256(seed: seed)
  }

  public mutating func next(images: inout [Float], labels: inout [Int32]) {
    if order.isEmpty || cursor + batch > order.count {
      order = Array(0..<set.count)
      order.shuffle(using: &rng)
      cursor = 0
      epoch += 1
    }
    set.gather(order[cursor..<(cursor + batch)], images: &images, labels: &labels)
    cursor += batch
  }
}

//===--- RawImages.swift - decoded images before preprocessing -------------===//

/// Images as uint8 (N, H, W, C), row-major, with labels: one integer per
/// image, or `labelWidth` 0/1 entries per image for multi-label tasks.
public struct RawImages: Sendable, Equatable {
  public var images: [UInt8]
  public var labels: [Int]
  public var count: Int, height: Int, width: Int, channels: Int
  public var labelWidth: Int = 1
  /// Where each image came from (file path), when it came from a file.
  public var sources: [String] = []

  public init(
    images: [UInt8], labels: [Int], count: Int, height: Int, width: Int, channels: Int,
    labelWidth: Int = 1, sources: [String] = []
  ) {
    self.images = images
    self.labels = labels
    self.count = count
    self.height = height
    self.width = width
    self.channels = channels
    self.labelWidth = labelWidth
    self.sources = sources
  }

  public var imageSize: Int { height * width * channels }

  /// The single label of image i (multi-label: the first positive class, -1 if none).
  public func label(_ i: Int) -> Int {
    if labelWidth == 1 { return labels[i] }
    return (0..<labelWidth).first { labels[i * labelWidth + $0] != 0 } ?? -1
  }

  /// The multi-hot label rows of `indices`, (n, labelWidth) row-major in {0, 1} (a multi-label set).
  public func multiHot(_ indices: [Int]) -> [Float] {
    indices.flatMap { i in labels[(i * labelWidth)..<((i + 1) * labelWidth)].map { $0 != 0 ? Float(1) : 0 } }
  }

  /// The images at `indices`, in that order.
  public func subset(_ indices: [Int]) -> RawImages {
    var img: [UInt8] = []
    img.reserveCapacity(indices.count * imageSize)
    var lab: [Int] = []
    for i in indices {
      img += images[(i * imageSize)..<((i + 1) * imageSize)]
      lab += labels[(i * labelWidth)..<((i + 1) * labelWidth)]
    }
    return RawImages(
      images: img, labels: lab, count: indices.count, height: height, width: width,
      channels: channels, labelWidth: labelWidth,
      sources: sources.isEmpty ? [] : indices.map { sources[$0] })
  }
}

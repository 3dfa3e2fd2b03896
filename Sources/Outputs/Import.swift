//===--- Import.swift - import.json of `import`; fpt-preload's summary.json ===//
import Storage

/// import.json of an `import` stage: where the checkpoint came from, its layout, its size.
public struct ImportOutput: JSONFile {
  public static let fileName = "import.json"
  public var stageKind = "import"
  /// The checkpoint file (as the pipeline names it) and its layout (timm, open_clip, ...).
  public var from, flavor: String
  public var totalParameters: Int
  public init(from: String, flavor: String, totalParameters: Int) {
    (self.from, self.flavor, self.totalParameters) = (from, flavor, totalParameters)
  }
}

/// summary.json of `fpt-preload`: the frozen model's K/V stored per image (FPT+ feature preloading).
public struct PreloadOutput: JSONFile {
  public static let fileName = "summary.json"
  public static let writtenBy: String? = "fpt-preload"
  public var stageKind = "fpt-preload"
  public var dataset: String
  /// Images preloaded; bytes of K/V per image (fp32).
  public var images, bytesPerImage: Int
  /// The frozen model: input size (px), parameters, width, depth.
  public var frozenSize, frozenParameters, frozenWidth, frozenDepth: Int
  public init(
    dataset: String, images: Int, bytesPerImage: Int, frozen: (size: Int, parameters: Int, width: Int, depth: Int)
  ) {
    (self.dataset, self.images, self.bytesPerImage) = (dataset, images, bytesPerImage)
    (frozenSize, frozenParameters, frozenWidth, frozenDepth) = frozen
  }
}

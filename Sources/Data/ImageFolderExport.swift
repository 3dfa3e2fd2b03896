//===--- ImageFolderExport.swift - a dataset as PNG class folders ----------===//
//
// <to>/<split>/<class>/<index>.png, the layout `source: image-folder` reads
// (and torchvision's ImageFolder / timm's dataset readers). Written into a
// sibling temporary folder and renamed into place, so a failed export leaves
// nothing behind.
//===----------------------------------------------------------------------===//
import Foundation

public enum ImageFolderExport {
  /// Writes every split of `splits` (single-label); returns the image count written per split.
  public static func write(
    _ splits: [String: RawImages], classes: [String], to path: String,
    limit: Int? = nil
  ) throws -> [String: Int] {
    let fm = FileManager.default
    let tmp = path + ".tmp-\(getpid())"
    try? fm.removeItem(atPath: tmp)
    var written: [String: Int] = [:]
    do {
      for (split, set) in splits.sorted(by: { $0.key < $1.key }) {
        guard set.labelWidth == 1 else { throw DataError.file(path, "multi-label sets have no class folders") }
        for c in classes { try fm.createDirectory(atPath: "\(tmp)/\(split)/\(c)", withIntermediateDirectories: true) }
        let n = min(set.count, limit ?? set.count)
        for i in 0..<n {
          let px = Array(set.images[(i * set.imageSize)..<((i + 1) * set.imageSize)])
          let name = String(format: "%05d.png", i)
          try PNG.encode(
            px, height: set.height, width: set.width, channels: set.channels,
            to: "\(tmp)/\(split)/\(classes[set.labels[i]])/\(name)")
        }
        written[split] = n
      }
      try fm.createDirectory(
        atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
        withIntermediateDirectories: true)
      try fm.moveItem(atPath: tmp, toPath: path)
    } catch {
      try? fm.removeItem(atPath: tmp)
      throw error
    }
    return written
  }
}

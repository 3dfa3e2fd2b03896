//===--- DatasetCache.swift - decode once, keep as HDF5 in the cache -------===//
//
//   <cache>/datasets/<name>-<content hash 16>-<size>.h5
//     /<split>/images  uint8 (N, S, S, C)     /<split>/labels  int64 (N) or (N, K)
// Keyed by the dataset's content hash (manifest + files) and the size, so
// an edited manifest or file is decoded again. Written atomically.
//===----------------------------------------------------------------------===//
import Foundation
import Pipeline
import Storage

public enum DatasetCache {
  /// All splits of `m` at `size` px, decoded once and then read from the cache.
  public static func splits(
    _ m: DatasetManifest, root: String, size: Int, cacheDir: String,
    hasher: FileHasher
  ) throws -> [String: RawImages] {
    let hash = try DatasetCheck.contentHash(m, root: root, hasher: hasher)
    let dir = cacheDir + "/datasets"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let path = "\(dir)/\(m.name)-\(hash.prefix(16))-\(size).h5"
    if FileManager.default.fileExists(atPath: path), let cached = try? read(path) { return cached }
    var manifest = m
    manifest.imageSize = size
    let splits = try DatasetLoader.load(manifest, root: root)
    try writeAtomically(path) { tmp in
      let f = try HDF5File.create(tmp)
      try f.setAttribute("dataset", string: m.name)
      try f.setAttribute("content_hash", string: hash)
      try write(splits, to: f)
    }
    return splits
  }

  /// Writes every split, in name order: /<split>/images uint8 (N, S, S, C), /<split>/labels int64 (N) or (N, K).
  public static func write(_ splits: [String: RawImages], to f: HDF5File) throws {
    for (s, r) in splits.sorted(by: { $0.key < $1.key }) {
      try f.write(s + "/images", uint8s: r.images, shape: [r.count, r.height, r.width, r.channels])
      try f.write(
        s + "/labels", int64s: r.labels.map(Int64.init), shape: r.labelWidth == 1 ? [r.count] : [r.count, r.labelWidth])
    }
  }

  /// The splits of a decoded-dataset file (this cache's, or a `dataset` stage's data-<size>.h5: the same layout).
  public static func read(_ path: String) throws -> [String: RawImages] {
    let f = try HDF5File.open(path)
    var out: [String: RawImages] = [:]
    for s in splitNames where f.exists(s + "/images") {
      let (img, shape) = try f.readUInt8s(s + "/images")
      let (lab, lshape) = try f.readInt64s(s + "/labels")
      out[s] = RawImages(
        images: img, labels: lab.map(Int.init), count: shape[0], height: shape[1], width: shape[2],
        channels: shape[3], labelWidth: lshape.count == 2 ? lshape[1] : 1)
    }
    return out
  }
}

//===--- Loaders.swift - read a dataset into train/val/test splits ---------===//
//
// medmnist-npz  {train,val,test}_images (N, H, W[, 3]) uint8, _labels (N, 1) or (N, K)
// image-folder  <path>/<class>/*.png, or <path>/<split>/<class>/*.png for official splits
// csv           path,label[,split] (header row; path relative to the CSV's folder;
//               label a class name or index)
// hdf5          images (N, H, W[, C]) uint8 and labels (N) or (N, K) at the root, or in
//               groups train/val/test
// Without official splits, `splits: {ratios, seed}` splits each class in those proportions.
//===----------------------------------------------------------------------===//
import Foundation
import Storage

public let splitNames = ["train", "val", "test"]

public enum DatasetLoader {
  /// Loads all splits. Images of another size than the manifest's are resized.
  public static func load(_ m: DatasetManifest, root: String) throws -> [String: RawImages] {
    if m.source == .synthetic {
      var out: [String: RawImages] = [:]
      for s in splitNames { out[s] = try SyntheticGenerator.generate(m, split: s) }
      return out
    }
    guard let path = m.dataPath(root: root) else {
      throw DataError.file(m.file, "source '\(m.source.rawValue)' has no location.path")
    }
    var splits: [String: RawImages]
    var single: RawImages?
    switch m.source {
    case .medmnistNpz:
      let z = try NpzFile(path: path)
      splits = [:]
      for s in splitNames {
        splits[s] = try npzSplit(z, s, classes: m.classes.count, multiLabel: m.task == .multiLabel)
      }
    case .imageFolder:
      let fm = FileManager.default
      guard fm.fileExists(atPath: path) else {
        throw DataError.file(path, "no such folder (see \(m.file) for where to put the data)")
      }
      if splitNames.allSatisfy({ fm.fileExists(atPath: path + "/" + $0) }) {
        splits = [:]
        for s in splitNames { splits[s] = try folder(path + "/" + s, classes: m.classes) }
      } else {
        splits = [:]
        single = try folder(path, classes: m.classes)
      }
    case .csv:
      (splits, single) = try csv(path, classes: m.classes, external: m.external)
    case .hdf5:
      (splits, single) = try hdf5(path, classes: m.classes.count)
    case .synthetic:
      fatalError("handled above")
    }
    if let single {
      guard case .ratios(let r, let seed) = m.splits else {
        throw DataError.file(m.file, "the data has no official splits: give splits: {ratios: [0.7, 0.1, 0.2], seed: 0}")
      }
      splits = stratifiedSplit(single, ratios: r, seed: seed)
    }
    for (k, v) in splits where v.height != m.imageSize || v.width != m.imageSize {
      splits[k] = resized(v, to: m.imageSize)
    }
    return splits
  }

  static func npzSplit(_ z: NpzFile, _ s: String, classes: Int, multiLabel: Bool) throws -> RawImages {
    let img = try z.array("\(s)_images"), lab = try z.array("\(s)_labels")
    guard img.dtype == "|u1", img.shape.count == 3 || img.shape.count == 4 else {
      throw DataError.file(z.path, "'\(s)_images' must be uint8 (N, H, W[, C]), is \(img.dtype) \(img.shape)")
    }
    let n = img.shape[0]
    guard img.shape[1] > 0, img.shape[2] > 0, img.shape.count == 3 || [1, 3].contains(img.shape[3]) else {
      throw DataError.file(
        z.path, "'\(s)_images' has shape \(img.shape): height and width must be > 0, channels 1 or 3")
    }
    guard lab.shape.count == 1 || lab.shape.count == 2 else {
      throw DataError.file(z.path, "'\(s)_labels' must be (N) or (N, classes), is \(lab.shape)")
    }
    guard lab.shape.first == n else {
      throw DataError.file(z.path, "'\(s)_labels' has \(lab.shape.first ?? 0) rows for \(n) images")
    }
    let width = lab.shape.count == 2 ? lab.shape[1] : 1
    var labels = (0..<lab.count).map { lab.int($0) }
    if !multiLabel && width != 1 {
      throw DataError.file(z.path, "'\(s)_labels' has \(width) columns but the task is not multi-label")
    }
    if multiLabel {
      if width != classes { throw DataError.file(z.path, "'\(s)_labels' has \(width) columns for \(classes) classes") }
    } else if let bad = labels.first(where: { $0 < 0 || $0 >= classes }) {
      throw DataError.file(z.path, "'\(s)_labels' has label \(bad) outside 0..<\(classes)")
    }
    if !multiLabel { labels = Array(labels.prefix(n)) }
    return RawImages(
      images: img.bytes, labels: labels, count: n, height: img.shape[1], width: img.shape[2],
      channels: img.shape.count == 4 ? img.shape[3] : 1, labelWidth: multiLabel ? width : 1)
  }

  static let imageExtensions: Set = ["png", "PNG"]

  /// Decodes a list of (file, label) into one RawImages, resizing to the first image's size.
  static func decode(_ items: [(String, Int)]) throws -> RawImages {
    var imgs: [UInt8] = [], labels: [Int] = [], sources: [String] = []
    var H = 0, W = 0, C = 0
    for (file, label) in items {
      let ext = URL(fileURLWithPath: file).pathExtension.lowercased()
      guard ["png", "jpg", "jpeg"].contains(ext) else { throw DataError.file(file, "not a PNG or JPEG file") }
      var (px, h, w, c) = ext == "png" ? try PNG.decode(file) : try JPEG.decode(file)
      if H == 0 { (H, W, C) = (h, w, c) }
      if c != C { px = c == 1 ? px.flatMap { [$0, $0, $0] } : stride(from: 0, to: px.count, by: 3).map { px[$0] } }
      if h != H || w != W { px = Resize.resize(px, height: h, width: w, channels: C, to: H, W) }
      imgs += px
      labels.append(label)
      sources.append(file)
    }
    return RawImages(
      images: imgs, labels: labels, count: items.count, height: H, width: W, channels: C, sources: sources)
  }

  static func folder(_ dir: String, classes: [String]) throws -> RawImages {
    let fm = FileManager.default
    let subdirs = try fm.contentsOfDirectory(atPath: dir).filter {
      var d: ObjCBool = false
      return fm.fileExists(atPath: dir + "/" + $0, isDirectory: &d) && d.boolValue
    }
    for s in subdirs where !classes.contains(s) {
      throw DataError.file(dir + "/" + s, "folder is not a class of the manifest (\(classes.joined(separator: ", ")))")
    }
    var items: [(String, Int)] = []
    for (k, c) in classes.enumerated() where subdirs.contains(c) {
      for f in try fm.contentsOfDirectory(atPath: dir + "/" + c).sorted() where !f.hasPrefix(".") {
        items.append((dir + "/" + c + "/" + f, k))
      }
    }
    guard !items.isEmpty else { throw DataError.file(dir, "no images found in class folders") }
    return try decode(items)
  }

  static func csv(_ file: String, classes: [String], external: Bool = false) throws -> ([String: RawImages], RawImages?)
  {
    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
      throw DataError.file(file, "cannot read CSV")
    }
    let base = URL(fileURLWithPath: file).deletingLastPathComponent().path
    var rows = text.split(whereSeparator: \.isNewline).map {
      $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }
    guard let header = rows.first, header.count >= 2, header[0] == "path", header[1] == "label" else {
      throw DataError.file(file, "the first row must be 'path,label[,split]'")
    }
    rows.removeFirst()
    var bySplit: [String: [(String, Int)]] = [:]
    for (i, r) in rows.enumerated() {
      guard r.count >= 2 else { throw DataError.file(file, "line \(i + 2): expected path,label") }
      let label = classes.firstIndex(of: r[1]) ?? Int(r[1]) ?? -1
      guard label >= 0 && label < classes.count else {
        throw DataError.file(file, "line \(i + 2): label '\(r[1])' is not a class")
      }
      let split = header.count > 2 && r.count > 2 ? r[2] : "all"
      guard split == "all" || splitNames.contains(split) else {
        throw DataError.file(file, "line \(i + 2): split '\(split)' (train, val, test)")
      }
      if !external && (r[0].hasPrefix("/") || r[0].split(separator: "/").contains("..")) {
        throw DataError.file(
          file,
          "line \(i + 2): path '\(r[0])' leaves the CSV's folder (set location.external: true in the manifest if meant)"
        )
      }
      bySplit[split, default: []].append((r[0].hasPrefix("/") ? r[0] : base + "/" + r[0], label))
    }
    if let all = bySplit["all"] { return ([:], try decode(all)) }
    var out: [String: RawImages] = [:]
    for s in splitNames {
      guard let items = bySplit[s] else { throw DataError.file(file, "no rows for split '\(s)'") }
      out[s] = try decode(items)
    }
    return (out, nil)
  }

  static func hdf5(_ file: String, classes: Int) throws -> ([String: RawImages], RawImages?) {
    let f = try HDF5File.open(file)
    func read(_ prefix: String) throws -> RawImages {
      let (imgs, shape) = try f.readInt64s(prefix + "images")
      guard shape.count == 3 || shape.count == 4, shape[1] > 0, shape[2] > 0,
        shape.count == 3 || [1, 3].contains(shape[3])
      else {
        throw DataError.file(file, "'\(prefix)images' must be (N, H, W[, C]) with H, W > 0 and C 1 or 3, is \(shape)")
      }
      let (labs, lshape) = try f.readInt64s(prefix + "labels")
      guard lshape.count == 1, lshape.first == shape[0] else {
        throw DataError.file(file, "'\(prefix)labels' has \(lshape.first ?? 0) rows for \(shape[0]) images")
      }
      if let bad = imgs.first(where: { $0 < 0 || $0 > 255 }) {
        throw DataError.file(file, "'\(prefix)images' value \(bad) is not uint8")
      }
      let labels = labs.map(Int.init)
      if let bad = labels.first(where: { $0 < 0 || $0 >= classes }) {
        throw DataError.file(file, "'\(prefix)labels' has label \(bad) outside 0..<\(classes)")
      }
      return RawImages(
        images: imgs.map { UInt8($0) }, labels: labels, count: shape[0], height: shape[1], width: shape[2],
        channels: shape.count == 4 ? shape[3] : 1)
    }
    if f.exists("train/images") {
      var out: [String: RawImages] = [:]
      for s in splitNames { out[s] = try read(s + "/") }
      return (out, nil)
    }
    return ([:], try read(""))
  }

  /// Splits each class in the given proportions after a seeded shuffle.
  public static func stratifiedSplit(_ all: RawImages, ratios: [Double], seed: UInt64) -> [String: RawImages] {
    var rng = Xoshiro256(seed: seed)
    var parts: [[Int]] = [[], [], []]
    let byClass = Dictionary(grouping: 0..<all.count, by: { all.label($0) })
    for c in byClass.keys.sorted() {
      var idx = byClass[c]!
      idx.shuffle(using: &rng)
      let nTrain = Int((Double(idx.count) * ratios[0]).rounded())
      let nVal = Int((Double(idx.count) * ratios[1]).rounded())
      parts[0] += idx.prefix(nTrain)
      parts[1] += idx.dropFirst(nTrain).prefix(nVal)
      parts[2] += idx.dropFirst(nTrain + nVal)
    }
    return Dictionary(uniqueKeysWithValues: zip(splitNames, parts.map { all.subset($0.sorted()) }))
  }

  static func resized(_ r: RawImages, to size: Int) -> RawImages {
    var out = r
    out.images = []
    out.images.reserveCapacity(r.count * size * size * r.channels)
    for i in 0..<r.count {
      out.images += Resize.resize(
        Array(r.images[(i * r.imageSize)..<((i + 1) * r.imageSize)]), height: r.height,
        width: r.width, channels: r.channels, to: size, size)
    }
    out.height = size
    out.width = size
    return out
  }
}

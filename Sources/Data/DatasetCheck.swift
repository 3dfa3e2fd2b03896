//===--- DatasetCheck.swift - validate a dataset against its manifest ------===//
import Foundation
import Pipeline
import Storage

public struct DatasetReport: Sendable {
  public var problems: [String] = []
  public var counts: [String: [Int]] = [:]  // split -> per-class counts
  public var splits: [String: RawImages] = [:]
}

public enum DatasetCheck {
  /// Loads and checks everything; problems name the file and what is wrong.
  public static func run(_ m: DatasetManifest, root: String) -> DatasetReport {
    var r = DatasetReport()
    if let p = m.dataPath(root: root), FileManager.default.fileExists(atPath: p) {
      var isDir: ObjCBool = false
      FileManager.default.fileExists(atPath: p, isDirectory: &isDir)
      if !isDir.boolValue {
        if let md5 = m.md5, let got = try? MD5Hasher.hex(file: p), got != md5.lowercased() {
          r.problems.append("\(p): MD5 \(got) does not match the manifest's \(md5)")
        }
        if let sha = m.sha256, let got = try? SHA256Hasher.hex(file: p), got != sha.lowercased() {
          r.problems.append("\(p): SHA-256 \(got) does not match the manifest's \(sha)")
        }
      }
    }
    do {
      r.splits = try DatasetLoader.load(m, root: root)
    } catch {
      r.problems.append("\(error)")
      return r
    }
    var seen: [String: String] = [:]  // image digest or source -> split
    var overlaps: [String: Int] = [:]
    for s in splitNames {
      guard let d = r.splits[s] else { r.problems.append("\(m.file): split '\(s)' is missing"); continue }
      var counts = [Int](repeating: 0, count: m.classes.count)
      for i in 0..<d.count {
        if m.task == .multiLabel {
          for c in 0..<d.labelWidth where d.labels[i * d.labelWidth + c] != 0 { counts[c] += 1 }
        } else {
          let l = d.label(i)
          if l < 0 || l >= m.classes.count {
            r.problems.append("\(d.sources.isEmpty ? m.file : d.sources[i]): label \(l) outside 0..<\(m.classes.count)")
          } else {
            counts[l] += 1
          }
        }
        let key =
          d.sources.isEmpty
          ? SHA256Hasher.hex(Data(d.images[(i * d.imageSize)..<((i + 1) * d.imageSize)])) : d.sources[i]
        if let other = seen[key], other != s { overlaps["\(other)/\(s)", default: 0] += 1 } else { seen[key] = s }
      }
      r.counts[s] = counts
      for (c, n) in counts.enumerated() where n == 0 && s == "train" {
        r.problems.append("\(m.file): class '\(m.classes[c])' has no training images")
      }
      if let e = m.expected[s], e != d.count {
        r.problems.append("\(m.file): split '\(s)' has \(d.count) images, the manifest expects \(e)")
      }
    }
    for (pair, n) in overlaps.sorted(by: { $0.key < $1.key }) {
      r.problems.append(
        "\(m.file): \(n) images appear in both \(pair.replacingOccurrences(of: "/", with: " and ")) (split overlap)")
    }
    return r
  }

  /// Content hash of a dataset: its manifest text and every data file's digest.
  public static func contentHash(_ m: DatasetManifest, root: String, hasher: FileHasher) throws -> String {
    var h = SHA256Hasher()
    h.update(m.text)
    // A generated set is its manifest and the generator's code: a changed generator is a changed dataset.
    if m.source == .synthetic { h.update("\u{0}synthetic-generator-v\(SyntheticGenerator.version)") }
    if let p = m.dataPath(root: root) {
      var isDir: ObjCBool = false
      guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else {
        throw DataError.file(p, "missing (dataset '\(m.name)'; see \(m.file))")
      }
      if isDir.boolValue {
        let files = (FileManager.default.enumerator(atPath: p)?.allObjects as? [String] ?? []).sorted()
        for f in files {
          var d: ObjCBool = false
          if FileManager.default.fileExists(atPath: p + "/" + f, isDirectory: &d), !d.boolValue {
            h.update("\u{0}" + f + "\u{0}" + (try hasher.hash(file: p + "/" + f)))
          }
        }
      } else {
        h.update("\u{0}" + (try hasher.hash(file: p)))
      }
    }
    return h.finalize()
  }

  /// A grid of up to `perClass` thumbnails per class (rows = the first `maxRows` classes) as a PNG.
  public static func thumbnailGrid(
    _ d: RawImages, classes allClasses: Int, perClass: Int = 8, maxRows: Int = 24,
    to path: String
  ) throws {
    let pad = 2, cell = max(d.height, 16), classes = min(allClasses, maxRows)
    let W = perClass * (cell + pad) + pad, H = classes * (cell + pad) + pad
    var px = [UInt8](repeating: 255, count: W * H * 3)
    var filled = [Int](repeating: 0, count: classes)
    for i in 0..<d.count {
      let c = d.label(i)
      guard c >= 0 && c < classes && filled[c] < perClass else { continue }
      let img = Resize.resize(
        Array(d.images[(i * d.imageSize)..<((i + 1) * d.imageSize)]), height: d.height,
        width: d.width, channels: d.channels, to: cell, cell)
      let ox = pad + filled[c] * (cell + pad), oy = pad + c * (cell + pad)
      for y in 0..<cell {
        for x in 0..<cell {
          for k in 0..<3 {
            px[((oy + y) * W + ox + x) * 3 + k] = img[(y * cell + x) * d.channels + (d.channels == 3 ? k : 0)]
          }
        }
      }
      filled[c] += 1
    }
    try PNG.encode(px, height: H, width: W, channels: 3, to: path)
  }
}

//===--- Manifest.swift - one YAML file per dataset in data-manifests/ -----===//
//
//   name: pathmnist-28
//   modality: pathology
//   task: multi-class                 # multi-class | binary | multi-label
//   classes: [adipose, background, ...]
//   source: medmnist-npz              # synthetic | medmnist-npz | image-folder | csv | hdf5
//   location:
//     path: medmnist/pathmnist.npz    # relative to the data root (default data/)
//     url: https://...                # where `dataset fetch` downloads it from, if public
//   checksum: {md5: 5d0e...}          # or {sha256: ...}
//   splits: official                  # or {ratios: [0.7, 0.1, 0.2], seed: 0}
//   image: {size: 28, channels: 3}    # native size and channels
//   expected: {train: 89996, val: 10004, test: 7180}
//   description: what distinguishes the classes
//   citation: ...; licence: ...; homepage: ...
//===----------------------------------------------------------------------===//
import Foundation
import Pipeline
import Yams

public struct DatasetManifest: Sendable, Equatable {
  public enum Task: String, Sendable { case multiClass = "multi-class", binary, multiLabel = "multi-label" }
  public enum Source: String, Sendable, CaseIterable {
    case synthetic, medmnistNpz = "medmnist-npz", imageFolder = "image-folder", csv, hdf5
  }
  public enum Splits: Sendable, Equatable { case official, ratios([Double], seed: UInt64) }

  public var file: String
  public var name: String
  public var modality: String
  public var task: Task
  public var classes: [String]
  public var source: Source
  public var path: String?
  public var url: String?
  /// `location.external: true`: the data may live outside the data root (an absolute path or '..').
  public var external: Bool
  public var md5: String?
  public var sha256: String?
  public var splits: Splits
  public var imageSize: Int
  public var channels: Int
  public var expected: [String: Int]
  public var description: String
  public var citation: String
  public var licence: String
  public var homepage: String
  /// Parameters of a synthetic generator (source: synthetic).
  public var generator: [String: Value]
  /// The manifest's own text (part of the dataset's content hash).
  public var text: String

  public static func load(_ file: String) throws -> DatasetManifest {
    func bad(_ m: String) -> DataError { .file(file, m) }
    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw bad("cannot read manifest") }
    let any: Any?
    do { any = try loadYAML(text, path: file) } catch let PipelineError.file(_, line, _, message) {
      throw bad(line > 0 ? "line \(line): \(message)" : message)
    }
    guard let y = any as? [String: Any] else { throw bad("a manifest is a YAML mapping") }
    let known: Set = [
      "name", "modality", "task", "classes", "source", "location", "checksum", "splits", "image",
      "expected", "description", "citation", "licence", "license", "homepage", "generator",
    ]
    for k in y.keys where !known.contains(k) { throw bad("unknown field '\(k)'") }
    func str(_ k: String, required: Bool = true) throws -> String {
      if let s = y[k] as? String { return s }
      if let v = y[k] { return "\(v)" }
      if required { throw bad("missing field '\(k)'") }
      return ""
    }
    let name = try str("name")
    guard isSafeName(name) else {
      throw bad(
        "name '\(name)' must be letters, digits, '.', '_', '+', '-' (starting with a letter or digit, no '..'): it "
          + "names folders"
      )
    }
    guard let task = Task(rawValue: try str("task")) else {
      throw bad("task must be multi-class, binary or multi-label")
    }
    guard let source = Source(rawValue: try str("source")) else {
      throw bad("source must be one of \(Source.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    let classes: [String]
    if let spec = y["classes"] as? [String: Any] {  // {count: 512, prefix: recipe-}: generated names
      guard let n = spec["count"] as? Int, n > 0, n <= 100_000 else {
        throw bad("classes.count must be an integer in 1...100000")
      }
      let prefix = spec["prefix"].map { "\($0)" } ?? "class-"
      let digits = String(n - 1).count
      classes = (0..<n).map { prefix + String(repeating: "0", count: digits - String($0).count) + String($0) }
    } else {
      guard let list = (y["classes"] as? [Any])?.map({ "\($0)" }), !list.isEmpty else {
        throw bad("missing 'classes' (a list, or {count: N, prefix: P})")
      }
      classes = list
    }
    var seenClass = Set<String>()
    for c in classes where !seenClass.insert(c).inserted { throw bad("class '\(c)' is listed twice in 'classes'") }
    if task == .binary && classes.count != 2 { throw bad("a binary task has 2 classes, not \(classes.count)") }
    if let l = y["location"], !(l is [String: Any]) { throw bad("location must be a mapping {path: ..., url: ...}") }
    let loc = y["location"] as? [String: Any] ?? [:]
    for k in loc.keys where !["path", "url", "external"].contains(k) { throw bad("unknown field 'location.\(k)'") }
    if let p = loc["path"], !(p is String) { throw bad("location.path must be a string") }
    let external = (loc["external"] as? Bool) ?? false
    if let e = loc["external"], !(e is Bool) { throw bad("location.external must be true or false") }
    if let p = loc["path"] as? String, !external,
      p.isEmpty || p.hasPrefix("/") || p.split(separator: "/").contains("..")
    {
      throw bad(
        "location.path '\(p)' leaves the data root (absolute or '..'): add 'external: true' to location if that is "
          + "meant"
      )
    }
    if let c = y["checksum"], !(c is [String: Any]) {
      throw bad("checksum must be a mapping {md5: \"...\"} or {sha256: \"...\"}, not \(type(of: c)) \(c)")
    }
    let sum = y["checksum"] as? [String: Any] ?? [:]
    for (k, v) in sum {
      guard ["md5", "sha256"].contains(k) else { throw bad("checksum.\(k): only md5 and sha256 are supported") }
      guard let h = v as? String, h.count == (k == "md5" ? 32 : 64), h.allSatisfy(\.isHexDigit) else {
        throw bad("checksum.\(k) must be a quoted hex string of \(k == "md5" ? 32 : 64) digits")
      }
    }
    var splits = Splits.official
    if let s = y["splits"] as? [String: Any] {
      guard let r = (s["ratios"] as? [Any])?.compactMap({ ($0 as? Double) ?? ($0 as? Int).map(Double.init) }),
        r.count == 3,
        r.allSatisfy({ $0 >= 0 && $0 <= 1 }), abs(r.reduce(0, +) - 1) < 1e-6
      else {
        throw bad("splits.ratios must be three numbers in [0, 1] summing to 1")
      }
      let seed = s["seed"] ?? 0
      guard let sd = seed as? Int, sd >= 0 else { throw bad("splits.seed must be a non-negative integer, not \(seed)") }
      splits = .ratios(r, seed: UInt64(sd))
    } else if let s = y["splits"], (s as? String) != "official" {
      throw bad("splits is 'official' or {ratios: [train, val, test], seed: N}")
    }
    let image = y["image"] as? [String: Any] ?? [:]
    guard let size = image["size"] as? Int, let ch = image["channels"] as? Int else {
      throw bad("missing image: {size, channels}")
    }
    guard (1...4096).contains(size) else { throw bad("image.size must be in 1...4096 pixels, not \(size)") }
    guard ch == 1 || ch == 3 else { throw bad("image.channels must be 1 or 3, not \(ch)") }
    var expected: [String: Int] = [:]
    if let e = y["expected"] {
      guard let m = e as? [String: Any] else { throw bad("expected maps splits to image counts") }
      for (k, v) in m {
        guard let n = v as? Int, n >= 0 else { throw bad("expected.\(k) must be a non-negative integer, not \(v)") }
        expected[k] = n
      }
    }
    if source != .synthetic && loc["path"] == nil { throw bad("missing location.path") }
    let gen = (y["generator"] as? [String: Any]).map { Value(json: $0).object ?? [:] } ?? [:]
    return DatasetManifest(
      file: file, name: name, modality: try str("modality"), task: task, classes: classes, source: source,
      path: loc["path"] as? String, url: loc["url"] as? String, external: external, md5: sum["md5"] as? String,
      sha256: sum["sha256"] as? String,
      splits: splits, imageSize: size, channels: ch, expected: expected,
      description: try str("description", required: false), citation: try str("citation", required: false),
      licence: (y["licence"] ?? y["license"]).map { "\($0)" } ?? "", homepage: try str("homepage", required: false),
      generator: gen, text: text)
  }

  /// Every manifest in a folder and its sub-folders, sorted by path.
  public static func all(in dir: String) throws -> [DatasetManifest] {
    let files = (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String] ?? [])
      .filter { $0.hasSuffix(".yaml") && URL(fileURLWithPath: $0).lastPathComponent != "groups.yaml" }.sorted()
    // Parsed once per process while no file changes (every stage of a pipeline asks for its dataset).
    let stamp = files.map { f -> String in
      let a = try? FileManager.default.attributesOfItem(atPath: dir + "/" + f)
      return "\(f):\((a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0):\((a?[.size] as? Int) ?? 0)"
    }.joined(separator: "|")
    if let hit = ManifestMemo.shared.get(dir, stamp) { return hit }
    var seen: [String: String] = [:]
    let all = try files.map { f in
      let m = try load(dir + "/" + f)
      if let other = seen[m.name] {
        throw DataError.file(dir + "/" + f, "dataset name '\(m.name)' is also used by \(other)")
      }
      seen[m.name] = dir + "/" + f
      return m
    }
    ManifestMemo.shared.set(dir, stamp, all)
    return all
  }

  /// Absolute path of the data file or folder under `dataRoot`.
  public func dataPath(root: String) -> String? {
    path.map { $0.hasPrefix("/") ? $0 : root + "/" + $0 }
  }
}

/// `data-manifests/groups.yaml`: named lists of datasets that pipelines sweep over.
public enum DatasetGroups {
  /// The groups, each checked against the manifests of `dir`.
  public static func load(_ dir: String) throws -> [String: [String]] {
    let file = dir + "/groups.yaml"
    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [:] }
    guard let y = (try? loadYAML(text, path: file)) as? [String: [String]] else {
      throw DataError.file(file, "groups.yaml maps group names to lists of dataset names")
    }
    let names = Set(try DatasetManifest.all(in: dir).map(\.name))
    for (g, members) in y {
      for n in members where !names.contains(n) {
        throw DataError.file(file, "group '\(g)' lists '\(n)', which has no manifest")
      }
    }
    return y
  }
}

/// Parsed manifests per folder, valid while the folder's files keep their mtimes and sizes.
final class ManifestMemo: @unchecked Sendable {
  static let shared = ManifestMemo()
  private let lock = NSLock()
  private var entries: [String: (String, [DatasetManifest])] = [:]
  func get(_ dir: String, _ stamp: String) -> [DatasetManifest]? {
    lock.lock(); defer { lock.unlock() }
    guard let e = entries[dir], e.0 == stamp else { return nil }
    return e.1
  }
  func set(_ dir: String, _ stamp: String, _ m: [DatasetManifest]) {
    lock.lock(); defer { lock.unlock() }
    entries[dir] = (stamp, m)
  }
}

/// Dataset names become folder and file names: letters, digits, `.`, `_`, `+`, `-`, starting with a
/// letter or digit, no "..".
func isSafeName(_ s: String) -> Bool {
  guard let f = s.unicodeScalars.first, f.properties.isAlphabetic || ("0"..."9").contains(f), !s.contains("..") else {
    return false
  }
  return s.count <= 128
    && s.unicodeScalars.allSatisfy {
      $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._+-".unicodeScalars.contains($0))
    }
}

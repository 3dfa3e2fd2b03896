//===--- DatasetTools.swift - fetch a dataset; scaffold a manifest ---------===//
import Foundation
import Storage

public enum DatasetFetch {
  public enum Outcome: Equatable { case alreadyPresent(String), downloaded(String), generated }

  /// Downloads `m`'s file with resume (curl -C -), verifies its checksum, and
  /// moves it into place atomically. Errors say where to put the file by hand.
  public static func fetch(_ m: DatasetManifest, root: String) throws -> Outcome {
    if m.source == .synthetic { return .generated }
    guard let dest = m.dataPath(root: root) else { throw DataError.file(m.file, "no location.path") }
    func verify(_ file: String) throws {
      if let md5 = m.md5 {
        let got = try MD5Hasher.hex(file: file)
        guard got == md5.lowercased() else {
          throw DataError.file(file, "MD5 \(got) does not match the manifest's \(md5)")
        }
      }
    }
    if FileManager.default.fileExists(atPath: dest) {
      try verify(dest)
      return .alreadyPresent(dest)
    }
    let byHand = "put the file at \(dest)" + (m.md5.map { " (MD5 \($0))" } ?? "")
    guard let url = m.url else {
      throw DataError.file(
        m.file,
        "no download URL: get '\(m.name)' from \(m.homepage.isEmpty ? "its source" : m.homepage) and "
          + "\(byHand.replacingOccurrences(of: "put the file", with: "put the data"))"
      )
    }
    try FileManager.default.createDirectory(
      atPath: URL(fileURLWithPath: dest).deletingLastPathComponent().path,
      withIntermediateDirectories: true)
    let partial = dest + ".part"  // kept between attempts so curl can resume
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [
      "curl", "--fail", "--location", "--silent", "--show-error", "--retry", "2", "--connect-timeout", "10",
      "-C", "-", "-o", partial, url,
    ]
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle.nullDevice
    do { try p.run() } catch {
      throw DataError.file(url, "cannot run curl (\(error)); download it by hand and \(byHand)")
    }
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
      let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)
      throw DataError.file(
        url,
        "download failed (\(msg.isEmpty ? "curl exit \(p.terminationStatus)" : msg)); offline? Download it by hand and "
          + "\(byHand)"
      )
    }
    do { try verify(partial) } catch {
      try? FileManager.default.removeItem(atPath: partial)
      throw error
    }
    guard rename(partial, dest) == 0 else { throw DataError.file(dest, "cannot move the download into place") }
    return .downloaded(dest)
  }
}

public enum ManifestScaffold {
  /// A manifest for data found at `path` (a class-folder tree, a CSV or an npz).
  public static func make(
    name: String, source: DatasetManifest.Source, path: String, dataRoot: String,
    modality: String
  ) throws -> String {
    guard isSafeName(name) else {
      throw DataError.file(path, "dataset name '\(name)' must be letters, digits, '.', '_', '+', '-' (no '/' or '..')")
    }
    let fm = FileManager.default
    var classes: [String] = []
    var size = 0, channels = 3, official = false
    var expected: [String: Int] = [:]
    switch source {
    case .imageFolder:
      official = splitNames.allSatisfy { fm.fileExists(atPath: path + "/" + $0) }
      let classRoot = official ? path + "/train" : path
      classes = try fm.contentsOfDirectory(atPath: classRoot).filter {
        var d: ObjCBool = false
        return fm.fileExists(atPath: classRoot + "/" + $0, isDirectory: &d) && d.boolValue
      }.sorted()
      guard let c0 = classes.first, let f0 = try fm.contentsOfDirectory(atPath: classRoot + "/" + c0).sorted().first
      else {
        throw DataError.file(path, "no class folders with images")
      }
      let img = try PNG.decode(classRoot + "/" + c0 + "/" + f0)
      (size, channels) = (img.height, img.channels)
    case .csv:
      let text = try String(contentsOfFile: path, encoding: .utf8)
      let rows = text.split(whereSeparator: \.isNewline).dropFirst().map { $0.split(separator: ",").map(String.init) }
      classes = Array(Set(rows.compactMap { $0.count > 1 ? $0[1] : nil })).sorted()
      official = rows.contains { $0.count > 2 }
      guard let first = rows.first else { throw DataError.file(path, "no rows") }
      let img = try PNG.decode(
        first[0].hasPrefix("/")
          ? first[0] : URL(fileURLWithPath: path).deletingLastPathComponent().path + "/" + first[0])
      (size, channels) = (img.height, img.channels)
    case .medmnistNpz:
      let z = try NpzFile(path: path)
      let img = try z.array("train_images"), lab = try z.array("train_labels")
      guard img.shape.count == 3 || img.shape.count == 4, !lab.shape.isEmpty else {
        throw DataError.file(
          path,
          "'train_images' must be (N, H, W[, C]) and 'train_labels' (N[, classes]); are \(img.shape) and \(lab.shape)")
      }
      size = img.shape[1]
      channels = img.shape.count == 4 ? img.shape[3] : 1
      let k =
        lab.shape.count == 2 && lab.shape[1] > 1 ? lab.shape[1] : ((0..<lab.count).map { lab.int($0) }.max() ?? 0) + 1
      classes = (0..<k).map(String.init)
      official = true
      for s in splitNames { expected[s] = try z.array("\(s)_labels").shape[0] }
    default:
      throw DataError.file(path, "scaffolding supports --from-folder, --from-csv and --from-npz")
    }
    let rel = path.hasPrefix(dataRoot + "/") ? String(path.dropFirst(dataRoot.count + 1)) : path
    let external = rel.hasPrefix("/") || rel.split(separator: "/").contains("..")
    var y = """
      # Scaffolded by `peftlab dataset add`: check the classes, task, citation and licence.
      name: \(name)
      modality: \(modality)
      task: \(classes.count == 2 ? "binary" : "multi-class")
      classes: [\(classes.map { "\"\($0)\"" }.joined(separator: ", "))]
      source: \(source.rawValue)
      location: {path: "\(rel)"\(external ? ", external: true" : "")}
      splits: \(official ? "official" : "{ratios: [0.7, 0.1, 0.2], seed: 0}")
      image: {size: \(size), channels: \(channels)}

      """
    if !expected.isEmpty {
      y += "expected: {" + splitNames.map { "\($0): \(expected[$0]!)" }.joined(separator: ", ") + "}\n"
    }
    y += "description: \"\"\ncitation: \"\"\nlicence: \"\"\nhomepage: \"\"\n"
    return y
  }
}

//===--- DatasetCommand.swift - `peftlab dataset ...` ----------------------===//
import ArgumentParser
import Data
import Foundation
import Pipeline

struct DatasetCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dataset", abstract: "List, show and check datasets described in data-manifests/.",
    subcommands: [List.self, Show.self, Check.self, Fetch.self, Add.self, Export.self])

  struct Where: ParsableArguments {
    @Option(help: "Folder of manifests.") var manifests = "data-manifests"
    @Option(help: "Data root that manifests' location.path is relative to.") var dataRoot = "data"

    func manifest(_ nameOrFile: String) throws -> DatasetManifest {
      try reportingErrors {
        if nameOrFile.hasSuffix(".yaml") { return try DatasetManifest.load(nameOrFile) }
        let all = try DatasetManifest.all(in: manifests)
        guard let m = all.first(where: { $0.name == nameOrFile }) else {
          throw CLIError(
            message:
              "\(manifests): no manifest named '\(nameOrFile)' (have: \(all.map(\.name).joined(separator: ", ")))")
        }
        return m
      }
    }
  }

  /// The where-options and the dataset argument of a command about one dataset.
  struct Named: ParsableArguments {
    @OptionGroup var w: Where
    @Argument(help: "Dataset name or manifest file.") var name: String
    func manifest() throws -> DatasetManifest { try w.manifest(name) }
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Every manifest: name, modality, task, classes, source, whether its data is present.")
    @OptionGroup var w: Where
    func run() throws {
      let all = try reportingErrors { try DatasetManifest.all(in: w.manifests) }
      let groups = try reportingErrors { try DatasetGroups.load(w.manifests) }
      for (g, members) in groups.sorted(by: { $0.key < $1.key }) {
        print("group \(g): \(members.joined(separator: ", "))")
      }
      for m in all {
        let present =
          m.source == .synthetic
          || (m.dataPath(root: w.dataRoot).map { FileManager.default.fileExists(atPath: $0) } ?? false)
        print(
          "\(m.name.padding(toLength: 28, withPad: " ", startingAt: 0)) "
            + "\(m.modality.padding(toLength: 14, withPad: " ", startingAt: 0)) "
            + "\(m.task.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) "
            + "\(String(m.classes.count).padding(toLength: 3, withPad: " ", startingAt: 0)) "
            + "\(m.source.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) "
            + "\(present ? "present" : "missing")"
        )
      }
    }
  }

  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Counts per split and class, and a thumbnail grid PNG.")
    @OptionGroup var d: Named
    @Option(help: "Thumbnail grid PNG (default: <name>-thumbnails.png).") var out: String?
    @Option(help: "Synthetic sets: render at this size instead of the manifest's.") var size: Int?
    func run() throws {
      var m = try d.manifest()
      if let size {
        guard m.source == .synthetic else { throw ValidationError("--size is for synthetic datasets") }
        m.imageSize = size
        m.expected = [:]
      }
      let r = DatasetCheck.run(m, root: d.w.dataRoot)
      print("\(m.name): \(m.modality), \(m.task.rawValue), \(m.classes.count) classes, \(m.source.rawValue)")
      if !m.description.isEmpty { print("  \(m.description)") }
      for s in splitNames {
        guard let c = r.counts[s] else { continue }
        print(
          "  \(s.padding(toLength: 5, withPad: " ", startingAt: 0)) "
            + "\(String(c.reduce(0, +)).padding(toLength: 7, withPad: " ", startingAt: 0)) "
            + zip(m.classes, c).map { "\($0): \($1)" }.joined(separator: ", "))
      }
      if let train = r.splits["train"] {
        let path = out ?? "\(m.name)-thumbnails.png"
        try reportingErrors { try DatasetCheck.thumbnailGrid(train, classes: m.classes.count, to: path) }
        print("  thumbnails: \(path)")
      }
      for p in r.problems { print("  problem: \(p)") }
      if !r.problems.isEmpty { throw ExitCode(1) }
    }
  }

  struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Validate files, labels, classes, split overlap and checksum.")
    @OptionGroup var d: Named
    func run() throws {
      let m = try d.manifest()
      let r = DatasetCheck.run(m, root: d.w.dataRoot)
      for p in r.problems { print("error: \(p)") }
      if r.problems.isEmpty {
        print(
          "\(m.name): ok ("
            + splitNames.compactMap { s in r.splits[s].map { "\(s) \($0.count)" } }.joined(separator: ", ") + ")")
      } else {
        throw ExitCode(1)
      }
    }
  }

  struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Download a dataset (resume, checksum, atomic move); offline, says where to put it.")
    @OptionGroup var d: Named
    func run() throws {
      let m = try d.manifest()
      switch try reportingErrors({ try DatasetFetch.fetch(m, root: d.w.dataRoot) }) {
      case .generated: print("\(m.name) is generated (synthetic): nothing to fetch")
      case .alreadyPresent(let p): print("\(m.name): \(p) is present and its checksum matches")
      case .downloaded(let p): print("\(m.name): downloaded to \(p), checksum ok")
      }
    }
  }

  struct Add: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Scaffold a manifest by scanning data, then check it.")
    @OptionGroup var w: Where
    @Argument(help: "Name of the new dataset.") var name: String
    @Option(help: "A folder of class sub-folders (or train/val/test of them).") var fromFolder: String?
    @Option(help: "A CSV of path,label[,split].") var fromCsv: String?
    @Option(help: "A MedMNIST-style .npz.") var fromNpz: String?
    @Option(help: "Imaging modality.") var modality = "unknown"
    @Option(help: "Where to write the manifest (default: <manifests>/<name>.yaml).") var out: String?
    func run() throws {
      let given = [(fromFolder, DatasetManifest.Source.imageFolder), (fromCsv, .csv), (fromNpz, .medmnistNpz)].filter {
        $0.0 != nil
      }
      guard given.count == 1, let (path, source) = given.first.map({ ($0.0!, $0.1) }) else {
        throw ValidationError("give exactly one of --from-folder, --from-csv, --from-npz")
      }
      let file = out ?? "\(w.manifests)/\(name).yaml"
      guard !FileManager.default.fileExists(atPath: file) else {
        throw CLIError(message: "\(file) exists; not overwriting")
      }
      let yaml = try reportingErrors {
        try ManifestScaffold.make(name: name, source: source, path: path, dataRoot: w.dataRoot, modality: modality)
      }
      try FileManager.default.createDirectory(
        atPath: URL(fileURLWithPath: file).deletingLastPathComponent().path, withIntermediateDirectories: true)
      try yaml.write(toFile: file, atomically: true, encoding: .utf8)
      print("wrote \(file)")
      let m = try w.manifest(file)
      let r = DatasetCheck.run(m, root: w.dataRoot)
      for p in r.problems { print("error: \(p)") }
      if !r.problems.isEmpty { throw ExitCode(1) }
      print(
        "\(m.name): ok ("
          + splitNames.compactMap { s in r.splits[s].map { "\(s) \($0.count)" } }.joined(separator: ", ") + ")")
    }
  }

  struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write a dataset as PNG image folders: <to>/{train,val,test}/<class>/<index>.png.")
    @OptionGroup var d: Named
    @Option(help: "Folder to create (must not exist).") var to: String?
    @Option(help: "Synthetic sets: render at this size instead of the manifest's.") var size: Int?
    @Option(help: "At most this many images per split (the first ones, in the split's order).") var limit: Int?
    @Option(
      help: """
        Stand in for this dataset (a manifest name): its class names (matched by name, else by index) and, \
        without --to, its data folder. For smoke tests of pipelines written for data you do not have.
        """) var `as`: String?
    func run() throws {
      var m = try d.manifest()
      var classes = m.classes
      var dest = to
      if let other = `as` {
        let target = try d.w.manifest(other)
        guard target.classes.count == m.classes.count else {
          throw CLIError(message: "\(d.name) has \(m.classes.count) classes, \(other) \(target.classes.count)")
        }
        classes = Set(target.classes) == Set(m.classes) ? m.classes : target.classes
        dest = dest ?? target.dataPath(root: d.w.dataRoot)
      }
      guard let to = dest else { throw ValidationError("give --to (or --as a dataset with a data folder)") }
      if let size {
        guard m.source == .synthetic else { throw ValidationError("--size is for synthetic datasets") }
        m.imageSize = size
      }
      guard limit.map({ $0 > 0 }) ?? true else { throw ValidationError("--limit must be positive") }
      if let limit, m.source == .synthetic, case .object(var counts)? = m.generator["counts"] {
        for (k, v) in counts { if let c = v.int { counts[k] = .int(min(c, limit)) } }  // render no more than needed
        m.generator["counts"] = .object(counts)
      }
      guard !FileManager.default.fileExists(atPath: to) else {
        throw CLIError(message: "\(to) exists; not overwriting")
      }
      let splits = try reportingErrors { try DatasetLoader.load(m, root: d.w.dataRoot) }
      let written = try reportingErrors { try ImageFolderExport.write(splits, classes: classes, to: to, limit: limit) }
      let counts = splitNames.compactMap { s in written[s].map { "\(s) \($0)" } }
      print("\(m.name) -> \(to): " + counts.joined(separator: ", "))
    }
  }
}

//===--- DatasetCommand.swift - `peftlab dataset ...` ----------------------===//
import ArgumentParser
import Data
import Foundation
import Pipeline

struct DatasetCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dataset", abstract: "List, show and check datasets described in data-manifests/.",
    subcommands: [List.self, Show.self, Check.self])

  struct Where: ParsableArguments {
    @Option(help: "Folder of manifests.") var manifests = "data-manifests"
    @Option(help: "Data root that manifests' location.path is relative to.") var dataRoot = "data"

    func manifest(_ nameOrFile: String) throws -> DatasetManifest {
      try reportingErrors {
        if nameOrFile.hasSuffix(".yaml") { return try DatasetManifest.load(nameOrFile) }
        let all = try DatasetManifest.all(in: manifests)
        guard let m = all.first(where: { $0.name == nameOrFile }) else {
          throw CLIError(message: "\(manifests): no manifest named '\(nameOrFile)' (have: \(all.map(\.name).joined(separator: ", ")))")
        }
        return m
      }
    }
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Every manifest: name, modality, task, classes, source, whether its data is present.")
    @OptionGroup var w: Where
    func run() throws {
      let all = try reportingErrors { try DatasetManifest.all(in: w.manifests) }
      for m in all {
        let present = m.source == .synthetic || (m.dataPath(root: w.dataRoot).map { FileManager.default.fileExists(atPath: $0) } ?? false)
        print("\(m.name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(m.modality.padding(toLength: 14, withPad: " ", startingAt: 0)) \(m.task.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) \(String(m.classes.count).padding(toLength: 3, withPad: " ", startingAt: 0)) \(m.source.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \(present ? "present" : "missing")")
      }
    }
  }

  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Counts per split and class, and a thumbnail grid PNG.")
    @OptionGroup var w: Where
    @Argument(help: "Dataset name or manifest file.") var name: String
    @Option(help: "Thumbnail grid PNG (default: <name>-thumbnails.png).") var out: String?
    @Option(help: "Synthetic sets: render at this size instead of the manifest's.") var size: Int?
    func run() throws {
      var m = try w.manifest(name)
      if let size {
        guard m.source == .synthetic else { throw ValidationError("--size is for synthetic datasets") }
        m.imageSize = size
        m.expected = [:]
      }
      let r = DatasetCheck.run(m, root: w.dataRoot)
      print("\(m.name): \(m.modality), \(m.task.rawValue), \(m.classes.count) classes, \(m.source.rawValue)")
      if !m.description.isEmpty { print("  \(m.description)") }
      for s in splitNames {
        guard let c = r.counts[s] else { continue }
        print("  \(s.padding(toLength: 5, withPad: " ", startingAt: 0)) \(String(c.reduce(0, +)).padding(toLength: 7, withPad: " ", startingAt: 0)) " +
              zip(m.classes, c).map { "\($0): \($1)" }.joined(separator: ", "))
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
    static let configuration = CommandConfiguration(abstract: "Validate files, labels, classes, split overlap and checksum.")
    @OptionGroup var w: Where
    @Argument(help: "Dataset name or manifest file.") var name: String
    func run() throws {
      let m = try w.manifest(name)
      let r = DatasetCheck.run(m, root: w.dataRoot)
      for p in r.problems { print("error: \(p)") }
      if r.problems.isEmpty {
        print("\(m.name): ok (" + splitNames.compactMap { s in r.splits[s].map { "\(s) \($0.count)" } }.joined(separator: ", ") + ")")
      } else {
        throw ExitCode(1)
      }
    }
  }
}

//===--- KindsCommand.swift - `peftlab kinds [--json]` ---------------------===//
import ArgumentParser
import Foundation
import Pipeline

/// Every stage kind a pipeline file can name, with its parameters (type, default, range, help),
/// generated from the kinds' parameter declarations: the reference Pipelines/README.md links to.
struct KindsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kinds", abstract: "List every stage kind with its parameters, types, defaults and ranges.")
  @Flag(help: "Machine-readable output.") var json = false
  @Argument(help: "Only these kinds.") var names: [String] = []

  func run() throws {
    let kinds = stageRegistry().kinds.values.sorted { $0.name < $1.name }
      .filter { names.isEmpty || names.contains($0.name) }
    if let unknown = names.first(where: { n in !kinds.contains { $0.name == n } }) {
      throw CLIError(message: "no stage kind '\(unknown)' (peftlab kinds lists them)")
    }
    if json {
      let out: [[String: Any]] = kinds.map { k in
        [
          "kind": k.name, "version": k.version,
          "parameters": k.parameters.map { p -> [String: Any] in
            var d: [String: Any] = ["name": p.name, "required": p.defaultValue == nil && !p.isOptional]
            if let t = p.typeName { d["type"] = t }
            if let v = p.defaultValue { d["default"] = v.foundationValue }
            if !p.constraint.isEmpty { d["constraint"] = p.constraint }
            if !p.help.isEmpty { d["help"] = p.help }
            return d
          },
        ]
      }
      let data = try JSONSerialization.data(withJSONObject: out, options: [.prettyPrinted, .sortedKeys])
      print(String(decoding: data, as: UTF8.self))
      return
    }
    for k in kinds {
      print("\(k.name) (version \(k.version))")
      for p in k.parameters { print(p.summary) }
    }
  }
}

import Foundation
import XCTest

/// The module graph of Package.swift has no edge from a lower layer to a higher one (docs/DESIGN.md §1).
final class LayeringTests: XCTestCase {
  /// Layer of every library target (0 = bottom); a target may depend only on lower layers.
  static let layers: [String: Int] = [
    "Storage": 0, "Kernels": 0, "Plot": 0,
    "Pipeline": 1, "Model": 1, "Outputs": 1,
    "Data": 2, "PEFT": 2, "Figures": 2,
    "Training": 3,
    "Stages": 4,
    "PeftlabCLI": 5,
    "peftlab": 6,
  ]

  /// (target, its peftlab dependencies) for every non-test `.target`/`.executableTarget` in Package.swift.
  static func graph(_ manifest: String) -> [(String, [String])] {
    let pattern = #"\.(?:target|executableTarget)\(\s*name:\s*"(\w+)"\s*,\s*dependencies:\s*\[([^\]]*)\]"#
    let re = try! NSRegularExpression(pattern: pattern)
    let ns = manifest as NSString
    return re.matches(in: manifest, range: NSRange(location: 0, length: ns.length)).map { m in
      let deps = ns.substring(with: m.range(at: 2))
      let names = try! NSRegularExpression(pattern: #"^\s*"(\w+)""#, options: .anchorsMatchLines)
      let quoted = deps.split(separator: ",").compactMap { part -> String? in
        let s = String(part)
        let whole = NSRange(location: 0, length: (s as NSString).length)
        guard let q = names.firstMatch(in: s, range: whole) else { return nil }
        return (s as NSString).substring(with: q.range(at: 1))
      }
      return (ns.substring(with: m.range(at: 1)), quoted)
    }
  }

  func testNoEdgeFromALowerLayerToAHigherOne() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
    let graph = Self.graph(manifest).filter { $0.0 != "TestSupport" && !$0.0.hasPrefix("C") }
    XCTAssertEqual(Set(graph.map(\.0)), Set(Self.layers.keys), "every library target has a layer here and in DESIGN.md")
    var edges = 0
    for (target, deps) in graph {
      guard let own = Self.layers[target] else { continue }
      for d in deps {
        guard let layer = Self.layers[d] else { continue }  // system libraries and packages
        edges += 1
        XCTAssertLessThan(layer, own, "\(target) (layer \(own)) depends on \(d) (layer \(layer))")
      }
    }
    XCTAssertGreaterThan(edges, 15, "the parser found the dependency lists")
  }

  /// The parser sees an upward edge when there is one (the test above can fail).
  func testAnUpwardEdgeIsFound() {
    let g = Self.graph(#".target(name: "Model", dependencies: ["Kernels", "Training"], exclude: [])"#)
    XCTAssertEqual(g.first?.0, "Model")
    XCTAssertEqual(g.first?.1, ["Kernels", "Training"])
  }

  /// Every stage kind lives in Sources/Stages (one home), except the runner's built-in `shell`.
  func testEveryStageKindLivesInStages() throws {
    let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("Sources")
    let conformance = try NSRegularExpression(
      pattern: #"^(?:public )?struct (\w+)\s*:\s*[^{]*\b(?:StageKind|DatasetReadingKind|TrainingKind)\b"#,
      options: .anchorsMatchLines)
    var kinds: [String: String] = [:]
    let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)!
    for case let url as URL in files where url.pathExtension == "swift" {
      let text = try String(contentsOf: url, encoding: .utf8), ns = text as NSString
      for m in conformance.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
        kinds[ns.substring(with: m.range(at: 1))] = url.path.replacingOccurrences(of: sources.path + "/", with: "")
      }
    }
    XCTAssertGreaterThan(kinds.count, 15, "the scan found the kinds")
    for (kind, path) in kinds where kind != "ShellKind" {
      XCTAssertTrue(path.hasPrefix("Stages/"), "\(kind) is declared in \(path), outside Sources/Stages")
    }
    XCTAssertEqual(kinds["ShellKind"], "Pipeline/ShellKind.swift")
  }
}

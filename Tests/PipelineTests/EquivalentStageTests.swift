//===--- EquivalentStageTests.swift - a resolved stage reuses the same cached computation --===//
import Foundation
import Pipeline
import XCTest

final class EquivalentStageTests: XCTestCase {
  /// `square` writes x² and counts its computations in a file outside the cache; with `x_from` it reads x from a
  /// needed stage at run time (as `peft` reads `lr_from`) and first asks for an equivalent cached stage.
  struct Square: StageKind {
    let name = "square", version = 1
    let counter: String
    var parameters: [ParameterSpec] {
      [ParameterSpec("x", default: .int(0)), ParameterSpec("x_from").optional(like: .string(""))]
    }
    func run(_ c: StageContext) throws {
      var q = c.params
      if let from = c.params["x_from"]?.string {
        let text = try String(contentsOfFile: c.inputs[from]! + "/x.txt", encoding: .utf8)
        q["x"] = .int(Int(text.trimmingCharacters(in: .whitespacesAndNewlines))!)
        q["x_from"] = nil
        if let same = c.cachedEquivalent(params: q, dropping: [from]) { return try c.copyOutput(from: same.dir) }
        try c.declareEquivalent(params: q, dropping: [from])
      }
      guard case .int(let x) = q["x"]! else { throw PipelineError.stageFailed(stage: c.stage, message: "x") }
      let h = FileHandle(forWritingAtPath: counter)!
      h.seekToEndOfFile(); h.write(Data("\(c.stage)\n".utf8)); h.closeFile()
      try "\(x * x)".write(toFile: c.outputDir + "/sq.txt", atomically: true, encoding: .utf8)
    }
  }

  func testAResolvedStageReusesTheCachedStageWithTheSameResolvedKey() throws {
    let yaml = """
      stages:
        pick: {kind: shell, params: {cmd: 'echo 3 > $OUT/x.txt'}}
        direct: {kind: square, params: {x: DIRECT}}
        resolved: {kind: square, needs: [pick], params: {x_from: pick}}
      """
    let p = try Project(yaml.replacingOccurrences(of: "DIRECT", with: "3"))
    let counter = p.root + "/computed.txt"
    FileManager.default.createFile(atPath: counter, contents: nil)
    p.registry.register(Square(counter: counter))
    func computed() throws -> [String] {
      try String(contentsOfFile: counter, encoding: .utf8).split(separator: "\n").map(String.init)
    }
    try p.run(["direct"])
    try p.run()
    XCTAssertEqual(try computed(), ["direct"], "'resolved' is the same computation as 'direct': reused")
    XCTAssertEqual(try p.output("resolved", "sq.txt"), "9")
    let st = try p.runner().status()
    XCTAssertEqual(st.first { $0.stage == "resolved" }?.output, st.first { $0.stage == "direct" }?.output)
    // another x: nothing equivalent is cached, so it computes
    try p.write(yaml.replacingOccurrences(of: "DIRECT", with: "4"))
    try p.run(["resolved"], force: true)
    XCTAssertEqual(try computed(), ["direct"], "forced, 'resolved' still finds x = 3 computed by the old 'direct'")
    try FileManager.default.removeItem(atPath: p.root + "/.peftlab/objects")
    try p.run(["resolved"], force: true)
    XCTAssertEqual(try computed(), ["direct", "resolved"], "no object left to reuse: it computes")
    XCTAssertEqual(try p.output("resolved", "sq.txt"), "9")
  }

  /// The choice file changes for another method (the source's output hash changes, x does not): the stage's key
  /// changes, but the output it recorded under its resolved key is found, so it does not compute again.
  func testAComputedResolvedStageIsReusedWhenItsSourceChangesButNotItsValue() throws {
    let yaml = """
      stages:
        pick: {kind: shell, params: {cmd: 'echo X > $OUT/x.txt; echo NOTE > $OUT/other.txt'}}
        resolved: {kind: square, needs: [pick], params: {x_from: pick}}
      """
    func pipeline(x: Int, note: String) -> String {
      yaml.replacingOccurrences(of: "X", with: "\(x)").replacingOccurrences(of: "NOTE", with: note)
    }
    let p = try Project(pipeline(x: 3, note: "a"))
    let counter = p.root + "/computed.txt"
    FileManager.default.createFile(atPath: counter, contents: nil)
    p.registry.register(Square(counter: counter))
    func computed() throws -> Int {
      try String(contentsOfFile: counter, encoding: .utf8).split(separator: "\n").count
    }
    try p.run()
    XCTAssertEqual(try computed(), 1)
    let first = try p.runner().status().first { $0.stage == "resolved" }
    try p.write(pipeline(x: 3, note: "b"))
    try p.run()
    XCTAssertEqual(try computed(), 1, "x is still 3: the output recorded under the resolved key is reused")
    XCTAssertEqual(try p.output("resolved", "sq.txt"), "9")
    let second = try p.runner().status().first { $0.stage == "resolved" }
    XCTAssertNotEqual(first?.key, second?.key, "the stage's own key changed with its input")
    XCTAssertEqual(first?.output, second?.output)
    try p.write(pipeline(x: 5, note: "b"))
    try p.run()
    XCTAssertEqual(try computed(), 2, "x changed: it computes")
    XCTAssertEqual(try p.output("resolved", "sq.txt"), "25")
    try p.write(pipeline(x: 3, note: "c"))
    try p.run()
    XCTAssertEqual(try computed(), 2, "back to x = 3: found again")
    XCTAssertEqual(try p.output("resolved", "sq.txt"), "9")
  }
}

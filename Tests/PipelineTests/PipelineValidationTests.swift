import Foundation
import Pipeline
import XCTest

/// Hostile pipeline files give an error naming the file (and line) — never a crash, a hang or an
/// escape from the project.
final class PipelineValidationTests: XCTestCase {
  func expectError(_ yaml: String, _ parts: [String], file: StaticString = #filePath, line: UInt = #line) throws {
    let p = try Project(yaml)
    XCTAssertThrowsError(try p.runner(), file: file, line: line) { e in
      for part in parts { XCTAssertTrue("\(e)".contains(part), "'\(part)' not in: \(e)", file: file, line: line) }
    }
  }

  func testIncludeCyclesAndSelfIncludes() throws {
    let p = try Project("include: [p.yaml]\n")
    XCTAssertThrowsError(try p.runner()) { XCTAssertTrue("\($0)".contains("include cycle: p.yaml -> p.yaml"), "\($0)") }
    try "include: [p.yaml]\n".write(toFile: p.root + "/Pipelines/q.yaml", atomically: true, encoding: .utf8)
    try p.write("include: [q.yaml]\n")
    XCTAssertThrowsError(try p.runner()) {
      XCTAssertTrue("\($0)".contains("include cycle: p.yaml -> q.yaml -> p.yaml"), "\($0)")
    }
  }

  func testDeepNestingAndAliasBombsAndHugeMatrices() throws {
    try expectError(
      "stages: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n",
      ["p.yaml:1", "nested deeper than"])
    try expectError(String(repeating: "- ", count: 500) + "x\n", ["nested deeper than"])
    var bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in 1...9 {
      bomb +=
        "\(Character(UnicodeScalar(97 + i)!)): &\(Character(UnicodeScalar(97 + i)!)) " + "["
        + Array(repeating: "*\(Character(UnicodeScalar(96 + i)!))", count: 10).joined(separator: ", ") + "]\n"
    }
    try expectError(bomb + "stages: {}\n", ["values (after expanding YAML aliases)"])
    let values = (0..<1000).map(String.init).joined(separator: ", ")
    try expectError(
      "stages:\n  a:\n    kind: shell\n    matrix: {x: [\(values)], y: [\(values)], z: [\(values)]}\n    params: {cmd: "
        + "'true'}\n",
      ["matrix expands to more than"])
  }

  func testDuplicateKeysUnsafeNamesAndMatrixValues() throws {
    try expectError(
      "stages:\n  a: {kind: shell, params: {cmd: 'true'}}\n  a: {kind: shell, params: {cmd: 'false'}}\n",
      ["p.yaml:3", "key 'a' appears twice"])
    try expectError("stages:\n  ../../x: {kind: shell, params: {cmd: 'true'}}\n", ["stage name '../../x'"])
    for bad in ["{k: v}", "[1, 2]", "null", "''", "'x; echo INJECTED > f'", "'../up'"] {
      try expectError(
        "stages:\n  a:\n    kind: shell\n    matrix: {v: [ok, \(bad)]}\n    params: {cmd: 'echo ${item.v}'}\n",
        ["p.yaml:4", "matrix value"])
    }
    try expectError(
      """
      stages:
        a-b: {kind: shell, params: {cmd: 'true'}}
        a_b: {kind: shell, params: {cmd: 'true'}}
        c: {kind: shell, needs: [a-b, a_b], params: {cmd: 'true'}}
      """, ["'c'", "share the variable $IN_A_B"])
  }

  func testShellOutsAndDepsAreChecked() throws {
    for (params, want) in [
      ("outs: x.txt", "must be a list"), ("outs: ['../../../etc/passwd']", "must be a path inside $OUT"),
      ("deps: [42]", "parameter 'deps.0' must be a string"),
    ] {
      let p = try Project("stages:\n  a:\n    kind: shell\n    params:\n      cmd: 'true'\n      \(params)\n")
      do {
        let s = try p.run()
        guard case .failed(let msg) = s.outcomes["a"] else { XCTFail("\(params): ran"); continue }
        XCTAssertTrue(msg.contains(want) && msg.contains("p.yaml:3"), msg)  // file:line, then what is wrong
      } catch { XCTAssertTrue("\(error)".contains(want), "\(error)") }
    }
  }
}

/// What `peftlab kinds` prints for a parameter: its type and range in words.
final class ParameterSpecDescriptionTests: XCTestCase {
  func testTypeAndConstraintInWords() {
    let momentum = ParameterSpec("momentum", default: .double(0.9)).atLeast(0).atMost(1, exclusive: true)
    XCTAssertEqual(momentum.typeName, "number")
    XCTAssertEqual(momentum.constraint, "≥ 0 and < 1")
    let opt = ParameterSpec("optimizer", default: .string("sgd")).oneOf(["sgd", "adamw"])
    XCTAssertEqual(opt.typeName, "string")
    XCTAssertEqual(opt.constraint, "one of sgd, adamw")
    let jitter = ParameterSpec("jitter").positive().optional(like: .double(0.2))
    XCTAssertEqual(jitter.typeName, "number")
    XCTAssertEqual(jitter.constraint, "> 0")
    XCTAssertNil(ParameterSpec("cmd").typeName, "a required parameter without a type: any value")
    XCTAssertEqual(ParameterSpec("steps", default: .int(600)).typeName, "integer")
  }
}

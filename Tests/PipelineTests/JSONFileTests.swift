import Foundation
import Storage
import XCTest

/// `JSONFile`: one Codable type writes and reads a stage's JSON; the bytes are those of the same content
/// written as a dictionary (every stage output's form), non-finite numbers are null and read back as NaN.
final class JSONFileTests: XCTestCase {
  struct Row: Codable, Equatable {
    var kPercent: Double
    var macroF1: Double
    var log10Edges: [Double]
  }
  struct Out: JSONFile {
    static let fileName = "out.json"
    var stageKind = "test"
    var offdiagonalMeanPerSeed: [Double]
    var byTask: [String: Double]
    var rows: [Row]
    var loss: Double
    var recall: [Double?]
    var seeds: [Int]
    var ok: Bool
  }

  func dir() throws -> String {
    let d = NSTemporaryDirectory() + "jsonfile-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
  }

  let value = Out(
    offdiagonalMeanPerSeed: [0.24364893498382958, 0.1 + 0.2], byTask: ["busi-synth": 1, "LoRA": 0.5, "B_x": 2],
    rows: [Row(kPercent: 0.05, macroF1: 1.0 / 3, log10Edges: [-7, 1e-7])], loss: .nan, recall: [0.5, .nan],
    seeds: [1, 2, 3], ok: true)

  func testBytesAreThoseOfTheSameDictionaryAndNumbersRoundTripExactly() throws {
    let d = try dir()
    try value.write(in: d)
    let written = try XCTUnwrap(FileManager.default.contents(atPath: d + "/out.json"))
    let dictionary: [String: Any] = [
      "stage_kind": "test", "offdiagonal_mean_per_seed": [0.24364893498382958, 0.1 + 0.2],
      "by_task": ["busi-synth": 1.0, "LoRA": 0.5, "B_x": 2.0],
      "rows": [["k_percent": 0.05, "macro_f1": 1.0 / 3, "log10_edges": [-7.0, 1e-7]]], "loss": Double.nan,
      "recall": [0.5, Double.nan], "seeds": [1, 2, 3], "ok": true,
    ]
    XCTAssertEqual(
      String(decoding: written, as: UTF8.self), String(decoding: try JSONCoding.data(dictionary), as: UTF8.self))
    XCTAssertTrue(String(decoding: written, as: UTF8.self).contains("\"loss\" : null"))
    let back = try Out.read(in: d)
    XCTAssertEqual(back.offdiagonalMeanPerSeed, value.offdiagonalMeanPerSeed)  // exact, to the last bit
    XCTAssertEqual(back.rows, value.rows)
    XCTAssertEqual(back.byTask, value.byTask)  // dictionary keys are names, not converted
    XCTAssertTrue(back.loss.isNaN)
    XCTAssertEqual(back.recall.count, 2)
    XCTAssertTrue(back.recall[1]!.isNaN)
    XCTAssertEqual(back.seeds, [1, 2, 3])
    XCTAssertTrue(back.ok)
  }

  func testAFileThatIsNotTheTypeIsAnErrorNamingTheFileAndTheField() throws {
    let d = try dir()
    try Data(#"{"stage_kind": "test", "rows": [{"k_percent": "x"}]}"#.utf8).write(
      to: URL(fileURLWithPath: d + "/out.json"))
    XCTAssertThrowsError(try Out.read(in: d)) { e in
      let s = "\(e)"
      XCTAssertTrue(s.contains(d + "/out.json"), s)
      XCTAssertTrue(s.contains("field '"), s)  // named as the file spells it
    }
    // one wrong type among valid fields: the message names the field's path in the file
    var bad = try XCTUnwrap(try JSONCoding.object(value) as? [String: Any])
    bad["rows"] = [["k_percent": "x", "macro_f1": 0.5, "log10_edges": [Double]()]]
    try JSONCoding.data(bad).write(to: URL(fileURLWithPath: d + "/out.json"))
    XCTAssertThrowsError(try Out.read(in: d)) {
      XCTAssertTrue("\($0)".contains("field 'rows.0.k_percent' must be a number"), "\($0)")
    }
    try Data("not json".utf8).write(to: URL(fileURLWithPath: d + "/out.json"))
    XCTAssertThrowsError(try Out.read(in: d)) { XCTAssertTrue("\($0)".contains("not JSON"), "\($0)") }
    XCTAssertThrowsError(try Out.read(in: d + "/absent")) { XCTAssertTrue("\($0)".contains("cannot read"), "\($0)") }
  }

  struct Kinded: JSONFile {
    static let fileName = "summary.json"
    static let writtenBy: String? = "kind-a"
    var stageKind = "kind-a"
  }

  func testAFileNameSeveralKindsShareIsFoundOnlyForItsKind() throws {
    let (a, b, none) = (try dir(), try dir(), try dir())
    try Kinded().write(in: a)
    try Kinded(stageKind: "kind-b").write(in: b)
    XCTAssertTrue(Kinded.exists(in: a))
    XCTAssertFalse(Kinded.exists(in: b), "another kind's summary.json")
    XCTAssertFalse(Kinded.exists(in: none))
    XCTAssertTrue(Out.exists(in: a) == false)
  }
}

import Pipeline
import XCTest

/// A stage's parameters decode into one typed struct; a missing or mistyped one is an error naming it.
final class ParametersTests: XCTestCase {
  struct Values: Decodable, Equatable {
    var steps: Int
    var cropMin: Double
    var optimizer: String
    var augment: Bool
    var jitter: Double?
  }

  func testDecodesSnakeCaseIntoTypedFields() throws {
    let p: [String: Value] = [
      "steps": .int(600), "crop_min": .double(1.0), "optimizer": .string("sgd"), "augment": .bool(false),
    ]
    let v = try Parameters.decode(Values.self, from: p, context: "stage 'finetune'")
    XCTAssertEqual(v, Values(steps: 600, cropMin: 1, optimizer: "sgd", augment: false, jitter: nil))
    // a whole-number double is an Int where an Int goes, and an Int is a Double where a Double goes
    var q = p
    q["steps"] = .double(200)
    q["jitter"] = .int(0)
    XCTAssertEqual(try Parameters.decode(Values.self, from: q, context: "x").steps, 200)
    XCTAssertEqual(try Parameters.decode(Values.self, from: q, context: "x").jitter, 0)
  }

  func testErrorsNameTheStageAndTheParameter() {
    let p: [String: Value] = [
      "steps": .string("abc"), "crop_min": .double(1), "optimizer": .string("sgd"), "augment": .bool(true),
    ]
    XCTAssertThrowsError(try Parameters.decode(Values.self, from: p, context: "stage 'ft@busi'")) { e in
      XCTAssertEqual("\(e)", "stage 'ft@busi': parameter 'steps' must be an integer", "\(e)")
    }
    var q = p
    q["steps"] = .double(2.5)
    XCTAssertThrowsError(try Parameters.decode(Values.self, from: q, context: "s")) { e in
      XCTAssertEqual("\(e)", "s: parameter 'steps' must be an integer, not 2.5", "\(e)")
    }
    q["steps"] = .int(3)
    q["crop_min"] = nil
    XCTAssertThrowsError(try Parameters.decode(Values.self, from: q, context: "s")) { e in
      XCTAssertEqual("\(e)", "s: parameter 'crop_min' is missing", "\(e)")
    }
  }
}

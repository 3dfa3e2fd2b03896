import Pipeline
import XCTest
import Storage

final class SHA256Tests: XCTestCase {
  func testKnownVectors() {
    XCTAssertEqual(SHA256Hasher.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    XCTAssertEqual(SHA256Hasher.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    XCTAssertEqual(
      SHA256Hasher.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    // one million 'a', fed in uneven pieces
    var h = SHA256Hasher()
    var left = 1_000_000
    var piece = 1
    while left > 0 {
      let n = min(piece, left)
      h.update(String(repeating: "a", count: n))
      left -= n
      piece = piece * 3 % 997 + 1
    }
    XCTAssertEqual(h.finalize(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  func testCanonicalJSONIsOrderIndependent() {
    let a: Value = .object(["b": .int(1), "a": .array([.double(0.5), .string("x\"y")])])
    let b: Value = .object(["a": .array([.double(0.5), .string("x\"y")]), "b": .int(1)])
    XCTAssertEqual(a.canonicalJSON, #"{"a":[0.5,"x\"y"],"b":1}"#)
    XCTAssertEqual(a.canonicalJSON, b.canonicalJSON)
    XCTAssertEqual(Value.double(2).canonicalJSON, "2.0")
  }
}

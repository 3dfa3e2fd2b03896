import Foundation
import Model
import TestSupport
import XCTest

/// The same content written twice, a second apart, gives the same bytes (HDF5 records object
/// modification times unless told not to), so a stage's output hash depends on what it computed.
final class HDF5ReproducibilityTests: XCTestCase {
  func write(_ path: String) throws {
    let f = try HDF5File.create(path)
    try f.write("a/b/weights", floats: [1, 2, 3, 4], shape: [2, 2])
    try f.write("a/labels", int64s: [0, 1])
    try f.write("top", uint8s: [7, 8, 9])
    try f.write("loss", scalar: 0.5)
    try f.setAttribute("note", string: "same content")
  }

  func testSameContentSameBytes() throws {
    let a = temporaryPath("h5-a-\(getpid()).h5"), b = temporaryPath("h5-b-\(getpid()).h5")
    try write(a)
    Thread.sleep(forTimeInterval: 1.1)
    try write(b)
    let da = try Data(contentsOf: URL(fileURLWithPath: a)), db = try Data(contentsOf: URL(fileURLWithPath: b))
    XCTAssertEqual(da, db, "HDF5 files with the same content differ in bytes")
    // and the nested dataset reads back
    let r = try HDF5File.open(a)
    XCTAssertEqual(try r.readFloats("a/b/weights").values, [1, 2, 3, 4])
  }
}

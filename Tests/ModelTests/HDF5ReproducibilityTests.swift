import Foundation
import Model
import TestSupport
import XCTest
import Storage

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

  /// Datasets carry a Fletcher-32 checksum per chunk: flipped bytes in the data area are a read
  /// error naming the file and dataset, not silently different numbers; h5py still opens the file.
  func testFlippedDataBytesAreAnError() throws {
    let path = temporaryPath("h5-flip-\(getpid()).h5")
    let values = (0..<4096).map { Float($0) * 0.25 + 1 }
    do {
      let f = try HDF5File.create(path)
      try f.write("blocks.0.attn.qkv.weight", floats: values, shape: [64, 64])
    }
    XCTAssertEqual(try HDF5File.open(path).readFloats("blocks.0.attn.qkv.weight").values, values)
    var d = try Data(contentsOf: URL(fileURLWithPath: path))
    let needle = values[1000..<1004].withUnsafeBytes { Data($0) }
    let at = try XCTUnwrap(d.range(of: needle), "the float data is stored uncompressed").lowerBound
    for i in at..<(at + 4096) where i < d.count { d[i] ^= 0x5A }  // 4 KiB of flipped bytes
    try d.write(to: URL(fileURLWithPath: path))
    XCTAssertThrowsError(try HDF5File.open(path).readFloats("blocks.0.attn.qkv.weight")) { e in
      XCTAssertTrue("\(e)".contains(path) && "\(e)".contains("checksum"), "\(e)")
    }
  }
}

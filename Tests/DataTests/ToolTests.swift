import Data
import Foundation
import TestSupport
import XCTest

final class ToolTests: XCTestCase {
  func manifest(in dir: String, url: String, md5: String) throws -> DatasetManifest {
    let yaml = tinyNpzManifestYAML(path: "medmnist/tiny.npz", url: url, md5: md5)
    try yaml.write(toFile: dir + "/m.yaml", atomically: true, encoding: .utf8)
    return try DatasetManifest.load(dir + "/m.yaml")
  }

  func testFetchVerifiesAndMovesAtomically() throws {
    let dir = temporaryPath("fetch-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let good = try manifest(
      in: dir, url: "file://" + fixture("data/tinymnist.npz"), md5: "d74b7726e7cdcdf08f693c68c6ae3063")
    XCTAssertEqual(try DatasetFetch.fetch(good, root: dir), .downloaded(dir + "/medmnist/tiny.npz"))
    XCTAssertEqual(try DatasetFetch.fetch(good, root: dir), .alreadyPresent(dir + "/medmnist/tiny.npz"))
    try FileManager.default.removeItem(atPath: dir + "/medmnist/tiny.npz")
    // a wrong checksum: error, and nothing left in place
    let wrong = try manifest(
      in: dir, url: "file://" + fixture("data/tinymnist.npz"), md5: "00000000000000000000000000000000")
    XCTAssertThrowsError(try DatasetFetch.fetch(wrong, root: dir)) { XCTAssertTrue("\($0)".contains("MD5")) }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/medmnist"), [])
    // unreachable: the error says where to put the file by hand
    let offline = try manifest(in: dir, url: "http://127.0.0.1:9/tiny.npz", md5: "d74b7726e7cdcdf08f693c68c6ae3063")
    XCTAssertThrowsError(try DatasetFetch.fetch(offline, root: dir)) {
      XCTAssertTrue("\($0)".contains("put the file at \(dir)/medmnist/tiny.npz"), "\($0)")
    }
  }

  func testAddScaffoldsACheckableManifestFromAFolder() throws {
    let dir = temporaryPath("add-\(UInt32.random(in: 0...UInt32.max))")
    for c in ["cat", "dog"] {
      try FileManager.default.createDirectory(atPath: "\(dir)/imgs/\(c)", withIntermediateDirectories: true)
      for i in 0..<10 {
        try PNG.encode(
          [UInt8](repeating: UInt8(i * 20 + (c == "dog" ? 5 : 0)), count: 6 * 6), height: 6, width: 6, channels: 1,
          to: "\(dir)/imgs/\(c)/\(i).png")
      }
    }
    let yaml = try ManifestScaffold.make(
      name: "pets", source: .imageFolder, path: dir + "/imgs", dataRoot: dir, modality: "photo")
    try yaml.write(toFile: dir + "/pets.yaml", atomically: true, encoding: .utf8)
    let m = try DatasetManifest.load(dir + "/pets.yaml")
    XCTAssertEqual(m.classes, ["cat", "dog"])
    XCTAssertEqual(m.task, .binary)
    XCTAssertEqual([m.imageSize, m.channels], [6, 1])
    XCTAssertEqual(DatasetCheck.run(m, root: dir).problems, [])
  }

  func testCheckCommandExitsNonZeroNamingTheFile() throws {
    let dir = temporaryPath("clicheck-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(atPath: dir + "/data-manifests", withIntermediateDirectories: true)
    let data = try Data(contentsOf: URL(fileURLWithPath: fixture("data/tinymnist.npz")))
    try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
    try data.prefix(1000).write(to: URL(fileURLWithPath: dir + "/data/cut.npz"))
    try tinyNpzManifestYAML(path: "cut.npz", name: "cut").write(
      toFile: dir + "/data-manifests/cut.yaml", atomically: true, encoding: .utf8)
    let (status, out) = try runPeftlab(["dataset", "check", "cut"], cwd: dir)
    XCTAssertEqual(status, 1)
    XCTAssertTrue(out.contains("data/cut.npz") && out.contains("truncated"), out)
    let ok = try runPeftlab(
      [
        "dataset", "check", "busi-synth", "--manifests",
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
          .deletingLastPathComponent().appendingPathComponent("data-manifests").path,
      ], cwd: dir)
    XCTAssertEqual(ok.status, 0, ok.output)
  }
}

//===--- LoaderTests.swift - every loader and every check path -------------===//
import Data
import Foundation
import Model
import Pipeline
import TestSupport
import XCTest
import Storage

final class LoaderTests: XCTestCase {
  var dir = ""

  override func setUpWithError() throws {
    dir = temporaryPath("data-\(name.filter(\.isLetter))-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  }

  override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

  func manifest(_ yaml: String) throws -> DatasetManifest {
    let f = dir + "/m.yaml"
    try yaml.write(toFile: f, atomically: true, encoding: .utf8)
    return try DatasetManifest.load(f)
  }

  func npzManifest(
    _ file: String, md5: String? = nil, task: String = "multi-class", classes: String = "[a, b, c]",
    channels: Int = 1
  ) throws -> DatasetManifest {
    try manifest(
      """
      name: tiny
      modality: test
      task: \(task)
      classes: \(classes)
      source: medmnist-npz
      location: {path: \(file), external: true}
      \(md5.map { "checksum: {md5: \"\($0)\"}" } ?? "")
      splits: official
      image: {size: 8, channels: \(channels)}
      expected: {train: \(task == "multi-label" ? 10 : 12)}
      """)
  }

  func testMD5() throws {
    XCTAssertEqual(MD5Hasher.hex(Data()), "d41d8cd98f00b204e9800998ecf8427e")
    XCTAssertEqual(MD5Hasher.hex(Data("abc".utf8)), "900150983cd24fb0d6963f7d28e17f72")
    XCTAssertEqual(
      MD5Hasher.hex(Data("The quick brown fox jumps over the lazy dog".utf8)), "9e107d9d372bb6826bd81d3542a419d6")
    XCTAssertEqual(try MD5Hasher.hex(file: fixture("data/tinymnist.npz")), "d74b7726e7cdcdf08f693c68c6ae3063")
  }

  func testNpzStoredAndCompressedMatchNumpy() throws {
    for f in ["tinymnist.npz", "tinymnist_compressed.npz"] {
      let s = try DatasetLoader.load(try npzManifest(fixture("data/" + f)), root: dir)
      let train = s["train"]!
      XCTAssertEqual([train.count, train.height, train.width, train.channels], [12, 8, 8, 1])
      XCTAssertEqual(train.images.reduce(0) { $0 + Int($1) }, 96740, f)
      XCTAssertEqual(Array(train.images[0..<4]), [78, 204, 64, 34])
      XCTAssertEqual(Array(train.labels[0..<5]), [2, 2, 1, 2, 1])
      XCTAssertEqual(s["test"]!.images.reduce(0) { $0 + Int($1) }, 49517)
    }
    let r = DatasetCheck.run(
      try npzManifest(fixture("data/tinymnist.npz"), md5: "d74b7726e7cdcdf08f693c68c6ae3063"), root: dir)
    XCTAssertEqual(r.problems, [])
  }

  func testMultiLabelNpz() throws {
    let m = try npzManifest(fixture("data/tinymulti.npz"), task: "multi-label", classes: "[w, x, y, z]", channels: 3)
    let s = try DatasetLoader.load(m, root: dir)
    XCTAssertEqual(s["train"]!.labelWidth, 4)
    XCTAssertEqual(Array(s["train"]!.labels[0..<4]), [1, 1, 1, 0])
    XCTAssertEqual(s["val"]!.images.reduce(0) { $0 + Int($1) }, 72236)
    XCTAssertEqual(s["val"]!.channels, 3)
  }

  func testNpzErrorsNameTheFile() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: fixture("data/tinymnist_compressed.npz")))
    let truncated = dir + "/truncated.npz"
    try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
    var r = DatasetCheck.run(try npzManifest(truncated), root: dir)
    XCTAssertEqual(r.problems.count, 1)
    XCTAssertTrue(r.problems[0].contains(truncated) && r.problems[0].contains("truncated"), r.problems[0])
    r = DatasetCheck.run(
      try npzManifest(fixture("data/tinymnist.npz"), md5: "0123456789abcdef0123456789abcdef"), root: dir)
    XCTAssertTrue(r.problems.contains { $0.contains("MD5") && $0.contains("tinymnist.npz") }, "\(r.problems)")
    r = DatasetCheck.run(try npzManifest(fixture("data/tinymnist.npz"), classes: "[a, b]"), root: dir)
    XCTAssertTrue(
      r.problems.contains { $0.contains("label 2 outside 0..<2") && $0.contains("tinymnist.npz") }, "\(r.problems)")
  }

  /// A folder dataset: class folders of PNGs, split by ratios.
  func makeFolder(_ root: String, perClass: Int = 10) throws {
    for (k, c) in ["benign", "malignant"].enumerated() {
      try FileManager.default.createDirectory(atPath: root + "/" + c, withIntermediateDirectories: true)
      for i in 0..<perClass {
        let v = UInt8(40 + 150 * k + i)
        let px = (0..<(12 * 12 * 3)).map { j in j % 3 == 0 ? v : UInt8((j * 7 + i) % 256) }
        try PNG.encode(px, height: 12, width: 12, channels: 3, to: root + "/\(c)/img\(i).png")
      }
    }
  }

  func folderManifest(_ source: String, path: String, extra: String = "") throws -> DatasetManifest {
    try manifest(
      """
      name: folder
      modality: ultrasound
      task: binary
      classes: [benign, malignant]
      source: \(source)
      location: {path: \(path), external: true}
      splits: {ratios: [0.7, 0.1, 0.2], seed: 3}
      image: {size: 8, channels: 3}
      \(extra)
      """)
  }

  func testImageFolderWithRatiosAndCorruptPNG() throws {
    try makeFolder(dir + "/busi")
    let m = try folderManifest("image-folder", path: "busi")
    let r = DatasetCheck.run(m, root: dir)
    XCTAssertEqual(r.problems, [])
    XCTAssertEqual(r.counts["train"], [7, 7])
    XCTAssertEqual(r.counts["val"], [1, 1])
    XCTAssertEqual(r.counts["test"], [2, 2])
    XCTAssertEqual(r.splits["train"]!.height, 8, "resized to the manifest's size")
    // deterministic split; another seed differs
    let a = try DatasetLoader.load(m, root: dir)["test"]!.sources
    XCTAssertEqual(a, try DatasetLoader.load(m, root: dir)["test"]!.sources)
    let m2 = try folderManifest("image-folder", path: "busi").with(seed: 4)
    XCTAssertNotEqual(a, try DatasetLoader.load(m2, root: dir)["test"]!.sources)
    // a corrupt PNG is named
    let bad = dir + "/busi/malignant/img3.png"
    try Data("not a png".utf8).write(to: URL(fileURLWithPath: bad))
    let r2 = DatasetCheck.run(m, root: dir)
    XCTAssertTrue(r2.problems.first?.contains(bad) == true && r2.problems[0].contains("PNG"), "\(r2.problems)")
    // a folder that is no class
    try FileManager.default.createDirectory(atPath: dir + "/busi/normal", withIntermediateDirectories: true)
    XCTAssertTrue(DatasetCheck.run(m, root: dir).problems[0].contains("busi/normal"))
  }

  func testCSVAndItsErrors() throws {
    try makeFolder(dir + "/imgs", perClass: 4)
    var csv = "path,label,split\n"
    for c in ["benign", "malignant"] {
      for i in 0..<4 { csv += "imgs/\(c)/img\(i).png,\(c),\(["train", "train", "val", "test"][i])\n" }
    }
    try csv.write(toFile: dir + "/list.csv", atomically: true, encoding: .utf8)
    let m = try folderManifest("csv", path: "list.csv")
    let r = DatasetCheck.run(m, root: dir)
    XCTAssertEqual(r.problems, [])
    XCTAssertEqual(r.counts["train"], [2, 2])
    // overlap between splits is reported
    try (csv + "imgs/benign/img0.png,benign,test\n").write(toFile: dir + "/list.csv", atomically: true, encoding: .utf8)
    XCTAssertTrue(DatasetCheck.run(m, root: dir).problems.contains { $0.contains("overlap") })
    // a bad label names the CSV and the line
    try (csv + "imgs/benign/img0.png,cyst,train\n").write(toFile: dir + "/list.csv", atomically: true, encoding: .utf8)
    let p = DatasetCheck.run(m, root: dir).problems
    XCTAssertTrue(p.first?.contains("list.csv") == true && p[0].contains("line 10") && p[0].contains("cyst"), "\(p)")
  }

  func testHDF5() throws {
    let f = try HDF5File.create(dir + "/set.h5")
    var imgs: [Int64] = [], labels: [Int64] = []
    for i in 0..<20 {
      imgs += (0..<(8 * 8)).map { Int64(($0 + i * 3) % 256) }
      labels.append(Int64(i % 2))
    }
    try f.write("images", int64s: imgs, shape: [20, 8, 8])
    try f.write("labels", int64s: labels)
    let m = try folderManifest("hdf5", path: "set.h5")
    let r = DatasetCheck.run(m, root: dir)
    XCTAssertEqual(r.problems, [])
    XCTAssertEqual(r.counts["train"], [7, 7])
    XCTAssertEqual(r.splits["train"]!.channels, 1)
    let g = try HDF5File.create(dir + "/bad.h5")
    try g.write("images", int64s: imgs, shape: [20, 8, 8])
    try g.write("labels", int64s: labels.map { $0 + 1 })
    let p = DatasetCheck.run(try folderManifest("hdf5", path: "bad.h5"), root: dir).problems
    XCTAssertTrue(p.first?.contains("bad.h5") == true && p[0].contains("label 2"), "\(p)")
  }

  func testManifestErrorsAndContentHash() throws {
    XCTAssertThrowsError(
      try manifest(
        "name: x\ntask: binary\nclasses: [a]\nsource: csv\nmodality: m\nimage: {size: 8, channels: 1}\nlocation: "
          + "{path: p}\n"
      )
    ) {
      XCTAssertTrue("\($0)".contains("binary task has 2 classes"))
    }
    XCTAssertThrowsError(try manifest("name: x\ntask: binary\nclasses: [a, b]\nsource: ftp\nmodality: m\n")) {
      XCTAssertTrue("\($0)".contains("m.yaml") && "\($0)".contains("source must be"))
    }
    XCTAssertThrowsError(
      try folderManifest("image-folder", path: "busi", extra: "checksum: {md5: 00000000000000000000000000000000}")
    ) {
      XCTAssertTrue("\($0)".contains("checksum.md5 must be a quoted hex string"), "\($0)")
    }
    try makeFolder(dir + "/busi", perClass: 3)
    let m = try folderManifest("image-folder", path: "busi")
    let hasher = FileHasher(memo: nil)
    let h1 = try DatasetCheck.contentHash(m, root: dir, hasher: hasher)
    XCTAssertEqual(h1, try DatasetCheck.contentHash(m, root: dir, hasher: hasher))
    try PNG.encode(
      [UInt8](repeating: 9, count: 12 * 12 * 3), height: 12, width: 12, channels: 3, to: dir + "/busi/benign/img0.png")
    XCTAssertNotEqual(
      h1, try DatasetCheck.contentHash(m, root: dir, hasher: FileHasher(memo: nil)), "a changed file changes the hash")
  }

  func testResize() {
    let img: [UInt8] = [0, 100, 200, 100, 0, 100, 200, 100, 10, 10, 10, 10, 20, 20, 20, 20]
    XCTAssertEqual(Resize.resize(img, height: 4, width: 4, channels: 1, to: 2, 2), [50, 150, 15, 15])
    XCTAssertEqual(
      Set(Resize.resize([UInt8](repeating: 77, count: 9), height: 3, width: 3, channels: 1, to: 7, 7)), [77])
  }

  func testJPEGFolderAndCorruptJPEG() throws {
    for (k, c) in ["benign", "malignant"].enumerated() {
      try FileManager.default.createDirectory(atPath: dir + "/jpg/" + c, withIntermediateDirectories: true)
      for i in 0..<5 {
        let px = (0..<(16 * 16 * 3)).map { j in UInt8((j / 3 % 16) * 8 + 60 * k + i) }
        try JPEG.encode(px, height: 16, width: 16, channels: 3, to: dir + "/jpg/\(c)/\(i).jpg")
      }
    }
    let back = try JPEG.decode(dir + "/jpg/benign/0.jpg")
    XCTAssertEqual([back.height, back.width, back.channels], [16, 16, 3])
    XCTAssertEqual(Int(back.pixels[3 * 5]), 5 * 8, accuracy: 6, "lossy but close")
    let m = try folderManifest("image-folder", path: "jpg")
    XCTAssertEqual(DatasetCheck.run(m, root: dir).problems, [])
    let bad = dir + "/jpg/benign/3.jpg"
    let data = try Data(contentsOf: URL(fileURLWithPath: bad))
    try data.prefix(40).write(to: URL(fileURLWithPath: bad))
    let p = DatasetCheck.run(m, root: dir).problems
    XCTAssertTrue(p.first?.contains(bad) == true && p[0].contains("JPEG"), "\(p)")
  }

  /// The probes of issue 17: each crash input and each escape is an error naming the file.
  func testCrashInputsAreErrorsNamingTheFile() throws {
    let seed = try Data(contentsOf: URL(fileURLWithPath: fixture("fuzz/tiny.npz")))
    /// tiny.npz with one .npy header's shape replaced (the header keeps its length; members are stored).
    func patched(_ old: String, _ new: String, occurrence: Int = 0, fixCRC: Bool = true) throws -> String {
      var d = seed
      var ranges: [Range<Data.Index>] = []
      var from = d.startIndex
      while let r = d.range(of: Data(old.utf8), in: from..<d.endIndex) { ranges.append(r); from = r.upperBound }
      let r = ranges[occurrence]
      var repl = Data(new.utf8)
      let spaces = d[r.upperBound...].prefix { $0 == 0x20 }.count
      XCTAssertLessThanOrEqual(repl.count, old.utf8.count + spaces)
      while repl.count < old.utf8.count + spaces { repl.append(0x20) }
      d.replaceSubrange(r.lowerBound..<(r.upperBound + spaces), with: repl)
      if fixCRC { Self.fixStoredCRCs(&d) }  // so the npy layer, not the zip's CRC check, meets the change
      let path = dir + "/p\(UInt32.random(in: 0...UInt32.max)).npz"
      try d.write(to: URL(fileURLWithPath: path))
      return path
    }
    for (old, new, occ, want) in [
      ("(3, 8, 8), }", "(-1, 8, 8), }", 0, "shape entry '-1'"),
      ("(3, 8, 8), }", "(4611686018427387904, 4, 8), }", 0, "more elements than memory"),
      ("(3, 1), }", "(-3, 1), }", 0, "shape entry '-3'"),
    ] {
      let path = try patched(old, new, occurrence: occ)
      XCTAssertThrowsError(try DatasetLoader.load(try npzManifest(path), root: dir), new) { e in
        XCTAssertTrue("\(e)".contains(path) && "\(e)".contains(want), "\(e)")
      }
    }
    // the same change without fixing the directory's CRC-32: the zip layer names the corrupt member
    let unfixed = try patched("(3, 8, 8), }", "(-1, 8, 8), }", fixCRC: false)
    XCTAssertThrowsError(try DatasetLoader.load(try npzManifest(unfixed), root: dir)) { e in
      XCTAssertTrue("\(e)".contains(unfixed) && "\(e)".contains("CRC-32") && "\(e)".contains("corrupt member"), "\(e)")
    }
    // a zip entry whose name length is 0xFFFF (beyond the directory)
    var d = seed
    let cd = try XCTUnwrap(d.range(of: Data([0x50, 0x4b, 0x01, 0x02]))).lowerBound
    d[cd + 28] = 0xFF; d[cd + 29] = 0xFF
    let zipPath = dir + "/name.npz"
    try d.write(to: URL(fileURLWithPath: zipPath))
    XCTAssertThrowsError(try NpzFile(path: zipPath)) {
      XCTAssertTrue("\($0)".contains(zipPath) && "\($0)".contains("outside the file"), "\($0)")
    }

    let base = "name: x\nmodality: m\ntask: multi-class\nclasses: [a, b]\nsource: image-folder\n"
    for (extra, want) in [
      ("image: {size: -8, channels: 1}\nlocation: {path: p}", "image.size must be in 1...4096"),
      (
        "image: {size: 8, channels: 1}\nlocation: {path: p}\nsplits: {ratios: [1.2, -0.1, -0.1], seed: 0}",
        "splits.ratios"
      ),
      (
        "image: {size: 8, channels: 1}\nlocation: {path: p}\nsplits: {ratios: [0.7, 0.1, 0.2], seed: -1}", "splits.seed"
      ),
      (
        "image: {size: 8, channels: 1}\nlocation: {path: p}\nchecksum: d41d8cd98f00b204e9800998ecf8427e",
        "checksum must be a mapping"
      ),
      ("image: {size: 8, channels: 1}\nlocation: {path: /etc/passwd}", "leaves the data root"),
      ("image: {size: 8, channels: 1}\nlocation: {path: ../../x}", "leaves the data root"),
    ] {
      XCTAssertThrowsError(try manifest(base + extra), extra) {
        XCTAssertTrue("\($0)".contains("m.yaml") && "\($0)".contains(want), "\($0)")
      }
    }
    XCTAssertThrowsError(
      try manifest(
        base.replacingOccurrences(of: "[a, b]", with: "[a, a, a]")
          + "image: {size: 8, channels: 1}\nlocation: {path: p}")
    ) {
      XCTAssertTrue("\($0)".contains("class 'a' is listed twice"), "\($0)")
    }
    XCTAssertThrowsError(
      try manifest(
        base.replacingOccurrences(of: "name: x", with: "name: ../../x")
          + "image: {size: 8, channels: 1}\nlocation: {path: p}")
    ) {
      XCTAssertTrue("\($0)".contains("name '../../x'"), "\($0)")
    }
    XCTAssertNoThrow(
      try manifest(base + "image: {size: 8, channels: 1}\nlocation: {path: /elsewhere/data, external: true}"),
      "a path outside the data root is fine when the manifest says so")
  }
}

extension DatasetManifest {
  func with(seed: UInt64) -> DatasetManifest {
    var m = self
    if case .ratios(let r, _) = splits { m.splits = .ratios(r, seed: seed) }
    return m
  }
}

extension LoaderTests {
  /// Rewrites the CRC-32 of every stored member of a zip (central directory and local header) to match its bytes.
  static func fixStoredCRCs(_ d: inout Data) {
    func u16(_ o: Int) -> Int { Int(d[o]) | Int(d[o + 1]) << 8 }
    func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
    func put32(_ o: Int, _ v: UInt32) { for k in 0..<4 { d[o + k] = UInt8((v >> (8 * UInt32(k))) & 0xFF) } }
    var p = 0
    while let r = d.range(of: Data([0x50, 0x4b, 0x01, 0x02]), in: p..<d.endIndex) {
      let c = r.lowerBound
      let (size, offset) = (u32(c + 20), u32(c + 42))
      let start = offset + 30 + u16(offset + 26) + u16(offset + 28)
      let crc = crc32(d[start..<(start + size)])
      put32(c + 16, crc)
      put32(offset + 14, crc)
      p = c + 46
    }
  }

  /// CRC-32 (IEEE 802.3, as zip stores it), bit by bit.
  static func crc32(_ bytes: Data) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
      c ^= UInt32(b)
      for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
    }
    return ~c
  }
}

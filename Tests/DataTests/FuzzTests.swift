//===--- FuzzTests.swift - every loader on mutated inputs ------------------===//
//
// Each loader (pipeline YAML, manifest YAML, npz/npy, safetensors, HDF5,
// PNG/JPEG, CSV) gets mutated copies of the seeds in Tests/Fixtures/fuzz
// (and Tests/Fixtures/data): bit flips, interesting integers, truncation,
// deleted/duplicated ranges, and for text formats swapped tokens. The
// property: success, or an error that names a file of the input — never a
// trap, a signal or a hang (a watchdog fails the run after 20 s on one input).
// Deterministic (fixed seed); bounded by PEFTLAB_FUZZ_SECONDS (default 80 s
// in all) and PEFTLAB_FUZZ_ITERATIONS per loader (default 2000).
//===----------------------------------------------------------------------===//
import Data
import Foundation
import Model
import Pipeline
import TestSupport
import XCTest
import Storage

/// SplitMix64: the mutations are the same on every run.
struct FuzzRNG {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
}

enum Mutator {
  static let interestingInts: [UInt64] = [
    0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 62, UInt64.max,
  ]
  static let tokens = [
    "-1", "0", "-5", "4611686018427387904", "1e308", "nan", ".inf", "''", "[]", "{}", "null", "~",
    "../../x", "/etc/passwd", "&a", "*a", "- ", ": ", "[", "{", "\n  ", "\"", "'", "#", "${item.x}",
    "x; echo INJECTED > f", "2.5", "abc", "true",
  ]

  static func mutate(_ input: [UInt8], text: Bool, rng: inout FuzzRNG) -> [UInt8] {
    var d = input
    for _ in 0..<(rng.below(2) == 0 ? 1 : 1 + rng.below(4)) {
      if d.isEmpty { d = [UInt8(rng.below(256))]; continue }
      switch rng.below(text ? 8 : 6) {
      case 0:  // flip bits
        for _ in 0..<(1 + rng.below(8)) { d[rng.below(d.count)] ^= UInt8(1 << rng.below(8)) }
      case 1:  // an interesting integer, little-endian, 1/2/4/8 bytes
        let v = interestingInts[rng.below(interestingInts.count)], w = [1, 2, 4, 8][rng.below(4)]
        let at = rng.below(d.count)
        for k in 0..<w where at + k < d.count { d[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
      case 2:  // truncate
        d = Array(d.prefix(rng.below(d.count)))
      case 3:  // delete a range
        let a = rng.below(d.count), n = 1 + rng.below(min(64, d.count - a))
        d.removeSubrange(a..<min(d.count, a + n))
      case 4:  // duplicate a range somewhere else
        let a = rng.below(d.count), n = 1 + rng.below(min(256, d.count - a))
        let chunk = Array(d[a..<min(d.count, a + n)])
        d.insert(contentsOf: chunk, at: rng.below(d.count + 1))
      case 5:  // random bytes
        for _ in 0..<(1 + rng.below(16)) { d[rng.below(d.count)] = UInt8(rng.below(256)) }
      case 6:  // text: replace a number or word with a token
        var s = String(decoding: d, as: UTF8.self)
        let words = s.split(whereSeparator: { " ,:[]{}\n".contains($0) })
        if let w = words.isEmpty ? nil : words[rng.below(words.count)] {
          s.replaceSubrange(w.startIndex..<w.endIndex, with: tokens[rng.below(tokens.count)])
        }
        d = Array(s.utf8)
      default:  // text: insert a token or duplicate a line
        var s = String(decoding: d, as: UTF8.self)
        if rng.below(2) == 0 {
          let at = s.utf8.index(s.utf8.startIndex, offsetBy: rng.below(s.utf8.count + 1))
          s.insert(contentsOf: tokens[rng.below(tokens.count)], at: at)
        } else {
          var lines = s.split(separator: "\n", omittingEmptySubsequences: false)
          if !lines.isEmpty { lines.insert(lines[rng.below(lines.count)], at: rng.below(lines.count + 1)) }
          s = lines.joined(separator: "\n")
        }
        d = Array(s.utf8)
      }
    }
    return d
  }
}

/// Fails the run if one input takes longer than the limit (a hang), saving that input.
final class HangWatchdog: @unchecked Sendable {
  private let lock = NSLock()
  private var started = Date()
  private var current = ""
  private var done = false
  init(limit: TimeInterval) {
    Thread.detachNewThread { [self] in
      while true {
        Thread.sleep(forTimeInterval: 1)
        lock.lock()
        let (s, c, d) = (started, current, done)
        lock.unlock()
        if d { return }
        if Date().timeIntervalSince(s) > limit {
          let keep = NSTemporaryDirectory() + "peftlab-fuzz-hang-" + URL(fileURLWithPath: c).lastPathComponent
          try? FileManager.default.copyItem(atPath: c, toPath: keep)
          fatalError("fuzz: a loader hung for more than \(limit) s on \(c) (kept as \(keep))")
        }
      }
    }
  }
  func begin(_ path: String) { lock.lock(); started = Date(); current = path; lock.unlock() }
  func stop() { lock.lock(); done = true; lock.unlock() }
}

final class FuzzTests: XCTestCase {
  struct Target {
    var name: String
    var seeds: [String]
    var text: Bool
    /// Loads the mutated file (at its path, in `dir`).
    var load: (_ path: String, _ dir: String) throws -> Void
  }

  func fuzzPath(_ name: String) -> String { fixture("fuzz/" + name) }

  func targets(dir: String) throws -> [Target] {
    let fm = FileManager.default
    for img in ["tiny.png", "tiny_grey.png", "tiny.jpg"] {  // what the CSV rows point at
      try fm.copyItem(atPath: fuzzPath(img), toPath: dir + "/" + img)
    }
    /// A manifest in `dir` for a mutated data file.
    func manifest(_ source: String, _ file: String, splits: String = "official") throws -> String {
      let m = dir + "/m-\(source).yaml"
      try """
      name: fuzz
      modality: test
      task: multi-class
      classes: [a, b, c]
      source: \(source)
      location: {path: \(file)}
      splits: \(splits)
      image: {size: 8, channels: 1}
      """.write(toFile: m, atomically: true, encoding: .utf8)
      return m
    }
    let npzManifest = try manifest("medmnist-npz", "fz.npz")
    let csvManifest = try manifest("csv", "fz.csv", splits: "{ratios: [0.5, 0.25, 0.25], seed: 1}")
    let h5Manifest = try manifest("hdf5", "fz.h5", splits: "{ratios: [0.5, 0.25, 0.25], seed: 1}")
    return [
      Target(name: "pipeline", seeds: [fuzzPath("pipeline.yaml")], text: true) { p, _ in
        _ = try Pipeline.load(p, profile: p.utf8.count % 2 == 0 ? nil : "quick", registry: StageRegistry())
      },
      Target(name: "manifest", seeds: [fuzzPath("manifest.yaml")], text: true) { p, _ in
        _ = try DatasetManifest.load(p)
      },
      Target(
        name: "npz",
        seeds: [fuzzPath("tiny.npz"), fixture("data/tinymnist.npz"), fixture("data/tinymnist_compressed.npz")],
        text: false
      ) { p, d in
        let z = try NpzFile(path: p)
        for n in z.names { _ = try? z.array(n) }
        try FileManager.default.copyItem(atPath: p, toPath: d + "/fz.npz")
        defer { try? FileManager.default.removeItem(atPath: d + "/fz.npz") }
        _ = try DatasetLoader.load(try DatasetManifest.load(npzManifest), root: d)
      },
      Target(
        name: "safetensors", seeds: [fuzzPath("tiny.safetensors"), fixture("timm_micro.safetensors")], text: false
      ) { p, _ in
        let f = try SafetensorsFile(path: p)
        for n in f.entries.keys { _ = try f.floats(n) }
        if f.entries.count > 10 { _ = try CheckpointImport.load(safetensors: p, heads: 2) }
      },
      Target(name: "hdf5", seeds: [fuzzPath("peftlab.h5")], text: false) { p, d in
        let f = try HDF5File.open(p)
        for n in f.datasetNames() { _ = try? f.readFloats(n) }
        try FileManager.default.copyItem(atPath: p, toPath: d + "/fz.h5")
        defer { try? FileManager.default.removeItem(atPath: d + "/fz.h5") }
        _ = try DatasetLoader.load(try DatasetManifest.load(h5Manifest), root: d)
      },
      Target(
        name: "png/jpeg", seeds: [fuzzPath("tiny.png"), fuzzPath("tiny_grey.png"), fuzzPath("tiny.jpg")], text: false
      ) { p, _ in
        if p.hasSuffix(".jpg") { _ = try JPEG.decode(p) } else { _ = try PNG.decode(p) }
      },
      Target(name: "csv", seeds: [fuzzPath("tiny.csv")], text: true) { p, d in
        try? FileManager.default.removeItem(atPath: d + "/fz.csv")
        try FileManager.default.copyItem(atPath: p, toPath: d + "/fz.csv")
        _ = try DatasetLoader.load(try DatasetManifest.load(csvManifest), root: d)
      },
    ]
  }

  func testEveryLoaderGivesAnErrorOrSuccessOnMutatedInputs() throws {
    let env = ProcessInfo.processInfo.environment
    let iterations = Int(env["PEFTLAB_FUZZ_ITERATIONS"] ?? "") ?? 2000
    let seconds = Double(env["PEFTLAB_FUZZ_SECONDS"] ?? "") ?? 80
    let dir = temporaryPath("fuzz-\(getpid())")
    try? FileManager.default.removeItem(atPath: dir)
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let all = try targets(dir: dir)
    let watchdog = HangWatchdog(limit: 20)
    defer { watchdog.stop() }
    var rng = FuzzRNG(state: UInt64(env["PEFTLAB_FUZZ_SEED"] ?? "") ?? 20261203)
    for t in all {
      let seeds = try t.seeds.map { try [UInt8](Data(contentsOf: URL(fileURLWithPath: $0))) }
      for (k, seed) in seeds.enumerated() {  // the unmutated seeds load: mutations start from valid inputs
        let path = dir + "/seed.\(URL(fileURLWithPath: t.seeds[k]).pathExtension)"
        try Data(seed).write(to: URL(fileURLWithPath: path))
        XCTAssertNoThrow(try t.load(path, dir), "\(t.name): seed \(t.seeds[k])")
      }
      let deadline = Date().addingTimeInterval(seconds / Double(all.count))
      var ok = 0, errors = 0, unnamed: [String] = []
      var i = 0
      while i < iterations && Date() < deadline {
        let s = rng.below(seeds.count)
        let ext = URL(fileURLWithPath: t.seeds[s]).pathExtension
        let path = dir + "/input-\(i).\(ext)"
        let bytes = Mutator.mutate(seeds[s], text: t.text, rng: &rng)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        watchdog.begin(path)
        if env["PEFTLAB_FUZZ_TRACE"] != nil {  // which input crashed the run, when one does
          try? Data(bytes).write(to: URL(fileURLWithPath: NSTemporaryDirectory() + "peftlab-fuzz-last.\(ext)"))
          FileHandle.standardError.write(Data("fuzz \(t.name) \(i)\n".utf8))
        }
        do {
          try t.load(path, dir)
          ok += 1
        } catch {
          errors += 1
          // The message names the input (or a file the input points at, all in `dir`).
          if !"\(error)".contains(dir) && unnamed.count < 3 { unnamed.append("\(error)") }
        }
        try? FileManager.default.removeItem(atPath: path)
        i += 1
      }
      print("fuzz \(t.name): \(i) inputs, \(ok) loaded, \(errors) errors")
      XCTAssertGreaterThan(i, 100, "\(t.name): too few inputs in the time budget")
      XCTAssertGreaterThan(errors, 0, "\(t.name): no mutation was rejected (is the loader checking anything?)")
      XCTAssertTrue(unnamed.isEmpty, "\(t.name): errors that do not name the file: \(unnamed)")
    }
  }
}

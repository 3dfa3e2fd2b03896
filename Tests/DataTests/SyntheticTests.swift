import Data
import Foundation
import Pipeline
import TestSupport
import XCTest

final class SyntheticTests: XCTestCase {
  func manifests() throws -> [DatasetManifest] {
    let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("data-manifests/synthetic").path
    return try DatasetManifest.all(in: dir)
  }

  func small(_ m: DatasetManifest, seed: Int, count: Int = 40) -> DatasetManifest {
    var m = m
    m.generator["seed"] = .int(seed)
    m.generator["counts"] = .object(["train": .int(count), "val": .int(8), "test": .int(8)])
    return m
  }

  func testSuiteIsDeterministicAndSeedDependent() throws {
    let all = try manifests()
    XCTAssertEqual(
      Set(all.map(\.name)),
      [
        "chaoyang-synth", "covid19-ct-synth", "busi-synth", "cxr3-synth", "oct-synth",
        "limuc-synth", "upstream-synth", "upstream-synth-ml",
      ])
    for m in all {
      let a = try SyntheticGenerator.generate(small(m, seed: 1), split: "train")
      let b = try SyntheticGenerator.generate(small(m, seed: 1), split: "train")
      let c = try SyntheticGenerator.generate(small(m, seed: 2), split: "train")
      XCTAssertEqual(a, b, "\(m.name): same seed, same images")
      XCTAssertNotEqual(a.images, c.images, "\(m.name): another seed, other images")
      let test = try SyntheticGenerator.generate(small(m, seed: 1), split: "test")
      XCTAssertNotEqual(Array(a.images.prefix(test.images.count)), test.images, "\(m.name): splits differ")
      XCTAssertEqual(a.channels, m.channels)
      XCTAssertTrue(
        a.labelWidth == 1 ? a.labels.allSatisfy { $0 >= 0 && $0 < m.classes.count } : a.labels.allSatisfy { $0 <= 1 })
      // any resolution: the same scene drawn at 64 px
      let big = try SyntheticGenerator.generate(
        {
          var x = small(m, seed: 1); x.imageSize = 64; return x
        }(), split: "train")
      XCTAssertEqual(big.height, 64)
      XCTAssertEqual(big.labels, a.labels, "\(m.name): labels do not depend on the resolution")
    }
  }

  func testEveryClassOccursWithTheConfiguredImbalance() throws {
    for m in try manifests() where !m.name.hasPrefix("upstream-synth") {
      let images = try SyntheticGenerator.generate(small(m, seed: 3, count: 400), split: "train")
      let weights = m.generator["class_weights"]!.array!.compactMap(\.double)
      for c in 0..<m.classes.count {
        let share = Double(images.labels.filter { $0 == c }.count) / 400
        XCTAssertEqual(share, weights[c] / weights.reduce(0, +), accuracy: 0.07, "\(m.name) class \(c)")
      }
    }
  }

  func testUpstreamClassesAreTheVocabularysFindings() throws {
    let up = try XCTUnwrap(try manifests().first { $0.name == "upstream-synth" })
    XCTAssertEqual(up.classes.count, SyntheticGenerator.upstreamClassCount())
    XCTAssertEqual(up.classes.first, "finding-00")
    XCTAssertEqual(up.classes.last, "finding-\(SyntheticGenerator.upstreamClassCount() - 1)")
    let words = (0..<SyntheticGenerator.upstreamClassCount()).map { SyntheticGenerator.upstreamClassDescription($0) }
    XCTAssertEqual(Set(words).count, words.count, "every upstream class is a different finding")
    XCTAssertEqual(words.last, "no finding")
    XCTAssertTrue(words.contains("dark rough shadowed") && words.contains("bright streaks"), "\(words)")
    // every class occurs, roughly uniformly
    let images = try SyntheticGenerator.generate(small(up, seed: 1, count: 900), split: "train")
    XCTAssertEqual(Set(images.labels), Set(0..<up.classes.count))
  }

  /// The multi-label upstream set: a row of 44 findings per image (the 45-class set's findings without
  /// "no finding"), 1 to `findings` of them per image, every finding occurring; other class counts are errors.
  func testMultiLabelUpstreamNamesEveryFinding() throws {
    var up = try XCTUnwrap(try manifests().first { $0.name == "upstream-synth-ml" })
    XCTAssertEqual(up.task, .multiLabel)
    XCTAssertEqual(up.classes.count, SyntheticGenerator.upstreamClassCount() - 1)
    let most = try XCTUnwrap(up.generator["findings"]?.int)
    let images = try SyntheticGenerator.generate(small(up, seed: 1, count: 600), split: "train")
    XCTAssertEqual(images.labelWidth, 44)
    XCTAssertEqual(images.labels.count, 600 * 44)
    let perImage = (0..<600).map { i in images.labels[(i * 44)..<((i + 1) * 44)].reduce(0, +) }
    XCTAssertEqual(Set(perImage), Set(1...most), "1 to \(most) findings per image, each count drawn")
    XCTAssertTrue((0..<44).allSatisfy { c in (0..<600).contains { images.labels[$0 * 44 + c] == 1 } })
    // a findings count out of range, or another class count, is an error naming the file
    up.generator["findings"] = .int(0)
    XCTAssertThrowsError(try SyntheticGenerator.generate(small(up, seed: 1), split: "train")) { e in
      XCTAssertTrue("\(e)".contains("upstream-synth-ml.yaml") && "\(e)".contains("findings"), "\(e)")
    }
    up.generator["findings"] = .int(3)
    up.classes = Array(up.classes.prefix(40))
    XCTAssertThrowsError(try SyntheticGenerator.generate(small(up, seed: 1), split: "train")) { e in
      XCTAssertTrue("\(e)".contains("44 findings"), "\(e)")
    }
  }

  /// `generator.size` / `generator.contrast` set the findings' ranges (same classes and labels, other
  /// pixels); a range outside (0, 1] or reversed is an error naming the file.
  func testUpstreamSizeAndContrastRanges() throws {
    let up = try XCTUnwrap(try manifests().first { $0.name == "upstream-synth" })
    let base = try SyntheticGenerator.generate(small(up, seed: 1), split: "train")
    var salient = small(up, seed: 1)
    salient.generator["size"] = .array([.double(0.15), .double(0.4)])
    salient.generator["contrast"] = .array([.double(0.6), .double(1.0)])
    let other = try SyntheticGenerator.generate(salient, split: "train")
    XCTAssertEqual(other.labels, base.labels)
    XCTAssertNotEqual(other.images, base.images)
    salient.generator["size"] = .array([.double(0.4), .double(0.15)])
    XCTAssertThrowsError(try SyntheticGenerator.generate(salient, split: "train")) { e in
      XCTAssertTrue("\(e)".contains("upstream-synth.yaml") && "\(e)".contains("generator.size"), "\(e)")
    }
  }

  /// Magnitude bins: each finding in size × contrast ranges (177 classes with 2 bins); the class count
  /// picks the bins, and a count no bins give is an error naming the file and the counts that exist.
  func testUpstreamMagnitudeBins() throws {
    var up = try XCTUnwrap(try manifests().first { $0.name == "upstream-synth" })
    XCTAssertEqual(SyntheticGenerator.upstreamClassCount(bins: 2), 177)
    let words = (0..<177).map { SyntheticGenerator.upstreamClassDescription($0, bins: 2) }
    XCTAssertEqual(Set(words).count, 177, "every binned class is a different finding")
    XCTAssertEqual(words.last, "no finding")
    XCTAssertTrue(words.contains("size 2/2, contrast 1/2 dark rough shadowed"), "\(words)")
    up.classes = (0..<177).map { String(format: "finding-%03d", $0) }
    let images = try SyntheticGenerator.generate(small(up, seed: 1, count: 3000), split: "train")
    XCTAssertEqual(Set(images.labels), Set(0..<177))
    up.classes = (0..<50).map { "c\($0)" }
    XCTAssertThrowsError(try SyntheticGenerator.generate(small(up, seed: 1), split: "train")) { e in
      XCTAssertTrue("\(e)".contains("45, 177, 397"), "\(e)")
    }
  }

  /// `generator.finding_scale` draws OCT's findings larger (same labels; 1 is the default's images); another
  /// generator or a value outside (0, 3] is an error naming the file.
  func testOCTFindingScale() throws {
    var oct = small(try XCTUnwrap(try manifests().first { $0.name == "oct-synth" }), seed: 1)
    XCTAssertEqual(oct.generator["finding_scale"]?.double, 1.5, "the shipped OCT task's findings scale")
    let shipped = try SyntheticGenerator.generate(oct, split: "train")
    oct.generator["finding_scale"] = nil
    let unscaled = try SyntheticGenerator.generate(oct, split: "train")
    oct.generator["finding_scale"] = .double(1)
    XCTAssertEqual(try SyntheticGenerator.generate(oct, split: "train"), unscaled, "1 is the default")
    XCTAssertEqual(shipped.labels, unscaled.labels)
    XCTAssertNotEqual(shipped.images, unscaled.images)
    oct.generator["finding_scale"] = .double(4)
    XCTAssertThrowsError(try SyntheticGenerator.generate(oct, split: "train")) { e in
      XCTAssertTrue("\(e)".contains("oct-synth.yaml") && "\(e)".contains("(0, 3]"), "\(e)")
    }
    var ct = small(try XCTUnwrap(try manifests().first { $0.name == "covid19-ct-synth" }), seed: 1)
    ct.generator["finding_scale"] = .double(1.5)
    XCTAssertThrowsError(try SyntheticGenerator.generate(ct, split: "train")) { e in
      XCTAssertTrue("\(e)".contains("covid19-ct-synth.yaml") && "\(e)".contains("oct generator only"), "\(e)")
    }
  }

  func testDownstreamManifestsNameTheGeneratorsClasses() throws {
    for m in try manifests() where !m.name.hasPrefix("upstream-synth") {
      let t = try SyntheticGenerator.task(m)
      XCTAssertEqual(m.classes, t.classes, m.name)
      XCTAssertNotEqual(t, .upstream, m.name)
    }
    // a manifest that lists other classes than its generator draws is an error naming the file
    var bad = try XCTUnwrap(try manifests().first { $0.name == "busi-synth" })
    bad.classes = ["normal", "malignant", "benign"]
    XCTAssertThrowsError(try SyntheticGenerator.generate(small(bad, seed: 1), split: "train")) { e in
      XCTAssertTrue("\(e)".contains("busi-synth.yaml"), "\(e)")
    }
  }

  func testTheGeneratorVersionIsPartOfTheContentHash() throws {
    let m = try XCTUnwrap(try manifests().first { $0.name == "busi-synth" })
    let h = try DatasetCheck.contentHash(m, root: "/nonexistent", hasher: FileHasher(memo: nil))
    var edited = m
    edited.text += "\n# a comment"
    XCTAssertNotEqual(h, try DatasetCheck.contentHash(edited, root: "/nonexistent", hasher: FileHasher(memo: nil)))
    XCTAssertEqual(h, try DatasetCheck.contentHash(m, root: "/nonexistent", hasher: FileHasher(memo: nil)))
    XCTAssertGreaterThanOrEqual(SyntheticGenerator.version, 2)
  }

  func testShippedGroupsNameShippedManifests() throws {
    let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("data-manifests").path
    let groups = try DatasetGroups.load(dir)
    XCTAssertEqual(groups["sh-peft-synth"]?.count, 6)
    XCTAssertEqual(try DatasetManifest.all(in: dir).count, 48 + 14 + 8 + 2)  // + byo/: the worked example's folders
  }
}

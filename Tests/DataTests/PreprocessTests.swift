import Data
import Foundation
import Kernels
import Model
import Pipeline
import TestSupport
import XCTest
import Storage

final class PreprocessTests: XCTestCase {
  func grey(_ v: [UInt8], size: Int) -> RawImages {
    RawImages(
      images: v, labels: [Array(repeating: 1, count: v.count / (size * size))].flatMap { $0 },
      count: v.count / (size * size), height: size, width: size, channels: 1)
  }

  func testNormalisationGreyToRGBAndResize() {
    let r = grey([UInt8](repeating: 51, count: 16), size: 4)  // 0.2 everywhere
    let p = Preprocessor(size: 2, normalization: .init(mean: [0.1, 0.2, 0.3], std: [0.5, 0.5, 0.5]))
    let set = p.imageSet(r)
    XCTAssertEqual(set.images.count, 3 * 2 * 2)
    XCTAssertEqual(Array(set.images[0..<4]), [Float](repeating: 0.2, count: 4).map { $0 })  // (0.2 − 0.1) / 0.5
    XCTAssertEqual(set.images[4], 0, accuracy: 1e-6)
    XCTAssertEqual(set.images[8], -0.2, accuracy: 1e-6)
    let stats = Normalization.of(grey([0, 255, 0, 255], size: 2))
    XCTAssertEqual(stats.mean[0], 0.5, accuracy: 1e-6)
    XCTAssertEqual(stats.std[2], 0.5, accuracy: 1e-6)
  }

  func testAugmentedBatchesAreDeterministicAcrossThreadCountsAndPairsHaveTwoSizes() throws {
    let raw = RawImages(
      images: (0..<(20 * 16 * 16 * 3)).map { UInt8($0 % 251) }, labels: Array(0..<20).map { $0 % 3 },
      count: 20, height: 16, width: 16, channels: 3)
    let low = Preprocessor(size: 8, normalization: .imagenet, augmentation: Augmentation())
    let high = Preprocessor(size: 16, normalization: .imagenet)
    func batches() -> [[Float]] {
      var s = AugmentedSampler(raw, batch: 4, preprocessor: low, second: high, seed: 7)
      var out: [[Float]] = []
      for _ in 0..<3 {
        var a: [Float] = [], l: [Int32] = [], b: [Float] = []
        s.next(images: &a, labels: &l, secondImages: &b)
        XCTAssertEqual(a.count, 4 * 3 * 8 * 8)
        XCTAssertEqual(b.count, 4 * 3 * 16 * 16)
        out += [a, b]
      }
      return out
    }
    let one = batches(), two = batches()
    XCTAssertEqual(one, two)
    XCTAssertNotEqual(one[0], one[2], "different steps, different crops")
    // the high-resolution view has no augmentation: it equals the plain image set
    var s = AugmentedSampler(raw, batch: 4, preprocessor: low, second: high, seed: 7)
    var a: [Float] = [], l: [Int32] = [], b: [Float] = []
    s.next(images: &a, labels: &l, secondImages: &b)
    let plain = high.imageSet(raw)
    let n = 3 * 16 * 16
    let firstIndex = (0..<20).first { i in Array(plain.images[(i * n)..<((i + 1) * n)]) == Array(b[0..<n]) }
    XCTAssertNotNil(firstIndex)
  }

  func testDatasetCacheDecodesOnceAndIsHDF5() throws {
    let dir = temporaryPath("dscache-\(UInt32.random(in: 0...UInt32.max))")
    let yaml = tinyNpzManifestYAML(path: fixture("data/tinymnist_compressed.npz"))
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try yaml.write(toFile: dir + "/m.yaml", atomically: true, encoding: .utf8)
    let m = try DatasetManifest.load(dir + "/m.yaml")
    let first = try DatasetCache.splits(m, root: dir, size: 16, cacheDir: dir + "/cache", hasher: FileHasher(memo: nil))
    let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/cache/datasets")
    XCTAssertEqual(files.count, 1)
    let again = try DatasetCache.splits(m, root: dir, size: 16, cacheDir: dir + "/cache", hasher: FileHasher(memo: nil))
    XCTAssertEqual(
      first["train"],
      again["train"].map {
        var r = $0; r.sources = first["train"]!.sources; return r
      })
    XCTAssertEqual(again["test"]!.height, 16)
    let f = try HDF5File.open(dir + "/cache/datasets/" + files[0])
    XCTAssertEqual(try f.shape(of: "train/images"), [12, 16, 16, 1])
  }
}

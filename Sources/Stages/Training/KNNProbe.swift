//===--- KNNProbe.swift - `knn-probe`: k nearest neighbours on frozen features -===//
//
// The frozen model's class-token features (after the final LayerNorm, L2-normalised) of every
// training and test image (no augmentation); each test image takes the weighted vote of its k
// most cosine-similar training images, weight exp(s / T) (DINO's k-NN evaluation: k = 20,
// T = 0.07). No parameter is trained, so this measures the features alone.
//   knn.json / metrics.json: test (and val) accuracy, macro-F1, macro-AUC (the vote shares as
//   scores), per-class recall; k, temperature, feature width.
//===----------------------------------------------------------------------===//
import Data
import Foundation
import Kernels
import Model
import Outputs
import Pipeline
import Training

public struct KNNProbeStageKind: DatasetReadingKind {
  public init() {}
  public let name = "knn-probe"
  public let version = 1
  public var parameters: [ParameterSpec] {
    [
      ParameterSpec("dataset", help: "dataset name (a manifest)"), ParameterSpec("k", default: .int(20)),
      ParameterSpec("temperature", default: .double(0.07)),
      ParameterSpec("seed", default: .int(0), help: "unused (matrix symmetry)"),
    ] + RecipeParams.location
  }

  struct Values: Decodable {
    var k: Int
    var temperature: Double
  }

  public func run(_ ctx: StageContext) throws {
    let v = try ctx.decode(Values.self)
    let model = try ctx.inputModel()
    let data = try TaskData.load(ctx, size: model.config.imageSize)
    let k = v.k, temperature = Float(v.temperature)
    guard k > 0, temperature > 0 else {
      throw PipelineError.stageFailed(stage: ctx.stage, message: "k and temperature must be positive")
    }
    guard let train = data.imageSet("train") else { throw DataError.file(data.manifest.file, "no training split") }
    let bank = Self.features(model, train)
    let K = data.manifest.classes.count
    var out = RunMetrics(stageKind: name, dataset: data.manifest.name)
    (out.k, out.temperature, out.featureWidth, out.trainImages) = (
      k, Double(temperature), model.config.width, train.count
    )
    for split in ["val", "test"] {
      guard let set = data.imageSet(split) else { continue }
      let q = Self.features(model, set)
      let scores = Self.vote(
        queries: q, count: set.count, bank: bank, bankLabels: train.labels, width: model.config.width,
        classes: K, k: min(k, train.count), temperature: temperature)
      let e = Metrics.all(scores: scores, labels: set.labels.map(Int.init), classes: K)
      out.record(split, e, log: ctx.log)
    }
    try out.write(in: ctx.outputDir)
  }

  /// Class-token features (N, D) after the final LayerNorm of a whole image set, L2-normalised unless
  /// `normalise` is false.
  static func features(_ model: ViT, _ set: ImageSet, batch: Int = 64, normalise: Bool = true) -> [Float] {
    let D = model.config.width
    var out: [Float] = []
    out.reserveCapacity(set.count * D)
    var imgs: [Float] = [], labs: [Int32] = []
    var acts = Activations(config: model.config, batch: min(batch, set.count))
    var start = 0
    while start < set.count {
      let n = min(batch, set.count - start)
      if n != acts.batch { acts = Activations(config: model.config, batch: n) }
      set.gather(Array(start..<(start + n))[...], images: &imgs, labels: &labs)
      imgs.withUnsafeBufferPointer { model.forward(images: $0.baseAddress!, acts: acts) }
      var f = acts.featuresArray
      for r in 0..<n where normalise {
        var norm: Float = 0
        for j in 0..<D { norm += f[r * D + j] * f[r * D + j] }
        let inv = 1 / max(norm.squareRoot(), 1e-12)
        for j in 0..<D { f[r * D + j] *= inv }
      }
      out.append(contentsOf: f)
      start += n
    }
    return out
  }

  /// Class scores (N, K): the share of exp(s/T)-weighted votes among each query's k nearest (cosine) bank rows.
  public static func vote(
    queries: [Float], count n: Int, bank: [Float], bankLabels: [Int32], width D: Int, classes K: Int,
    k: Int, temperature: Float
  ) -> [Float] {
    let m = bankLabels.count
    var sim = [Float](repeating: 0, count: n * m)  // (n, m) = queries · bankᵀ
    queries.withUnsafeBufferPointer { q in
      bank.withUnsafeBufferPointer { b in
        sim.withUnsafeMutableBufferPointer { s in
          BLAS.gemm(
            transA: false, transB: true, M: n, N: m, K: D, alpha: 1, A: q.baseAddress!, lda: D,
            B: b.baseAddress!, ldb: D, beta: 0, C: s.baseAddress!, ldc: m)
        }
      }
    }
    var scores = [Float](repeating: 0, count: n * K)
    for i in 0..<n {
      let row = sim[(i * m)..<((i + 1) * m)]
      // top k, ties to the lower index (deterministic)
      let top = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(k)
      var total: Float = 0
      for j in top {
        let w = exp((row[j] - 1) / temperature)  // shifted by the maximum possible similarity: no overflow
        scores[i * K + Int(bankLabels[j - i * m])] += w
        total += w
      }
      for c in 0..<K { scores[i * K + c] /= max(total, 1e-30) }
    }
    return scores
  }
}

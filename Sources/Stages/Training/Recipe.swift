//===--- Recipe.swift - one training run's recipe, read once ---------------===//
//
// The recipe parameters (RecipeParams.specs: steps, batch, optimizer, lr, ..., augmentation) decoded
// once, and what every training run does with them before and after `TrainingLoop`: the augmented
// sampler, the fields of metrics.json all runs share, the val/test evaluation with its log lines, and
// the outputs. `TrainingRecipe` (every ViT method) and `SideTuningRun` (FPT/FPT+) both use it.
//===----------------------------------------------------------------------===//
import Data
import Foundation
import Kernels
import Outputs
import Pipeline
import Training

struct Recipe {
  /// The recipe parameters as the pipeline gives them.
  let values: RecipeValues
  /// The batch size, at most the training split's size.
  let batch: Int
  let config: TrainConfig
  /// nil: no augmentation (`augment: false`).
  let augmentation: Augmentation?
  var steps: Int { values.steps }
  var seed: Int { values.seed }

  init(_ ctx: StageContext, trainImages: Int) throws {
    let r = try ctx.decode(RecipeValues.self)
    values = r
    batch = min(r.batch, trainImages)
    config = try RecipeParams.trainConfig(r, steps: r.steps, batch: batch)
    augmentation = r.augmentation
  }

  /// Batches of the training split at `size` px, augmented as the recipe says, in the seed's order.
  func sampler(_ data: TaskData, size: Int) -> AugmentedSampler {
    let pre = Preprocessor(size: size, normalization: data.normalization, augmentation: augmentation)
    return AugmentedSampler(data.train, batch: batch, preprocessor: pre, seed: UInt64(seed))
  }

  /// The metrics.json fields every training run writes; `extraActivationBytes` (e.g. a batch's
  /// preloaded K/V) is added to the activations and the total.
  func metrics(
    _ ctx: StageContext, data: TaskData, seconds: Double, memory m: MemoryReport, extraActivationBytes: Int = 0
  ) -> RunMetrics {
    var r = RunMetrics(stageKind: ctx.kindName, dataset: data.manifest.name)
    (r.seed, r.steps, r.batch, r.trainImages, r.threads) = (seed, steps, batch, data.train.count, Parallel.threads)
    (r.lr, r.optimizer, r.seconds, r.peakRssBytes) = (values.lr, values.optimizer, seconds, Double(peakRSSBytes()))
    r.memoryBytes = TrainingMemoryBytes(
      parameters: m.parameters, gradients: m.gradients, optimizer: m.optimizerState,
      activations: m.activations + extraActivationBytes, total: m.total + extraActivationBytes)
    return r
  }

  /// Evaluates on the validation and test splits the task has (`evaluate` gets the split's name and
  /// images) and records each in `r`.
  static func evaluate(
    _ ctx: StageContext, data: TaskData, into r: inout RunMetrics,
    _ evaluate: (String, ImageSet) throws -> ClassificationMetrics?
  ) rethrows {
    for split in ["val", "test"] {
      guard let set = data.imageSet(split), let e = try evaluate(split, set) else { continue }
      r.record(split, e, log: ctx.log)
    }
  }

  /// curve.csv and metrics.json (+ its wall-clock fields in timing.json) in the stage's output folder.
  static func write(_ ctx: StageContext, curve: String, metrics: RunMetrics) throws {
    try curve.write(toFile: ctx.outputDir + "/curve.csv", atomically: true, encoding: .utf8)
    try metrics.write(in: ctx.outputDir)
  }
}

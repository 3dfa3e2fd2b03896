//===--- ImportanceInput.swift - SH-PEFT's mask from its importance input --===//
//
// The one SH-PEFT selection a training stage uses: the needed `importance` stage of its dataset
// (Eq. 1–2 scored once per task and seed). Its stored mask when the strategy, λ and budget asked for
// are the stage's; otherwise re-selected from its stored gradient statistics (no new epoch) — how the
// ablations share one importance stage. Used by the `shpeft` kind and the `peft` kind's sh-peft method.
//===----------------------------------------------------------------------===//
import Foundation
import Model
import Outputs
import Pipeline
import Storage
import Training

struct ImportanceInput {
  /// The importance stage's name, the selected backbone elements (flat indices), how they were chosen.
  let stage: String
  let mask: [Int]
  let strategy: ImportanceStrategy
  let lambda, budget: Double
  /// The importance stage's measured selection time (timing.json; 0 if absent).
  let selectionSeconds: Double

  /// The selection for `dataset` on `base` (the pretrained backbone, for the task-agnostic |w|), with the
  /// stage's `strategy` / `lambda` / `budget` parameters where it sets them, else the importance stage's.
  static func load(_ ctx: StageContext, dataset: String, base: ViT) throws -> ImportanceInput {
    func fail(_ message: String) -> Error { PipelineError.stageFailed(stage: ctx.stage, message: message) }
    let imp = ctx.inputs.sorted { $0.key < $1.key }.filter { ImportanceOutput.exists(in: $0.value) }
    guard imp.count == 1, let (name, dir) = imp.first.map({ ($0.key, $0.value) }) else {
      throw fail("needs exactly one importance stage (has \(imp.count))")
    }
    let summary = try ImportanceOutput.read(in: dir)
    guard summary.dataset == dataset else { throw fail("\(name) scored '\(summary.dataset)', not '\(dataset)'") }
    let f = try HDF5File.open(dir + "/importance.h5")
    let stored = (
      try f.stringAttribute("strategy"), try f.doubleAttribute("lambda"), try f.doubleAttribute("budget_percent")
    )
    let (strategy, lambda, budget) = try MaskParams.values(ctx.params, fallback: stored)
    let mask: [Int]
    if strategy.rawValue == stored.0 && lambda == stored.1 && budget == stored.2 {
      mask = try f.readInt64s("mask").values.map { Int($0) }
    } else {
      let stats = GradientStatistics(
        sum: try f.readFloats("grad_sum").values, sumOfSquares: try f.readFloats("grad_sq_sum").values,
        batches: try f.intAttribute("batches"), images: 0)
      mask =
        Importance.select(
          strategy, lambda: lambda, budget: budget, stats: stats, model: base, seed: UInt64(try f.intAttribute("seed"))
        ).mask
    }
    let n = WeightChanges.backboneCount(base.layout)
    guard mask.allSatisfy({ $0 >= 0 && $0 < n }) else {
      throw fail("\(name): mask indices outside the backbone (\(n) elements)")
    }
    return ImportanceInput(
      stage: name, mask: mask, strategy: strategy, lambda: lambda, budget: budget,
      selectionSeconds: (try? Timing.read(in: dir))?.secondsSelection ?? 0)
  }
}

//===--- TrainingLoop.swift - the one loop every training stage runs -------===//
//
// Draw an augmented batch, take one optimizer step, append a curve row; report progress and a
// log line 20 times per run; stop when the run is cancelled. `TrainingRecipe` (every ViT method)
// and `SideTuningRun` (FPT/FPT+, whose step also gathers the batch's preloaded K/V) both call it.
//   curve.csv  step,loss,lr — one row per step
//===----------------------------------------------------------------------===//
import Data
import Foundation
import Pipeline
import Training

enum TrainingLoop {
  /// Runs `steps` steps. `step` gets the batch (images (B, 3, S, S), labels (B), and the sampled
  /// rows of the training split) and returns the optimizer step's result.
  /// Returns the curve (CSV text) and the wall-clock seconds of the loop.
  static func run(
    _ ctx: StageContext, sampler: inout AugmentedSampler, steps: Int,
    step: (_ images: [Float], _ labels: [Int32], _ rows: [Int]) throws -> StepResult
  ) throws
    -> (curve: String, seconds: Double)
  {
    var imgs: [Float] = [], labs: [Int32] = [], unused: [Float] = []
    var curve = "step,loss,lr\n"
    let start = Date()
    for s in 0..<steps {
      if ctx.isCancelled { throw PipelineError.cancelled }
      sampler.next(images: &imgs, labels: &labs, secondImages: &unused)
      let r = try step(imgs, labs, sampler.lastIndices)
      curve += "\(s),\(r.loss),\(r.lr)\n"
      if s % max(1, steps / 20) == 0 {
        ctx.progress(Double(s) / Double(steps))
        ctx.log(String(format: "step %d loss %.4f lr %.2e", s, r.loss, r.lr))
      }
    }
    return (curve, Date().timeIntervalSince(start))
  }
}

//===--- RecipeSettings.swift - the training recipe outside a pipeline -----===//
//
// `peftlab train` trains with the same recipe as the pipeline's training kinds: `RecipeParams.specs`'
// defaults (SGD, momentum 0.9, lr 1e-3, cosine, batch 64, augmentation with crop 0.6–1 and jitter 0.2,
// no weight decay, warm-up or clipping), the same range checks and the same `TrainConfig`. A command-line
// option (`--set steps=200`) overrides a parameter by its pipeline name.
//===----------------------------------------------------------------------===//
import Data
import Foundation
import Pipeline
import Training

public struct RecipeSettings {
  public let config: TrainConfig
  /// nil: no augmentation.
  public let augmentation: Augmentation?
  public let steps, batch, seed: Int
  /// The parameters as resolved (defaults + overrides), by pipeline name.
  public let parameters: [String: Value]

  /// The recipe with `overrides` (pipeline names: steps, batch, optimizer, lr, momentum, weight_decay, warmup,
  /// clip, seed, augment, crop_min, jitter); an unknown name or a value out of range is an error naming it.
  /// The batch is at most `trainImages`, as the pipeline's training kinds clamp it (`Recipe`).
  public init(_ overrides: [String: Value], trainImages: Int = .max) throws {
    let specs = Self.specs
    var p: [String: Value] = [:]
    for s in specs { if let d = s.defaultValue, d != .null { p[s.name] = d } }
    for (k, v) in overrides {
      guard specs.contains(where: { $0.name == k }) else {
        throw PipelineError.parameter("train: unknown recipe parameter '\(k)'")
      }
      p[k] = v
    }
    for s in specs { if let v = p[s.name], let e = s.rangeError(v) { throw PipelineError.parameter("\(s.name) \(e)") } }
    let located = RecipeParams.location.reduce(into: p) { $0[$1.name] = $1.defaultValue }
    let r = try Parameters.decode(RecipeValues.self, from: located, context: "train")
    batch = min(r.batch, trainImages)
    config = try RecipeParams.trainConfig(r, steps: r.steps, batch: batch)
    (augmentation, steps, seed, parameters) = (r.augmentation, r.steps, r.seed, p)
  }

  /// The parameters a recipe takes outside a pipeline: the training kinds' recipe but the dataset and its location.
  public static let specs = RecipeParams.specs.filter { s in
    s.name != "dataset" && !RecipeParams.location.contains { $0.name == s.name }
  }
}

extension RecipeValues {
  /// The training images' augmentation (nil: `augment: false`).
  var augmentation: Augmentation? {
    augment ? Augmentation(cropScale: cropMin...1, jitter: Float(jitter ?? 0.2)) : nil
  }
}

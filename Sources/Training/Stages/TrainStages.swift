//===--- TrainStages.swift - `pretrain` and `finetune` stage kinds ---------===//
//
//   pretrain:  a ViT from scratch (preset, head) on the upstream set -> the
//              embedded default's "pretrained model".
//   finetune:  the model of its one needed stage (a pretrain or import stage,
//              any stage whose output has model.h5), its head replaced for the
//              task's classes, trained on `dataset`: mode full (W_ft) or
//              linear-probe. SH-PEFT recipe by default: SGD, cosine, batch 64,
//              L2-normalised head.
//===----------------------------------------------------------------------===//
import Data
import Foundation
import Model
import Pipeline

public struct PretrainStageKind: StageKind {
  public init() {}
  public let name = "pretrain"
  public let version = 1
  public var parameters: [ParameterSpec] {
    RecipeParams.specs + [ParameterSpec("preset", default: .string("tiny-p8")), ParameterSpec("head", default: .string("linear"))]
  }
  public func externalInputs(params: [String: Value], projectRoot: String, hasher: FileHasher) throws -> [String: String] {
    try RecipeParams.datasetHash(params, root: projectRoot, hasher: hasher)
  }
  public func run(_ ctx: StageContext) throws {
    let m = try RecipeParams.dataset(ctx.params, root: ctx.projectRoot)
    var c = try ViTConfig.preset(ctx.params["preset"]?.string ?? "tiny-p8")
    c.numClasses = m.classes.count
    guard let h = HeadKind(rawValue: ctx.params["head"]?.string ?? "linear") else {
      throw PipelineError.stageFailed(stage: ctx.stage, message: "head must be linear or l2_linear")
    }
    c.head = h
    let model = try ViT(config: c, seed: UInt64(ctx.params["seed"]?.int ?? 0))
    try TrainingRecipe.run(ctx, model: model) { .all($0) }
  }
}

public struct FinetuneStageKind: StageKind {
  public init() {}
  public let name = "finetune"
  public let version = 1
  public var parameters: [ParameterSpec] {
    RecipeParams.specs + [ParameterSpec("head", default: .string("l2_linear")),
                          ParameterSpec("mode", default: .string("full"), help: "full or linear-probe")]
  }
  public func externalInputs(params: [String: Value], projectRoot: String, hasher: FileHasher) throws -> [String: String] {
    try RecipeParams.datasetHash(params, root: projectRoot, hasher: hasher)
  }
  public func run(_ ctx: StageContext) throws {
    let models = ctx.inputs.values.filter { FileManager.default.fileExists(atPath: $0 + "/model.h5") }
    guard models.count == 1 else {
      throw PipelineError.stageFailed(stage: ctx.stage, message: "finetune needs exactly one stage with a model.h5 (has \(models.count))")
    }
    let base = try Checkpoint.load(models[0] + "/model.h5")
    let m = try RecipeParams.dataset(ctx.params, root: ctx.projectRoot)
    guard let h = HeadKind(rawValue: ctx.params["head"]?.string ?? "l2_linear") else {
      throw PipelineError.stageFailed(stage: ctx.stage, message: "head must be linear or l2_linear")
    }
    let model = try base.withNewHead(classes: m.classes.count, head: h, seed: UInt64(ctx.params["seed"]?.int ?? 0))
    let probe = ctx.params["mode"]?.string == "linear-probe"
    try TrainingRecipe.run(ctx, model: model) { layout in
      probe ? .tensors(layout) { $0.hasPrefix("head.") } : .all(layout)
    }
  }
}

//===--- SideTuningRun.swift - training FPT / FPT+ from preloaded K/V -------===//
//
// The side ViT (random init, all of it trains) and the fusion modules train
// with the recipe's optimizer; each batch's K/V come from the fpt-preload
// stage's features.h5 (rows of the sampled images), the side input is the
// low-resolution copy with augmentation. Memory is reported as trained (the
// frozen model is not in memory: preloading) and, for comparison, with the
// frozen model's parameters and inference activations added (no preloading).
//===----------------------------------------------------------------------===//
import Data
import Foundation
import Kernels
import Model
import Outputs
import PEFT
import Pipeline
import Storage
import Training

enum SideTuningRun {
  /// The side ViT's initialisation: the FPT code's (a Hugging Face `ViTConfig` without pretrained weights,
  /// `initializer_range` 0.02). Since version 2 (version 1 used timm's: a Conv2d-default patch embedding and a
  /// 1e-6 class token); FPT/FPT+ stages carry `keyEntry` so exactly they rerun.
  static let initialisation = ViTInitialisation.huggingFace(std: 0.02)
  static let keyEntry = ["side_init": "2: Hugging Face ViT, initializer_range 0.02"]

  static func run(_ ctx: StageContext, plus: Bool) throws {
    let p = ctx.params
    let sideParams = try SideParams.Values(p)
    let m = try RecipeParams.dataset(p, root: ctx.projectRoot)
    let pre = ctx.inputs(with: "features.h5")
    guard pre.count == 1 else {
      throw PipelineError.stageFailed(
        stage: ctx.stage, message: "fpt/fpt+ need exactly one fpt-preload stage (has \(pre.count))")
    }
    let f = try HDF5File.open(pre[0].dir + "/features.h5")
    let base = try ctx.inputModel()
    var frozenConfig = base.config
    frozenConfig.imageSize = try f.intAttribute("frozen_size")
    let plan = try SideTuningPlan(
      plus: plus, frozen: frozenConfig, classes: m.classes.count, options: sideParams.options)
    guard try f.intAttribute("kept_tokens") == plan.keptTokens, try f.intAttribute("side_layers") == plan.side.depth
    else {
      throw PipelineError.stageFailed(
        stage: ctx.stage, message: "\(pre[0].name): preloaded for another side configuration")
    }
    let seed = UInt64(try ctx.decode(TaskHead.self).seed)
    let side = try ViT(config: plan.side, seed: seed &+ 17, initialisation: initialisation)
    let fusion = makeFusionModules(plan: plan, seed: seed &+ 1000)
    let data = try TaskData.load(ctx, size: plan.side.imageSize)
    let (trainK, trainV) = (try f.readFloats("train_keys").values, try f.readFloats("train_values").values)
    let per = plan.kvCount
    guard trainK.count == data.train.count * per else {
      throw PipelineError.stageFailed(
        stage: ctx.stage,
        message: "\(pre[0].name): \(trainK.count / per) preloaded images, split has \(data.train.count)")
    }
    let recipe = try Recipe(ctx, trainImages: data.train.count)
    let batch = recipe.batch
    let trainer = Trainer(model: side, selection: .all(side.layout), config: recipe.config, modules: fusion)
    var sampler = recipe.sampler(data, size: plan.side.imageSize)
    var K = [Float](repeating: 0, count: batch * per), V = K
    let (curve, seconds) = try TrainingLoop.run(ctx, sampler: &sampler, steps: recipe.steps) { imgs, labs, rows in
      for (j, i) in rows.enumerated() {  // the batch's preloaded K/V
        for t in 0..<per { K[j * per + t] = trainK[i * per + t]; V[j * per + t] = trainV[i * per + t] }
      }
      return try K.withUnsafeBufferPointer { kp in
        try V.withUnsafeBufferPointer { vp in
          fusion.keys = kp.baseAddress; fusion.values = vp.baseAddress
          return try trainer.step(images: imgs, labels: labs)
        }
      }
    }
    let mem = trainer.memory
    let kvBatchBytes = 2 * batch * per * 4
    let frozenParams = try f.intAttribute("frozen_parameters")
    // without preloading: the frozen model's weights, one block's no-grad buffers (streamed) and the batch's K/V
    let frozenActs = 4 * Activations.counts(config: frozenConfig, batch: batch, keepFrom: frozenConfig.depth).forward
    let trainable = plan.trainableParameters()
    var metrics = recipe.metrics(ctx, data: data, seconds: seconds, memory: mem, extraActivationBytes: kvBatchBytes)
    let head = side.layout.headTensors.reduce(0) { $0 + side.layout.tensors[$1].count }
    let total = plan.totalParameters(frozenParameters: frozenParams)
    (metrics.method, metrics.trainableParameters, metrics.methodParameters) = (
      plus ? "fpt+" : "fpt", trainable, trainable - head
    )
    (metrics.headParameters, metrics.totalParameters) = (head, total)
    metrics.trainableRatio = Double(trainable) / Double(total)
    metrics.ratioDenominator = "frozen model incl. its head + side ViT + fusion (as the FPT code prints it)"
    metrics.memoryWithoutPreloadBytes = Double(mem.total + kvBatchBytes + frozenParams * 4 + frozenActs)
    var shape = SideNetworkShape(
      size: plan.side.imageSize, sidePatches: plan.side.numPatches, frozenPatches: frozenConfig.numPatches)
    (shape.patch, shape.width, shape.layers) = (plan.side.patchSize, plan.side.width, plan.side.depth)
    (shape.prompts, shape.keptTokens, shape.frozenSize) = (plan.prompts, plan.keptTokens, frozenConfig.imageSize)
    shape.tokenRatio = sideParams.tokenRatio
    metrics.side = shape
    metrics.preloadStage = pre[0].name
    if plan.fusion != .crossAttention { metrics.fusion = plan.fusion.rawValue }
    try Recipe.evaluate(ctx, data: data, into: &metrics) { split, set in
      guard f.exists(split + "_keys") else { return nil }
      let k = try f.readFloats(split + "_keys").values, v = try f.readFloats(split + "_values").values
      return evaluate(side, fusion: fusion, set: set, keys: k, values: v, per: per)
    }
    try Checkpoint.save(side, to: ctx.outputDir + "/model.h5")
    try saveModules(fusion.store, to: ctx.outputDir + "/modules.h5")
    try Recipe.write(ctx, curve: curve, metrics: metrics)
  }

  /// Side model metrics on a split: each batch's K/V are the preloaded rows of its images.
  static func evaluate(
    _ side: ViT, fusion: any SideFusionModules, set: ImageSet, keys: [Float], values: [Float],
    per: Int
  )
    -> ClassificationMetrics
  {
    defer { fusion.keys = nil; fusion.values = nil }
    return keys.withUnsafeBufferPointer { kp in
      values.withUnsafeBufferPointer { vp in
        Evaluation.evaluate(side, on: set, modules: fusion) { start in
          fusion.keys = kp.baseAddress! + start * per
          fusion.values = vp.baseAddress! + start * per
        }
      }
    }
  }
}

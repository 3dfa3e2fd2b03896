//===--- TrainingRecipe.swift - the training loop shared by stage kinds ----===//
//
// Reads a dataset (through the decode-once cache), trains a model with the
// recipe's optimizer and cosine schedule on augmented batches, and writes
//   model.h5      the trained weights (peftlab checkpoint, timm names)
//   metrics.json  per split (val, test): accuracy, macro-F1, macro-AUC, loss;
//                 trainable parameters; peak training memory; seconds
//   curve.csv     step, loss, lr
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

/// Writes a module store's tensors (one dataset per name) to HDF5.
func saveModules(_ s: ModuleStore, to path: String) throws {
  let f = try HDF5File.create(path)
  for (i, t) in s.tensors.enumerated() {
    try f.write(t.name, floats: UnsafeBufferPointer(start: s.p(i), count: t.count), shape: t.shape)
  }
}

/// Training memory is recorded as the engine allocates it. Since accounting 2 a frozen prefix of blocks
/// streams through shared buffers (a linear probe keeps no block activations; a mask that leaves the
/// first blocks untouched keeps fewer). The stages whose recorded memory can differ carry this entry in
/// their key, so exactly they rerun; every other stage computes the same bytes as before.
enum MemoryAccounting {
  static let streamedPrefix = ["memory_accounting": "2: frozen prefix streamed"]
  /// Since accounting 3, FPT/FPT+ "without preloading" charges a streamed no-grad frozen forward
  /// (one block's buffers and the batch's K/V), not every block's activations.
  static let streamedFrozenForward = ["memory_accounting": "3: no-grad frozen forward streamed"]
}

/// The task head's fixed logit scale (`l2_linear` heads: logits = W·(s·f/‖f‖) + b). Optional: when
/// absent the head is the paper's (s = 1) and the stage's key is what it was before the parameter existed.
enum HeadParams {
  static let scale = ParameterSpec("head_scale", help: "logit scale s of an l2_linear head (unset: 1, the paper's)")
    .positive().atMost(1000).optional(like: .double(1))
  /// The head's parameters: its kind (defaulting to `kind`) and its logit scale.
  static func specs(default kind: HeadKind) -> [ParameterSpec] { [head(default: kind), scale] }
  /// The task head's kind (linear or l2_linear), defaulting to `kind`.
  static func head(default kind: HeadKind) -> ParameterSpec {
    ParameterSpec("head", default: .string(kind.rawValue)).oneOf(HeadKind.allCases.map(\.rawValue))
  }
}

/// The parameters of a new task head: kind, logit scale (l2_linear; nil: 1) and the seed it is drawn with.
struct TaskHead: Decodable {
  var head: HeadKind
  var headScale: Float?
  var seed: Int
}

/// Parameters every training stage accepts (defaults: SH-PEFT's recipe at embedded scale).
enum RecipeParams {
  static let specs: [ParameterSpec] =
    [
      ParameterSpec("dataset", help: "dataset name (a manifest)"),
      ParameterSpec("steps", default: .int(600)).positive(), ParameterSpec("batch", default: .int(64)).positive(),
      ParameterSpec("optimizer", default: .string("sgd"), help: "sgd or adamw").oneOf(["sgd", "adamw"]),
      ParameterSpec("lr", default: .double(0.001)).positive(),
      ParameterSpec("momentum", default: .double(0.9)).atLeast(0).atMost(1, exclusive: true),
      ParameterSpec("weight_decay", default: .double(0)).atLeast(0),
      ParameterSpec("warmup", default: .int(0)).atLeast(0),
      ParameterSpec("clip", default: .double(0), help: "gradient-norm clipping (0: off)").atLeast(0),
      ParameterSpec("seed", default: .int(0)).atLeast(0),
      ParameterSpec("augment", default: .bool(true)),
      ParameterSpec(
        "crop_min", default: .double(0.6), help: "smallest area fraction of the random resized crop (1: none)"
      )
      .positive().atMost(1),
      ParameterSpec("jitter", help: "colour jitter: brightness, contrast, saturation ± this (default 0.2; 0: none)")
        .atLeast(0).atMost(1).optional(like: .double(0.2)),
    ] + location

  /// Where the manifests and the data are (relative to the project).
  static let location: [ParameterSpec] = [
    ParameterSpec("manifests", default: .string("data-manifests")),
    ParameterSpec("data_root", default: .string("data")),
  ]

  static func dataset(_ p: [String: Value], root: String) throws -> DatasetManifest {
    try DatasetLocation(p).manifest(root: root)
  }

  /// Optimizer, cosine schedule and clipping from the recipe parameters.
  /// Throws (naming the parameter) on an unknown optimizer or a value out of range.
  static func trainConfig(_ r: RecipeValues, steps: Int, batch: Int) throws -> TrainConfig {
    func bad(_ m: String) -> PipelineError { PipelineError.parameter(m) }
    guard steps > 0 else { throw bad("steps must be > 0, not \(steps)") }
    guard batch > 0 else { throw bad("batch must be > 0, not \(batch)") }
    guard r.lr > 0 && r.lr.isFinite else { throw bad("lr must be a positive number, not \(r.lr)") }
    guard r.warmup >= 0 else { throw bad("warmup must be ≥ 0, not \(r.warmup)") }
    guard r.weightDecay >= 0 && r.weightDecay.isFinite else {
      throw bad("weight_decay must be ≥ 0, not \(r.weightDecay)")
    }
    guard (0..<1).contains(r.momentum) else { throw bad("momentum must be in [0, 1), not \(r.momentum)") }
    let wd = Float(r.weightDecay)
    let opt: OptimizerKind
    switch r.optimizer {
    case "adamw": opt = .adamw(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: wd)
    case "sgd": opt = .sgd(momentum: Float(r.momentum), weightDecay: wd)
    case let o: throw bad("optimizer must be sgd or adamw, not '\(o)'")
    }
    guard r.clip >= 0 && r.clip.isFinite else { throw bad("clip must be ≥ 0 (0: off), not \(r.clip)") }
    return TrainConfig(
      optimizer: opt, schedule: CosineSchedule(baseLR: r.lr, warmupSteps: r.warmup, totalSteps: steps),
      batchSize: batch, clipNorm: r.clip > 0 ? Float(r.clip) : nil)
  }

  /// The stage's dataset content hash (a key input); a kind that trains with a recipe (`recipe`: its
  /// parameters include `RecipeParams.specs`) has them checked here too, so a bad value fails when keys are
  /// computed, before any stage runs.
  static func datasetHash(
    _ p: [String: Value], root: String, hasher: FileHasher, recipe: Bool = false
  ) throws -> [String: String] {
    if recipe {
      let r = try Parameters.decode(RecipeValues.self, from: p, context: "recipe")
      _ = try trainConfig(r, steps: r.steps, batch: r.batch)
    }
    let location = try DatasetLocation(p)
    let m = try location.manifest(root: root)
    return [
      "dataset:" + m.name: try DatasetCheck.contentHash(m, root: root + "/" + location.dataRoot, hasher: hasher)
    ]
  }
}

/// The recipe parameters (`RecipeParams.specs` but the dataset's location) as one struct.
struct RecipeValues: Decodable {
  var steps, batch: Int
  var optimizer: String
  var lr, momentum, weightDecay: Double
  var warmup: Int
  var clip: Double
  var seed: Int
  var augment: Bool
  var cropMin: Double
  /// nil: the default jitter (0.2); absent from the key when unset.
  var jitter: Double?
}

/// Where a stage's dataset is: the manifest named `dataset` in the folder `manifests`, its files under
/// `data_root` (both relative to the project).
struct DatasetLocation: Decodable {
  var dataset, manifests, dataRoot: String

  init(_ p: [String: Value]) throws { self = try Parameters.decode(Self.self, from: p, context: "dataset") }
  init(dataset: String, manifests: String, dataRoot: String) {
    (self.dataset, self.manifests, self.dataRoot) = (dataset, manifests, dataRoot)
  }

  func manifest(root: String) throws -> DatasetManifest {
    let dir = root + "/" + manifests
    guard let m = try DatasetManifest.all(in: dir).first(where: { $0.name == dataset }) else {
      throw DataError.file(dir, "no manifest named '\(dataset)'")
    }
    return m
  }
}

/// A stage kind that reads the dataset its `dataset` parameter names: the data's content hash is part of
/// its key (`RecipeParams.datasetHash`, which also checks a training recipe's parameters).
public protocol DatasetReadingKind: StageKind {}

extension DatasetReadingKind {
  public func externalInputs(
    params: [String: Value], projectRoot: String, hasher: FileHasher
  ) throws -> [String: String] {
    try RecipeParams.datasetHash(params, root: projectRoot, hasher: hasher)
  }
}

/// A kind that trains or runs a model over a dataset: both cores of a node and room for a ViT-B batch
/// (its Slurm defaults; a stage's `resources:` overrides them).
public protocol TrainingKind: DatasetReadingKind {}

extension TrainingKind {
  public var defaultResources: Resources {
    var r = Resources()
    (r.cpus, r.memMB, r.minutes) = (2, 16384, 720)
    return r
  }
}

enum TrainingRecipe {
  /// Trains `model` on the stage's dataset; writes model.h5, metrics.json, curve.csv.
  /// `extra` adds the kind's own fields to metrics.json (e.g. the mask of a masked run).
  static func run(
    _ ctx: StageContext, model: ViT, extra: (inout RunMetrics) -> Void = { _ in },
    modules: (any TrainableModules)? = nil,
    merge: ((ViT) -> Void)? = nil, selection: (ViTLayout) -> ParameterSelection
  ) throws {
    let c = model.config
    let data = try TaskData.load(ctx, size: c.imageSize)
    let recipe = try Recipe(ctx, trainImages: data.train.count)
    let sel = selection(model.layout)
    let trainer = Trainer(model: model, selection: sel, config: recipe.config, modules: modules)
    var sampler = recipe.sampler(data, size: c.imageSize)
    let multiLabel = data.train.labelWidth > 1  // sigmoid binary cross-entropy on the multi-hot rows
    let (curve, seconds) = try TrainingLoop.run(ctx, sampler: &sampler, steps: recipe.steps) { imgs, labs, rows in
      guard multiLabel else { return try trainer.step(images: imgs, labels: labs) }
      return try data.train.multiHot(rows).withUnsafeBufferPointer {
        try trainer.step(images: imgs, targets: .multiHot($0.baseAddress!))
      }
    }
    // memory computed once (it sizes the backward buffers)
    var metrics = recipe.metrics(ctx, data: data, seconds: seconds, memory: trainer.memory)
    metrics.trainableParameters = sel.trainableCount(model.layout) + (modules?.store.count ?? 0)
    metrics.totalParameters = model.parameterCount + (modules?.store.count ?? 0)
    metrics.backboneParameters = WeightChanges.backboneCount(model.layout)
    extra(&metrics)
    Recipe.evaluate(ctx, data: data, into: &metrics) { _, set in Evaluation.evaluate(model, on: set, modules: modules) }
    // what a user needs to run the model elsewhere: the input normalisation and what each logit means
    func list(_ xs: [String]) -> String { "[" + xs.joined(separator: ", ") + "]" }
    let usage = [
      "normalization_mean": list(data.normalization.mean.map { String(format: "%g", $0) }),
      "normalization_std": list(data.normalization.std.map { String(format: "%g", $0) }),
      "class_names": list(data.manifest.classes.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }),
    ]
    if let merge {  // LoRA, SSF: the update folded into the weights (model.h5 is a plain ViT)
      let merged = model.copy()
      merge(merged)
      try Checkpoint.save(merged, to: ctx.outputDir + "/model.h5", extraAttributes: usage)
    } else {
      try Checkpoint.save(model, to: ctx.outputDir + "/model.h5", extraAttributes: usage)
    }
    if let modules { try saveModules(modules.store, to: ctx.outputDir + "/modules.h5") }
    try Recipe.write(ctx, curve: curve, metrics: metrics)
  }
}

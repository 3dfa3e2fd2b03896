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
import Kernels
import Model
import Outputs
import Pipeline
import Training

public struct PretrainStageKind: TrainingKind {
  public init() {}
  public let name = "pretrain"
  public let version = 2  // 2: no attention matrix kept (training memory fell)
  public var parameters: [ParameterSpec] {
    RecipeParams.specs + HeadParams.specs(default: .linear) + [
      ParameterSpec("preset", default: .string("tiny-p8")).oneOf(ViTConfig.presets.keys.sorted()),
      ParameterSpec(
        "from", default: .string(""),
        help: "a timm/open_clip .safetensors file: import it instead of training (the paper's CLIP)"),
    ]
  }
  public func externalInputs(
    params: [String: Value], projectRoot: String, hasher: FileHasher
  ) throws -> [String: String] {
    let f = try Parameters.decode(Values.self, from: params, context: "pretrain").from
    if !f.isEmpty {
      return try ImportStageKind.fileHash(f, root: projectRoot, hasher: hasher)
    }
    return try RecipeParams.datasetHash(params, root: projectRoot, hasher: hasher, recipe: true)
  }
  /// pretrain's own parameters (the recipe's are `RecipeValues`, the head's `TaskHead`).
  struct Values: Decodable { var preset, from: String }

  public func run(_ ctx: StageContext) throws {
    let v = try ctx.decode(Values.self), head = try ctx.decode(TaskHead.self)
    if !v.from.isEmpty {
      return try ImportStageKind.importCheckpoint(ctx, file: v.from, fineTuned: false)  // `dataset`: the upstream set
    }
    let m = try RecipeParams.dataset(ctx.params, root: ctx.projectRoot)
    var c = try ViTConfig.preset(v.preset)
    c.numClasses = m.classes.count
    c.head = head.head
    if let scale = head.headScale { c.headScale = scale }
    let model = try ViT(config: c, seed: UInt64(head.seed))
    try TrainingRecipe.run(ctx, model: model) { .all($0) }
  }
}

/// `import`: a timm or open_clip safetensors checkpoint (e.g. CLIP ViT-B/16)
/// -> model.h5 in peftlab's checkpoint format, as the "pretrained model".
public struct ImportStageKind: StageKind {
  public init() {}
  public let name = "import"
  public let version = 2  // 2: `activation`, `lora`
  public var parameters: [ParameterSpec] {
    [
      ParameterSpec("from", help: "path of the .safetensors file (relative to the project)"),
      ParameterSpec("preset", default: .string(""), help: "architecture (empty: inferred from the shapes)"),
      ParameterSpec("heads", default: .int(0), help: "attention heads when inferred (0: width / 64)"),
      HeadParams.head(default: .linear),
      ParameterSpec("activation", help: "MLP activation (default: the source's convention, printed)")
        .oneOf(ActivationKind.allCases.map(\.rawValue)).optional(like: .string("gelu")),
      ParameterSpec("lora", help: "a Hugging Face peft LoRA adapter folder (or its .safetensors) merged into `from`")
        .optional(like: .string("")),
      ParameterSpec(
        "dataset",
        help: "set for a model fine-tuned elsewhere (W_ft): the task it was fine-tuned on (a manifest)"
      )
      .optional(like: .string("")),
      ParameterSpec("seed", help: "the fine-tuning run's seed (W_ft)").atLeast(0).optional(like: .int(0)),
      ParameterSpec("manifests", help: "folder of manifests (W_ft)").optional(like: .string("data-manifests")),
    ]
  }
  public func externalInputs(
    params: [String: Value], projectRoot: String, hasher: FileHasher
  ) throws -> [String: String] {
    let v = try Parameters.decode(Values.self, from: params, context: "import")
    var h = try Self.fileHash(v.from, root: projectRoot, hasher: hasher)
    if let lora = v.lora, !lora.isEmpty {
      // keyed by the name the pipeline gives (as `from`), so the key does not depend on where the project lives
      let p = Self.path(lora, root: projectRoot)
      for (role, f) in [("lora:", PeftAdapter.adapterFile(p)), ("lora-config:", PeftAdapter.configFile(p))] {
        guard FileManager.default.fileExists(atPath: f) else { throw DataError.file(f, "LoRA adapter file not found") }
        h[role + lora] = try hasher.hash(file: f)
      }
    }
    return h
  }
  /// What an import reads (also `pretrain … from:`, whose parameters have no heads, activation, lora).
  struct Values: Decodable {
    var from, preset: String
    var head: HeadKind
    /// Attention heads when the architecture is inferred (nil or 0: width / 64).
    var heads: Int?
    var activation: ActivationKind?
    var lora: String?
    /// A model fine-tuned elsewhere (W_ft): its task, seed and manifests folder.
    var dataset: String?
    var seed: Int?
    var manifests: String?
  }

  public func run(_ ctx: StageContext) throws {
    try Self.importCheckpoint(ctx, file: try ctx.decode(Values.self).from, fineTuned: true)
  }

  static func path(_ f: String, root: String) -> String { f.hasPrefix("/") ? f : root + "/" + f }

  static func fileHash(_ f: String, root: String, hasher: FileHasher) throws -> [String: String] {
    let p = path(f, root: root)
    guard FileManager.default.fileExists(atPath: p) else {
      throw DataError.file(
        p,
        "checkpoint not found (the paper profile needs CLIP ViT-B/16 as safetensors here, e.g. open_clip's ViT-B-16 "
          + "exported with safetensors.torch.save_file)"
      )
    }
    return ["checkpoint:" + f: try hasher.hash(file: p)]
  }

  /// `fineTuned`: a W_ft (`import` with `dataset`): its head is checked against the task, metrics.json written.
  static func importCheckpoint(_ ctx: StageContext, file: String, fineTuned: Bool) throws {
    let p = path(file, root: ctx.projectRoot)
    let v = try ctx.decode(Values.self)
    let (model, report) = try CheckpointImport.load(
      safetensors: p, config: v.preset.isEmpty ? nil : try ViTConfig.preset(v.preset), head: v.head,
      heads: (v.heads ?? 0) > 0 ? v.heads : nil, activation: v.activation,
      lora: v.lora.flatMap { $0.isEmpty ? nil : Self.path($0, root: ctx.projectRoot) })
    ctx.log(
      "imported \(report.flavor): \(report.loaded.count) tensors; new: "
        + "\(report.newlyInitialised.joined(separator: ", "))"
    )
    ctx.log("decided: " + report.decisions.joined(separator: "; "))
    try Checkpoint.save(
      model, to: ctx.outputDir + "/model.h5",
      extraAttributes: [
        "imported_from": file, "import_flavor": report.flavor,
        "import_decisions": report.decisions.joined(separator: "; "),
      ])
    try ImportOutput(from: file, flavor: report.flavor, totalParameters: model.parameterCount).write(in: ctx.outputDir)
    // A model fine-tuned elsewhere (W_ft): the studies (sparsity, hybridity) read its task and seed
    // from metrics.json, as from a `finetune` stage's; its head must fit the task.
    if fineTuned, let dataset = v.dataset, !dataset.isEmpty {
      let m = try DatasetLocation(dataset: dataset, manifests: v.manifests ?? "data-manifests", dataRoot: "data")
        .manifest(root: ctx.projectRoot)
      guard model.config.numClasses == m.classes.count else {
        throw DataError.file(
          p, "its head has \(model.config.numClasses) classes; '\(dataset)' (\(m.file)) has \(m.classes.count)")
      }
      var r = RunMetrics(stageKind: "import", dataset: dataset)
      (r.seed, r.importedFrom, r.role) = (v.seed ?? 0, file, "fine-tuned elsewhere (W_ft)")
      r.totalParameters = model.parameterCount
      try r.write(in: ctx.outputDir)
    }
  }
}

public struct FinetuneStageKind: TrainingKind {
  public init() {}
  public let name = "finetune"
  public let version = 2  // 2: no attention matrix kept (training memory fell)
  public var parameters: [ParameterSpec] {
    RecipeParams.specs + HeadParams.specs(default: .l2Linear) + [
      ParameterSpec(
        "mode", default: .string("full"),
        help: "full, linear-probe, or scratch (the pretrained architecture, randomly initialised)"
      )
      .oneOf(["full", "linear-probe", "scratch"])
    ]
  }
  public func externalInputs(
    params: [String: Value], projectRoot: String, hasher: FileHasher
  ) throws -> [String: String] {
    let h = try RecipeParams.datasetHash(params, root: projectRoot, hasher: hasher, recipe: true)
    let mode = try Parameters.decode(Values.self, from: params, context: "finetune").mode
    return mode == .linearProbe ? h.merging(MemoryAccounting.streamedPrefix) { $1 } : h
  }
  /// finetune's own parameter (the recipe's are `RecipeValues`, the head's `TaskHead`).
  struct Values: Decodable {
    enum Mode: String, Decodable { case full, linearProbe = "linear-probe", scratch }
    var mode: Mode
  }

  public func run(_ ctx: StageContext) throws {
    let v = try ctx.decode(Values.self)
    let m = try RecipeParams.dataset(ctx.params, root: ctx.projectRoot)
    var model = try modelWithTaskHead(ctx, classes: m.classes.count).model
    if v.mode == .scratch { model = try ViT(config: model.config, seed: UInt64(try ctx.decode(TaskHead.self).seed)) }
    try TrainingRecipe.run(ctx, model: model, extra: { $0.mode = v.mode.rawValue }) { layout in
      v.mode == .linearProbe ? .tensors(layout) { $0.hasPrefix("head.") } : .all(layout)
    }
  }
}

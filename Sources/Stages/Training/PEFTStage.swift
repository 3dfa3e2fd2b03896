//===--- PEFTStage.swift - `peft` and `fpt-preload` stage kinds ------------===//
//
//   peft:        one method of the sweep (`method`: see `peftlab methods`) on
//                one dataset and seed, from the pretrained model (the one
//                needed stage with model.h5) with a new head. Writes what
//                finetune writes (model.h5 — LoRA/SSF merged —, metrics.json,
//                curve.csv) plus modules.h5 (the added modules' tensors);
//                metrics.json adds method, method_parameters, trainable_ratio
//                (denominator: `ratio_denominator`), memory without preloading
//                (side tuning). SH-PEFT and SPT-LoRA collect one epoch of
//                gradient statistics first (their selection time is reported).
//                FPT/FPT+ need one `fpt-preload` stage (the frozen model's K/V).
//   fpt-preload: the frozen model on the high-resolution images (no
//                augmentation) → features.h5: {split}_keys, {split}_values
//                (N, L_S, H, k, hd) for train/val/test.
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

enum SideParams {
  static let specs: [ParameterSpec] = [
    ParameterSpec("frozen_size", default: .int(0), help: "frozen model's input size (0: its own); pos_embed resampled"),
    ParameterSpec("side_size", default: .int(0), help: "side input size (0: from side_token_fraction)"),
    ParameterSpec("side_patch", default: .int(0), help: "side patch (0: the frozen model's)"),
    ParameterSpec(
      "side_token_fraction",
      help: "side patches / frozen patches when side_size is 0 (unset: the paper's, FPT+ 64/1024, FPT 196/1024)"
    )
    .positive().atMost(1).optional(like: .double(0)),
    ParameterSpec("side_layers", default: .int(0), help: "0: L/2 (FPT+), L (FPT)"),
    ParameterSpec("side_prompts", default: .int(16)), ParameterSpec("token_ratio", default: .double(0.2)),
    ParameterSpec(
      "side_fusion",
      help: "cross-attention (FPT, FPT+) or mlp (FPT+ Fig. 7's '+ MLP': M's token features as side rows)"
    )
    .oneOf(SideFusion.allCases.map(\.rawValue)).optional(like: .string("cross-attention")),
  ]

  /// The side-tuning parameters (`specs`) and the method (fpt or fpt+).
  struct Values: Decodable {
    var method: String?
    var frozenSize, sideSize, sidePatch: Int
    var sideTokenFraction: Double?
    var sideLayers, sidePrompts: Int
    var tokenRatio: Double
    var sideFusion: SideFusion?

    init(_ p: [String: Value]) throws { self = try Parameters.decode(Self.self, from: p, context: "side tuning") }

    var options: SideOptions {
      var o = SideOptions()
      if sideSize > 0 { o.sideSize = sideSize }
      if sidePatch > 0 { o.sidePatch = sidePatch }
      if sideLayers > 0 { o.layers = sideLayers }
      if let f = sideTokenFraction { o.tokenFraction = f }
      o.prompts = sidePrompts
      o.tokenRatio = tokenRatio
      if let f = sideFusion { o.fusion = f }
      return o
    }

    /// FPT+ (the default) or FPT.
    func isPlus() throws -> Bool {
      switch method ?? "fpt+" {
      case "fpt+": return true
      case "fpt": return false
      case let s: throw StudyError.mismatch("side tuning method must be fpt or fpt+, got '\(s)'")
      }
    }
  }

  /// The pretrained model at the frozen input size.
  static func frozenModel(_ base: ViT, size: Int) throws -> ViT {
    guard size > 0, size != base.config.imageSize else { return base }
    var c = base.config
    c.imageSize = size
    let m = try ViT(config: c, seed: 0)
    for t in base.layout.tensors where t.name != "pos_embed" { try m.setValues(t.name, base.values(t.name)!) }
    let g0 = base.config.gridSize, g1 = c.gridSize
    try m.setValues(
      "pos_embed", PositionEmbedding.resample(base.values("pos_embed")!, width: c.width, from: (g0, g0), to: (g1, g1)))
    return m
  }
}

public struct FPTPreloadStageKind: TrainingKind {
  public init() {}
  public let name = "fpt-preload"
  public let version = 1
  public var parameters: [ParameterSpec] {
    [
      ParameterSpec("dataset"), ParameterSpec("method", default: .string("fpt+")),
      ParameterSpec("batch", default: .int(32)).positive(),
    ]
      + RecipeParams.location + SideParams.specs
  }

  struct Values: Decodable { var batch: Int }

  public func run(_ ctx: StageContext) throws {
    let p = ctx.params
    let side = try SideParams.Values(p)
    let m = try RecipeParams.dataset(p, root: ctx.projectRoot)
    let frozen = try SideParams.frozenModel(ctx.inputModel(), size: side.frozenSize)
    let plan = try SideTuningPlan(
      plus: side.isPlus(), frozen: frozen.config, classes: m.classes.count, options: side.options)
    let data = try TaskData.load(ctx, size: frozen.config.imageSize)
    let f = try HDF5File.create(ctx.outputDir + "/features.h5")
    let start = Date()
    var total = 0
    for split in ["train", "val", "test"] {
      guard let set = data.imageSet(split) else { continue }
      let n = set.count, per = plan.kvCount
      var K = [Float](repeating: 0, count: n * per), V = K
      let batch = max(1, try ctx.decode(Values.self).batch)
      var acts = FrozenFeatures.streaming(for: frozen, batch: min(batch, n))
      var imgs: [Float] = [], labs: [Int32] = []
      var s = 0
      while s < n {
        if ctx.isCancelled { throw PipelineError.cancelled }
        let b = min(batch, n - s)
        if b != acts.batch { acts = FrozenFeatures.streaming(for: frozen, batch: b) }
        set.gather(Array(s..<(s + b))[...], images: &imgs, labels: &labs)
        K.withUnsafeMutableBufferPointer { kp in
          V.withUnsafeMutableBufferPointer { vp in
            FrozenFeatures.extract(
              frozen: frozen, plan: plan, images: imgs, acts: acts,
              keys: kp.baseAddress! + s * per, values: vp.baseAddress! + s * per)
          }
        }
        s += b
      }
      let shape = [n, plan.side.depth, frozen.config.heads, plan.keptTokens, frozen.config.headDim]
      try f.write(split + "_keys", floats: K, shape: shape)
      try f.write(split + "_values", floats: V, shape: shape)
      total += n
    }
    try f.setAttribute("frozen_parameters", int: frozen.parameterCount)
    try f.setAttribute("frozen_size", int: frozen.config.imageSize)
    try f.setAttribute("kept_tokens", int: plan.keptTokens)
    try f.setAttribute("side_layers", int: plan.side.depth)
    try f.setAttribute("paired_layers", string: plan.pairedLayers.map(String.init).joined(separator: ","))
    let seconds = Date().timeIntervalSince(start)
    ctx.log(
      String(
        format: "%d images: K/V of %d tokens × %d layers in %.1f s", total, plan.keptTokens, plan.side.depth, seconds))
    let c = frozen.config
    try PreloadOutput(
      dataset: m.name, images: total, bytesPerImage: 2 * plan.kvCount * 4,
      frozen: (c.imageSize, frozen.parameterCount, c.width, c.depth)
    ).write(in: ctx.outputDir)
    try Timing(seconds: seconds).merge(in: ctx.outputDir)
  }
}

public struct PEFTStageKind: TrainingKind {
  public init() {}
  public let name = "peft"
  public let version = 3  // 3: no attention matrix kept (training memory fell)
  public var parameters: [ParameterSpec] {
    RecipeParams.specs + SideParams.specs + [
      ParameterSpec("method", help: PEFTMethod.allCases.map(\.rawValue).joined(separator: ", "))
        .oneOf(PEFTMethod.allCases.map(\.rawValue)),
      ParameterSpec(
        "image_size", default: .int(0),
        help: "input size for the non-side methods (0: the pretrained model's; pos_embed resampled)"),
    ] + HeadParams.specs(default: .linear) + [
      ParameterSpec("rank", default: .int(8)), ParameterSpec("alpha", default: .double(8)),
      ParameterSpec("prompts", default: .int(5)), ParameterSpec("bottleneck", default: .int(64)),
      ParameterSpec("adapter_scale", default: .double(0.1)),
      ParameterSpec("budget", default: .double(1.0), help: "SH-PEFT / SPT-LoRA: % of backbone parameters"),
      ParameterSpec("strategy", default: .string("ta+l2"), help: "SH-PEFT importance"),
      ParameterSpec("lambda", default: .double(1)),
      ParameterSpec("ada_init_rank", default: .int(12)), ParameterSpec("ada_target_rank", default: .int(8)),
      ParameterSpec("ada_orth_reg", default: .double(0.5)),
      ParameterSpec(
        "lr_from",
        help: "train at the rate a needed lr-choice stage chose: 'method' (this method's) or a method name"
      )
      .oneOf(["method"] + PEFTMethod.allCases.map(\.rawValue)).optional(like: .string("method")),
    ]
  }
  public func externalInputs(
    params: [String: Value], projectRoot: String, hasher: FileHasher
  ) throws -> [String: String] {
    let h = try RecipeParams.datasetHash(params, root: projectRoot, hasher: hasher, recipe: true)
    // the methods whose first trained block can lie above block 0 (MemoryAccounting)
    let m = try Parameters.decode(Values.self, from: params, context: "peft").method.rawValue
    if ["fpt", "fpt+"].contains(m) {
      return h.merging(MemoryAccounting.streamedFrozenForward) { $1 }.merging(SideTuningRun.keyEntry) { $1 }
    }
    return ["linear-probe", "sh-peft", "spt-lora"].contains(m) ? h.merging(MemoryAccounting.streamedPrefix) { $1 } : h
  }

  /// peft's own parameters (the recipe's are `RecipeValues`, the side tuning's `SideParams.Values`).
  struct Values: Decodable {
    var method: PEFTMethod
    var imageSize: Int
    var head: HeadKind
    var headScale: Float?
    var rank: Int
    var alpha: Double
    var prompts, bottleneck: Int
    var adapterScale, budget: Double
    var adaInitRank, adaTargetRank: Int
    var adaOrthReg: Double
    var lrFrom: String?
    var dataset: String
    var seed, steps, batch: Int
  }

  func options(_ v: Values, side: SideParams.Values) -> MethodOptions {
    var o = MethodOptions()
    o.loraRank = v.rank
    o.loraAlpha = v.alpha
    o.prompts = v.prompts
    o.adapterBottleneck = v.bottleneck
    o.adapterScale = Float(v.adapterScale)
    o.shpeftBudget = v.budget / 100
    o.sptBudget = v.budget / 100
    o.seed = UInt64(v.seed) &+ 1000
    var s = AdaLoRASchedule(totalSteps: v.steps)
    s.initRank = v.adaInitRank
    s.targetRank = v.adaTargetRank
    // peft's ViT example (tinit 200, tfinal 1000 of a few thousand steps), scaled to the run.
    s.tInit = v.steps / 10; s.tFinal = v.steps / 4; s.deltaT = max(1, v.steps / 100)
    s.orthReg = Float(v.adaOrthReg)
    o.adalora = s
    o.adaloraAlpha = v.alpha
    o.side = side.options
    return o
  }

  public func run(_ given: StageContext) throws {
    var ctx = given
    let v = try given.decode(Values.self), method = v.method
    if let from = v.lrFrom {  // the protocol's validation-chosen rate (LRChoice.swift)
      let m = from == "method" ? method.rawValue : from
      var q = given.params
      let chosen = try LRChoiceStageKind.chosenLR(given, method: m, task: v.dataset)
      q["lr"] = .double(chosen.lr)
      ctx = given.replacing(params: q)
      // on this task too with `per: task`
      ctx.log("lr \(Value.double(chosen.lr).description) (chosen on validation for \(m))")
      // The search may have run this already (its run with this seed at the chosen rate): the same key without
      // lr_from and the choice, so the same bytes; reuse it (EquivalentStage.swift).
      q["lr_from"] = nil
      if let same = given.cachedEquivalent(params: q, dropping: [chosen.from]) {
        ctx.log("the same computation is cached (key \(same.key.prefix(12))…): its output reused")
        return try given.copyOutput(from: same.dir)
      }
      try given.declareEquivalent(params: q, dropping: [chosen.from])  // found by the next run at this rate
    }
    if method.isSideTuning { return try SideTuningRun.run(ctx, plus: method == .fptPlus) }
    let m = try RecipeParams.dataset(ctx.params, root: ctx.projectRoot)
    let (base, model) = try modelWithTaskHead(ctx, classes: m.classes.count) {
      try SideParams.frozenModel($0, size: v.imageSize)
    }
    let o = options(v, side: try SideParams.Values(ctx.params))
    var setup = MethodSetup.make(method, config: model.config, options: o)
    let L = model.layout
    // metrics.json: the method, its input size, its selection (SH-PEFT, SPT-LoRA), its parameters
    var selection = RunMetrics(stageKind: name, dataset: m.name)
    var elements: [Int]? = nil
    if method == .shpeft {  // the selection of its importance input (ImportanceInput.swift)
      let sel = try ImportanceInput.load(ctx, dataset: m.name, base: base)
      elements = sel.mask
      (selection.strategy, selection.importanceStage) = (sel.strategy.rawValue, sel.stage)
      selection.selectionSeconds = sel.selectionSeconds
      setup.elementBudget = 0
    } else if method.selectsElements {  // SPT-LoRA: its own sensitivity pass
      let data = try TaskData.load(ctx, size: model.config.imageSize)
      let start = Date()
      let stats = try data.gradientStatistics(ctx, model: model, batch: v.batch, seed: v.seed)
      let spt = SPTAllocation.allocate(
        sensitivity: stats.sumOfSquares, layout: L, budget: setup.elementBudget,
        rank: o.loraRank, alpha: o.sptAlpha)
      elements = spt.elements
      setup.modules =
        spt.targets.isEmpty
        ? nil
        : LowRankModules(
          config: model.config, targets: spt.targets.map { ($0.0, $0.1, o.loraRank) },
          alpha: Double(o.loraRank), svd: false, seed: o.seed)  // SPT: no α/r scaling
      selection.sptLoraMatrices = spt.targets.map { "blocks.\($0.0).\($0.1.rawValue)" }
      selection.sptUnstructured = spt.unstructured
      selection.selectionSeconds = Date().timeIntervalSince(start)
      setup.elementBudget = 0
    }
    let modules = setup.modules
    let methodParams = setup.methodParameters(L) + (elements?.count ?? 0)
    let total = setup.totalParameters(L)
    let head = setup.headParameters(L)
    ctx.log("\(method.rawValue): \(methodParams) method parameters + \(head) head of \(total)")
    let merge: ((ViT) -> Void)? = {
      if method == .lora, let lr = modules as? LowRankModules { return { lr.merge(into: $0) } }
      if method == .ssf, let s = modules as? SSFModules { return { s.merge(into: $0) } }
      return nil
    }()
    let lowRank = modules as? LowRankModules
    let adaloraBudget = lowRank?.allocator.map { $0.schedule.targetRank * lowRank!.adapters.count }
    let extra = { (r: inout RunMetrics) in
      (r.method, r.imageSize, r.strategy) = (method.rawValue, Double(model.config.imageSize), selection.strategy)
      r.importanceStage = selection.importanceStage
      (r.sptLoraMatrices, r.sptUnstructured) = (selection.sptLoraMatrices, selection.sptUnstructured)
      (r.selectionSeconds, r.adaloraBudget) = (selection.selectionSeconds, adaloraBudget)
      (r.methodParameters, r.headParameters) = (methodParams, head)
      r.trainableRatio = Double(methodParams + head) / Double(total)
      r.ratioDenominator = "all parameters of the trained model: backbone + head + added modules"
    }
    try TrainingRecipe.run(ctx, model: model, extra: extra, modules: modules, merge: merge) { layout in
      if let elements {
        var sel = ParameterSelection.elements(layout, backbone: elements)
        // whole tensors a method trains besides its elements (none for SH-PEFT / SPT-LoRA)
        for (i, t) in setup.tensors.enumerated() where t && !sel.tensors[i] && !layout.headTensors.contains(i) {
          sel.tensors[i] = true
        }
        return sel
      }
      return ParameterSelection(tensors: setup.tensors)
    }
  }
}

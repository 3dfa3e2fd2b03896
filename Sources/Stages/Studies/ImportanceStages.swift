//===--- ImportanceStages.swift - `importance` and `shpeft` stage kinds ----===//
//
//   importance: needs the pretrained model; gives it the task's new head
//               (seeded like finetune/shpeft), collects one epoch of gradient
//               statistics and writes
//                 importance.h5  grad_sum, grad_sq_sum (backbone), mask
//                                (int64 flat indices, budget r of the
//                                strategy), histogram of log10 I
//                 summary.json   strategy, λ, r, selected count, the mask's
//                                share per weight group, selection seconds
//   shpeft:     needs the pretrained model and one importance stage; trains
//               only the masked elements and the head (TrainingRecipe: same
//               outputs as finetune). `strategy`, `lambda`, `budget` left
//               empty take the importance stage's; set, they re-derive the
//               mask from its stored statistics (no new epoch), which is how
//               the ablations share one importance stage per task and seed.
//===----------------------------------------------------------------------===//
import Data
import Foundation
import Model
import Outputs
import Pipeline
import Storage
import Training

enum MaskParams {
  static let specs: [ParameterSpec] = [
    ParameterSpec("strategy", default: .string("ta+l2"), help: "ta, l1, ta+l1, l2, ta+l2 or random"),
    ParameterSpec("lambda", default: .double(1.0), help: "λ of Eq. 1"),
    ParameterSpec("budget", default: .double(1.0), help: "r: % of backbone elements that train"),
  ]

  /// The three as given (the `shpeft` kind leaves them out of its spec: absent, the importance input's).
  struct Values: Decodable {
    var strategy: String?
    var lambda, budget: Double?
  }

  /// The selection: this stage's parameters, else `fallback` (the stored selection's), else ta+l2, λ 1, 1 %.
  static func values(
    _ p: [String: Value], fallback: (String, Double, Double)? = nil
  ) throws
    -> (strategy: ImportanceStrategy, lambda: Double, budget: Double)
  {
    let v = try Parameters.decode(Values.self, from: p, context: "selection")
    let s = try ImportanceStrategy.parse(v.strategy ?? fallback?.0 ?? "ta+l2")
    let l = v.lambda ?? fallback?.1 ?? 1
    let b = v.budget ?? fallback?.2 ?? 1
    guard b > 0, b <= 100 else { throw StudyError.mismatch("budget must be a percentage in (0, 100], got \(b)") }
    guard l >= 0 else { throw StudyError.mismatch("lambda must be ≥ 0, got \(l)") }
    return (s, l, b)
  }
}

/// The pretrained model (the one needed stage with model.h5), adapted (e.g. resized), and the same with a new head
/// for the task (kind, scale and seed from the stage's `TaskHead` parameters).
func modelWithTaskHead(
  _ ctx: StageContext, classes: Int, adapt: (ViT) throws -> ViT = { $0 }
) throws -> (base: ViT, model: ViT) {
  let base = try adapt(try ctx.inputModel())
  let v = try ctx.decode(TaskHead.self)
  return (base, try base.withNewHead(classes: classes, head: v.head, headScale: v.headScale, seed: UInt64(v.seed)))
}

public struct ImportanceStageKind: TrainingKind {
  public init() {}
  public let name = "importance"
  public let version = 2
  public var parameters: [ParameterSpec] {
    [
      ParameterSpec("dataset"), ParameterSpec("seed", default: .int(0)).atLeast(0),
      ParameterSpec("batch", default: .int(64)).positive(),
    ] + HeadParams.specs(default: .l2Linear)
      + RecipeParams.location + MaskParams.specs
  }

  struct Values: Decodable {
    var seed, batch: Int
  }

  public func run(_ ctx: StageContext) throws {
    let (strategy, lambda, budget) = try MaskParams.values(ctx.params)
    let v = try ctx.decode(Values.self)
    let m = try RecipeParams.dataset(ctx.params, root: ctx.projectRoot)
    let (_, model) = try modelWithTaskHead(ctx, classes: m.classes.count)
    let data = try TaskData.load(ctx, size: model.config.imageSize)
    let seed = UInt64(v.seed)
    let start = Date()
    let stats = try data.gradientStatistics(ctx, model: model, batch: v.batch, seed: v.seed) { ctx.progress($0 * 0.9) }
    let gradientSeconds = Date().timeIntervalSince(start)
    let (scores, mask) = Importance.select(
      strategy, lambda: lambda, budget: budget, stats: stats, model: model, seed: seed)
    let seconds = Date().timeIntervalSince(start)
    let hist = Importance.histogram(scores)
    let groups = WeightGroup.map(model.layout)
    let shares = WeightGroup.shares(mask.map { Int32($0) }[...], groups: groups)
    ctx.log(
      String(
        format: "%d batches in %.2f s; %@ λ=%.2f r=%.3g%%: %d of %d backbone elements; selection %.2f s",
        stats.batches, gradientSeconds, strategy.rawValue, lambda, budget, mask.count, scores.count, seconds))
    do {
      let f = try HDF5File.create(ctx.outputDir + "/importance.h5")
      try f.write("grad_sum", floats: stats.sum)
      try f.write("grad_sq_sum", floats: stats.sumOfSquares)
      try f.write("mask", int64s: mask.map(Int64.init))
      try f.write("histogram_edges", doubles: hist.edges)
      try f.write("histogram_counts", int64s: hist.counts.map(Int64.init))
      try f.setAttribute("strategy", string: strategy.rawValue)
      try f.setAttribute("lambda", double: lambda)
      try f.setAttribute("budget_percent", double: budget)
      try f.setAttribute("batches", int: stats.batches)
      try f.setAttribute("seed", int: Int(seed))
    }
    // The selection for PyTorch: one 0/1 uint8 tensor per backbone parameter, timm names (scripts/train_masked.py).
    var bits = [UInt8](repeating: 0, count: scores.count)
    for i in mask { bits[i] = 1 }
    let backbone = model.layout.tensors.filter { $0.range.upperBound <= scores.count }
    try SafetensorsFile.write(
      ctx.outputDir + "/mask.safetensors",
      bytes: backbone.map { ($0.name, $0.shape, Array(bits[$0.range])) },
      metadata: [
        "format": "peftlab-mask", "strategy": strategy.rawValue, "lambda": String(lambda),
        "budget_percent": String(budget), "selected": String(mask.count),
        "head": "not in the mask: SH-PEFT trains the task head fully",
      ])
    func byGroup(_ shares: [Double]) -> [String: Double] {
      Dictionary(uniqueKeysWithValues: zip(WeightGroup.allCases.map(\.name), shares))
    }
    try ImportanceOutput(
      dataset: m.name, seed: Int(seed), strategy: strategy.rawValue, lambda: lambda, budgetPercent: budget,
      selected: mask.count, backboneParameters: scores.count, batches: stats.batches, images: stats.images,
      maskGroupShares: byGroup(shares.selected), backboneGroupShares: byGroup(shares.all),
      histogram: .init(log10Edges: hist.edges, counts: hist.counts, zeros: hist.zeros)
    ).write(in: ctx.outputDir)
    try Timing(secondsGradients: gradientSeconds, secondsSelection: seconds).merge(in: ctx.outputDir)
  }
}

public struct SHPEFTStageKind: TrainingKind {
  public init() {}
  public let name = "shpeft"
  public let version = 2  // 2: no attention matrix kept (training memory fell)
  public var parameters: [ParameterSpec] {
    RecipeParams.specs + HeadParams.specs(default: .l2Linear)
      + MaskParams.specs.map {
        ParameterSpec($0.name, default: .null, help: $0.help + " (empty: the importance stage's)")
      }
  }
  public func externalInputs(
    params: [String: Value], projectRoot: String, hasher: FileHasher
  ) throws -> [String: String] {
    try RecipeParams.datasetHash(params, root: projectRoot, hasher: hasher, recipe: true).merging(
      MemoryAccounting.streamedPrefix
    ) {
      $1
    }
  }

  public func run(_ ctx: StageContext) throws {
    let m = try RecipeParams.dataset(ctx.params, root: ctx.projectRoot)
    let (base, model) = try modelWithTaskHead(ctx, classes: m.classes.count)
    let sel = try ImportanceInput.load(ctx, dataset: m.name, base: base)
    let (strategy, lambda, budget, mask) = (sel.strategy, sel.lambda, sel.budget, sel.mask)
    let shares = WeightGroup.shares(mask.map { Int32($0) }[...], groups: WeightGroup.map(model.layout))
    ctx.log(
      String(format: "%@ λ=%.2f r=%.3g%%: %d backbone elements + head", strategy.rawValue, lambda, budget, mask.count))
    try TrainingRecipe.run(
      ctx, model: model,
      extra: {
        ($0.strategy, $0.lambda, $0.budgetPercent, $0.selectedBackbone) = (
          strategy.rawValue, lambda, budget, mask.count
        )
        $0.maskGroupShares = Dictionary(uniqueKeysWithValues: zip(WeightGroup.allCases.map(\.name), shares.selected))
        ($0.importanceStage, $0.importanceSeconds) = (sel.stage, sel.selectionSeconds)
      }
    ) { .elements($0, backbone: mask) }
  }
}

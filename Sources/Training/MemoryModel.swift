//===--- MemoryModel.swift - training memory from shapes, without allocating --===//
//
// The same accounting as `Trainer.memory` (parameters, gradients, optimizer
// state, activations incl. backward scratch and the modules' own buffers),
// computed from the shapes so that it can be evaluated for ViT-B/16 and
// ViT-L/16 at 224…2048 px (FPT+ Fig. 2 / Table 2), where the buffers would not
// fit. `MemoryModelTests` checks it against the allocated buffers.
//===----------------------------------------------------------------------===//
import Model
import PEFT

public enum MemoryModel {
  /// A method on a ViT: `tensors` that train whole (element methods: every
  /// tensor holding a selected element keeps a full gradient; `elements` of them train).
  public static func training(
    config c: ViTConfig, batch B: Int, tensors: [Bool], elements: Int?, modules: (any TrainableModules)?,
    optimizer: OptimizerKind
  ) -> MemoryReport {
    let L = ViTLayout(c)
    let gradCount = L.tensors.enumerated().reduce(0) { $0 + (tensors[$1.offset] ? $1.element.count : 0) }
    let trained = elements ?? gradCount
    let m = modules?.store.count ?? 0
    let keep = L.firstLayerBackwardReads(trainable: tensors, anchors: modules?.anchors(L) ?? [])
    let acts = Activations.counts(config: c, batch: B, extraTokens: modules?.extraTokens ?? 0, keepFrom: keep)
    let modActs = modules?.activationCount(batch: B, tokens: c.tokens + (modules?.extraTokens ?? 0)) ?? 0
    return MemoryReport(
      parameters: 4 * (L.totalCount + m), gradients: 4 * (gradCount + m),
      optimizerState: 4 * (trained + m) * optimizer.stateMultiplier,
      activations: 4 * (acts.forward + acts.backward + modActs))
  }

  /// FPT / FPT+: the side ViT and fusion train and the batch's K/V are in memory; without
  /// preloading also the frozen model's weights and its no-grad forward, which streams (one
  /// block's buffers: the K/V of each paired layer are taken as the block finishes).
  public static func sideTuning(
    plan: SideTuningPlan, batch B: Int, optimizer: OptimizerKind, preload: Bool
  ) -> MemoryReport {
    let fusion = makeFusionModules(plan: plan, seed: 0)
    let L = ViTLayout(plan.side)
    let trained = L.totalCount + fusion.store.count
    let acts = Activations.counts(config: plan.side, batch: B, extraTokens: fusion.extraTokens)
    var a =
      acts.forward + acts.backward
      + fusion.activationCount(batch: B, tokens: plan.side.tokens + fusion.extraTokens)
    var params = trained
    a += 2 * B * plan.kvCount
    if !preload {
      params += ViTLayout(plan.frozen).totalCount
      a += Activations.counts(config: plan.frozen, batch: B, keepFrom: plan.frozen.depth).forward
    }
    return MemoryReport(
      parameters: 4 * params, gradients: 4 * trained,
      optimizerState: 4 * trained * optimizer.stateMultiplier, activations: 4 * a)
  }
}

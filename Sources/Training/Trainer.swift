//===--- Trainer.swift - one training step and the loop around it ----------===//
import Foundation
import Kernels
import Model
import PEFT

public struct TrainConfig: Codable, Sendable, Equatable {
  public var optimizer: OptimizerKind
  public var schedule: CosineSchedule
  public var batchSize: Int
  /// Clip the global gradient norm to this value (nil: no clipping).
  public var clipNorm: Float?

  public init(optimizer: OptimizerKind, schedule: CosineSchedule, batchSize: Int, clipNorm: Float? = nil) {
    self.optimizer = optimizer
    self.schedule = schedule
    self.batchSize = batchSize
    self.clipNorm = clipNorm
  }
}

public enum TrainingError: Error, CustomStringConvertible, Equatable {
  /// NaN/Inf in the loss (`tensor` = "loss") or in a gradient.
  case diverged(step: Int, tensor: String)
  case badBatch(String)

  public var description: String {
    switch self {
    case .diverged(let step, let tensor):
      return "training diverged at step \(step): non-finite values in \(tensor)"
    case .badBatch(let s): return "bad batch: \(s)"
    }
  }
}

public struct StepResult: Sendable {
  public var step: Int
  public var loss: Float
  public var lr: Float
  public var gradNorm: Double
  /// Peak bytes of this step, from the engine's own buffers.
  public var memory: MemoryReport
}

/// Trains `model` in place on the parameters `selection` allows.
public final class Trainer {
  public let model: ViT
  public let config: TrainConfig
  public let selection: ParameterSelection
  public let grads: Gradients
  public let optimizer: Optimizer
  public let acts: Activations
  /// Modules a PEFT method added (their parameters train too).
  public let modules: (any TrainableModules)?
  let moduleOptimizer: Optimizer?
  public private(set) var step = 0

  public init(model: ViT, selection: ParameterSelection, config: TrainConfig, modules: (any TrainableModules)? = nil) {
    self.model = model
    self.config = config
    self.selection = selection
    self.modules = modules
    grads = Gradients(layout: model.layout, trainable: selection.tensors)
    if let elements = selection.elements { grads.plans = Self.weightGradientPlans(model.layout, elements: elements) }
    optimizer = Optimizer(kind: config.optimizer, layout: model.layout, selection: selection, grads: grads)
    moduleOptimizer = modules.map { m in
      Optimizer(kind: config.optimizer, tensors: m.store.tensors.map { ($0.offset, $0.count, $0.decay) })
    }
    // Only what backward reads is kept: a frozen prefix of blocks streams through shared buffers.
    acts = Activations(
      config: model.config, batch: config.batchSize, modules: modules,
      keepFrom: model.layout.firstLayerBackwardReads(
        trainable: grads.trainable,
        anchors: modules?.anchors(model.layout) ?? []))
  }

  /// Forward, backward and update on one batch: `images` (B, C, H, W), `labels` (B).
  @discardableResult
  public func step(images: UnsafePointer<Float>, labels: UnsafePointer<Int32>) throws -> StepResult {
    try step(images: images, targets: .classes(labels))
  }

  /// One step against class labels or multi-hot rows (a multi-label task).
  @discardableResult
  public func step(images: UnsafePointer<Float>, targets: Targets) throws -> StepResult {
    let lr = config.schedule.lr(at: step)
    model.forward(images: images, acts: acts)
    let loss = model.loss(acts: acts, targets: targets)
    guard loss.isFinite else { throw TrainingError.diverged(step: step, tensor: "loss") }
    grads.zero()
    modules?.store.grads.zero()
    model.backward(acts: acts, targets: targets, grads: grads)
    modules?.afterBackward(step: step)
    if let bad = firstNonFiniteGradient() { throw TrainingError.diverged(step: step, tensor: "grad of " + bad) }
    var sq = optimizer.gradientNorm(grads)
    sq *= sq
    if let m = modules, let mo = moduleOptimizer {
      let n = mo.gradientNorm(m.store.grads)
      guard n.isFinite else { throw TrainingError.diverged(step: step, tensor: "grad of the added modules") }
      sq += n * n
    }
    let norm = sq.squareRoot()
    if let clip = config.clipNorm, norm > Double(clip) {
      let f = Float(Double(clip) / (norm + 1e-6))
      optimizer.scaleGradients(grads, by: f)
      if let m = modules { moduleOptimizer?.scaleGradients(m.store.grads, by: f) }
    }
    optimizer.step(params: model.params, grads: grads, lr: lr)
    if let m = modules, let mo = moduleOptimizer {
      mo.step(params: m.store.values, gradientBuffer: m.store.grads, lr: lr)
      m.afterStep(step: step)
    }
    defer { step += 1 }
    return StepResult(step: step, loss: loss, lr: lr, gradNorm: norm, memory: memory)
  }

  /// Masked training: for each linear weight with selected elements, the
  /// cheapest way to compute just their gradient (nil: full GEMM).
  static func weightGradientPlans(_ L: ViTLayout, elements: [Int]) -> [WeightGradientPlan?] {
    var plans = [WeightGradientPlan?](repeating: nil, count: L.tensors.count)
    let weights = [L.patchW] + L.blocks.flatMap { [$0.qkvW, $0.projW, $0.fc1W, $0.fc2W] }
    for w in weights {
      let s = L.tensors[w]
      let lo = elements.lowerBound(s.offset), hi = elements.lowerBound(s.offset + s.count)
      guard hi > lo else { continue }
      plans[w] = WeightGradientPlan.make(
        selected: elements[lo..<hi].map { $0 - s.offset }, OC: s.shape[0], C: s.count / s.shape[0])
    }
    return plans
  }

  /// Name of the first trainable tensor whose gradient holds NaN or Inf.
  func firstNonFiniteGradient() -> String? {
    let g = grads.buffer.pointer
    for (i, s) in model.layout.tensors.enumerated() {
      guard let o = grads.offsets[i] else { continue }
      // A sum is non-finite iff some element is (or it overflowed: check those).
      if !Vec.sum(g + o, s.count).isFinite {
        for j in 0..<s.count where !g[o + j].isFinite { return s.name }
      }
    }
    return nil
  }

  /// Bytes allocated for training (see `MemoryReport`).
  public var memory: MemoryReport {
    acts.prepareBackward()
    let mb = modules.map { $0.store.values.bytes } ?? 0
    return MemoryReport(
      parameters: model.params.bytes + mb, gradients: grads.buffer.bytes + mb,
      optimizerState: optimizer.stateBytes + (moduleOptimizer?.stateBytes ?? 0),
      activations: acts.forwardBytes + acts.backwardBytes + (modules?.activationBytes ?? 0))
  }
}

extension Array where Element == Int {
  /// First index whose element is ≥ `value` (the array sorted ascending).
  func lowerBound(_ value: Int) -> Int {
    var lo = 0, hi = count
    while lo < hi {
      let mid = (lo + hi) / 2
      if self[mid] < value { lo = mid + 1 } else { hi = mid }
    }
    return lo
  }
}

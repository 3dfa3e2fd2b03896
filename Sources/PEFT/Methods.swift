//===--- Methods.swift - the fifteen methods of both papers' Table 1 -------===//
//
// A method = which stored tensors of the backbone train (whole tensors) +
// which modules it adds + whether the head trains (always, here: every
// method gets a new task head, as in both papers). Element-level methods
// (SH-PEFT, SPT-LoRA's unstructured part) choose elements from gradient
// statistics at training time (Stages/Training/PEFTStage.swift); here they
// report their budget. FPT and FPT+ train a side network (SideTuning.swift).
// Definitions follow the reference code (../shared/research/peft-anchors.md):
//   BitFit   every tensor named *bias (incl. LayerNorm β) — vpt "tinytl-bias"
//   FT-LN    LayerNorm γ and β (norm1, norm2, final norm; CLIP: + norm_pre)
//   FT-Att   attn.qkv and attn.proj weights and biases + pos_embed — deit --attn-only
//===----------------------------------------------------------------------===//
import Model

public enum PEFTMethod: String, CaseIterable, Sendable, Codable {
  case full, linearProbe = "linear-probe", bitfit, ftLN = "ft-ln", ftAtt = "ft-att", lora, adalora, adapter, ssf
  case vptShallow = "vpt-shallow", vptDeep = "vpt-deep", sptLoRA = "spt-lora", shpeft = "sh-peft", fpt, fptPlus = "fpt+"

  public var summary: String {
    switch self {
    case .full: return "all parameters"
    case .linearProbe: return "head only"
    case .bitfit: return "all biases (incl. LayerNorm β) + head"
    case .ftLN: return "LayerNorm γ, β + head"
    case .ftAtt: return "attention qkv/proj weights and biases + pos_embed + head"
    case .lora: return "B·A·α/r on q and v (r 8, α 8) + head"
    case .adalora: return "SVD-form P·Λ·Q on q and v, ranks 12 → 8 by importance + head"
    case .adapter: return "AdaptFormer parallel adapter (64, ReLU, ×0.1) + head"
    case .ssf: return "scale and shift after every op + head"
    case .vptShallow: return "prompts after the embedding + head"
    case .vptDeep: return "prompts replaced at every layer + head"
    case .sptLoRA: return "g² sensitivity: LoRA or sparse entries per matrix (α = 10) + head"
    case .shpeft: return "top-r% weights by hybrid importance (task-specific + task-agnostic) + head"
    case .fpt: return "side ViT (D/8, L layers) + fusion per layer, MLP in-projector; frozen model"
    case .fptPlus: return "side ViT (D/8, L/2 layers) + fine-grained prompts, LN, top-20% K/V; frozen model"
    }
  }

  /// Whether the method trains a side network beside a frozen model.
  public var isSideTuning: Bool { self == .fpt || self == .fptPlus }
  /// Whether it selects single weights from gradient statistics.
  public var selectsElements: Bool { self == .shpeft || self == .sptLoRA }
}

/// Hyper-parameters, with the reference implementations' defaults.
public struct MethodOptions: Sendable, Equatable {
  public var loraRank = 8
  public var loraAlpha = 8.0
  public var loraTargets: [LinearTarget] = [.v, .q]
  public var adalora = AdaLoRASchedule(totalSteps: 1000)
  public var adaloraAlpha = 8.0
  public var adapterBottleneck = 64
  public var adapterScale: Float = 0.1
  public var prompts = 5
  /// SH-PEFT: fraction of backbone weights selected.
  public var shpeftBudget = 0.01
  /// SPT-LoRA: trainable-parameter budget as a fraction of the backbone (SPT sweeps 0.2–1.0 M of 86 M).
  public var sptBudget = 0.01
  public var sptAlpha = 10.0
  public var side = SideOptions()
  public var seed: UInt64 = 0
  public init() {}
}

/// What a method trains on a given model (side-tuning methods: see `SideTuning`).
public struct MethodSetup {
  public let method: PEFTMethod
  /// Stored tensors that train whole (the head included).
  public var tensors: [Bool]
  public var modules: (any TrainableModules)?
  /// Backbone weights an element-level method will select (0 otherwise).
  public var elementBudget: Int

  public init(method: PEFTMethod, tensors: [Bool], modules: (any TrainableModules)?, elementBudget: Int) {
    self.method = method
    self.tensors = tensors
    self.modules = modules
    self.elementBudget = elementBudget
  }

  public static func make(
    _ m: PEFTMethod, config c: ViTConfig, options o: MethodOptions = MethodOptions()
  ) -> MethodSetup {
    let L = ViTLayout(c)
    let head = Set(L.headTensors)
    func tensors(_ pred: (String) -> Bool) -> [Bool] {
      L.tensors.enumerated().map { head.contains($0.offset) || pred($0.element.name) }
    }
    let headOnly = tensors { _ in false }
    let all = (0..<c.depth)
    switch m {
    case .full: return .init(method: m, tensors: tensors { _ in true }, modules: nil, elementBudget: 0)
    case .linearProbe: return .init(method: m, tensors: headOnly, modules: nil, elementBudget: 0)
    case .bitfit: return .init(method: m, tensors: tensors { $0.hasSuffix("bias") }, modules: nil, elementBudget: 0)
    case .ftLN:
      return .init(
        method: m,
        tensors: tensors { n in
          n.hasPrefix("norm") || n.contains(".norm1.") || n.contains(".norm2.")
        }, modules: nil, elementBudget: 0)
    case .ftAtt:
      return .init(
        method: m, tensors: tensors { $0.contains(".attn.") || $0 == "pos_embed" }, modules: nil, elementBudget: 0)
    case .lora:
      let t = all.flatMap { l in o.loraTargets.map { (l, $0, o.loraRank) } }
      return .init(
        method: m, tensors: headOnly,
        modules: LowRankModules(config: c, targets: t, alpha: o.loraAlpha, svd: false, seed: o.seed),
        elementBudget: 0)
    case .adalora:
      let t = all.flatMap { l in o.loraTargets.map { (l, $0) } }
      return .init(
        method: m, tensors: headOnly,
        modules: LowRankModules.adalora(
          config: c, targets: t, alpha: o.adaloraAlpha, schedule: o.adalora, seed: o.seed),
        elementBudget: 0)
    case .adapter:
      return .init(
        method: m, tensors: headOnly,
        modules: AdapterModules(config: c, bottleneck: o.adapterBottleneck, scale: o.adapterScale, seed: o.seed),
        elementBudget: 0)
    case .ssf:
      return .init(method: m, tensors: headOnly, modules: SSFModules(config: c, seed: o.seed), elementBudget: 0)
    case .vptShallow, .vptDeep:
      return .init(
        method: m, tensors: headOnly,
        modules: PromptModules(config: c, prompts: o.prompts, deep: m == .vptDeep, seed: o.seed),
        elementBudget: 0)
    case .shpeft:
      let backbone = L.backboneTensors.reduce(0) { $0 + L.tensors[$1].count }
      return .init(
        method: m, tensors: headOnly, modules: nil,
        elementBudget: Int((Double(backbone) * o.shpeftBudget).rounded()))
    case .sptLoRA:
      let backbone = L.backboneTensors.reduce(0) { $0 + L.tensors[$1].count }
      return .init(
        method: m, tensors: headOnly, modules: nil,
        elementBudget: Int((Double(backbone) * o.sptBudget).rounded()))
    case .fpt, .fptPlus:
      preconditionFailure("\(m.rawValue) trains a side network: use SideTuning")
    }
  }

  /// Trainable parameters of the backbone part (added modules + whole backbone tensors + element budget).
  public func methodParameters(_ L: ViTLayout) -> Int {
    let head = Set(L.headTensors)
    let whole = L.tensors.enumerated().reduce(0) {
      $0 + (tensors[$1.offset] && !head.contains($1.offset) ? $1.element.count : 0)
    }
    return whole + (modules?.store.count ?? 0) + elementBudget
  }

  public func headParameters(_ L: ViTLayout) -> Int { L.headTensors.reduce(0) { $0 + L.tensors[$1].count } }

  /// Denominator of the trainable ratio: every parameter of the model as
  /// trained (backbone + head + added modules), as peft's print_trainable_parameters.
  public func totalParameters(_ L: ViTLayout) -> Int { L.totalCount + (modules?.store.count ?? 0) }
}

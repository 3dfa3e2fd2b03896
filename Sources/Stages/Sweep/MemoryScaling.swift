//===--- MemoryScaling.swift - `memory-scaling`: FPT+ Fig. 2 / Table 2, computed --===//
//
// Training memory of every method against input resolution, from the
// engine's own accounting evaluated on shapes (MemoryModel), for the papers'
// backbones (ViT-B/16, ViT-L/16) at 224…2048 px, batch 16, AdamW: the shape
// of the papers' curve, without a GPU. The side input keeps the paper's share
// of the frozen model's tokens (FPT+ 64/1024: 512 → 128 px; FPT 196/1024:
// 512 → 224 px), with and without preloading.
// Writes memory.csv (preset, size, method, bytes by part, GiB) and memory.json
// (those rows, and each method's trainable parameters per preset: `parameters`).
//===----------------------------------------------------------------------===//
import Foundation
import Model
import PEFT
import Outputs
import Pipeline
import Training

public struct MemoryScalingStageKind: StageKind {
  public init() {}
  public let name = "memory-scaling"
  public let version = 4  // 3: FPT without preloading streams the frozen forward; 4: no attention matrix kept
  public var parameters: [ParameterSpec] {
    [
      ParameterSpec("presets", default: .string("vit-b16,vit-l16")),
      ParameterSpec("sizes", default: .string("224,384,512,768,1024,1536,2048")),
      ParameterSpec("batch", default: .int(16)), ParameterSpec("classes", default: .int(5)),
    ]
  }

  struct Values: Decodable {
    /// Comma-separated lists.
    var presets, sizes: String
    var batch, classes: Int
  }

  public func run(_ ctx: StageContext) throws {
    let v = try ctx.decode(Values.self)
    let presets = v.presets.split(separator: ",").map(String.init)
    let sizes = v.sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    let B = v.batch, K = v.classes
    let opt = OptimizerKind.adamw(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1)
    var csv = "preset,size,method,parameters,gradients,optimizer,activations,total,total_gib\n"
    var rows: [MemoryScalingOutput.Row] = []
    func add(_ preset: String, _ size: Int, _ method: String, _ m: MemoryReport, side: SideTuningPlan? = nil) {
      csv +=
        [
          preset, "\(size)", method, "\(m.parameters)", "\(m.gradients)", "\(m.optimizerState)", "\(m.activations)",
          "\(m.total)", "\(Double(m.total) / 1_073_741_824)",
        ].joined(separator: ",") + "\n"
      let input = side.map {
        SideNetworkShape(size: $0.side.imageSize, sidePatches: $0.side.numPatches, frozenPatches: $0.frozen.numPatches)
      }
      rows.append(
        .init(
          preset: preset, size: size, method: method, bytes: (m.total, m.activations, m.parameters), side: input))
    }
    for preset in presets {
      var c = try ViTConfig.preset(preset)
      for size in sizes {
        if ctx.isCancelled { throw PipelineError.cancelled }
        c.imageSize = size
        c.numClasses = K
        for method in PEFTMethod.allCases {
          if method.isSideTuning {
            let o = SideOptions()  // the paper's side token fraction at every size (FPT+ 1/16, FPT 196/1024)
            var fc = c
            fc.numClasses = 1000
            let plan = try SideTuningPlan(plus: method == .fptPlus, frozen: fc, classes: K, options: o)
            add(
              preset, size, method.rawValue,
              MemoryModel.sideTuning(plan: plan, batch: B, optimizer: opt, preload: true), side: plan)
            add(
              preset, size, method.rawValue + " (no preload)",
              MemoryModel.sideTuning(plan: plan, batch: B, optimizer: opt, preload: false),
              side: plan)
          } else {
            let s = MethodSetup.make(method, config: c)
            let elements = method.selectsElements ? s.elementBudget + s.headParameters(ViTLayout(c)) : nil
            var tensors = s.tensors
            if method.selectsElements {  // selected weights spread over every weight tensor
              tensors = ViTLayout(c).tensors.map { _ in true }
            }
            add(
              preset, size, method.rawValue,
              MemoryModel.training(
                config: c, batch: B, tensors: tensors, elements: elements,
                modules: s.modules, optimizer: opt))
          }
        }
      }
    }
    try csv.write(toFile: ctx.outputDir + "/memory.csv", atomically: true, encoding: .utf8)
    // trainable parameters per method and preset, as `peftlab methods --preset P --classes K` prints them
    var counts: [String: [ParameterCount]] = [:]
    for preset in presets {
      counts[preset] = try MethodCount.rows(config: try ViTConfig.preset(preset), classes: K, options: MethodOptions())
    }
    try MemoryScalingOutput(
      batch: B, optimizer: "adamw", rows: rows, parameters: counts,
      note: "engine accounting evaluated on shapes (no allocation); fp32; batch \(B)"
    ).write(in: ctx.outputDir)
    ctx.log("\(rows.count) rows")
  }
}

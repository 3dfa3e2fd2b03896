//===--- MethodsCommand.swift - `peftlab methods`: every PEFT method and its size
import ArgumentParser
import Foundation
import Model
import PEFT

struct MethodsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "methods",
    abstract: "List every PEFT method with its trainable parameters and ratio on a model preset.",
    discussion: """
      Ratio denominator: all parameters of the model as trained (backbone + head + added modules);
      FPT/FPT+: the frozen model incl. its head + side ViT + fusion (as the FPT code prints it).
      SH-PEFT and SPT-LoRA select weights from gradients: their count is the budget.
      """)
  @Option(help: "Model preset (vit-b16, vit-l16, clip-vit-b16, tiny-p8, micro, ...).") var preset = "vit-b16"
  @Option(help: "Classes of the task head.") var classes = 5
  @Option(help: "SH-PEFT / SPT-LoRA budget, % of backbone parameters.") var budget = 1.0
  @Flag(help: "JSON instead of a table.") var json = false

  func run() throws {
    try reportingErrors {
      let c0 = try ViTConfig.preset(preset)
      var c = c0
      c.numClasses = classes
      let L = ViTLayout(c)
      var o = MethodOptions()
      o.shpeftBudget = budget / 100
      o.sptBudget = budget / 100
      var rows: [[String: Any]] = []
      for m in PEFTMethod.allCases {
        let method: Int, head: Int, total: Int
        var denominator = "model + head + added modules"
        if m.isSideTuning {
          let plan = try SideTuningPlan(plus: m == .fptPlus, frozen: c0, classes: classes, options: o.side)
          let sideHead = classes * plan.side.width + classes
          head = sideHead
          method = plan.trainableParameters() - sideHead
          total = plan.totalParameters(frozenParameters: ViTLayout(c0).totalCount)
          denominator = "frozen model (\(c0.numClasses)-class head) + side \(plan.side.width)×\(plan.side.depth) @\(plan.side.imageSize)px + fusion"
        } else {
          let s = MethodSetup.make(m, config: c, options: o)
          method = s.methodParameters(L)
          head = s.headParameters(L)
          total = s.totalParameters(L)
        }
        rows.append(["method": m.rawValue, "method_parameters": method, "head_parameters": head,
                     "trainable_parameters": method + head, "total_parameters": total,
                     "trainable_percent": 100 * Double(method + head) / Double(total),
                     "denominator": denominator, "summary": m.summary])
      }
      if json {
        let d = try JSONSerialization.data(withJSONObject: ["preset": preset, "classes": classes, "methods": rows],
                                           options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: d, as: UTF8.self))
        return
      }
      print("preset \(preset), \(classes)-class head; ratio = trainable / total (see --help)")
      print("method         method params        head     trainable %   what trains")
      for r in rows {
        print((r["method"] as! String).padding(toLength: 14, withPad: " ", startingAt: 0)
          + String(format: "%14d  %10d  %12.4f   ", r["method_parameters"] as! Int, r["head_parameters"] as! Int,
                   r["trainable_percent"] as! Double) + (r["summary"] as! String))
      }
    }
  }
}

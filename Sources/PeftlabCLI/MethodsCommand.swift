//===--- MethodsCommand.swift - `peftlab methods`: every PEFT method and its size
import ArgumentParser
import Foundation
import Storage
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
      var o = MethodOptions()
      o.shpeftBudget = budget / 100
      o.sptBudget = budget / 100
      let rows = try MethodCount.rows(config: try ViTConfig.preset(preset), classes: classes, options: o)
      if json {
        let d = try JSONCoding.data(["preset": preset, "classes": classes, "methods": try JSONCoding.object(rows)])
        print(String(decoding: d, as: UTF8.self))
        return
      }
      print("preset \(preset), \(classes)-class head; ratio = trainable / total (see --help)")
      print("method         method params        head     trainable %   what trains")
      for r in rows {
        print(
          r.method.padding(toLength: 14, withPad: " ", startingAt: 0)
            + String(format: "%14d  %10d  %12.4f   ", r.methodParameters, r.headParameters, r.trainablePercent)
            + r.summary)
      }
    }
  }
}

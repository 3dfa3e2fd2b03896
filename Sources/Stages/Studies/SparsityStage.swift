//===--- SparsityStage.swift - `sparsity`: W_ori←ft@k% over a grid of k ----===//
//
// SH-PEFT §2.1, Fig. 2 left. Needs the original model (stage base
// name `original`, default "pretrain") and one fine-tuned model of `dataset`.
// For every k of `grid` (percent of backbone elements) it builds
//   W_{ori←ft@k%} = W_ori, with the top-k % of dW = |W_ft − W_ori| from W_ft,
// the head always W_ft's, and evaluates it on `split`. Output sparsity.json:
// per k the count of transplanted elements, accuracy / macro-F1 / macro-AUC
// and each as a fraction of full fine-tuning (W_ft evaluated the same way);
// sparsity.csv holds the same table.
//===----------------------------------------------------------------------===//
import Data
import Foundation
import Model
import Outputs
import Pipeline
import Training

public struct SparsityStageKind: DatasetReadingKind {
  public init() {}
  public let name = "sparsity"
  public let version = 1
  public static let defaultGrid: [Double] = [0, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 20, 50, 100]

  public var parameters: [ParameterSpec] {
    [
      ParameterSpec("dataset", help: "the task (a manifest name); must be the fine-tuned model's"),
      ParameterSpec("grid", default: .array(Self.defaultGrid.map { .double($0) }), help: "k in % of backbone elements"),
      ParameterSpec("original", default: .string("pretrain"), help: "base name of the stage holding W_ori"),
      ParameterSpec("split", default: .string("test")),
    ] + RecipeParams.location
  }

  struct Values: Decodable {
    var dataset: String
    var grid: [Double]
    var original, split: String
  }

  public func run(_ ctx: StageContext) throws {
    let v = try ctx.decode(Values.self)
    let originalBase = v.original
    let ori = try Checkpoint.load(try ctx.singleInput(base: originalBase, file: "model.h5") + "/model.h5")
    let fts = ctx.inputs(with: "model.h5", except: originalBase)
    guard fts.count == 1 else {
      throw PipelineError.stageFailed(
        stage: ctx.stage, message: "needs exactly one fine-tuned model besides '\(originalBase)' (has \(fts.count))")
    }
    let ft = try Checkpoint.load(fts[0].dir + "/model.h5")
    let ftMetrics = try RunMetrics.read(fts[0].dir)
    let dataset = v.dataset
    guard ftMetrics.dataset == dataset else {
      throw PipelineError.stageFailed(
        stage: ctx.stage, message: "\(fts[0].name) was fine-tuned on '\(ftMetrics.dataset ?? "?")', not '\(dataset)'"
      )
    }
    let grid = v.grid
    guard !grid.isEmpty, grid.allSatisfy({ $0 >= 0 && $0 <= 100 }) else {
      throw PipelineError.stageFailed(stage: ctx.stage, message: "grid must be a list of percentages in [0, 100]")
    }
    let data = try TaskData.load(ctx, size: ft.config.imageSize)
    let split = v.split
    guard let set = data.imageSet(split) else {
      throw PipelineError.stageFailed(stage: ctx.stage, message: "dataset '\(dataset)' has no '\(split)' split")
    }
    let order = try WeightChanges.ranking(original: ori, finetuned: ft)
    let n = order.count
    let full = Evaluation.evaluate(ft, on: set)
    let table = Sparsity.evaluate(grid: grid, original: ori, finetuned: ft, order: order, on: set) { i, r in
      ctx.progress(Double(i + 1) / Double(grid.count))
      ctx.log(String(format: "k %.3g%%: %d elements, macro-F1 %.4f", r.percent, r.count, r.metrics.macroF1))
    }
    var rows: [SparsityOutput.Row] = []
    var csv = "k_percent,elements,accuracy,macro_f1,macro_auc,f1_fraction,accuracy_fraction,auc_fraction\n"
    for r in table {
      let e = r.metrics
      let frac = (f1: e.macroF1 / full.macroF1, acc: e.accuracy / full.accuracy, auc: e.macroAUC / full.macroAUC)
      rows.append(
        SparsityOutput.Row(
          kPercent: r.percent, elements: r.count, metrics: SplitMetrics(e), f1Fraction: frac.f1,
          accuracyFraction: frac.acc, aucFraction: frac.auc))
      csv += "\(r.percent),\(r.count),\(e.accuracy),\(e.macroF1),\(e.macroAUC),\(frac.f1),\(frac.acc),\(frac.auc)\n"
    }
    try SparsityOutput(
      dataset: dataset, seed: ftMetrics.seed ?? 0, finetunedStage: fts[0].name, split: split,
      backboneParameters: n, full: SplitMetrics(full), grid: rows
    ).write(in: ctx.outputDir)
    try csv.write(toFile: ctx.outputDir + "/sparsity.csv", atomically: true, encoding: .utf8)
  }
}

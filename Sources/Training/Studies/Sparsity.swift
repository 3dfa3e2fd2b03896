//===--- Sparsity.swift - W_ori←ft@k% evaluated over a grid of k -----------===//
//
// SH-PEFT §2.1, Fig. 2 left: W_{ori←ft@k%} = W_ori with the top-k % of dW = |W_ft − W_ori| taken
// from W_ft (WeightChanges.transplant), evaluated for every k. The `sparsity` stage kind runs it.
//===----------------------------------------------------------------------===//
import Data
import Model

public enum Sparsity {
  public struct Row {
    public var percent: Double
    public var count: Int
    public var metrics: ClassificationMetrics
  }

  /// Evaluates W_{ori←ft@k%} for each k of `grid` on `set`.
  public static func evaluate(
    grid: [Double], original ori: ViT, finetuned ft: ViT, order: [Int32], on set: ImageSet,
    progress: (Int, Row) -> Void = { _, _ in }
  ) -> [Row] {
    grid.enumerated().map { i, k in
      let count = WeightChanges.topCount(percent: k, of: order.count)
      let m = WeightChanges.transplant(original: ori, finetuned: ft, order: order, count: count)
      let r = Row(percent: k, count: count, metrics: Evaluation.evaluate(m, on: set))
      progress(i, r)
      return r
    }
  }
}

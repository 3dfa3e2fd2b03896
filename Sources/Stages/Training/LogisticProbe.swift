//===--- LogisticProbe.swift - `logistic-probe`: a converged linear probe ----===//
//
// The frozen model's class-token features (after the final LayerNorm; no augmentation) of every
// training, validation and test image, and a multinomial logistic regression on them fitted to
// convergence (LogisticRegression.swift: standardised features, L2 penalty λ) for each λ of a grid;
// the λ with the best validation macro-F1 is reported on test. This is CLIP's linear-probe
// protocol: it measures what a linear classifier can read from the features, apart from whether
// the recipe's SGD probe (`finetune`, mode linear-probe) gets there in its steps.
//   metrics.json: test and val metrics at the chosen λ (SplitMetrics), the λ grid's validation
//   macro-F1, the chosen λ, iterations and final gradient norm.
//===----------------------------------------------------------------------===//
import Data
import Foundation
import Model
import Outputs
import Pipeline
import Training

public struct LogisticProbeStageKind: DatasetReadingKind {
  public init() {}
  public let name = "logistic-probe"
  public let version = 1
  /// The penalties tried, chosen on the validation split.
  public static let lambdas = [1e-4, 1e-3, 1e-2, 1e-1, 1]
  public var parameters: [ParameterSpec] {
    [
      ParameterSpec("dataset", help: "dataset name (a manifest)"),
      ParameterSpec("iterations", default: .int(3000), help: "most gradient steps per fit"),
      ParameterSpec("seed", default: .int(0), help: "unused (matrix symmetry)"),
    ] + RecipeParams.location
  }

  struct Values: Decodable { var iterations: Int }

  public func run(_ ctx: StageContext) throws {
    let v = try ctx.decode(Values.self)
    guard v.iterations > 0 else {
      throw PipelineError.stageFailed(stage: ctx.stage, message: "iterations must be positive")
    }
    let model = try ctx.inputModel()
    let data = try TaskData.load(ctx, size: model.config.imageSize)
    let file = data.manifest.file
    guard data.manifest.task != .multiLabel else {
      throw DataError.file(file, "logistic-probe fits one class per image; this dataset is multi-label")
    }
    guard let train = data.imageSet("train") else { throw DataError.file(file, "no training split") }
    guard let val = data.imageSet("val") else { throw DataError.file(file, "no validation split (λ is chosen on it)") }
    let K = data.manifest.classes.count, D = model.config.width
    guard K >= 2 else {
      throw DataError.file(file, "logistic-probe needs at least two classes, the manifest lists \(K)")
    }
    func feats(_ s: ImageSet) -> [Float] { KNNProbeStageKind.features(model, s, normalise: false) }
    let (xTrain, xVal) = (feats(train), feats(val))
    let yTrain = train.labels.map(Int.init), yVal = val.labels.map(Int.init)
    var best: (f1: Double, lambda: Double, fit: LogisticRegression)? = nil
    var grid: [String: Double] = [:]
    for lambda in Self.lambdas {
      let fit = LogisticRegression(
        x: xTrain, labels: yTrain, width: D, classes: K, lambda: lambda, maxIterations: v.iterations)
      let f1 = Metrics.all(scores: fit.probabilities(xVal), labels: yVal, classes: K).macroF1
      grid[String(lambda)] = f1
      ctx.log(
        String(
          format: "λ %g: val macro-F1 %.4f (%d iterations, |∇| %.2e)", lambda, f1, fit.iterations, fit.gradientNorm))
      if best == nil || f1 > best!.f1 { best = (f1, lambda, fit) }
    }
    guard let (_, lambda, fit) = best else { preconditionFailure("the λ grid is not empty") }
    var out = RunMetrics(stageKind: name, dataset: data.manifest.name)
    (out.featureWidth, out.trainImages, out.lambda, out.valF1ByLambda) = (D, train.count, lambda, grid)
    (out.iterations, out.gradientNorm) = (fit.iterations, fit.gradientNorm)
    for (split, set) in [("val", val), ("test", data.imageSet("test"))] {
      guard let set else { continue }
      let x = split == "val" ? xVal : feats(set)
      let e = Metrics.all(scores: fit.probabilities(x), labels: set.labels.map(Int.init), classes: K)
      out.record(split, e, log: ctx.log)
    }
    try out.write(in: ctx.outputDir)
  }
}

//===--- TaskData.swift - a stage's dataset, splits and inputs -------------===//
import Data
import Foundation
import Model
import Outputs
import Pipeline
import Storage
import Training

/// The dataset a stage works on, decoded once through the dataset cache, at
/// the model's input size, with the normalisation of its training split.
struct TaskData {
  let manifest: DatasetManifest
  let splits: [String: RawImages]
  let normalization: Normalization
  let size: Int

  /// The splits come from a needed `dataset` stage of this dataset that decoded `size` px when the pipeline has
  /// one (its data-<size>.h5: the same decode, so the same pixels), else from the source files through the
  /// dataset cache.
  static func load(_ ctx: StageContext, size: Int) throws -> TaskData {
    let location = try DatasetLocation(ctx.params)
    let m = try location.manifest(root: ctx.projectRoot)
    let splits: [String: RawImages]
    if let file = try ctx.datasetInput(m.name, size: size) {
      splits = try DatasetCache.read(file)
    } else {
      splits = try DatasetCache.splits(
        m, root: ctx.projectRoot + "/" + location.dataRoot, size: size,
        cacheDir: ctx.cacheRoot, hasher: FileHasher(memo: nil))
    }
    guard let train = splits["train"] else { throw DataError.file(m.file, "no training split") }
    return TaskData(manifest: m, splits: splits, normalization: Normalization.of(train), size: size)
  }

  var train: RawImages { splits["train"]! }

  /// A split without augmentation, ready for evaluation (nil if absent).
  func imageSet(_ split: String) -> ImageSet? {
    splits[split].map { Preprocessor(size: size, normalization: normalization).imageSet($0) }
  }
}

extension TaskData {
  /// One pass of per-element gradient statistics over the unaugmented training split, with `model`'s task head
  /// (the selection pass of SH-PEFT — the `importance` kind and the sweep's `sh-peft` — and of SPT-LoRA).
  func gradientStatistics(
    _ ctx: StageContext, model: ViT, batch: Int, seed: Int, progress: (Double) -> Void = { _ in }
  ) throws -> GradientStatistics {
    try GradientStatistics.collect(
      model: model, set: imageSet("train")!, batch: batch, seed: UInt64(seed), cancelled: { ctx.isCancelled },
      progress: progress)
  }
}

/// This process's peak resident set size, bytes (getrusage; a stage runs in its own process, so it is
/// the stage's). Measured, so it goes to timing.json with the wall-clock times, outside the content hash.
func peakRSSBytes() -> Int {
  var u = rusage()
  getrusage(Int32(RUSAGE_SELF.rawValue), &u)
  return Int(u.ru_maxrss) * 1024
}

extension StageContext {
  /// The decoded file of `name` at `size` px from the needed `dataset` stages (nil: the pipeline needs none
  /// for `name`); an error naming the stages and their sizes when none of them decoded `size`.
  func datasetInput(_ name: String, size: Int) throws -> String? {
    let found = try inputs.sorted { $0.key < $1.key }.filter { DatasetInfoOutput.exists(in: $0.value) }
      .map { ($0.key, $0.value, try DatasetInfoOutput.read(in: $0.value)) }.filter { $0.2.name == name }
    guard !found.isEmpty else { return nil }
    for (_, dir, info) in found {
      if let d = info.decoded.first(where: { $0.size == size }) { return dir + "/" + d.file }
    }
    let have = found.map { "\($0.0) (\($0.2.decoded.map { String($0.size) }.joined(separator: ", ")) px)" }
    throw PipelineError.stageFailed(
      stage: stage,
      message: "needs '\(name)' at \(size) px (its model's input); the dataset stages give "
        + have.joined(separator: ", ") + ": add \(size) to their sizes")
  }

  /// The model of the one needed stage that has a model.h5 (a pretrain or import stage), or an error naming the stage.
  func inputModel() throws -> ViT {
    let models = inputs.values.filter { FileManager.default.fileExists(atPath: $0 + "/model.h5") }
    guard models.count == 1 else {
      throw PipelineError.stageFailed(
        stage: stage, message: "\(kindName) needs exactly one stage with a model.h5 (has \(models.count))")
    }
    return try Checkpoint.load(models[0] + "/model.h5")
  }

  /// Needed stages (name, output folder) whose base name (before '@') is `base`, by name.
  func inputs(base: String) -> [(name: String, dir: String)] {
    inputs.filter { $0.key.split(separator: "@").first.map(String.init) == base }
      .sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
  }

  /// The one needed stage with base name `base`, or an error naming the stage.
  func singleInput(base: String, file: String) throws -> String {
    let found = inputs(base: base).filter { FileManager.default.fileExists(atPath: $0.dir + "/" + file) }
    guard found.count == 1 else {
      throw PipelineError.stageFailed(
        stage: stage, message: "needs exactly one '\(base)' stage with \(file) (has \(found.count))")
    }
    return found[0].dir
  }

  /// Needed stages, other than those with base name `except`, that have `file`.
  func inputs(with file: String, except: String? = nil) -> [(name: String, dir: String)] {
    inputs.filter { e in
      (except == nil || e.key.split(separator: "@").first.map(String.init) != except)
        && FileManager.default.fileExists(atPath: e.value + "/" + file)
    }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
  }
}

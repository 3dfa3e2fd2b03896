//===--- TrainCommand.swift - `peftlab train` ------------------------------===//
import ArgumentParser
import Foundation
import Kernels
import Data
import Model
import Pipeline
import Stages
import Training

/// Trains a model on the generated quadrant task and prints its metrics.
/// (The study pipelines train through stages; this is the engine's smoke run.)
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train a ViT on a generated task and print train/test metrics.",
    discussion: "Recipe parameters (--set key=value; the pipeline's training kinds take the same):\n"
      + RecipeSettings.specs.map(\.summary).joined(separator: "\n"))

  @OptionGroup var model: ModelOptions
  @OptionGroup var threads: ThreadOptions
  /// The recipe: the pipeline's (RecipeSettings); each `--set` overrides one parameter by its pipeline name.
  @Option(
    name: [.customShort("S"), .customLong("set")], parsing: .singleValue,
    help: ArgumentHelp(
      "A recipe parameter as a pipeline file writes it (repeatable; e.g. -S steps=200 -S optimizer=adamw); the "
        + "parameters and their defaults are listed below.", valueName: "key=value"))
  var settings: [String] = []
  @Option(help: "Training images generated (quadrant task).") var trainImages = 4096
  @Option(help: "Test images generated (quadrant task).") var testImages = 1000
  @Option(help: "Print the loss every N steps.") var logEvery = 50
  @Option(help: "Save the trained model here (HDF5).") var save: String?
  @Option(help: "Train on this dataset (a manifest name) instead of the generated quadrant task.") var dataset: String?
  @Option(help: "Start from this model (.h5, or timm / open_clip .safetensors): its architecture, not --preset's.")
  var initFrom: String?
  @Option(help: "full or linear-probe.") var mode = "full"
  @Option(help: "Folder of manifests.") var manifests = "data-manifests"
  @Option(help: "Data root.") var dataRoot = "data"
  @Option(help: "Cache folder for decoded datasets.") var cacheDir = ".peftlab"

  /// The `--set` values, by pipeline parameter name (each value read as a YAML scalar: 200, 0.01, false, adamw).
  func overrides() throws -> [String: Value] {
    try settings.reduce(into: [:]) { o, kv in
      guard let eq = kv.firstIndex(of: "="), eq != kv.startIndex else {
        throw ValidationError("--set takes key=value (e.g. steps=200), not '\(kv)'")
      }
      let key = String(kv[..<eq]), text = String(kv[kv.index(after: eq)...])
      o[key] = Value(json: try loadYAML(text, path: "--set \(key)") ?? NSNull())
    }
  }

  func validate() throws {
    guard ["full", "linear-probe"].contains(mode) else {
      throw ValidationError("--mode must be full or linear-probe, not '\(mode)'")
    }
    do { _ = try RecipeSettings(try overrides()) } catch let e as ValidationError { throw e } catch {
      throw ValidationError("--set: \(error)")
    }
    guard trainImages > 0, testImages > 0, logEvery > 0 else {
      throw ValidationError("--train-images, --test-images and --log-every must be > 0")
    }
  }

  func run() throws {
    threads.apply()
    try reportingErrors {
      let recipe = try RecipeSettings(try overrides())
      let (steps, seed) = (recipe.steps, UInt64(recipe.seed))
      var train: ImageSet, test: ImageSet, val: ImageSet?
      var trainRaw: RawImages?, pre: Preprocessor?
      var classes = 4
      var cfg = try model.config(classes: 4)
      // a model to start from gives the architecture (an imported ViT-S / DeiT-Ti as much as a preset)
      let base = try initFrom.map { try CheckpointImport.loadAny($0, head: cfg.head, seed: seed) }
      if let b = base?.config {
        let (head, scale) = (cfg.head, cfg.headScale)
        cfg = b
        (cfg.head, cfg.headScale) = (head, scale)
      }
      if let dataset {
        let all = try DatasetManifest.all(in: manifests)
        guard let m = all.first(where: { $0.name == dataset }) else {
          throw CLIError(message: "no manifest named '\(dataset)'")
        }
        let splits = try DatasetCache.splits(
          m, root: dataRoot, size: cfg.imageSize, cacheDir: cacheDir,
          hasher: FileHasher(memo: cacheDir + "/filehashes.json"))
        classes = m.classes.count
        let norm = Normalization.of(splits["train"]!)
        let p = Preprocessor(size: cfg.imageSize, normalization: norm, augmentation: recipe.augmentation)
        (trainRaw, pre) = (splits["train"]!, p)
        train = p.imageSet(splits["train"]!)
        val = p.imageSet(splits["val"]!)
        test = p.imageSet(splits["test"]!)
        print("dataset \(m.name): train \(train.count), val \(val!.count), test \(test.count), \(classes) classes")
      } else {
        train = QuadrantTask.make(
          count: trainImages, classes: 4, channels: cfg.channels, size: cfg.imageSize, seed: seed &+ 1)
        test = QuadrantTask.make(
          count: testImages, classes: 4, channels: cfg.channels, size: cfg.imageSize, seed: seed &+ 2)
      }
      cfg.numClasses = classes
      var vit = try ViT(config: cfg, seed: seed)
      if let initFrom, let base {
        let b = base.config
        if b.numClasses == classes && b.head == cfg.head && b.headScale == cfg.headScale {
          vit = base
        } else {
          print(
            "note: \(initFrom) has a \(b.head.rawValue) head for \(b.numClasses) classes; its backbone is kept and a "
              + "new \(cfg.head.rawValue) head for \(classes) classes is trained (--head and the dataset decide it)")
          vit = try base.withNewHead(classes: classes, head: cfg.head, headScale: cfg.headScale, seed: seed)
        }
        print("initialised from \(initFrom) (\(b.width) wide, \(b.depth) deep, \(b.imageSize) px)")
      }
      // the batch at most the training images, as in the pipeline's training kinds
      let fitted = try RecipeSettings(try overrides(), trainImages: train.count)
      let (batch, tc) = (fitted.batch, fitted.config)
      if batch < recipe.batch { print("note: batch \(recipe.batch) > \(train.count) training images: batch \(batch)") }
      print(
        "recipe: "
          + recipe.parameters.keys.sorted().map { "\($0) \(recipe.parameters[$0]!.canonicalJSON)" }.joined(
            separator: ", "))
      let selection: ParameterSelection =
        mode == "linear-probe" ? .tensors(vit.layout) { $0.hasPrefix("head.") } : .all(vit.layout)
      let trainer = Trainer(model: vit, selection: selection, config: tc)
      print(
        "model \(initFrom ?? model.preset): \(vit.parameterCount) parameters; threads \(Parallel.threads); "
          + "\(BLAS.configDescription)"
      )
      var sampler = BatchSampler(train, batch: batch, seed: seed &+ 3)
      var augmented = trainRaw.map { AugmentedSampler($0, batch: batch, preprocessor: pre!, seed: seed &+ 3) }
      var imgs: [Float] = [], labs: [Int32] = [], unused: [Float] = []
      let start = Date()
      for s in 0..<steps {
        if augmented != nil {
          augmented!.next(images: &imgs, labels: &labs, secondImages: &unused)
        } else {
          sampler.next(images: &imgs, labels: &labs)
        }
        let r = try trainer.step(images: imgs, labels: labs)
        if s % logEvery == 0 || s == steps - 1 {
          print(String(format: "step %5d  loss %.4f  lr %.2e  |g| %.3f", s, r.loss, r.lr, r.gradNorm))
          fflush(nil)  // progress shows even when stdout is a file
        }
      }
      let secs = Date().timeIntervalSince(start)
      print(
        String(
          format: "trained %d steps in %.1f s (%.0f images/s); memory: %@", steps, secs,
          Double(steps * batch) / secs, trainer.memory.description))
      for (name, set) in [("train", train), ("val", val), ("test", test)].compactMap({ n, s in s.map { (n, $0) } }) {
        let m = Evaluation.evaluate(vit, on: set)
        print(
          String(
            format: "%@: accuracy %.4f  macro-F1 %.4f  macro-AUC %.4f  loss %.4f", name, m.accuracy, m.macroF1,
            m.macroAUC, m.loss ?? .nan))
      }
      if let save { try Checkpoint.save(vit, to: save); print("saved \(save)") }
    }
  }
}

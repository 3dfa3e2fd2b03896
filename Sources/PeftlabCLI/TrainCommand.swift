//===--- TrainCommand.swift - `peftlab train` ------------------------------===//
import ArgumentParser
import Foundation
import Kernels
import Data
import Model
import Pipeline
import Training

/// Trains a model on the generated quadrant task and prints its metrics.
/// (The study pipelines train through stages; this is the engine's smoke run.)
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train a ViT on a generated task and print train/test metrics.")

  @OptionGroup var model: ModelOptions
  @OptionGroup var threads: ThreadOptions
  @Option(help: "Training steps.") var steps = 1500
  @Option(help: "Batch size.") var batch = 32
  @Option(help: "Optimizer: sgd or adamw.") var optimizer = "adamw"
  @Option(help: "Peak learning rate.") var lr = 3e-3
  @Option(help: "Weight decay.") var weightDecay = 0.05
  @Option(help: "Linear warmup steps.") var warmup = 20
  @Option(help: "Clip the gradient norm to this value (0: off).") var clip = 1.0
  @Option(help: "Training images generated.") var trainImages = 4096
  @Option(help: "Test images generated.") var testImages = 1000
  @Option(help: "Seed of the model, data and batch order.") var seed: UInt64 = 0
  @Option(help: "Print the loss every N steps.") var logEvery = 50
  @Option(help: "Save the trained model here (HDF5).") var save: String?
  @Option(help: "Train on this dataset (a manifest name) instead of the generated quadrant task.") var dataset: String?
  @Option(help: "Start from this checkpoint (.h5); the head is replaced if the class count differs.") var initFrom:
    String?
  @Option(help: "full or linear-probe.") var mode = "full"
  @Option(help: "Folder of manifests.") var manifests = "data-manifests"
  @Option(help: "Data root.") var dataRoot = "data"
  @Option(help: "Cache folder for decoded datasets.") var cacheDir = ".peftlab"
  @Flag(inversion: .prefixedNo, help: "Augment training images (random resized crop, flip, colour jitter).")
  var augment = true
  @Option(help: "Smallest area fraction of the random resized crop (1: no cropping).") var cropMin = 0.6

  func validate() throws {
    guard ["full", "linear-probe"].contains(mode) else {
      throw ValidationError("--mode must be full or linear-probe, not '\(mode)'")
    }
    guard ["sgd", "adamw"].contains(optimizer) else {
      throw ValidationError("--optimizer must be sgd or adamw, not '\(optimizer)'")
    }
    guard steps > 0 else { throw ValidationError("--steps must be > 0, not \(steps)") }
    guard batch > 0 else { throw ValidationError("--batch must be > 0, not \(batch)") }
    guard lr > 0 && lr.isFinite else { throw ValidationError("--lr must be a positive number, not \(lr)") }
    guard warmup >= 0, weightDecay >= 0, clip >= 0 else {
      throw ValidationError("--warmup, --weight-decay and --clip must be ≥ 0")
    }
    guard trainImages > 0, testImages > 0, logEvery > 0 else {
      throw ValidationError("--train-images, --test-images and --log-every must be > 0")
    }
    guard cropMin > 0 && cropMin <= 1 else { throw ValidationError("--crop-min must be in (0, 1], not \(cropMin)") }
  }

  func run() throws {
    threads.apply()
    try reportingErrors {
      var train: ImageSet, test: ImageSet, val: ImageSet?
      var trainRaw: RawImages?, pre: Preprocessor?
      var classes = 4
      var cfg = try model.config(classes: 4)
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
        guard cropMin > 0 && cropMin <= 1 else { throw CLIError(message: "--crop-min must be in (0, 1]") }
        let p = Preprocessor(
          size: cfg.imageSize, normalization: norm,
          augmentation: augment ? Augmentation(cropScale: cropMin...1) : nil)
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
      if let initFrom {
        let base = try Checkpoint.load(initFrom)
        let b = base.config
        let diffs = [
          ("image size", b.imageSize, cfg.imageSize), ("patch size", b.patchSize, cfg.patchSize),
          ("width", b.width, cfg.width),
          ("depth", b.depth, cfg.depth), ("heads", b.heads, cfg.heads), ("MLP width", b.mlpDim, cfg.mlpDim),
          ("channels", b.channels, cfg.channels),
        ].filter { $0.1 != $0.2 }
        guard diffs.isEmpty else {
          throw CLIError(
            message: "\(initFrom): architecture differs from preset '\(model.preset)': "
              + diffs.map { "\($0.0) \($0.1) in the checkpoint, \($0.2) in the preset" }.joined(separator: "; "))
        }
        if b.numClasses == classes && b.head == cfg.head && b.headScale == cfg.headScale {
          vit = base
        } else {
          print(
            "note: \(initFrom) has a \(b.head.rawValue) head for \(b.numClasses) classes; its backbone is kept and a "
              + "new "
              + "\(cfg.head.rawValue) head for \(classes) classes is trained (--head and the dataset decide the head)")
          vit = try base.withNewHead(classes: classes, head: cfg.head, headScale: cfg.headScale, seed: seed)
        }
        print("initialised from \(initFrom)")
      }
      let opt: OptimizerKind =
        optimizer == "sgd"
        ? .sgd(momentum: 0.9, weightDecay: Float(weightDecay))
        : .adamw(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: Float(weightDecay))
      let tc = TrainConfig(
        optimizer: opt, schedule: CosineSchedule(baseLR: lr, warmupSteps: warmup, totalSteps: steps),
        batchSize: batch, clipNorm: clip > 0 ? Float(clip) : nil)
      let selection: ParameterSelection =
        mode == "linear-probe" ? .tensors(vit.layout) { $0.hasPrefix("head.") } : .all(vit.layout)
      let trainer = Trainer(model: vit, selection: selection, config: tc)
      print(
        "model \(model.preset): \(vit.parameterCount) parameters; threads \(Parallel.threads); "
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

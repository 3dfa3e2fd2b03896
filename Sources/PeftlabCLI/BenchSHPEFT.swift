//===--- BenchSHPEFT.swift - `peftlab bench shpeft` ------------------------===//
//
// SH-PEFT's training step at r = 1 % and 0.01 % against full fine-tuning on
// the same config, measured in one run. Masks: SH-PEFT's ta+L2 importance
// from a few batches of the benchmark's data (how a real mask clusters), and
// a uniformly random mask of the same size (the worst case for row skipping).
//===----------------------------------------------------------------------===//
import ArgumentParser
import Data
import Foundation
import Kernels
import Model
import Training
import Storage

struct SHPEFTBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "shpeft", abstract: "SH-PEFT masked training step vs full fine-tuning (same run).")
  @OptionGroup var threads: ThreadOptions
  @Option(help: "Batch size.") var batch = 64
  @Option(help: "Presets to measure (comma-separated).") var presets = "tiny-p8,small64-p8"
  @Option(help: "Optimizer: adamw or sgd.") var optimizer = "adamw"
  @Option(help: "Seconds per row, spent in interleaved rounds (after 2 warm-up steps).") var seconds = 3.0

  func run() throws {
    threads.apply()
    let opt: OptimizerKind = optimizer == "sgd" ? .sgd(momentum: 0.9, weightDecay: 0) : .adamwDefault
    print("peftlab bench shpeft — threads \(Parallel.threads), batch \(batch), \(optimizer)")
    print("")
    print(
      "| config | selection | trainable | step ms | vs full | weight gradients (rows / elements / full GEMM) | "
        + "optimizer state |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in presets.split(separator: ",").map(String.init) {
      var c = try ViTConfig.preset(name)
      c.head = .l2Linear
      let model = try ViT(config: c, seed: 0)
      var rng = Xoshiro256(seed: 1)
      let images = (0..<(batch * c.channels * c.imageSize * c.imageSize)).map { _ in Float(rng.normal()) }
      let labels = (0..<batch).map { Int32($0 % c.numClasses) }
      let set = ImageSet(
        images: images, labels: labels, channels: c.channels, height: c.imageSize, width: c.imageSize,
        classes: c.numClasses)
      let stats = try GradientStatistics.collect(model: model, set: set, batch: batch, seed: 0)
      let scores = Importance.scores(.taL2, lambda: 1, stats: stats, weights: model.params.pointer)
      let n = scores.count
      var rows: [(String, ParameterSelection)] = [("full fine-tune", .all(model.layout))]
      for r in [1.0, 0.01] {
        rows.append(
          ("SH-PEFT ta+L2 r = \(r) %", .elements(model.layout, backbone: Importance.mask(scores, percent: r))))
        var g = Xoshiro256(seed: 7)
        let random = (0..<n).map { _ in Float(g.next() >> 40) }
        rows.append(("random mask r = \(r) %", .elements(model.layout, backbone: Importance.mask(random, percent: r))))
      }
      // Interleaved rounds (each row a few steps per round), median per row: robust to a noisy VM.
      let trainers = try rows.map { _, sel -> Trainer in
        let t = Trainer(
          model: model.copy(), selection: sel,
          config: TrainConfig(
            optimizer: opt, schedule: CosineSchedule(baseLR: 1e-5, totalSteps: 1_000_000), batchSize: batch))
        for _ in 0..<2 { try t.step(images: images, labels: labels) }
        return t
      }
      var times = [[Double]](repeating: [], count: rows.count)
      let roundStart = Date()
      while Date().timeIntervalSince(roundStart) < seconds * Double(rows.count) || times[0].count < 5 {
        for (i, t) in trainers.enumerated() {
          let s = Date()
          for _ in 0..<3 { try t.step(images: images, labels: labels) }
          times[i].append(Date().timeIntervalSince(s) / 3)
        }
      }
      let medians = times.map { $0.sorted()[$0.count / 2] }
      for (i, (label, sel)) in rows.enumerated() {
        let trainer = trainers[i], step = medians[i]
        let L = trainer.model.layout
        let weights = [L.patchW] + L.blocks.flatMap { [$0.qkvW, $0.projW, $0.fc1W, $0.fc2W] }
        let plans = weights.map { trainer.grads.plans[$0] }
        let frozen = weights.filter { !sel.tensors[$0] }.count
        let planText =
          "\(plans.filter { $0?.mode == .rows }.count) / \(plans.filter { $0?.mode == .elements }.count) / "
          + "\(weights.count - frozen - plans.compactMap { $0 }.count) (\(frozen) frozen)"
        print(
          String(
            format: "| %@ | %@ | %d | %.2f | %.2f× | %@ | %.1f KiB |", name, label, sel.trainableCount(L),
            step * 1e3, step / medians[0], sel.elements == nil ? "—" : planText,
            Double(trainer.optimizer.stateBytes) / 1024))
      }
      print("(median of \(times[0].count) interleaved rounds of 3 steps per row)")
    }
  }
}

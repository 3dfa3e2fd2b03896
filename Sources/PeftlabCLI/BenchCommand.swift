//===--- BenchCommand.swift - `peftlab bench train` ------------------------===//
//
// Performance is measured, never asserted: this prints a table whose ratios
// are measured in the same run (our training step vs cblas_sgemm on 1024³).
//===----------------------------------------------------------------------===//
import ArgumentParser
import COpenBLAS
import Foundation
import Kernels
import Model
import Training
import Storage

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench", abstract: "Benchmarks that print tables measured in one run.",
    subcommands: [
      Train.self, KernelsBench.self, RunnerBench.self, SHPEFTBench.self, MemoryBench.self, InferBench.self,
      HashBench.self, NpzBench.self,
    ])

  struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Training-step throughput of the ViT engine against cblas_sgemm (1024³) in the same run.")
    @OptionGroup var threads: ThreadOptions
    @Option(help: "Batch size.") var batch = 64
    @Option(help: "Seconds to time each row (after 2 warm-up steps).") var seconds = 3.0

    func run() throws {
      threads.apply()
      let t = Parallel.threads
      print("peftlab bench train — threads \(t), batch \(batch), SGD (momentum 0.9) full fine-tuning step")
      print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; \(BLAS.configDescription)")
      let sgemm = measureSgemm(threads: t)
      print(
        String(
          format: "cblas_sgemm 1024³: %.1f GFLOP/s (OpenBLAS threaded: %.1f, row-split across our workers: %.1f)",
          sgemm.best, sgemm.openblas, sgemm.split))
      print("")
      print(
        "| config (img, patch, width, depth, heads, mlp) | params | step ms | fwd ms | images/s | GFLOP/s | of sgemm |")
      print("|---|---|---|---|---|---|---|")
      let configs: [(String, ViTConfig)] = [
        ("tiny-p4", try ViTConfig.preset("tiny-p4")), ("tiny-p8", try ViTConfig.preset("tiny-p8")),
        ("small64-p8", try ViTConfig.preset("small64-p8")),
      ]
      for (name, c) in configs {
        let r = try measure(c, selection: { .all($0) })
        let flops = trainingFlops(c) * Double(batch)
        let gf = flops / r.step / 1e9
        print(
          String(
            format: "| %@ (%d, %d, %d, %d, %d, %d) | %.2fM | %.1f | %.1f | %.0f | %.1f | %.0f%% |",
            name, c.imageSize, c.patchSize, c.width, c.depth, c.heads, c.mlpDim,
            Double(ViTLayout(c).totalCount) / 1e6, r.step * 1e3, r.forward * 1e3,
            Double(batch) / r.step, gf, 100 * gf / sgemm.best))
      }
      print("")
      print("Trainability on tiny-p4 (frozen tensors skip their weight-gradient GEMMs):")
      print("| method | trainable | step ms | vs full | memory |")
      print("|---|---|---|---|---|")
      let c = try ViTConfig.preset("tiny-p4")
      let modes: [(String, (ViTLayout) -> ParameterSelection)] = [
        ("full fine-tune", { .all($0) }),
        ("linear probe", { .tensors($0) { $0.hasPrefix("head.") } }),
        ("BitFit", { .tensors($0) { $0.hasSuffix(".bias") || $0.hasPrefix("head.") } }),
        ("FT-LN", { .tensors($0) { $0.contains("norm") || $0.hasPrefix("head.") } }),
      ]
      var fullStep = 0.0
      for (name, sel) in modes {
        let r = try measure(c, selection: sel)
        if fullStep == 0 { fullStep = r.step }
        print(
          String(
            format: "| %@ | %d | %.1f | %.2f× | %.1f MiB |", name, r.trainable, r.step * 1e3,
            r.step / fullStep, Double(r.memory.total) / 1_048_576))
      }
    }

    /// Matmul FLOPs of one training step per image: forward, plus for every
    /// layer the input gradient and the weight gradient (the patch embedding
    /// has no input gradient: images are not trained).
    func trainingFlops(_ c: ViTConfig) -> Double {
      let patch = 2 * Double(c.numPatches) * Double(c.patchDim) * Double(c.width)
      return 3 * c.forwardFlopsPerImage - patch
    }

    struct Row { var step: Double; var forward: Double; var trainable: Int; var memory: MemoryReport }

    func measure(_ c: ViTConfig, selection: (ViTLayout) -> ParameterSelection) throws -> Row {
      let model = try ViT(config: c, seed: 0)
      let sel = selection(model.layout)
      let trainer = Trainer(
        model: model, selection: sel,
        config: TrainConfig(
          optimizer: .sgd(momentum: 0.9, weightDecay: 0),
          schedule: CosineSchedule(baseLR: 1e-4, totalSteps: 1_000_000), batchSize: batch))
      var rng = Xoshiro256(seed: 1)
      let images = (0..<(batch * c.channels * c.imageSize * c.imageSize)).map { _ in Float(rng.normal()) }
      let labels = (0..<batch).map { Int32($0 % c.numClasses) }
      for _ in 0..<2 { try trainer.step(images: images, labels: labels) }
      var n = 0
      let start = Date()
      while Date().timeIntervalSince(start) < seconds || n < 3 {
        try trainer.step(images: images, labels: labels)
        n += 1
      }
      let step = Date().timeIntervalSince(start) / Double(n)
      var fn = 0
      let fstart = Date()
      while Date().timeIntervalSince(fstart) < seconds / 3 || fn < 3 {
        images.withUnsafeBufferPointer { model.forward(images: $0.baseAddress!, acts: trainer.acts) }
        fn += 1
      }
      let fwd = Date().timeIntervalSince(fstart) / Double(fn)
      return Row(step: step, forward: fwd, trainable: sel.trainableCount(model.layout), memory: trainer.memory)
    }

    func measureSgemm(threads: Int) -> (best: Double, openblas: Double, split: Double) {
      let n = 1024
      var rng = Xoshiro256(seed: 2)
      let a = (0..<(n * n)).map { _ in Float(rng.normal()) }
      let b = (0..<(n * n)).map { _ in Float(rng.normal()) }
      var cbuf = [Float](repeating: 0, count: n * n)
      func time(_ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<5 {
          let s = Date()
          body()
          best = min(best, Date().timeIntervalSince(s))
        }
        return 2 * Double(n * n * n) / best / 1e9
      }
      openblas_set_num_threads(Int32(threads))
      let ob = time {
        cblas_sgemm(
          CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b,
          Int32(n), 0, &cbuf, Int32(n))
      }
      openblas_set_num_threads(1)
      let split = time {
        BLAS.parallelGemm(
          transA: false, transB: false, M: n, N: n, K: n, alpha: 1, A: a, lda: n, B: b, ldb: n,
          beta: 0, C: &cbuf, ldc: n)
      }
      return (max(ob, split), ob, split)
    }
  }
}

//===--- BenchInfer.swift - `peftlab bench infer` ---------------------------===//
//
// Batch inference throughput: the engine's ViT forward with no activation kept
// (one block's buffers, `Activations(keepFrom: depth)`, as the studies evaluate
// models), random weights, best of `--iterations`; with `--pytorch`,
// scripts/bench_infer_pytorch.py runs the same shape (timm, or torch.nn with
// scaled_dot_product_attention) under torch.inference_mode with the same batch
// and threads, and the table shows both and their ratio, measured in one run.
//===----------------------------------------------------------------------===//
import ArgumentParser
import Foundation
import Kernels
import Model
import Storage

extension BenchCommand {
  struct InferBench: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "infer", abstract: "Batch inference images/s (no activation kept), beside PyTorch's CPU inference.")
    @Option(help: "Architecture preset.") var preset = "vit-b16"
    @Option(help: "Batch size.") var batch = 16
    @Option(help: "Timed forward passes (the best counts), after one warm-up.") var iterations = 3
    @Flag(help: "Also run scripts/bench_infer_pytorch.py (needs torch; timm if present).") var pytorch = false
    @OptionGroup var threads: ThreadOptions

    func run() throws {
      threads.apply()
      let c = try ViTConfig.preset(preset)
      let model = try ViT(config: c, seed: 1)
      let acts = Activations(config: c, batch: batch, keepFrom: c.depth)
      var rng = Xoshiro256(seed: 2)
      let imgs = (0..<(batch * c.channels * c.imageSize * c.imageSize)).map { _ in Float(rng.normal()) }
      func pass() -> Double {
        let s = Date()
        imgs.withUnsafeBufferPointer { model.forward(images: $0.baseAddress!, acts: acts) }
        return Date().timeIntervalSince(s)
      }
      _ = pass()
      let best = (0..<max(1, iterations)).map { _ in pass() }.min()!
      let ours = Double(batch) / best
      print(
        "peftlab bench infer — \(preset) (\(c.imageSize) px, \(c.tokens) tokens), batch \(batch), "
          + "threads \(Parallel.threads), "
          + "best of \(iterations); activations held: \(acts.forwardBytes / 1_048_576) MiB")
      print("| engine | images/s | ms per batch | ours / PyTorch |")
      print("|---|---|---|---|")
      print(String(format: "| peftlab | %.1f | %.1f | – |", ours, 1000 * best))
      guard pytorch else { return }
      let argv = [
        "python3", "scripts/bench_infer_pytorch.py",
        "--image-size", "\(c.imageSize)", "--patch", "\(c.patchSize)",
        "--width", "\(c.width)", "--depth", "\(c.depth)", "--heads", "\(c.heads)", "--mlp", "\(c.mlpDim)",
        "--classes", "\(c.numClasses)", "--batch", "\(batch)", "--threads", "\(Parallel.threads)",
        "--iterations", "\(iterations)",
      ]
      let p = Process()
      p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      p.arguments = argv
      let pipe = Pipe()
      p.standardOutput = pipe
      p.standardError = pipe
      try p.run()
      let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      p.waitUntilExit()
      guard p.terminationStatus == 0, let line = out.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
        let j = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let theirs = j["images_per_s"] as? Double
      else {
        print("PyTorch: not measured (\(out.split(separator: "\n").last ?? "python3 failed"))")
        return
      }
      print(
        String(
          format: "| PyTorch %@ (%@) | %.1f | %.1f | %.2f× |",
          j["torch"] as? String ?? "?", j["impl"] as? String ?? "?",
          theirs, 1000 * Double(batch) / theirs, ours / theirs))
    }
  }
}

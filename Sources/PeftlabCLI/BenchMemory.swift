//===--- BenchMemory.swift - `peftlab bench memory` ------------------------===//
//
// Training memory per method, measured: each (preset, method) runs two SGD
// steps at batch 64 in its own process (`--one`), which reports the engine's
// tracked bytes (parameters, gradients, optimizer state, kept activations and
// scratch — `Trainer.memory`), the shape model's bytes (`MemoryModel`) and the
// process's peak RSS (getrusage) minus its RSS before the model existed. With
// `--pytorch`, scripts/bench_memory_pytorch.py runs the same configurations
// with timm and reports its own RSS delta, measured the same way.
//===----------------------------------------------------------------------===//
import ArgumentParser
import Foundation
import Kernels
import Model
import PEFT
import Training
import Storage

extension BenchCommand {
  struct MemoryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "memory",
      abstract: "Training memory per method: tracked bytes, the shape model and peak RSS (and PyTorch's).")
    @Option(help: "Presets, comma-separated.") var presets = "tiny-p4,tiny-p8"
    @Option(help: "Methods, comma-separated.") var methods = "full,linear-probe,bitfit,lora,adapter,vpt-deep,fpt+"
    @Option(help: "Batch size.") var batch = 64
    @Flag(help: "Also run scripts/bench_memory_pytorch.py (needs torch and timm).") var pytorch = false
    @Option(help: .hidden) var one: String?
    @OptionGroup var threads: ThreadOptions

    func run() throws {
      threads.apply()
      if let one { return try measureOne(one) }
      let ps = presets.split(separator: ",").map(String.init), ms = methods.split(separator: ",").map(String.init)
      let exe = "/proc/\(getpid())/exe"
      print("peftlab bench memory — batch \(batch), SGD (momentum 0.9), 2 steps, each row in its own process")
      print(
        "tracked: the engine's buffers (Trainer.memory); model: MemoryModel from shapes; RSS: peak minus before the "
          + "model"
      )
      var torch: [String: Double] = [:]
      if pytorch {
        let (status, out) = capture([
          "python3", "scripts/bench_memory_pytorch.py", "--presets", presets, "--methods", methods,
          "--batch", String(batch), "--threads", String(Parallel.threads),
        ])
        if status == 0 {
          for line in out.split(separator: "\n") where line.hasPrefix("{") {
            if let j = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let k = j["key"] as? String, let v = j["rss_delta_mib"] as? Double
            {
              torch[k] = v
            }
          }
        } else {
          print("PyTorch: not measured (\(out.split(separator: "\n").last ?? "python3 failed"))")
        }
      }
      print("")
      print(
        "| preset | method | tracked MiB | model MiB | RSS Δ MiB | of full (tracked) | PyTorch RSS Δ MiB | "
          + "FPT+ Table 1 of full |"
      )
      print("|---|---|---|---|---|---|---|---|")
      let paper: [String: Double] = [
        "full": 100, "linear-probe": 14.8, "bitfit": 88.1, "lora": 90.7, "adapter": 83.7,
        "vpt-deep": 89.0, "fpt+": 3.18,
      ]
      for p in ps {
        var full = Double.nan
        for m in ms {
          let (status, out) = capture([
            exe, "bench", "memory", "--one", "\(p):\(m)", "--batch", String(batch),
            "--threads", String(Parallel.threads),
          ])
          guard status == 0, let line = out.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
            let j = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
          else {
            print("| \(p) | \(m) | failed: \(out.split(separator: "\n").last ?? "") | | | | | |")
            continue
          }
          let tracked = (j["tracked"] as? Double) ?? .nan, model = (j["model"] as? Double) ?? .nan,
            rss = (j["rss_delta"] as? Double) ?? .nan
          if m == "full" { full = tracked }
          let t = torch["\(p):\(m)"].map { String(format: "%.1f", $0) } ?? "–"
          print(
            String(
              format: "| %@ | %@ | %.1f | %.1f | %.1f | %.1f %% | %@ | %@ |", p, m, tracked / 1_048_576,
              model / 1_048_576,
              rss / 1_048_576, 100 * tracked / full, t, paper[m].map { String(format: "%.1f %%", $0) } ?? "–"))
        }
      }
    }

    /// One configuration, in this process: prints one JSON line.
    func measureOne(_ spec: String) throws {
      let parts = spec.split(separator: ":").map(String.init)
      guard parts.count == 2, let method = PEFTMethod(rawValue: parts[1]) else {
        throw ValidationError("--one PRESET:METHOD")
      }
      let before = peakRSS()
      var c = try ViTConfig.preset(parts[0])
      c.numClasses = 5
      c.head = .linear
      let B = batch
      let opt = OptimizerKind.sgd(momentum: 0.9, weightDecay: 0)
      let cfg = TrainConfig(
        optimizer: opt, schedule: CosineSchedule(baseLR: 0.01, warmupSteps: 0, totalSteps: 2), batchSize: B)
      var rng = Xoshiro256(seed: 3)
      let labels = (0..<B).map { Int32($0 % 5) }
      var tracked = 0, model = 0
      if method.isSideTuning {
        var fc = c
        fc.numClasses = 1000
        let plan = try SideTuningPlan(plus: method == .fptPlus, frozen: fc, classes: 5, options: MethodOptions().side)
        let side = try ViT(config: plan.side, seed: 2)
        let fusion = FusionModules(plan: plan, seed: 3)
        let trainer = Trainer(model: side, selection: .all(side.layout), config: cfg, modules: fusion)
        let kv = (0..<(2 * B * plan.kvCount)).map { _ in Float(rng.normal()) * 0.1 }
        let imgs = (0..<(B * plan.side.channels * plan.side.imageSize * plan.side.imageSize)).map { _ in
          Float(rng.normal())
        }
        var m: MemoryReport?
        try kv.withUnsafeBufferPointer { p in
          fusion.keys = p.baseAddress!; fusion.values = p.baseAddress! + B * plan.kvCount
          for _ in 0..<2 { m = try trainer.step(images: imgs, labels: labels).memory }
        }
        tracked = (m?.total ?? 0) + 4 * kv.count  // the preloaded K/V batch is part of the step's memory
        model = MemoryModel.sideTuning(plan: plan, batch: B, optimizer: opt, preload: true).total
      } else {
        let vit = try ViT(config: c, seed: 1)
        var o = MethodOptions()
        o.prompts = 16  // FPT+'s prompt tuning (VPT-deep, 16 prompts), as scripts/bench_memory_pytorch.py
        let s = MethodSetup.make(method, config: c, options: o)
        guard !method.selectsElements else {
          throw ValidationError("\(method.rawValue): selects elements from gradients; not in this bench")
        }
        let trainer = Trainer(
          model: vit, selection: ParameterSelection(tensors: s.tensors), config: cfg, modules: s.modules)
        let imgs = (0..<(B * c.channels * c.imageSize * c.imageSize)).map { _ in Float(rng.normal()) }
        var m: MemoryReport?
        for _ in 0..<2 { m = try trainer.step(images: imgs, labels: labels).memory }
        tracked = m?.total ?? 0
        model =
          MemoryModel.training(
            config: c, batch: B, tensors: s.tensors, elements: nil, modules: s.modules, optimizer: opt
          ).total
      }
      let j: [String: Any] = ["tracked": tracked, "model": model, "rss_delta": peakRSS() - before]
      print(String(decoding: try JSONSerialization.data(withJSONObject: j, options: [.sortedKeys]), as: UTF8.self))
    }

    func peakRSS() -> Int {
      var u = rusage()
      getrusage(Int32(RUSAGE_SELF.rawValue), &u)
      return Int(u.ru_maxrss) * 1024
    }

    func capture(_ argv: [String]) -> (Int32, String) {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: argv[0].hasPrefix("/") ? argv[0] : "/usr/bin/env")
      p.arguments = argv[0].hasPrefix("/") ? Array(argv.dropFirst()) : argv
      let pipe = Pipe()
      p.standardOutput = pipe
      p.standardError = pipe
      guard (try? p.run()) != nil else { return (127, "cannot start \(argv[0])") }
      let out = pipe.fileHandleForReading.readDataToEndOfFile()
      p.waitUntilExit()
      return (p.terminationStatus, String(decoding: out, as: UTF8.self))
    }
  }
}

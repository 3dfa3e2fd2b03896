//===--- BenchKernels.swift - `peftlab bench kernels` ----------------------===//
import ArgumentParser
import Foundation
import Kernels
import Model

extension BenchCommand {
  /// Times every kernel at the shapes of one training step of a preset, so
  /// that the step time can be attributed.
  struct KernelsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "kernels", abstract: "Time each kernel at the shapes of one layer of a preset.")
    @OptionGroup var threads: ThreadOptions
    @Option(help: "Preset whose shapes to use.") var preset = "tiny-p4"
    @Option(help: "Batch size.") var batch = 64

    func run() throws {
      threads.apply()
      let c = try ViTConfig.preset(preset)
      let B = batch, T = c.tokens, D = c.width, F = c.mlpDim, H = c.heads, N = B * T
      func buf(_ n: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
        for i in 0..<n { p[i] = Float((i * 7919) % 1000) / 1000 - 0.5 }
        return p
      }
      let x = buf(N * F), y = buf(N * F), z = buf(N * F), w = buf(F * F), bias = buf(F)
      let qkv = buf(N * 3 * D), probs = buf(B * H * T * T), mean = buf(N), rstd = buf(N)
      let scratch = buf(max(Attention.scratchCount(B: B, T: T, H: H), LayerNorm.scratchCount(N: N, C: F)))
      func time(_ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<7 { let s = Date(); body(); best = min(best, Date().timeIntervalSince(s)) }
        return best * 1e3
      }
      print(
        "peftlab bench kernels — \(preset), batch \(B), threads \(Parallel.threads): one layer's calls, best of 7")
      // warm the worker threads and caches before timing
      for _ in 0..<20 { Linear.forward(out: y, inp: x, weight: w, bias: bias, N: N, C: D, OC: 3 * D) }
      print("| kernel | shape | ms | GFLOP/s | per step (×layers×calls) ms |")
      print("|---|---|---|---|---|")
      let L = Double(c.depth)
      func row(_ name: String, _ shape: String, _ ms: Double, flops: Double? = nil, perStep: Double) {
        let gf = flops.map { String(format: "%.1f", $0 / ms / 1e6) } ?? "–"
        print(String(format: "| %@ | %@ | %.2f | %@ | %.1f |", name, shape, ms, gf, ms * perStep))
      }
      let fl = { (m: Int, n: Int, k: Int) in 2 * Double(m) * Double(n) * Double(k) }
      for (name, C, OC) in [("qkv", D, 3 * D), ("fc1", D, F), ("fc2", F, D)] {
        row(
          "linear fwd \(name)", "\(N)×\(OC)×\(C)",
          time { Linear.forward(out: y, inp: x, weight: w, bias: bias, N: N, C: C, OC: OC) },
          flops: fl(N, OC, C), perStep: L)
      }
      for (name, C, OC) in [("fc1", D, F), ("fc2", F, D)] {
        row(
          "linear bwd \(name) (dx, dW, db)", "\(N)×\(OC)×\(C)",
          time {
            Linear.backward(
              dinp: z, dweight: w, dbias: bias, dout: y, inp: x, weight: w, N: N, C: C, OC: OC, accumulate: false)
          }, flops: 2 * fl(N, OC, C), perStep: L)
      }
      row(
        "attention fwd", "\(B * H)×(\(T)×\(T)×\(D / H))",
        time {
          Attention.forward(out: y, probs: probs, keepProbs: false, qkv: qkv, B: B, T: T, D: D, H: H)
        },
        flops: 2 * fl(B * H * T, T, D / H), perStep: L)
      row(
        "attention bwd (recomputes P)", "\(B * H)×(\(T)×\(T)×\(D / H))",
        time {
          Attention.backward(dqkv: z, dout: y, qkv: qkv, probs: nil, B: B, T: T, D: D, H: H, scratch: scratch)
        },
        flops: 5 * fl(B * H * T, T, D / H), perStep: L)
      row(
        "layernorm fwd", "\(N)×\(D)",
        time {
          LayerNorm.forward(out: y, mean: mean, rstd: rstd, inp: x, weight: w, bias: bias, N: N, C: D, eps: 1e-6)
        },
        perStep: 2 * L)
      row(
        "layernorm bwd", "\(N)×\(D)",
        time {
          LayerNorm.backward(
            dinp: z, dweight: w, dbias: bias, dout: y, inp: x, weight: w, mean: mean, rstd: rstd,
            N: N, C: D, scratch: scratch)
        }, perStep: 2 * L)
      row("gelu fwd", "\(N)×\(F)", time { Activation.forward(.gelu, out: y, inp: x, n: N * F) }, perStep: L)
      row("gelu bwd", "\(N)×\(F)", time { Activation.backward(.gelu, dinp: z, inp: x, dout: y, n: N * F) }, perStep: L)
      row("residual fwd", "\(N)×\(D)", time { Residual.forward(out: y, a: x, b: z, n: N * D) }, perStep: 2 * L)
      row("memset dqkv", "\(N)×\(3 * D)", time { z.update(repeating: 0, count: N * 3 * D) }, perStep: L)
    }
  }
}

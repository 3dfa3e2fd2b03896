//===--- AdaLoRA.swift - adaptive rank allocation (Zhang et al., ICLR 2023) --===//
//
// huggingface/peft `tuners/adalora/{layer,model}.py` (`RankAllocator`):
//   per entry of A, E, B:  I = |p · ∂L/∂p|;  Ī ← β₁Ī + (1−β₁)I;
//                          Ū ← β₂Ū + (1−β₂)|I − Ī|;  s = Ī · Ū
//   triplet score of rank i: s(E_i) + mean_j s(A_ij) + mean_j s(B_ji)
//   budget(t) = b₀ (t ≤ t_init); b_T (t > T − t_final); otherwise
//     b_T + (b₀ − b_T)(1 − (t − t_init)/(T − t_final − t_init))³, masking every Δt
//   masking zeroes E_i of the triplets scoring ≤ the (b₀ − budget)-th smallest;
//   after T − t_final the final rank pattern is re-applied every step.
// Orthogonal regulariser (added to the gradients, as peft adds it to the loss):
//   R = w · mean over A, B of ‖AAᵀ − I‖_F (‖BᵀB − I‖_F);
//   ∂‖AAᵀ−I‖/∂A = 2(AAᵀ−I)A/‖·‖,  ∂‖BᵀB−I‖/∂B = 2B(BᵀB−I)/‖·‖.
//===----------------------------------------------------------------------===//
import Foundation
import Kernels
import Model

public struct AdaLoRASchedule: Sendable, Equatable {
  public var initRank = 12, targetRank = 8
  public var tInit = 0, tFinal = 0, deltaT = 1
  public var beta1: Float = 0.85, beta2: Float = 0.85
  public var orthReg: Float = 0.5
  public var totalSteps: Int

  public init(totalSteps: Int) { self.totalSteps = totalSteps }

  /// (budget in ranks summed over matrices, whether to mask at `step`).
  public func budget(step t: Int, matrices n: Int) -> (Int, Bool) {
    let b0 = initRank * n, bT = targetRank * n
    if t <= tInit { return (b0, false) }
    if t > totalSteps - tFinal { return (bT, true) }
    let mul = 1 - Double(t - tInit) / Double(totalSteps - tFinal - tInit)
    return (Int(Double(b0 - bT) * mul * mul * mul) + bT, t % deltaT == 0)
  }
}

public final class RankAllocator {
  public let schedule: AdaLoRASchedule
  var ema: [Float], unc: [Float]
  public private(set) var finalPattern: [[Bool]]?
  /// Total kept ranks after the last masking (for reports).
  public private(set) var keptRanks: Int

  init(schedule: AdaLoRASchedule, parameters n: Int, ranks: Int) {
    self.schedule = schedule
    ema = Array(repeating: 0, count: n)
    unc = Array(repeating: 0, count: n)
    keptRanks = ranks
  }

  func updateImportance(_ s: ModuleStore) {
    let p = s.values.pointer, g = s.grads.pointer
    let b1 = schedule.beta1, b2 = schedule.beta2
    for j in 0..<s.count {
      let ipt = abs(p[j] * g[j])
      ema[j] = b1 * ema[j] + (1 - b1) * ipt
      unc[j] = b2 * unc[j] + (1 - b2) * abs(ipt - ema[j])
    }
  }

  func tripletScores(_ m: LowRankModules) -> [[Float]] {
    let s = m.store
    return m.adapters.map { ad in
      let a = s.tensors[ad.a].offset, e = s.tensors[ad.e!].offset, b = s.tensors[ad.b].offset
      let r = ad.rank
      return (0..<r).map { i in
        var sa: Float = 0, sb: Float = 0
        for j in 0..<ad.inp { let k = a + i * ad.inp + j; sa += ema[k] * unc[k] }
        for o in 0..<ad.out { let k = b + o * r + i; sb += ema[k] * unc[k] }
        return ema[e + i] * unc[e + i] + sa / Float(ad.inp) + sb / Float(ad.out)
      }
    }
  }

  /// Zeroes the singular values outside the budget; returns the rank pattern.
  func mask(_ m: LowRankModules, budget: Int) -> [[Bool]] {
    let scores = tripletScores(m)
    let all = scores.flatMap { $0 }.sorted()
    let k = all.count - budget
    let threshold = k > 0 ? all[k - 1] : -Float.infinity
    return apply(m, scores.map { $0.map { $0 > threshold } })
  }

  @discardableResult
  func apply(_ m: LowRankModules, _ pattern: [[Bool]]) -> [[Bool]] {
    for (i, ad) in m.adapters.enumerated() {
      let e = m.store.p(ad.e!)
      for j in 0..<ad.rank where !pattern[i][j] { e[j] = 0 }
    }
    m.keep = pattern
    keptRanks = pattern.reduce(0) { $0 + $1.filter { $0 }.count }
    return pattern
  }

  /// peft's `update_and_allocate(global_step)`, after the optimizer step.
  func allocate(_ m: LowRankModules, step t: Int) {
    let T = schedule.totalSteps, tf = schedule.tFinal
    if t < T - tf {
      updateImportance(m.store)
      let (b, doMask) = schedule.budget(step: t, matrices: m.adapters.count)
      if doMask { _ = mask(m, budget: b) }
    } else if t == T - tf || finalPattern == nil {
      updateImportance(m.store)
      finalPattern = mask(m, budget: schedule.targetRank * m.adapters.count)
    } else {
      apply(m, finalPattern!)
    }
  }

  /// Adds ∂(w · mean ‖·‖_F)/∂A, ∂B to the gradients; returns R.
  @discardableResult
  func addOrthogonalRegulariser(_ m: LowRankModules) -> Double {
    guard schedule.orthReg > 0 else { return 0 }
    let s = m.store
    let n = Float(2 * m.adapters.count)
    var total = 0.0
    for ad in m.adapters {
      for (t, isA) in [(ad.a, true), (ad.b, false)] {
        let r = ad.rank, len = isA ? ad.inp : ad.out
        let p = s.p(t), g = s.g(t)
        // M = AAᵀ − I with A (r, len) rows, or BᵀB − I with B (len, r).
        var M = [Float](repeating: 0, count: r * r)
        M.withUnsafeMutableBufferPointer { mp in
          BLAS.gemm(
            transA: !isA, transB: isA, M: r, N: r, K: len, alpha: 1,
            A: p, lda: isA ? len : r, B: p, ldb: isA ? len : r, beta: 0, C: mp.baseAddress!, ldc: r)
        }
        for i in 0..<r { M[i * r + i] -= 1 }
        let norm = (M.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
        total += norm
        guard norm > 0 else { continue }
        let c = schedule.orthReg / n * 2 / Float(norm)
        M.withUnsafeBufferPointer { mp in
          if isA {  // dA += c · M A   (r, len)
            BLAS.gemm(
              transA: false, transB: false, M: r, N: len, K: r, alpha: c,
              A: mp.baseAddress!, lda: r, B: p, ldb: len, beta: 1, C: g, ldc: len)
          } else {  // dB += c · B M   (len, r)
            BLAS.gemm(
              transA: false, transB: false, M: len, N: r, K: r, alpha: c,
              A: p, lda: r, B: mp.baseAddress!, ldb: r, beta: 1, C: g, ldc: r)
          }
        }
      }
    }
    return Double(schedule.orthReg) * total / Double(n)
  }
}

extension LowRankModules {
  /// R = w · mean ‖AAᵀ − I‖_F / ‖BᵀB − I‖_F (no gradient), for tests and logs.
  public func orthogonalPenalty() -> Double {
    guard let a = allocator else { return 0 }
    let saved = store.grads.array()
    let r = a.addOrthogonalRegulariser(self)
    saved.withUnsafeBufferPointer { store.grads.pointer.update(from: $0.baseAddress!, count: saved.count) }
    return r
  }

  /// AdaLoRA on `targets` with `schedule.initRank` ranks each (SVD form, α/r_init scaling).
  public static func adalora(
    config c: ViTConfig, targets: [(Int, LinearTarget)], alpha: Double, schedule: AdaLoRASchedule, seed: UInt64
  ) -> LowRankModules {
    let m = LowRankModules(
      config: c, targets: targets.map { ($0.0, $0.1, schedule.initRank) }, alpha: alpha, svd: true, seed: seed)
    m.allocator = RankAllocator(schedule: schedule, parameters: m.store.count, ranks: schedule.initRank * targets.count)
    return m
  }
}

//===--- Verdict.swift - a paper's claim tested on stage outputs ------------===//
//
// A claim "A beats B" is tested over tasks: per task the difference of the
// seed means, d_t = A_t − B_t (seeds of one task share a test set, so they
// are not independent replicates; the task is the unit). Effect = mean d_t;
// 95 % interval: percentile bootstrap over tasks (10,000 resamples, fixed
// seed); p: exact two-sided sign-flip test over tasks. Outcome:
//   reproduced      the interval lies above 0 (for "beats every other": every
//                   comparison's Bonferroni-level interval; Holm p reported);
//   not reproduced  the interval lies below 0 (for "beats every other": any);
//   inconclusive    the interval straddles 0, fewer than 3 tasks, or the runs
//                   did not learn (full FT not above the linear probe);
//   not run         a method of the claim has no results.
//===----------------------------------------------------------------------===//
import Foundation

public enum Outcome: String, Sendable, Equatable {
  case reproduced
  case notReproduced = "not reproduced"
  case inconclusive
  case notRun = "not run"
}

/// One paired comparison over tasks.
public struct PairedComparison: Sendable, Equatable {
  public var a: String, b: String
  public var tasks: Int
  public var effect: Double, lower: Double, upper: Double
  public var p: Double

  /// "+2.1 [−0.4, +4.6], p = 0.19, 6 tasks"
  public var summary: String {
    String(format: "%+.1f [%+.1f, %+.1f], p = %.2g, %d tasks", effect, lower, upper, p, tasks)
  }
}

public struct Verdict: Sendable, Equatable {
  public var outcome: Outcome
  /// The numbers behind the outcome and why it is what it is, for the verdict page.
  public var evidence: String
  /// The test used.
  public var test: String = ""
}

public enum Verdicts {
  /// Fewer tasks than this cannot give a verdict (a sign-flip test on 2 tasks has p ≥ 0.5).
  public static let minimumTasks = 3

  /// The paired comparison of `a` and `b` over the tasks both have (nil if none).
  public static func compare(_ aName: String, _ a: [String: Double], _ bName: String, _ b: [String: Double],
                             level: Double = 0.95) -> PairedComparison? {
    let tasks = a.keys.filter { b[$0] != nil && a[$0]!.isFinite && b[$0]!.isFinite }.sorted()
    guard !tasks.isEmpty else { return nil }
    let d = tasks.map { a[$0]! - b[$0]! }
    let (lo, hi) = bootstrapInterval(d, level: level)
    return PairedComparison(a: aName, b: bName, tasks: d.count, effect: d.reduce(0, +) / Double(d.count), lower: lo, upper: hi,
                            p: signFlipP(d))
  }

  /// Percentile bootstrap interval of the mean at `level` (deterministic).
  static func bootstrapInterval(_ d: [Double], level: Double = 0.95, resamples: Int = 10_000) -> (Double, Double) {
    guard d.count > 1 else { return (d.first ?? .nan, d.first ?? .nan) }
    var state: UInt64 = 0x5EED_2024
    func next() -> UInt64 {  // SplitMix64
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    var means: [Double] = []
    means.reserveCapacity(resamples)
    for _ in 0..<resamples {
      var s = 0.0
      for _ in 0..<d.count { s += d[Int(next() % UInt64(d.count))] }
      means.append(s / Double(d.count))
    }
    means.sort()
    let tail = (1 - level) / 2
    return (means[min(resamples - 1, Int(tail * Double(resamples)))], means[max(0, Int((1 - tail) * Double(resamples)) - 1)])
  }

  /// Exact two-sided sign-flip p of the mean of `d` (random flips beyond 16 values).
  static func signFlipP(_ d: [Double]) -> Double {
    let n = d.count, obs = abs(d.reduce(0, +))
    guard n > 0 else { return 1 }
    if n <= 16 {
      var hits = 0
      for mask in 0..<(1 << n) {
        var s = 0.0
        for i in 0..<n { s += (mask >> i) & 1 == 1 ? -d[i] : d[i] }
        if abs(s) >= obs - 1e-9 { hits += 1 }
      }
      return Double(hits) / Double(1 << n)
    }
    var state: UInt64 = 12345, hits = 0
    for _ in 0..<20_000 {
      var s = 0.0
      for i in 0..<n {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        s += (state >> 33) & 1 == 1 ? -d[i] : d[i]
      }
      if abs(s) >= obs - 1e-9 { hits += 1 }
    }
    return Double(hits + 1) / 20_001
  }

  /// Whether the runs learned at all: full fine-tuning above the linear probe (over tasks, interval
  /// above 0). nil when either is missing (then nothing is known about learning).
  public static func learned(_ scores: [String: [String: Double]]) -> Bool? {
    guard let full = scores["full"], let lp = scores["linear-probe"], let c = compare("full", full, "linear-probe", lp) else { return nil }
    return c.effect > 0
  }

  /// "`a` beats `b`".
  public static func beats(_ a: String, _ b: String, in scores: [String: [String: Double]], needsLearning: Bool = true) -> Verdict {
    guard let sa = scores[a], !sa.isEmpty else { return Verdict(outcome: .notRun, evidence: "\(a) has no results") }
    guard let sb = scores[b], !sb.isEmpty else { return Verdict(outcome: .notRun, evidence: "\(b) has no results") }
    guard let c = compare(a, sa, b, sb) else { return Verdict(outcome: .notRun, evidence: "no task has both \(a) and \(b)") }
    let ev = "\(a) − \(b): \(c.summary) (bootstrap over tasks, sign-flip test)"
    let test = "paired over tasks: bootstrap 95 % CI, sign-flip p"
    if c.tasks < minimumTasks { return Verdict(outcome: .inconclusive, evidence: ev + "; fewer than \(minimumTasks) tasks", test: test) }
    if needsLearning, learned(scores) == false {
      return Verdict(outcome: .inconclusive, evidence: ev + "; the runs did not learn (full FT not above the linear probe)", test: test)
    }
    if c.lower > 0 { return Verdict(outcome: .reproduced, evidence: ev, test: test) }
    if c.upper < 0 { return Verdict(outcome: .notReproduced, evidence: ev, test: test) }
    return Verdict(outcome: .inconclusive, evidence: ev + "; the interval contains 0", test: test)
  }

  /// "`a` beats every one of `others`" (those with results; Holm-corrected).
  public static func beatsAll(_ a: String, _ others: [String], in scores: [String: [String: Double]]) -> Verdict {
    guard let sa = scores[a], !sa.isEmpty else { return Verdict(outcome: .notRun, evidence: "\(a) has no results") }
    let present = others.filter { scores[$0].map { !$0.isEmpty } ?? false }
    let missing = others.filter { !present.contains($0) }
    guard !present.isEmpty else { return Verdict(outcome: .notRun, evidence: "none of \(others.joined(separator: ", ")) has results") }
    // Bonferroni-level intervals decide (the exact sign-flip p over 6 tasks cannot go below 1/32, so
    // a p-gated "beats all 11" could never pass); Holm-adjusted p are reported beside them.
    let level = 1 - 0.05 / Double(present.count)
    let cs = present.compactMap { compare(a, sa, $0, scores[$0]!, level: level) }
    guard cs.count == present.count else { return Verdict(outcome: .notRun, evidence: "no shared tasks") }
    // Holm: sort p ascending, adjusted p_i = max over j ≤ i of (m − j) p_j
    let m = cs.count
    var adjusted: [String: Double] = [:], running = 0.0
    for (j, c) in cs.sorted(by: { $0.p < $1.p }).enumerated() {
      running = max(running, min(1, Double(m - j) * c.p))
      adjusted[c.b] = running
    }
    let worst = cs.min { $0.effect < $1.effect }!
    var ev = "closest: \(a) − \(worst.b): \(worst.summary) (\(String(format: "%.1f", 100 * level)) % CI); "
      + "Holm-adjusted p over \(m) comparisons: max \(String(format: "%.2g", adjusted.values.max() ?? 1))"
    if !missing.isEmpty { ev += "; not run: \(missing.joined(separator: ", "))" }
    let test = "paired over tasks vs each: Bonferroni bootstrap CI, sign-flip p (Holm)"
    if cs.contains(where: { $0.tasks < minimumTasks }) {
      return Verdict(outcome: .inconclusive, evidence: ev + "; fewer than \(minimumTasks) tasks", test: test)
    }
    if learned(scores) == false {
      return Verdict(outcome: .inconclusive, evidence: ev + "; the runs did not learn (full FT not above the linear probe)", test: test)
    }
    if let loser = cs.first(where: { $0.upper < 0 }) {
      return Verdict(outcome: .notReproduced, evidence: ev + "; \(loser.b) is better: \(loser.summary)", test: test)
    }
    if cs.allSatisfy({ $0.lower > 0 }) { return Verdict(outcome: .reproduced, evidence: ev, test: test) }
    return Verdict(outcome: .inconclusive, evidence: ev + "; not every interval lies above 0", test: test)
  }

  /// A computed number against the paper's, within a relative tolerance.
  public static func matches(_ ours: Double, paper: Double, tolerance: Double, what: String) -> Verdict {
    guard ours.isFinite, paper.isFinite, paper != 0 else { return Verdict(outcome: .notRun, evidence: "\(what): not computed") }
    let rel = abs(ours - paper) / abs(paper)
    let ev = String(format: "%@: %.3g vs paper %.3g (%.1f %% apart; tolerance %.0f %%)", what, ours, paper, 100 * rel, 100 * tolerance)
    return Verdict(outcome: rel <= tolerance ? .reproduced : .notReproduced, evidence: ev,
                   test: String(format: "within ±%.0f %% of the paper", 100 * tolerance))
  }
}

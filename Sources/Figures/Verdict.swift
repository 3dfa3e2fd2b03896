//===--- Verdict.swift - a paper's claim tested on stage outputs ------------===//
//
// A claim "A beats B" is tested over tasks: per task the difference of the
// seed means, d_t = A_t − B_t (seeds of one task share a test set, so they
// are not independent replicates; the task is the unit). Effect = mean d_t;
// interval: Student t over tasks (mean ± t_{n−1} · sd/√n; a percentile
// bootstrap is far too narrow with 3–6 tasks); p: the paired t-test's, and
// the exact sign-flip p beside it. Outcome:
//   reproduced      the 95 % interval lies above 0 (for "beats every other":
//                   every comparison's Bonferroni-level interval; Holm p shown);
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
  /// Two-sided paired t-test p over tasks.
  public var p: Double
  /// Exact two-sided sign-flip p over tasks (no normality assumed).
  public var signFlipP: Double

  /// "+2.1 [−0.4, +4.6], t-test p = 0.19, sign-flip p = 0.25, 6 tasks"
  public var summary: String {
    String(
      format: "%+.1f [%+.1f, %+.1f], p = %.2g (sign-flip %.2g), %d tasks", effect, lower, upper, p, signFlipP, tasks)
  }
}

public struct Verdict: Sendable, Equatable {
  public var outcome: Outcome
  /// The numbers behind the outcome and why it is what it is, for the verdict page.
  public var evidence: String
  /// The test used.
  public var test: String = ""
  public init(outcome: Outcome, evidence: String, test: String = "") {
    self.outcome = outcome
    self.evidence = evidence
    self.test = test
  }
}

public enum Verdicts {
  /// Fewer tasks than this cannot give a verdict (a sign-flip test on 2 tasks has p ≥ 0.5).
  public static let minimumTasks = 3

  /// The paired comparison of `a` and `b` over the tasks both have (nil if none).
  public static func compare(
    _ aName: String, _ a: [String: Double], _ bName: String, _ b: [String: Double],
    level: Double = 0.95
  ) -> PairedComparison? {
    let tasks = a.keys.filter { b[$0] != nil && a[$0]!.isFinite && b[$0]!.isFinite }.sorted()
    guard !tasks.isEmpty else { return nil }
    let d = tasks.map { a[$0]! - b[$0]! }
    let n = Double(d.count), mean = d.reduce(0, +) / n
    guard d.count > 1 else {
      return PairedComparison(
        a: aName, b: bName, tasks: 1, effect: mean, lower: -.infinity, upper: .infinity, p: 1, signFlipP: 1)
    }
    let sd = (d.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)).squareRoot(), se = sd / n.squareRoot()
    let df = n - 1
    let half = StudentT.quantile(1 - (1 - level) / 2, df: df) * se
    let p = se > 0 ? 2 * (1 - StudentT.cdf(abs(mean) / se, df: df)) : (mean == 0 ? 1 : 0)
    return PairedComparison(
      a: aName, b: bName, tasks: d.count, effect: mean, lower: mean - half, upper: mean + half,
      p: p, signFlipP: signFlipP(d))
  }

  /// Percentile bootstrap interval of the mean at `level` (deterministic; not used for verdicts: too
  /// narrow with few tasks, kept for comparison).
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
    return (
      means[min(resamples - 1, Int(tail * Double(resamples)))], means[max(0, Int((1 - tail) * Double(resamples)) - 1)]
    )
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
    guard let full = scores["full"], let lp = scores["linear-probe"], let c = compare("full", full, "linear-probe", lp)
    else { return nil }
    return c.effect > 0
  }

  /// "`a` beats `b`".
  public static func beats(
    _ a: String, _ b: String, in scores: [String: [String: Double]], needsLearning: Bool = true
  ) -> Verdict {
    guard let sa = scores[a], !sa.isEmpty else { return Verdict(outcome: .notRun, evidence: "\(a) has no results") }
    guard let sb = scores[b], !sb.isEmpty else { return Verdict(outcome: .notRun, evidence: "\(b) has no results") }
    guard let c = compare(a, sa, b, sb) else {
      return Verdict(outcome: .notRun, evidence: "no task has both \(a) and \(b)")
    }
    let ev = "\(a) − \(b): \(c.summary)"
    let test = "paired t over tasks (seed means): 95 % CI"
    return decide(c, learned: needsLearning ? learned(scores) : nil, evidence: ev, test: test, contains: "0")
  }

  /// The decision the interval tests share: inconclusive with too few tasks or runs that did not learn;
  /// else reproduced when the interval lies above 0, not reproduced below it, inconclusive when it
  /// contains `contains` (what 0 stands for in the test's words).
  static func decide(
    _ c: PairedComparison, learned: Bool?, evidence ev: String, test: String, contains: String
  ) -> Verdict {
    if c.tasks < minimumTasks {
      return Verdict(outcome: .inconclusive, evidence: ev + "; fewer than \(minimumTasks) tasks", test: test)
    }
    if learned == false {
      return Verdict(
        outcome: .inconclusive, evidence: ev + "; the runs did not learn (full FT not above the linear probe)",
        test: test)
    }
    if c.lower > 0 { return Verdict(outcome: .reproduced, evidence: ev, test: test) }
    if c.upper < 0 { return Verdict(outcome: .notReproduced, evidence: ev, test: test) }
    return Verdict(outcome: .inconclusive, evidence: ev + "; the interval contains \(contains)", test: test)
  }

  /// "`a` beats every one of `others`" (those with results; Holm-corrected).
  public static func beatsAll(_ a: String, _ others: [String], in scores: [String: [String: Double]]) -> Verdict {
    guard let sa = scores[a], !sa.isEmpty else { return Verdict(outcome: .notRun, evidence: "\(a) has no results") }
    let present = others.filter { scores[$0].map { !$0.isEmpty } ?? false }
    let missing = others.filter { !present.contains($0) }
    guard !present.isEmpty else {
      return Verdict(outcome: .notRun, evidence: "none of \(others.joined(separator: ", ")) has results")
    }
    // Bonferroni-level intervals decide; Holm-adjusted p are reported beside them.
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
    var ev =
      "closest: \(a) − \(worst.b): \(worst.summary) (\(String(format: "%.1f", 100 * level)) % CI); "
      + "Holm-adjusted p over \(m) comparisons: max \(String(format: "%.2g", adjusted.values.max() ?? 1))"
    if !missing.isEmpty { ev += "; not run: \(missing.joined(separator: ", "))" }
    let test = "paired t over tasks vs each: Bonferroni CIs, Holm p"
    if cs.contains(where: { $0.tasks < minimumTasks }) {
      return Verdict(outcome: .inconclusive, evidence: ev + "; fewer than \(minimumTasks) tasks", test: test)
    }
    if learned(scores) == false {
      return Verdict(
        outcome: .inconclusive, evidence: ev + "; the runs did not learn (full FT not above the linear probe)",
        test: test)
    }
    if let loser = cs.first(where: { $0.upper < 0 }) {
      return Verdict(outcome: .notReproduced, evidence: ev + "; \(loser.b) is better: \(loser.summary)", test: test)
    }
    if cs.allSatisfy({ $0.lower > 0 }) { return Verdict(outcome: .reproduced, evidence: ev, test: test) }
    return Verdict(outcome: .inconclusive, evidence: ev + "; not every interval lies above 0", test: test)
  }

  /// "`values` are at least `threshold`" (a per-task quantity, e.g. the share of full fine-tuning's F1
  /// that 10 % of the changes keep): one-sample t over tasks of value − threshold.
  public static func atLeast(_ values: [String: Double], threshold: Double, what: String, learned: Bool?) -> Verdict {
    let v = values.filter { $0.value.isFinite }
    guard !v.isEmpty else { return Verdict(outcome: .notRun, evidence: "\(what): no results") }
    let c = compare(what, v, "threshold", v.mapValues { _ in threshold })!
    let mean = v.values.reduce(0, +) / Double(v.count)
    let ev = String(format: "%@: %.3g; − %.3g: %@", what, mean, threshold, c.summary)
    let test = "one-sample t over tasks (seed means): 95 % CI"
    return decide(c, learned: learned, evidence: ev, test: test, contains: "the threshold")
  }

  /// "every variant performs like `reference`, within ±`margin`" (an equivalence claim, e.g. λ robust):
  /// each variant − reference over tasks at a Bonferroni level. Reproduced when every interval lies
  /// inside ±margin, not reproduced when one lies wholly outside, else inconclusive. Equality proves
  /// nothing when nothing was learned, so unlearned runs are inconclusive.
  public static func equivalent(
    _ reference: String, _ variants: [String], in scores: [String: [String: Double]], margin: Double,
    learned: Bool?
  ) -> Verdict {
    guard let r = scores[reference], !r.isEmpty else {
      return Verdict(outcome: .notRun, evidence: "\(reference) has no results")
    }
    let present = variants.filter { scores[$0].map { !$0.isEmpty } ?? false }
    guard !present.isEmpty else {
      return Verdict(outcome: .notRun, evidence: "none of \(variants.joined(separator: ", ")) has results")
    }
    let level = 1 - 0.05 / Double(present.count)
    let cs = present.compactMap { compare($0, scores[$0]!, reference, r, level: level) }
    guard cs.count == present.count else { return Verdict(outcome: .notRun, evidence: "no shared tasks") }
    let widest = cs.max { max(abs($0.lower), abs($0.upper)) < max(abs($1.lower), abs($1.upper)) }!
    let ev = String(
      format: "widest: %@ − %@: %@ (%.1f %% CI); margin ±%.3g", widest.a, reference, widest.summary,
      100 * level, margin
    )
    let test = "paired t over tasks vs the reference: Bonferroni CIs inside ±margin"
    if cs.contains(where: { $0.tasks < minimumTasks }) {
      return Verdict(outcome: .inconclusive, evidence: ev + "; fewer than \(minimumTasks) tasks", test: test)
    }
    if learned == false {
      return Verdict(
        outcome: .inconclusive, evidence: ev + "; the runs did not learn (full FT not above the linear probe)",
        test: test)
    }
    if let out = cs.first(where: { $0.lower > margin || $0.upper < -margin }) {
      return Verdict(outcome: .notReproduced, evidence: ev + "; \(out.a) differs by more than the margin", test: test)
    }
    if cs.allSatisfy({ $0.lower >= -margin && $0.upper <= margin }) {
      return Verdict(outcome: .reproduced, evidence: ev, test: test)
    }
    return Verdict(outcome: .inconclusive, evidence: ev + "; not every interval lies inside the margin", test: test)
  }

  /// Every part must hold: not run if any is, not reproduced if any is, reproduced if all are.
  public static func all(_ parts: [Verdict]) -> Verdict {
    let ev = parts.map(\.evidence).joined(separator: "; "), test = parts.map(\.test).joined(separator: " + ")
    let o = parts.map(\.outcome)
    let outcome: Outcome =
      o.contains(.notRun)
      ? .notRun
      : o.contains(.notReproduced)
        ? .notReproduced
        : o.allSatisfy { $0 == .reproduced } ? .reproduced : .inconclusive
    return Verdict(outcome: outcome, evidence: ev, test: test)
  }

  /// A computed number against the paper's, within a relative tolerance.
  public static func matches(_ ours: Double, paper: Double, tolerance: Double, what: String) -> Verdict {
    guard ours.isFinite, paper.isFinite, paper != 0 else {
      return Verdict(outcome: .notRun, evidence: "\(what): not computed")
    }
    let rel = abs(ours - paper) / abs(paper)
    let ev = String(
      format: "%@: %.3g vs paper %.3g (%.1f %% apart; tolerance %.0f %%)", what, ours, paper, 100 * rel, 100 * tolerance
    )
    return Verdict(
      outcome: rel <= tolerance ? .reproduced : .notReproduced, evidence: ev,
      test: String(format: "within ±%.0f %% of the paper", 100 * tolerance))
  }
}

/// Student's t distribution (CDF through the regularised incomplete beta function, quantile by bisection).
enum StudentT {
  static func cdf(_ t: Double, df: Double) -> Double {
    let x = df / (df + t * t)
    let tail = 0.5 * incompleteBeta(x, a: df / 2, b: 0.5)
    return t >= 0 ? 1 - tail : tail
  }

  static func quantile(_ p: Double, df: Double) -> Double {
    var lo = -1e4, hi = 1e4
    for _ in 0..<200 {
      let mid = (lo + hi) / 2
      if cdf(mid, df: df) < p { lo = mid } else { hi = mid }
    }
    return (lo + hi) / 2
  }

  /// I_x(a, b) (Numerical Recipes' continued fraction).
  static func incompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
    if x <= 0 { return 0 }
    if x >= 1 { return 1 }
    let lnBeta: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
    let lnPowers: Double = a * log(x) + b * log(1 - x)
    let lnFront = lnBeta + lnPowers
    if x < (a + 1) / (a + b + 2) { return exp(lnFront) * continuedFraction(x, a, b) / a }
    return 1 - exp(lnFront) * continuedFraction(1 - x, b, a) / b
  }

  static func continuedFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
    let tiny = 1e-300
    var c = 1.0, d = 1 - (a + b) * x / (a + 1)
    if abs(d) < tiny { d = tiny }
    d = 1 / d
    var h = d
    for m in 1...300 {
      let m = Double(m), m2 = 2 * m
      var aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
      d = 1 + aa * d; if abs(d) < tiny { d = tiny }
      c = 1 + aa / c; if abs(c) < tiny { c = tiny }
      d = 1 / d; h *= d * c
      aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
      d = 1 + aa * d; if abs(d) < tiny { d = tiny }
      c = 1 + aa / c; if abs(c) < tiny { c = tiny }
      d = 1 / d
      let del = d * c
      h *= del
      if abs(del - 1) < 1e-14 { break }
    }
    return h
  }
}

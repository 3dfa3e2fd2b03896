//===--- VerdictTests.swift - each verdict's five outcomes -----------------===//
import Figures
import XCTest

/// Synthetic stage outputs built to be clearly reproduced, clearly not, borderline, unlearned and
/// missing; the paired test against hand-computed values.
final class VerdictTests: XCTestCase {
  let tasks = ["busi", "chaoyang", "covid", "cxr3", "limuc", "oct"]

  /// Scores per method: `base` per task plus `shift` (a method's offset) plus per-task noise.
  func world(
    _ shifts: [String: Double], noise: [Double] = [0.3, -0.2, 0.1, -0.4, 0.2, 0.0], tasks n: Int = 6
  ) -> [String: [String: Double]] {
    var out: [String: [String: Double]] = [:]
    for (m, s) in shifts {
      var row: [String: Double] = [:]
      for (k, t) in tasks.prefix(n).enumerated() { row[t] = 60 + Double(k) * 3 + s + noise[k] * Double(m.count % 3) }
      out[m] = row
    }
    return out
  }

  func testBeatsHasFiveOutcomes() {
    let learnedBase: [String: Double] = ["full": 10, "linear-probe": 0]
    let clear = world(learnedBase.merging(["sh-peft": 14]) { $1 })
    XCTAssertEqual(Verdicts.beats("sh-peft", "full", in: clear).outcome, .reproduced)
    let clearlyNot = world(learnedBase.merging(["sh-peft": 5]) { $1 })
    XCTAssertEqual(Verdicts.beats("sh-peft", "full", in: clearlyNot).outcome, .notReproduced)
    // borderline: differences of both signs around 0
    var border = world(learnedBase)
    border["sh-peft"] = Dictionary(uniqueKeysWithValues: zip(tasks, [70.5, 62.0, 77.5, 68.0, 82.5, 74.0]))
    border["full"] = Dictionary(uniqueKeysWithValues: zip(tasks, [70.0, 63.0, 76.0, 69.0, 82.0, 75.0]))
    let b = Verdicts.beats("sh-peft", "full", in: border)
    XCTAssertEqual(b.outcome, .inconclusive, b.evidence)
    XCTAssertTrue(b.evidence.contains("contains 0"), b.evidence)
    // unlearned: full FT not above the linear probe
    let unlearned = world(["full": 0, "linear-probe": 1, "sh-peft": 8])
    let u = Verdicts.beats("sh-peft", "full", in: unlearned)
    XCTAssertEqual(u.outcome, .inconclusive)
    XCTAssertTrue(u.evidence.contains("did not learn"), u.evidence)
    // missing
    XCTAssertEqual(Verdicts.beats("sh-peft", "full", in: world(learnedBase)).outcome, .notRun)
    // too few tasks
    let two = world(learnedBase.merging(["sh-peft": 14]) { $1 }, tasks: 2)
    XCTAssertEqual(Verdicts.beats("sh-peft", "full", in: two).outcome, .inconclusive)
  }

  func testBeatsAllUsesEveryCompetitorWithHolm() {
    let base: [String: Double] = ["full": 10, "linear-probe": 0, "bitfit": 6, "lora": 7]
    XCTAssertEqual(
      Verdicts.beatsAll("sh-peft", ["bitfit", "lora", "linear-probe"], in: world(base.merging(["sh-peft": 15]) { $1 }))
        .outcome,
      .reproduced)
    let lost = Verdicts.beatsAll("sh-peft", ["bitfit", "lora"], in: world(base.merging(["sh-peft": 4]) { $1 }))
    XCTAssertEqual(lost.outcome, .notReproduced)
    XCTAssertTrue(lost.evidence.contains("is better"), lost.evidence)
    // beats one clearly, ties another: inconclusive
    var tie = world(base.merging(["sh-peft": 7]) { $1 })
    tie["sh-peft"] = tie["lora"]!.mapValues { $0 + 0.01 }
    tie["sh-peft"]!["busi"]! -= 0.5
    XCTAssertEqual(Verdicts.beatsAll("sh-peft", ["bitfit", "lora"], in: tie).outcome, .inconclusive)
    // a competitor that did not run is named, the rest decide
    let v = Verdicts.beatsAll("sh-peft", ["bitfit", "ft-att"], in: world(base.merging(["sh-peft": 15]) { $1 }))
    XCTAssertTrue(v.evidence.contains("not run: ft-att"), v.evidence)
    XCTAssertEqual(
      Verdicts.beatsAll("sh-peft", ["ft-att"], in: world(base.merging(["sh-peft": 15]) { $1 })).outcome, .notRun)
  }

  func testPairedComparisonAgainstHandComputedValues() throws {
    let a = ["t1": 3.0, "t2": 5.0, "t3": 4.0], b = ["t1": 1.0, "t2": 2.0, "t3": 4.0]
    let c = try XCTUnwrap(Verdicts.compare("a", a, "b", b))
    XCTAssertEqual(c.effect, 5.0 / 3, accuracy: 1e-12)  // differences 2, 3, 0
    XCTAssertEqual(c.tasks, 3)
    // sign flips of (2, 3, 0): |sum| ≥ 5 for (+,+,±) and (−,−,±): 4 of 8
    XCTAssertEqual(c.signFlipP, 0.5, accuracy: 1e-12)
    // sd = √(7/3), se = sd/√3, t = 1.8898 on 2 df: two-sided p = 1 − t/√(t² + 2) = 0.1994;
    // t_0.975,2 = 4.3027: 5/3 ± 3.7947
    XCTAssertEqual(c.p, 0.19936, accuracy: 1e-4)
    XCTAssertEqual(c.lower, 5.0 / 3 - 3.79466, accuracy: 1e-3)
    XCTAssertEqual(c.upper, 5.0 / 3 + 3.79466, accuracy: 1e-3)
  }

  func testMatchesWithinTolerance() {
    XCTAssertEqual(Verdicts.matches(1.030, paper: 1.03, tolerance: 0.05, what: "x").outcome, .reproduced)
    XCTAssertEqual(Verdicts.matches(1.2, paper: 1.03, tolerance: 0.05, what: "x").outcome, .notReproduced)
    XCTAssertEqual(Verdicts.matches(.nan, paper: 1.03, tolerance: 0.05, what: "x").outcome, .notRun)
  }

  func row(_ v: [Double]) -> [String: Double] { Dictionary(uniqueKeysWithValues: zip(tasks, v)) }

  /// (a): "10 % of the changes keep ≥ 95 % of full FT's F1", over tasks.
  func testAtLeastHasFiveOutcomes() {
    XCTAssertEqual(
      Verdicts.atLeast(row([0.99, 0.98, 1.0, 0.97, 0.99, 0.98]), threshold: 0.95, what: "kept", learned: true).outcome,
      .reproduced)
    XCTAssertEqual(
      Verdicts.atLeast(row([0.70, 0.65, 0.72, 0.60, 0.68, 0.66]), threshold: 0.95, what: "kept", learned: true).outcome,
      .notReproduced)
    let border = Verdicts.atLeast(
      row([0.99, 0.90, 0.97, 0.92, 0.96, 0.94]), threshold: 0.95, what: "kept", learned: true)
    XCTAssertEqual(border.outcome, .inconclusive, border.evidence)
    XCTAssertTrue(border.evidence.contains("contains the threshold"), border.evidence)
    let unlearned = Verdicts.atLeast(
      row([0.99, 0.98, 1.0, 0.97, 0.99, 0.98]), threshold: 0.95, what: "kept", learned: false)
    XCTAssertEqual(unlearned.outcome, .inconclusive)
    XCTAssertTrue(unlearned.evidence.contains("did not learn"))
    XCTAssertEqual(Verdicts.atLeast([:], threshold: 0.95, what: "kept", learned: true).outcome, .notRun)
    XCTAssertEqual(
      Verdicts.atLeast(["busi": 1, "oct": 1], threshold: 0.95, what: "kept", learned: true).outcome, .inconclusive,
      "2 tasks")
    // hand-computed: d = value − 0.95 = [0.04, 0.03, 0.05, 0.02, 0.04, 0.03]: mean 0.035, sd 0.010488, se 0.0042817,
    // t_{5, 0.975} = 2.570582 -> CI 0.035 ± 0.011006
    let c = Verdicts.compare(
      "kept", row([0.99, 0.98, 1.0, 0.97, 0.99, 0.98]), "t", row([Double](repeating: 0.95, count: 6)))!
    XCTAssertEqual(c.effect, 0.035, accuracy: 1e-9)
    XCTAssertEqual(c.upper - c.effect, 0.011006, accuracy: 1e-5)
  }

  /// (e): "λ is robust": every λ within ±2 F1 points of λ = 1.
  func testEquivalentHasFiveOutcomes() {
    let ref = [0.80, 0.70, 0.75, 0.85, 0.65, 0.72]
    func scores(
      _ shift: Double, jitter: [Double] = [0.002, -0.001, 0.001, -0.002, 0.001, 0.0]
    ) -> [String: [String: Double]] {
      [
        "1.0": row(ref), "0.5": row(zip(ref, jitter).map { $0 + shift + $1 }),
        "1.5": row(zip(ref, jitter).map { $0 + shift - $1 }),
      ]
    }
    XCTAssertEqual(
      Verdicts.equivalent("1.0", ["0.5", "1.5"], in: scores(0.0), margin: 0.02, learned: true).outcome, .reproduced)
    let far = Verdicts.equivalent("1.0", ["0.5", "1.5"], in: scores(-0.10), margin: 0.02, learned: true)
    XCTAssertEqual(far.outcome, .notReproduced, far.evidence)
    let noisy = Verdicts.equivalent(
      "1.0", ["0.5", "1.5"], in: scores(0.0, jitter: [0.03, -0.03, 0.02, -0.025, 0.03, -0.02]),
      margin: 0.02, learned: true)
    XCTAssertEqual(noisy.outcome, .inconclusive, noisy.evidence)
    let unlearned = Verdicts.equivalent("1.0", ["0.5", "1.5"], in: scores(0.0), margin: 0.02, learned: false)
    XCTAssertEqual(unlearned.outcome, .inconclusive, "equal because nothing was learned proves nothing")
    XCTAssertEqual(
      Verdicts.equivalent("1.0", ["0.5"], in: ["1.0": row(ref)], margin: 0.02, learned: true).outcome, .notRun)
  }

  /// (b): both parts must hold.
  func testAllCombinesParts() {
    let r = Verdict(outcome: .reproduced, evidence: "r"), n = Verdict(outcome: .notReproduced, evidence: "n")
    let i = Verdict(outcome: .inconclusive, evidence: "i"), m = Verdict(outcome: .notRun, evidence: "m")
    XCTAssertEqual(Verdicts.all([r, r]).outcome, .reproduced)
    XCTAssertEqual(Verdicts.all([r, n]).outcome, .notReproduced)
    XCTAssertEqual(Verdicts.all([r, i]).outcome, .inconclusive)
    XCTAssertEqual(Verdicts.all([r, m, n]).outcome, .notRun)
  }
}

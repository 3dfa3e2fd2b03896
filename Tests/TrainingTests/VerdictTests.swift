//===--- VerdictTests.swift - each verdict's five outcomes -----------------===//
import Figures
import XCTest

/// Synthetic stage outputs built to be clearly reproduced, clearly not, borderline, unlearned and
/// missing; the paired test against hand-computed values.
final class VerdictTests: XCTestCase {
  let tasks = ["busi", "chaoyang", "covid", "cxr3", "limuc", "oct"]

  /// Scores per method: `base` per task plus `shift` (a method's offset) plus per-task noise.
  func world(_ shifts: [String: Double], noise: [Double] = [0.3, -0.2, 0.1, -0.4, 0.2, 0.0], tasks n: Int = 6) -> [String: [String: Double]] {
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
    XCTAssertEqual(Verdicts.beatsAll("sh-peft", ["bitfit", "lora", "linear-probe"], in: world(base.merging(["sh-peft": 15]) { $1 })).outcome,
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
    XCTAssertEqual(Verdicts.beatsAll("sh-peft", ["ft-att"], in: world(base.merging(["sh-peft": 15]) { $1 })).outcome, .notRun)
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
}

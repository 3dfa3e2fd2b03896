//===--- MetricsTests.swift - against scikit-learn -------------------------===//
import Model
import Training
import TestSupport
import XCTest
import Storage

final class MetricsTests: XCTestCase {
  func testAgainstScikitLearn() throws {
    let f = try HDF5File.open(fixture("metrics.h5"))
    for name in ["binary", "multiclass", "ties", "missing_class"] {
      let (scores, shape) = try f.readFloats("\(name)/scores")
      let labels = try f.readInt64s("\(name)/labels").values.map(Int.init)
      let m = Metrics.all(scores: scores, labels: labels, classes: shape[1])
      XCTAssertEqual(m.accuracy, try f.groupDoubleAttribute(name, "accuracy"), accuracy: 1e-12, name)
      XCTAssertEqual(m.macroF1, try f.groupDoubleAttribute(name, "macro_f1"), accuracy: 1e-12, name)
      XCTAssertEqual(m.macroAUC, try f.groupDoubleAttribute(name, "macro_auc"), accuracy: 1e-9, name)
      XCTAssertEqual(m.confusion.flatMap { $0 }.reduce(0, +), labels.count)
    }
  }

  func testConfusionMatrixAndPerfectScores() {
    let m = Metrics.all(scores: [0.9, 0.1, 0.2, 0.8, 0.6, 0.4], labels: [0, 1, 1], classes: 2)
    XCTAssertEqual(m.confusion, [[1, 0], [1, 1]])
    XCTAssertEqual(m.accuracy, 2.0 / 3, accuracy: 1e-12)
    XCTAssertEqual(m.macroAUC, 1.0, accuracy: 1e-12)  // 0.8 > 0.1 ... ranks still separate
  }

  /// Multi-label metrics, worked by hand as scikit-learn defines them (threshold 0.5):
  /// accuracy_score = subset accuracy, f1_score(average="macro"), roc_auc_score(average="macro").
  func testMultiLabelMetrics() {
    let truth: [Float] = [1, 0, 1, 0, 1, 0, 1, 1, 0, 0, 0, 1]
    let scores: [Float] = [0.9, 0.2, 0.4, 0.3, 0.7, 0.1, 0.6, 0.4, 0.5, 0.2, 0.1, 0.8]
    let m = Metrics.multiLabel(scores: scores, truth: truth, classes: 3, loss: 0.3)
    XCTAssertEqual(m.accuracy, 0.5, accuracy: 1e-12)  // rows 1 and 3 have every label right
    XCTAssertEqual(m.macroF1, (1 + 2.0 / 3 + 2.0 / 3) / 3, accuracy: 1e-12)
    XCTAssertEqual(m.macroAUC, (1 + 1 + 0.75) / 3, accuracy: 1e-12)  // label 2: 0.4 < 0.5 is the one wrong pair
    XCTAssertEqual(m.recall, [1, 0.5, 0.5])
    XCTAssertEqual(m.predictedClasses, 3)
    XCTAssertEqual(m.labelCounts?[1], [2, 0, 1, 1])  // label 1: tn, fp, fn, tp
    let none = Metrics.multiLabel(scores: [Float](repeating: 0.1, count: 12), truth: truth, classes: 3)
    XCTAssertEqual(none.predictedClasses, 0, "nothing predicted positive")
  }
}

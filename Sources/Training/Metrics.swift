//===--- Metrics.swift - classification metrics ----------------------------===//
//
// Definitions follow scikit-learn, which the tests compare against:
// - accuracy_score;
// - f1_score(average="macro") over the labels present in y_true ∪ y_pred,
//   a class with no predicted and no true sample scoring 0 (zero_division=0);
// - roc_auc_score: binary → the positive class's score; multi-class →
//   one-vs-rest, macro-averaged over classes with both positives and
//   negatives (ties get half credit, i.e. the Mann–Whitney U statistic).
//===----------------------------------------------------------------------===//

public struct ClassificationMetrics: Codable, Sendable, Equatable {
  public var accuracy: Double
  public var macroF1: Double
  public var macroAUC: Double
  public var loss: Double?
  public var confusion: [[Int]]
  /// A multi-label evaluation's per-label counts [tn, fp, fn, tp] (nil: one class per image, `confusion`).
  public var labelCounts: [[Int]]? = nil

  /// Recall of each class (NaN for a class with no true sample): confusion[c][c] / Σ confusion[c];
  /// multi-label: tp / (tp + fn) of each label.
  public var recall: [Double] {
    if let labelCounts {
      return labelCounts.map { $0[2] + $0[3] == 0 ? .nan : Double($0[3]) / Double($0[2] + $0[3]) }
    }
    return confusion.enumerated().map { c, row in
      let n = row.reduce(0, +)
      return n == 0 ? .nan : Double(row[c]) / Double(n)
    }
  }

  /// Classes predicted at least once (multi-label: labels predicted positive at least once).
  /// 1 means the model collapsed onto one class.
  public var predictedClasses: Int {
    if let labelCounts { return labelCounts.filter { $0[1] + $0[3] > 0 }.count }
    return (0..<confusion.count).filter { p in confusion.contains { $0[p] > 0 } }.count
  }
}

public enum Metrics {
  public static func accuracy(predictions: [Int], labels: [Int]) -> Double {
    precondition(predictions.count == labels.count && !labels.isEmpty)
    return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
  }

  /// confusion[true][predicted].
  public static func confusionMatrix(predictions: [Int], labels: [Int], classes: Int) -> [[Int]] {
    var m = Array(repeating: Array(repeating: 0, count: classes), count: classes)
    for (p, t) in zip(predictions, labels) { m[t][p] += 1 }
    return m
  }

  public static func macroF1(predictions: [Int], labels: [Int]) -> Double {
    let present = Set(predictions).union(labels).sorted()
    var total = 0.0
    for c in present {
      var tp = 0, fp = 0, fn = 0
      for (p, t) in zip(predictions, labels) {
        if p == c && t == c { tp += 1 } else if p == c { fp += 1 } else if t == c { fn += 1 }
      }
      let denom = 2 * tp + fp + fn
      total += denom == 0 ? 0 : 2 * Double(tp) / Double(denom)
    }
    return total / Double(present.count)
  }

  /// Area under the ROC curve of `scores` for positives `isPositive`.
  public static func binaryAUC(scores: [Double], isPositive: [Bool]) -> Double {
    let nPos = isPositive.filter { $0 }.count, nNeg = isPositive.count - nPos
    guard nPos > 0 && nNeg > 0 else { return .nan }
    // Average ranks (1-based) with ties sharing the mean rank.
    let order = scores.indices.sorted { scores[$0] < scores[$1] }
    var rankSumPos = 0.0
    var i = 0
    while i < order.count {
      var j = i
      while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
      let rank = Double(i + j + 2) / 2
      for k in i...j where isPositive[order[k]] { rankSumPos += rank }
      i = j + 1
    }
    return (rankSumPos - Double(nPos * (nPos + 1)) / 2) / Double(nPos * nNeg)
  }

  /// `scores` is (N, K) row-major (probabilities or logits).
  public static func macroAUC(scores: [Float], labels: [Int], classes K: Int) -> Double {
    let n = labels.count
    precondition(scores.count == n * K)
    if K == 2 {
      return binaryAUC(scores: (0..<n).map { Double(scores[$0 * K + 1]) }, isPositive: labels.map { $0 == 1 })
    }
    var total = 0.0, used = 0
    for c in 0..<K {
      let a = binaryAUC(scores: (0..<n).map { Double(scores[$0 * K + c]) }, isPositive: labels.map { $0 == c })
      if !a.isNaN { total += a; used += 1 }
    }
    return used == 0 ? .nan : total / Double(used)
  }

  /// Argmax per row of (N, K) scores.
  public static func argmax(_ scores: [Float], classes K: Int) -> [Int] {
    (0..<(scores.count / K)).map { r in
      var best = 0
      for k in 1..<K where scores[r * K + k] > scores[r * K + best] { best = k }
      return best
    }
  }

  /// Multi-label metrics as scikit-learn computes them for a (N, K) indicator matrix `truth`, a label
  /// predicted positive when its score (a sigmoid) is > 0.5: accuracy = subset accuracy (every label of
  /// the image right); macro-F1 = the mean of the K labels' F1 (zero_division=0); macro-AUC = the mean
  /// AUC of the labels with both positives and negatives.
  public static func multiLabel(
    scores: [Float], truth: [Float], classes K: Int, loss: Double? = nil
  ) -> ClassificationMetrics {
    let n = truth.count / K
    precondition(scores.count == truth.count && n * K == truth.count)
    var counts = [[Int]](repeating: [0, 0, 0, 0], count: K)
    var exact = 0
    for r in 0..<n {
      var right = true
      for k in 0..<K {
        let p = scores[r * K + k] > 0.5, t = truth[r * K + k] > 0.5
        counts[k][(t ? 2 : 0) + (p ? 1 : 0)] += 1
        right = right && p == t
      }
      if right { exact += 1 }
    }
    let f1 = counts.map { c in c[3] == 0 ? 0 : 2 * Double(c[3]) / Double(2 * c[3] + c[1] + c[2]) }
    let aucs = (0..<K).map { k in
      binaryAUC(scores: (0..<n).map { Double(scores[$0 * K + k]) }, isPositive: (0..<n).map { truth[$0 * K + k] > 0.5 })
    }.filter { !$0.isNaN }
    return ClassificationMetrics(
      accuracy: n == 0 ? .nan : Double(exact) / Double(n), macroF1: f1.reduce(0, +) / Double(K),
      macroAUC: aucs.isEmpty ? .nan : aucs.reduce(0, +) / Double(aucs.count), loss: loss, confusion: [],
      labelCounts: counts)
  }

  public static func all(scores: [Float], labels: [Int], classes K: Int, loss: Double? = nil) -> ClassificationMetrics {
    let pred = argmax(scores, classes: K)
    return ClassificationMetrics(
      accuracy: accuracy(predictions: pred, labels: labels),
      macroF1: macroF1(predictions: pred, labels: labels),
      macroAUC: macroAUC(scores: scores, labels: labels, classes: K), loss: loss,
      confusion: confusionMatrix(predictions: pred, labels: labels, classes: K))
  }
}

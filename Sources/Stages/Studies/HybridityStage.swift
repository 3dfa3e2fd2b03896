//===--- HybridityStage.swift - `hybridity`: overlap of key weights --------===//
//
// SH-PEFT §2.1, Fig. 2 right. Needs the original model and the
// fine-tuned models of a group of tasks (any number of seeds). For each seed
// and each k of `ks` (%), S_t = top-k % positions of dW for task t, and
//   overlap(m, n) = |S_m ∩ S_n| / |S_m|
// with the chance level k/100 (the expected overlap of two independent
// random selections of that size) and the enrichment overlap / chance.
// Matrices are averaged over seeds (mean and std). Also where the key
// weights live: the share of S_t per weight group (attention q/k/v/proj,
// MLP, LayerNorm, biases, embeddings) next to the group's share of all
// backbone elements. The task-specific reference (version 2): the overlap of
// two seeds of the *same* task (every seed pair), per task, beside each task's
// mean overlap with the other tasks: hybridity = cross-task overlap above
// chance and below the same-task overlap. Output hybridity.json.
//===----------------------------------------------------------------------===//
import Foundation
import Model
import Outputs
import Pipeline
import Training

public struct HybridityStageKind: StageKind {
  public init() {}
  public let name = "hybridity"
  public let version = 2
  public var parameters: [ParameterSpec] {
    [
      ParameterSpec("ks", default: .array([5, 1, 0.1, 0.05].map { .double($0) }), help: "k in % of backbone elements"),
      ParameterSpec("original", default: .string("pretrain"), help: "base name of the stage holding W_ori"),
    ]
  }

  struct Values: Decodable {
    var ks: [Double]
    var original: String
  }

  public func run(_ ctx: StageContext) throws {
    let v = try ctx.decode(Values.self)
    let originalBase = v.original
    let ori = try Checkpoint.load(try ctx.singleInput(base: originalBase, file: "model.h5") + "/model.h5")
    let ks = v.ks
    guard !ks.isEmpty, ks.allSatisfy({ $0 > 0 && $0 <= 100 }) else {
      throw PipelineError.stageFailed(stage: ctx.stage, message: "ks must be a list of percentages in (0, 100]")
    }
    // Rankings per seed and task.
    var rankings: [Int: [String: [Int32]]] = [:]
    let fts = ctx.inputs(with: "model.h5", except: originalBase)
    for (i, f) in fts.enumerated() {
      let m = try RunMetrics.read(f.dir)
      guard let task = m.dataset else { throw StudyError.missingInput("\(f.name): metrics.json names no dataset") }
      let seed = m.seed ?? 0
      guard rankings[seed]?[task] == nil else {
        throw PipelineError.stageFailed(
          stage: ctx.stage, message: "two fine-tuned models of '\(task)' with seed \(seed)")
      }
      rankings[seed, default: [:]][task] = try WeightChanges.ranking(
        original: ori, finetuned: try Checkpoint.load(f.dir + "/model.h5"))
      ctx.progress(Double(i + 1) / Double(fts.count + 1))
    }
    let tasks = Array(Set(rankings.values.flatMap(\.keys))).sorted()
    guard tasks.count >= 2 else {
      throw PipelineError.stageFailed(
        stage: ctx.stage, message: "needs fine-tuned models of at least two tasks (has \(tasks.count))")
    }
    let seeds = rankings.keys.sorted().filter { rankings[$0]!.count == tasks.count }
    guard !seeds.isEmpty else { throw PipelineError.stageFailed(stage: ctx.stage, message: "no seed has every task") }
    let groups = WeightGroup.map(ori.layout)
    let n = groups.count
    var perK: [HybridityOutput.AtK] = []
    for k in ks {
      let count = WeightChanges.topCount(percent: k, of: n)
      var mats: [[[Double]]] = []
      var shareSums = [String: [Double]]()
      for seed in seeds {
        let r = rankings[seed]!
        mats.append(Hybridity.overlapMatrix(tasks.map { r[$0]![..<count] }, universe: n))
        for t in tasks {
          let s = WeightGroup.shares(r[t]![..<count], groups: groups).selected
          shareSums[t] = zip(shareSums[t] ?? Array(repeating: 0, count: s.count), s).map {
            $0 + $1 / Double(seeds.count)
          }
        }
      }
      let chance = Double(count) / Double(n)
      let meanM = Hybridity.elementwise(mats) { Stages.mean($0) },
        stdM = Hybridity.elementwise(mats) { Stages.std($0) }
      let off = Hybridity.offDiagonal(meanM)
      let offPerSeed = mats.map { Hybridity.offDiagonal($0) }
      // per task: mean overlap with the other tasks (over seeds), and between its own seeds (over seed pairs)
      var cross: [String: Double] = [:], same: [String: Double] = [:]
      for (ti, t) in tasks.enumerated() {
        cross[t] = Stages.mean(mats.map { m in Stages.mean(tasks.indices.filter { $0 != ti }.map { m[ti][$0] }) })
        var pairs: [Double] = []
        for (i, a) in seeds.enumerated() {
          for b in seeds[(i + 1)...] {
            pairs.append(
              Hybridity.overlapMatrix([rankings[a]![t]![..<count], rankings[b]![t]![..<count]], universe: n)[0][1])
          }
        }
        if !pairs.isEmpty { same[t] = Stages.mean(pairs) }
      }
      perK.append(
        HybridityOutput.AtK(
          kPercent: k, elements: count, chance: chance, overlapMean: meanM, overlapStd: stdM, perSeed: mats,
          offdiagonal: off, offdiagonalMeanPerSeed: offPerSeed.map(\.mean), crossTaskByTask: cross,
          sameTaskByTask: same,
          groupShares: shareSums.mapValues {
            Dictionary(uniqueKeysWithValues: zip(WeightGroup.allCases.map(\.name), $0))
          }))
      ctx.log(
        String(
          format: "k %.3g%%: mean off-diagonal overlap %.4f (chance %.4f, enrichment %.2f)",
          k, off.mean, chance, off.mean / chance))
    }
    let all = WeightGroup.shares([][...], groups: groups).all
    try HybridityOutput(
      tasks: tasks, seeds: seeds, backboneParameters: n, ks: perK,
      groupShareOfBackbone: Dictionary(uniqueKeysWithValues: zip(WeightGroup.allCases.map(\.name), all))
    ).write(in: ctx.outputDir)
  }
}

func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
/// Sample standard deviation (n − 1), 0 for a single value.
func std(_ v: [Double]) -> Double {
  guard v.count > 1 else { return 0 }
  let m = mean(v)
  return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot()
}

import Data
import Foundation
import Outputs
import Kernels
import Model
import Pipeline
import TestSupport
import Training
import Plot
import XCTest
import Storage

/// The SH-PEFT studies: transplant, overlaps, importance, masked gradients.
final class SHPEFTStudyTests: XCTestCase {
  override func setUp() { Parallel.threads = 2 }

  func micro(classes: Int = 3, seed: UInt64 = 1) throws -> ViT {
    var c = try ViTConfig.preset("micro")
    c.numClasses = classes
    c.head = .l2Linear
    return try ViT(config: c, seed: seed)
  }

  func randomSet(_ c: ViTConfig, count: Int, seed: UInt64) -> ImageSet {
    var rng = Xoshiro256(seed: seed)
    let imgs = (0..<(count * c.channels * c.imageSize * c.imageSize)).map { _ in Float(rng.normal()) }
    return ImageSet(
      images: imgs, labels: (0..<count).map { Int32($0 % c.numClasses) }, channels: c.channels,
      height: c.imageSize, width: c.imageSize, classes: c.numClasses)
  }

  /// A "fine-tuned" model: the original backbone moved by noise of varying size, and another head.
  func finetuned(_ ori: ViT) throws -> ViT {
    let ft = try ori.withNewHead(classes: ori.config.numClasses, seed: 9)
    var rng = Xoshiro256(seed: 3)
    let n = WeightChanges.backboneCount(ft.layout)
    for i in 0..<n { ft.params.pointer[i] += Float(rng.normal() * 0.05 * pow(rng.uniform(), 3)) }
    return ft
  }

  func testTransplantEndsEqualOriginalAndFinetuned() throws {
    let ori = try micro()
    let ft = try finetuned(ori)
    let set = randomSet(ori.config, count: 40, seed: 5)
    let order = try WeightChanges.ranking(original: ori, finetuned: ft)
    let n = WeightChanges.backboneCount(ori.layout)
    XCTAssertEqual(order.count, n)
    XCTAssertEqual(Set(order).count, n, "a ranking is a permutation")
    // ranking is by |dW| descending
    let d = { (i: Int32) in abs(ft.params.pointer[Int(i)] - ori.params.pointer[Int(i)]) }
    for j in 1..<n { XCTAssertGreaterThanOrEqual(d(order[j - 1]), d(order[j])) }

    let rows = Sparsity.evaluate(grid: [0, 1, 100], original: ori, finetuned: ft, order: order, on: set)
    // k = 0: W_ori's backbone with W_ft's head
    let oriWithHead = ft.copy()
    oriWithHead.params.pointer.update(from: ori.params.pointer, count: n)
    let e0 = Evaluation.evaluate(oriWithHead, on: set)
    XCTAssertEqual(rows[0].count, 0)
    XCTAssertEqual(rows[0].metrics.macroF1, e0.macroF1)
    XCTAssertEqual(rows[0].metrics.loss, e0.loss)
    // k = 100: W_ft exactly
    let eFull = Evaluation.evaluate(ft, on: set)
    XCTAssertEqual(rows[2].count, n)
    XCTAssertEqual(rows[2].metrics.loss, eFull.loss)
    XCTAssertEqual(rows[2].metrics.macroAUC, eFull.macroAUC)
    XCTAssertEqual(
      WeightChanges.transplant(original: ori, finetuned: ft, order: order, count: n).params.array(), ft.params.array())
    // k = 1 %: exactly the top 1 % come from W_ft
    let k = WeightChanges.topCount(percent: 1, of: n)
    let m = WeightChanges.transplant(original: ori, finetuned: ft, order: order, count: k)
    let top = Set(order[..<k].map(Int.init))
    for i in 0..<n {
      XCTAssertEqual(m.params.pointer[i], top.contains(i) ? ft.params.pointer[i] : ori.params.pointer[i])
    }
    XCTAssertEqual(m.values("head.weight"), ft.values("head.weight"))
  }

  func testOverlapSelfDisjointAndChance() throws {
    let n = 100_000
    let a = (0..<Int32(1000)).map { $0 }, b = (Int32(1000)..<Int32(2000)).map { $0 }
    let m = Hybridity.overlapMatrix([a[...], b[...]], universe: n)
    XCTAssertEqual(m[0][0], 1)
    XCTAssertEqual(m[1][1], 1)
    XCTAssertEqual(m[0][1], 0)
    XCTAssertEqual(m[1][0], 0)
    // random selections of k % overlap at k % (the chance level)
    var rng = Xoshiro256(seed: 4)
    for percent in [5.0, 1.0] {
      let count = WeightChanges.topCount(percent: percent, of: n)
      var sets: [ArraySlice<Int32>] = []
      for _ in 0..<6 {
        var p = (0..<Int32(n)).map { $0 }
        for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        sets.append(p[..<count])
      }
      let mat = Hybridity.overlapMatrix(sets, universe: n)
      var off: [Double] = []
      for i in 0..<6 { for j in 0..<6 where i != j { off.append(mat[i][j]) } }
      let mean = off.reduce(0, +) / Double(off.count)
      let chance = Double(count) / Double(n)
      // std of one overlap ≈ sqrt(chance/count); the mean of 30 (15 distinct) is tighter
      XCTAssertEqual(mean, chance, accuracy: 4 * (chance / Double(count)).squareRoot(), "\(percent) %")
    }
  }

  func testWeightGroupsCoverTheBackbone() throws {
    let L = try micro().layout
    let g = WeightGroup.map(L)
    let s = WeightGroup.shares([][...], groups: g).all
    XCTAssertEqual(s.reduce(0, +), 1, accuracy: 1e-12)
    let D = L.config.width
    XCTAssertEqual(g[L.tensors[L.blocks[0].qkvW].offset], UInt8(WeightGroup.attnQ.rawValue))
    XCTAssertEqual(g[L.tensors[L.blocks[0].qkvW].offset + D * D], UInt8(WeightGroup.attnK.rawValue))
    XCTAssertEqual(g[L.tensors[L.blocks[1].qkvW].offset + 2 * D * D + 5], UInt8(WeightGroup.attnV.rawValue))
    XCTAssertEqual(g[L.tensors[L.blocks[1].norm2B].offset], UInt8(WeightGroup.layerNorm.rawValue))
    XCTAssertEqual(g[L.tensors[L.blocks[1].fc1B].offset], UInt8(WeightGroup.bias.rawValue))
    XCTAssertEqual(g[L.tensors[L.pos].offset], UInt8(WeightGroup.embedding.rawValue))
  }

  /// Importance equals a direct computation from per-batch gradients (Eq. 1, 2).
  func testImportanceEqualsDirectComputation() throws {
    let model = try micro()
    let set = randomSet(model.config, count: 37, seed: 6)
    let batch = 16
    let stats = try GradientStatistics.collect(model: model, set: set, batch: batch, seed: 11)
    XCTAssertEqual(stats.batches, 3)
    // direct: one backward per batch of the same shuffled order, summed in Double
    let order = GradientStatistics.epochOrder(count: set.count, seed: 11)
    let n = WeightChanges.backboneCount(model.layout)
    var sum = [Double](repeating: 0, count: n), sq = sum
    for start in stride(from: 0, to: set.count, by: batch) {
      let idx = order[start..<min(start + batch, set.count)]
      let acts = Activations(config: model.config, batch: idx.count)
      var imgs: [Float] = [], labs: [Int32] = []
      set.gather(idx, images: &imgs, labels: &labs)
      let g = Gradients(layout: model.layout)
      model.forward(images: imgs, acts: acts)
      _ = model.loss(acts: acts, targets: labs)
      model.backward(acts: acts, targets: labs, grads: g)
      for i in 0..<n { let v = Double(g.buffer.pointer[i]); sum[i] += v; sq[i] += v * v }
    }
    var worst = 0.0
    let scaleSum = sum.map(abs).max()!, scaleSq = sq.max()!
    for i in 0..<n {
      worst = max(
        worst, abs(Double(stats.sum[i]) - sum[i]) / scaleSum, abs(Double(stats.sumOfSquares[i]) - sq[i]) / scaleSq)
    }
    XCTAssertLessThan(worst, 1e-5)
    // Eq. 1 with the L2 estimators, λ = 0.8
    let w = model.params.pointer
    let sTD = sq.reduce(0, +), sTA = (0..<n).reduce(0.0) { $0 + Double(w[$1] * w[$1]) }
    let scores = Importance.scores(.taL2, lambda: 0.8, stats: stats, weights: w)
    for i in stride(from: 0, to: n, by: 101) {
      let expect = sq[i] + 0.8 * sTD / sTA * Double(w[i] * w[i])
      XCTAssertEqual(Double(scores[i]), expect, accuracy: 1e-4 * abs(expect) + 1e-12)
    }
    // L1: |Σ g| and |w|
    let l1 = Importance.scores(.l1, lambda: 1, stats: stats, weights: w)
    XCTAssertEqual(Double(l1[7]), abs(sum[7]), accuracy: 1e-5 * scaleSum)
    let ta = Importance.scores(.ta, lambda: 1, stats: stats, weights: w)
    // the mask: top r % by score, sorted, within the backbone
    let mask = Importance.mask(scores, percent: 1)
    XCTAssertEqual(mask.count, WeightChanges.topCount(percent: 1, of: n))
    XCTAssertEqual(mask, mask.sorted())
    let threshold = mask.map { scores[$0] }.min()!
    XCTAssertEqual(scores.filter { $0 > threshold }.count, mask.count - mask.filter { scores[$0] == threshold }.count)
    XCTAssertNotEqual(Importance.mask(ta, percent: 1), mask)
  }

  /// Masked training computes the selected elements' weight gradients exactly
  /// like the full backward, through both plans (rows and single elements).
  func testMaskedGradientPlansMatchFullGradient() throws {
    let model = try micro()
    let L = model.layout
    let set = randomSet(model.config, count: 8, seed: 2)
    // fc1 of block 0: two whole rows (-> rows plan); qkv of block 1: scattered elements (-> elements plan)
    let fc1 = L.tensors[L.blocks[0].fc1W], qkv = L.tensors[L.blocks[1].qkvW]
    let C = fc1.shape[1]
    var chosen = Array(fc1.offset + 3 * C..<fc1.offset + 5 * C)
    chosen += stride(from: qkv.offset + 5, to: qkv.offset + qkv.count, by: 211).map { $0 }
    chosen.append(L.tensors[L.blocks[1].norm1W].offset + 2)
    let sel = ParameterSelection.elements(L, backbone: chosen)
    let trainer = Trainer(
      model: model, selection: sel,
      config: TrainConfig(
        optimizer: .sgdDefault, schedule: CosineSchedule(baseLR: 0, totalSteps: 10), batchSize: 8))
    XCTAssertEqual(trainer.grads.plans[L.blocks[0].fc1W]?.mode, .rows)
    XCTAssertEqual(trainer.grads.plans[L.blocks[1].qkvW]?.mode, .elements)
    XCTAssertNil(trainer.grads.plans[L.blocks[1].fc2W], "no selected element: frozen, no plan")
    XCTAssertFalse(sel.tensors[L.blocks[1].fc2W])

    let acts = Activations(config: model.config, batch: 8)
    model.forward(images: set.images, acts: acts)
    _ = model.loss(acts: acts, targets: set.labels)
    let masked = trainer.grads
    masked.zero()
    model.backward(acts: acts, targets: set.labels, grads: masked)
    let full = Gradients(layout: L)
    model.backward(acts: acts, targets: set.labels, grads: full)
    for e in chosen {
      let t = L.tensors.firstIndex { $0.range.contains(e) }!
      let gm = masked.buffer.pointer[masked.offsets[t]! + e - L.tensors[t].offset]
      let gf = full.buffer.pointer[full.offsets[t]! + e - L.tensors[t].offset]
      XCTAssertEqual(gm, gf, accuracy: 1e-5 * max(1, abs(gf)), "element \(e) of \(L.tensors[t].name)")
    }
  }

  /// The plan kernel against the naive twin on a random problem.
  func testWeightGradientPlanKernelMatchesReference() throws {
    let N = 13, C = 21, OC = 17
    var rng = Xoshiro256(seed: 8)
    let dout = (0..<(N * OC)).map { _ in Float(rng.normal()) }, inp = (0..<(N * C)).map { _ in Float(rng.normal()) }
    var ref = [Float](repeating: 0, count: OC * C)
    for o in 0..<OC { for c in 0..<C { for n in 0..<N { ref[o * C + c] += dout[n * OC + o] * inp[n * C + c] } } }
    let rowsSel = Array(2 * C..<4 * C) + Array(9 * C..<10 * C)
    let fewSel = [3, 40, 41, 100, 250, 356]
    for (sel, mode) in [(rowsSel, WeightGradientPlan.Mode.rows), (fewSel, .elements)] {
      let plan = try XCTUnwrap(WeightGradientPlan.make(selected: sel, OC: OC, C: C))
      XCTAssertEqual(plan.mode, mode)
      var dw = [Float](repeating: 1, count: OC * C)
      plan.accumulate(dweight: &dw, dout: dout, inp: inp, N: N, C: C, OC: OC)
      for e in sel { XCTAssertEqual(dw[e], 1 + ref[e], accuracy: 1e-4) }
    }
    XCTAssertNil(WeightGradientPlan.make(selected: Array(0..<(OC * C)), OC: OC, C: C), "everything selected: full GEMM")
  }
}

/// A project with shrunken synthetic datasets and copies of the shipped pipeline (and report) files.
func shippedSmokeProject(_ tag: String, pipelines: [String], reports: [String] = []) throws -> String {
  let root = try projectWithSyntheticManifests(
    ["upstream-synth", "chaoyang-synth", "busi-synth"], counts: (64, 24, 40), tag: tag)
  let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
  let fm = FileManager.default
  try fm.copyItem(atPath: repo + "/data-manifests/groups.yaml", toPath: root + "/data-manifests/groups.yaml")
  try fm.copyItem(atPath: repo + "/Pipelines/vars", toPath: root + "/Pipelines/vars")
  for f in pipelines { try fm.copyItem(atPath: repo + "/Pipelines/" + f, toPath: root + "/Pipelines/" + f) }
  if !reports.isEmpty { try fm.createDirectory(atPath: root + "/Reports", withIntermediateDirectories: true) }
  for f in reports { try fm.copyItem(atPath: repo + "/Reports/" + f, toPath: root + "/Reports/" + f) }
  return root
}

/// The shipped study pipeline, `smoke` profile, end to end on shrunken datasets.
final class SHPEFTPipelineTests: XCTestCase {
  func testSmokeProfileRunsEveryStageThenIsCached() throws {
    let root = try shippedSmokeProject("shpeft-smoke", pipelines: ["sh-peft.yaml"])
    let first = try runPeftlab(
      ["run", "--pipeline", "Pipelines/sh-peft.yaml", "--profile", "smoke", "--jobs", "2"], cwd: root)
    XCTAssertEqual(first.status, 0, first.output)
    XCTAssertTrue(first.output.contains("38 ran, 0 cached, 0 failed"), first.output)
    let second = try runPeftlab(
      ["run", "--pipeline", "Pipelines/sh-peft.yaml", "--profile", "smoke", "--jobs", "2"], cwd: root)
    XCTAssertEqual(second.status, 0, second.output)
    XCTAssertTrue(second.output.contains("0 ran, 38 cached, 0 failed"), "every stage is cached:\n" + second.output)

    let lock =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: root + "/Pipelines/sh-peft.smoke.lock"))) as! [String: Any]
    let summaryOut = try XCTUnwrap(
      ((lock["stages"] as? [String: Any])?["summary"] as? [String: Any])?["output"] as? String)
    let md = try String(contentsOfFile: root + "/.peftlab/objects/\(summaryOut)/verdicts.md", encoding: .utf8)
    for claim in [
      "(a) Sparsity", "(b) Hybridity", "(c) SH-PEFT beats", "(d) ta+L2", "(e) λ is robust", "Fig. 4", "Selection time",
    ] {
      XCTAssertTrue(md.contains(claim), "verdicts.md lacks \(claim)")
    }
    let summary = try StudySummaryOutput.read(in: root + "/.peftlab/objects/\(summaryOut)")
    let a = try XCTUnwrap(summary.aSparsity)
    XCTAssertEqual(a.rows.last?.f1FractionMean ?? 0, 1, accuracy: 1e-12, "k = 100 % is full fine-tuning")
    // hybridity's task-specific reference: per task, the overlap of its two seeds beside its overlap with the
    // other task
    for r in try XCTUnwrap(summary.bHybridity).rows {
      let (same, cross) = (r.sameTaskByTask, r.crossTaskByTask)
      XCTAssertEqual(Set(same.keys), ["chaoyang-synth", "busi-synth"])
      XCTAssertEqual(Set(cross.keys), Set(same.keys))
      XCTAssertTrue((Array(same.values) + Array(cross.values)).allSatisfy { $0 >= 0 && $0 <= 1 }, "\(same) \(cross)")
    }
    // the per-task values the verdicts test over tasks
    let byTask = summary.byTask
    XCTAssertEqual(byTask["full"]?.count, 2)

    // every importance stage exports its selection for PyTorch: 0/1 per backbone element, timm names, the
    // budget's count
    let stages = try XCTUnwrap(lock["stages"] as? [String: [String: Any]])
    let importance = stages.filter { $0.key.hasPrefix("importance@") }
    XCTAssertFalse(importance.isEmpty)
    for (name, st) in importance {
      let dir = root + "/.peftlab/objects/\(st["output"] as! String)"
      let mask = try SafetensorsFile(path: dir + "/mask.safetensors")
      var ones = 0.0
      for t in mask.entries.keys { ones += try mask.floats(t).reduce(0) { $0 + Double($1) } }
      let info =
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json")))
        as! [String: Any]
      let selected = try XCTUnwrap(info["selected"] as? Int),
        backbone = try XCTUnwrap(info["backbone_parameters"] as? Int)
      let budget = try XCTUnwrap(info["budget_percent"] as? Double)
      XCTAssertEqual(Int(ones), selected, name)
      XCTAssertEqual(Double(selected), (budget / 100 * Double(backbone)).rounded(), accuracy: 1, name)
      XCTAssertEqual(mask.entries["blocks.0.attn.qkv.weight"]?.dtype, "U8")
      XCTAssertEqual(mask.metadata["selected"], String(selected))
    }
  }
}

/// The shipped method sweep, `smoke` profile: every method, the FPT preloads, the ablations, the table.
final class SweepPipelineTests: XCTestCase {
  func testSmokeSweepRunsEveryMethodThenIsCached() throws {
    let root = try shippedSmokeProject("sweep-smoke", pipelines: ["sweep.yaml"])
    let first = try runPeftlab(
      ["run", "--pipeline", "Pipelines/sweep.yaml", "--profile", "smoke", "--jobs", "2"], cwd: root)
    XCTAssertEqual(first.status, 0, first.output)
    XCTAssertTrue(first.output.contains("206 ran, 2 cached, 0 failed"), first.output)
    let second = try runPeftlab(
      ["run", "--pipeline", "Pipelines/sweep.yaml", "--profile", "smoke", "--jobs", "2"], cwd: root)
    XCTAssertTrue(second.output.contains("0 ran, 208 cached, 0 failed"), "every stage is cached:\n" + second.output)
    let lock =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: root + "/Pipelines/sweep.smoke.lock"))) as! [String: Any]
    let stages = try XCTUnwrap(lock["stages"] as? [String: Any])
    func output(_ stage: String, _ file: String) throws -> [String: Any] {
      let out = try XCTUnwrap((stages[stage] as? [String: Any])?["output"] as? String, stage)
      return try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: root + "/.peftlab/objects/\(out)/\(file)"))) as! [String: Any]
    }
    // each paper's Table 1 under its protocol: SH-PEFT's 12 methods, FPT+'s 10; 15 methods in all
    let sh = try output("table1-sh", "summary.json"), fpt = try output("table1-fpt", "summary.json")
    XCTAssertEqual(sh["protocol"] as? String, "sh-peft"); XCTAssertEqual(fpt["protocol"] as? String, "fpt-plus")
    let shMethods = try XCTUnwrap(sh["methods"] as? [String: Any]),
      fptMethods = try XCTUnwrap(fpt["methods"] as? [String: Any])
    XCTAssertEqual(shMethods.count, 12, "\(shMethods.keys.sorted())");
    XCTAssertEqual(fptMethods.count, 10, "\(fptMethods.keys.sorted())")
    XCTAssertEqual(Set(shMethods.keys).union(fptMethods.keys).count, 15)
    let full = try XCTUnwrap(fptMethods["full"] as? [String: Any]),
      plus = try XCTUnwrap(fptMethods["fpt+"] as? [String: Any])
    XCTAssertEqual(full["trainable_ratio"] as? Double ?? 0, 1, accuracy: 1e-12)
    XCTAssertLessThan(
      plus["memory_ratio_to_full"] as? Double ?? 1, 1, "FPT+ with preloading needs less memory than full FT")
    // the rates are the validation-chosen ones: every SH-PEFT-protocol run at full FT's, each FPT+ run at its method's
    let shChoice = try XCTUnwrap(
      (try output("sh-lr", "choice.json")["methods"] as? [String: [String: Any]])?["full"]?["lr"] as? Double)
    // SH-PEFT's cells train the mask of their importance stage (one selection, Eq. 1–2), not one of their own
    for (name, _) in stages where name.hasPrefix("sh-peft@") {
      let m = try output(name, "metrics.json")
      XCTAssertEqual(m["importance_stage"] as? String, "sh-importance@" + name.dropFirst("sh-peft@".count), name)
      XCTAssertEqual(m["strategy"] as? String, "ta+l2", name)
    }
    let fptChoice = try XCTUnwrap(try output("fpt-lr", "choice.json")["methods"] as? [String: [String: Any]])
    XCTAssertEqual(fptChoice.count, 10)
    for (name, _) in stages where name.hasPrefix("sh-methods@") || name.hasPrefix("sh-peft@") {
      XCTAssertEqual(try output(name, "metrics.json")["lr"] as? Double, shChoice, name)
    }
    // FPT+'s protocol chooses per method and task (`per: task`): each cell trains at its own task's rate
    let byTask = try XCTUnwrap(
      try output("fpt-lr", "choice.json")["by_task"] as? [String: [String: [String: Any]]])
    XCTAssertEqual(byTask.count, 10)
    for (name, _) in stages where name.hasPrefix("fpt-methods@") || name.hasPrefix("side@") {
      let m = try output(name, "metrics.json")
      let chosen = byTask[m["method"] as? String ?? ""]?[m["dataset"] as? String ?? ""]?["lr"] as? Double
      XCTAssertNotNil(chosen, name)
      XCTAssertEqual(m["lr"] as? Double, chosen, name)
      // the search ran every seed of the table (search_seeds = seeds in smoke): each cell at the chosen rate is
      // the search's run with its seed, the same key once resolved, so its output is reused
      let search = name.hasPrefix("side@") ? "fpt-side-search@" : "fpt-search@"
      let parts = name.split(separator: "@"), cell = parts.dropFirst().dropLast().joined(separator: "@")
      let same = stages.filter { k, v in
        k.hasPrefix(search + cell + "@lr") && k.hasSuffix("@" + parts.last!)
          && ((v as? [String: Any])?["params"] as? [String: Any])?["lr"] as? Double == chosen
      }
      XCTAssertEqual(same.count, 1, name)
      let out = { (n: String) in (stages[n] as? [String: Any])?["output"] as? String }
      XCTAssertEqual(out(name), same.first.flatMap { out($0.key) }, name)
      let key = try XCTUnwrap((stages[name] as? [String: Any])?["key"] as? String)
      let log = try String(contentsOfFile: root + "/.peftlab/logs/\(key).log", encoding: .utf8)
      XCTAssertTrue(log.contains("its output reused"), name + ": " + log)
    }
    let summary = fpt
    XCTAssertFalse((summary["paired_tests"] as? [Any] ?? []).isEmpty)
  }
}

/// `peftlab methods --json` lists all fifteen methods with the reference counts.
final class MethodsCommandTests: XCTestCase {
  func testMethodsJSONListsEveryMethodWithReferenceCounts() throws {
    let r = try runPeftlab(["methods", "--preset", "vit-b16", "--json"], cwd: NSTemporaryDirectory())
    XCTAssertEqual(r.status, 0, r.output)
    let start = try XCTUnwrap(r.output.firstIndex(of: "{"))
    let j = try JSONSerialization.jsonObject(with: Data(r.output[start...].utf8)) as! [String: Any]
    let rows = try XCTUnwrap(j["methods"] as? [[String: Any]])
    XCTAssertEqual(rows.count, 15)
    func row(_ m: String) -> [String: Any] { rows.first { $0["method"] as? String == m } ?? [:] }
    XCTAssertEqual(row("lora")["method_parameters"] as? Int, 294_912)
    XCTAssertEqual(row("adapter")["method_parameters"] as? Int, 1_189_632)
    XCTAssertEqual(row("vpt-shallow")["method_parameters"] as? Int, 3_840)
    XCTAssertEqual(row("ft-ln")["method_parameters"] as? Int, 38_400)
    XCTAssertEqual(row("fpt+")["trainable_percent"] as? Double ?? 0, 1.03, accuracy: 0.015)
    XCTAssertEqual(row("fpt")["trainable_percent"] as? Double ?? 0, 1.81, accuracy: 0.02)
    let table = try runPeftlab(["methods", "--preset", "tiny-p8"], cwd: NSTemporaryDirectory())
    XCTAssertTrue(table.output.contains("sh-peft") && table.output.contains("fpt+"), table.output)
  }
}

/// `make paper-figures` in miniature: the whole paper DAG (smoke profile) and the report.
final class PaperFiguresEndToEndTests: XCTestCase {
  func testSmokeProfileWritesEveryFigureOfTheReport() throws {
    let fm = FileManager.default
    let root = try shippedSmokeProject(
      "paper-figures", pipelines: ["calibration.yaml", "sh-peft.yaml", "sweep.yaml", "figures.yaml"],
      reports: ["report.yaml", "published.yaml"])
    let r = try runPeftlab(["make-paper-figures", "--profile", "smoke", "--jobs", "2"], cwd: root)
    XCTAssertEqual(r.status, 0, r.output)
    // every figure listed in Reports/report.yaml is in the report
    let def = try String(contentsOfFile: root + "/Reports/report.yaml", encoding: .utf8)
    let listed = def.split(separator: "\n").compactMap { l -> String? in
      let t = l.trimmingCharacters(in: .whitespaces)
      return t.hasPrefix("- stage: ") ? String(t.dropFirst(9)) : nil
    }
    XCTAssertGreaterThanOrEqual(listed.count, 17)
    XCTAssertTrue(listed.contains("fig-calibration"), "the report has the calibration page")
    let index = try String(contentsOfFile: root + "/Reports/out/index.md", encoding: .utf8)
    for s in listed {
      XCTAssertTrue(index.contains("figures/\(s).png"), "index.md links \(s)")
      let png = try PNGInfo.read(root + "/Reports/out/figures/\(s).png")
      XCTAssertGreaterThan(png.nonWhiteFraction, 0.005, "\(s).png is not blank")
      XCTAssertTrue(fm.fileExists(atPath: root + "/Reports/out/figures/\(s).pdf"))
    }
    let pages = try fm.contentsOfDirectory(atPath: root + "/Reports/out/pages").filter { $0.hasSuffix(".png") }
    XCTAssertEqual(pages.count, listed.count + 1, "a title page and one page per figure")
    let pdf = try Data(contentsOf: URL(fileURLWithPath: root + "/Reports/out/report.pdf"))
    XCTAssertEqual(String(decoding: pdf.prefix(5), as: UTF8.self), "%PDF-")
    let info = Process()
    info.executableURL = URL(fileURLWithPath: "/usr/bin/pdfinfo")
    info.arguments = [root + "/Reports/out/report.pdf"]
    let pipe = Pipe()
    info.standardOutput = pipe
    try info.run(); info.waitUntilExit()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    XCTAssertTrue(
      text.contains("Pages:")
        && text.split(separator: "\n").contains { $0.hasPrefix("Pages:") && $0.hasSuffix(" \(listed.count + 1)") }, text
    )
    // tables are also Markdown, CSV and LaTeX
    for s in ["fig-sh-table1", "fig-sh-table4", "fig-paper-vs-peftlab"] {
      for ext in ["md", "csv", "tex"] {
        XCTAssertTrue(fm.fileExists(atPath: root + "/Reports/out/figures/\(s).\(ext)"), "\(s).\(ext)")
      }
    }
    // a warm rerun runs nothing
    let again = try runPeftlab(["make-paper-figures", "--profile", "smoke", "--jobs", "2"], cwd: root)
    XCTAssertTrue(again.output.contains("0 ran"), again.output)
  }
}

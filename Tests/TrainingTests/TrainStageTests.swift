import Data
import Foundation
import Model
import Pipeline
import TestSupport
import Stages
import Training
import XCTest
import Storage

/// A runner over `yaml` (written to `root`/Pipelines/p.yaml) with `kinds`, caching in `cache`
/// (default `root`/.peftlab).
func pipelineRunner(_ root: String, _ yaml: String, _ kinds: [any StageKind], cache: String? = nil) throws -> Runner {
  try yaml.write(toFile: root + "/Pipelines/p.yaml", atomically: true, encoding: .utf8)
  let registry = StageRegistry(kinds)
  return Runner(
    pipeline: try Pipeline.load(root + "/Pipelines/p.yaml", profile: nil, registry: registry), registry: registry,
    cache: try Cache(root: cache ?? root + "/.peftlab"), projectRoot: root, reporter: ProgressReporter(mode: .quiet))
}

final class TrainStageTests: XCTestCase {
  func testPretrainThenFinetuneAsCachedStages() throws {
    let root = try projectWithSyntheticManifests(
      ["upstream-synth", "busi-synth"], counts: (64, 16, 32), tag: "trainstages")
    let yaml = """
      stages:
        pretrain:
          kind: pretrain
          params: {dataset: upstream-synth, preset: micro, steps: 30, batch: 16, optimizer: adamw, lr: 0.001}
        finetune:
          kind: finetune
          needs: [pretrain]
          matrix: {mode: [full, linear-probe]}
          params: {dataset: busi-synth, steps: 20, batch: 16, lr: 0.01, mode: "${item.mode}"}
      """
    func runner(_ text: String = yaml) throws -> Runner {
      try pipelineRunner(root, text, [PretrainStageKind(), FinetuneStageKind()])
    }
    XCTAssertEqual(Set(try runner().run(RunOptions()).ran), ["pretrain", "finetune@full", "finetune@linear-probe"])
    XCTAssertTrue(try runner().run(RunOptions()).ran.isEmpty, "every stage is cached")
    let st = try runner().status()
    func out(_ s: String) -> String { root + "/.peftlab/objects/" + st.first { $0.stage == s }!.output! }
    let ft = try Checkpoint.load(out("finetune@full") + "/model.h5")
    XCTAssertEqual(ft.config.numClasses, 3)
    XCTAssertEqual(ft.config.head, .l2Linear)
    // model.h5 says how to feed the model and what its logits mean
    let h5 = try HDF5File.open(out("finetune@full") + "/model.h5")
    XCTAssertEqual(try h5.stringAttribute("class_names"), #"["normal", "benign", "malignant"]"#)
    let mean =
      try JSONSerialization.jsonObject(with: Data(try h5.stringAttribute("normalization_mean").utf8)) as? [Double]
    XCTAssertEqual(mean?.count, 3)
    let metrics =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: out("finetune@full") + "/metrics.json"))) as! [String: Any]
    XCTAssertNotNil((metrics["test"] as? [String: Any])?["macro_f1"])
    XCTAssertEqual(
      try String(contentsOfFile: out("finetune@full") + "/curve.csv", encoding: .utf8).split(separator: "\n").count, 21)
    // linear probing leaves the backbone equal to the pretrained one
    let pre = try Checkpoint.load(out("pretrain") + "/model.h5")
    let probe = try Checkpoint.load(out("finetune@linear-probe") + "/model.h5")
    XCTAssertEqual(probe.values("blocks.1.mlp.fc1.weight"), pre.values("blocks.1.mlp.fc1.weight"))
    XCTAssertNotEqual(ft.values("blocks.1.mlp.fc1.weight"), pre.values("blocks.1.mlp.fc1.weight"))
    // a fine-tuning parameter reruns only the fine-tuning stages
    let changed = yaml.replacingOccurrences(of: "lr: 0.01", with: "lr: 0.02")
    XCTAssertEqual(Set(try runner(changed).run(RunOptions()).ran), ["finetune@full", "finetune@linear-probe"])
  }

  /// `--cache-dir` holds everything a run writes, the decoded datasets too: nothing lands in the project's
  /// `.peftlab` when the cache is elsewhere.
  func testDecodedDatasetsLiveInTheRunsCache() throws {
    let root = try projectWithSyntheticManifests(["busi-synth"], counts: (32, 8, 8), tag: "cachedir")
    let yaml = """
      stages:
        pretrain:
          kind: pretrain
          params: {dataset: busi-synth, preset: micro, steps: 2, batch: 8, optimizer: adamw, lr: 0.001}
      """
    let elsewhere = root + "/elsewhere-cache"
    let runner = try pipelineRunner(root, yaml, [PretrainStageKind()], cache: elsewhere)
    XCTAssertEqual(try runner.run(RunOptions()).ran, ["pretrain"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/.peftlab"), "nothing outside --cache-dir")
    let decoded = try FileManager.default.contentsOfDirectory(atPath: elsewhere + "/datasets")
    XCTAssertFalse(decoded.isEmpty, "the decoded dataset is in the run's cache")
  }

  /// A multi-label dataset trains with sigmoid binary cross-entropy over its multi-hot rows and is
  /// evaluated per label (recall of each of the 44 findings); the model then fine-tunes on a task.
  func testMultiLabelPretrainingFeedsFinetune() throws {
    let root = try projectWithSyntheticManifests(
      ["upstream-synth-ml", "busi-synth"], counts: (64, 16, 32), tag: "multilabel")
    let yaml = """
      stages:
        pretrain:
          kind: pretrain
          params: {dataset: upstream-synth-ml, preset: micro, steps: 40, batch: 16, optimizer: adamw, lr: 0.003}
        finetune:
          kind: finetune
          needs: [pretrain]
          params: {dataset: busi-synth, steps: 5, batch: 16, lr: 0.01}
      """
    let runner = try pipelineRunner(root, yaml, [PretrainStageKind(), FinetuneStageKind()])
    XCTAssertEqual(Set(try runner.run(RunOptions()).ran), ["pretrain", "finetune"])
    let st = try runner.status()
    func out(_ s: String) -> String { root + "/.peftlab/objects/" + st.first { $0.stage == s }!.output! }
    XCTAssertEqual(try Checkpoint.load(out("pretrain") + "/model.h5").config.numClasses, 44)
    let metrics =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: out("pretrain") + "/metrics.json"))) as! [String: Any]
    let test = try XCTUnwrap(metrics["test"] as? [String: Any])
    XCTAssertEqual((test["recall"] as? [Any])?.count, 44, "one recall per finding")
    XCTAssertNotNil(test["macro_auc"] as? Double)
    // the binary cross-entropy starts at log 2 and falls as the mostly-absent findings are learned
    let losses = try String(contentsOfFile: out("pretrain") + "/curve.csv", encoding: .utf8)
      .split(separator: "\n").dropFirst().map { Double($0.split(separator: ",")[1])! }
    XCTAssertEqual(losses[0], log(2), accuracy: 0.1)
    XCTAssertLessThan(losses.suffix(5).reduce(0, +) / 5, 0.4)
    XCTAssertEqual(try Checkpoint.load(out("finetune") + "/model.h5").config.numClasses, 3)
  }
}

final class StageReproducibilityTests: XCTestCase {
  /// The same key and thread count give the same output bytes: a training stage forced twice
  /// publishes the same object hash (its seconds go to timing.json, outside the hash).
  func testForcedTrainingStageGivesTheSameObject() throws {
    let root = try projectWithSyntheticManifests(
      ["upstream-synth", "busi-synth"], counts: (64, 16, 32), tag: "reprobytes")
    try """
    stages:
      pretrain:
        kind: pretrain
        params: {dataset: upstream-synth, preset: micro, steps: 12, batch: 16, optimizer: adamw, lr: 0.001}
      finetune:
        kind: finetune
        needs: [pretrain]
        params: {dataset: busi-synth, steps: 10, batch: 16, lr: 0.01}
    """.write(toFile: root + "/Pipelines/p.yaml", atomically: true, encoding: .utf8)
    let registry = StageRegistry([PretrainStageKind(), FinetuneStageKind()])
    func runner() throws -> Runner {
      Runner(
        pipeline: try Pipeline.load(root + "/Pipelines/p.yaml", profile: nil, registry: registry), registry: registry,
        cache: try Cache(root: root + "/.peftlab"), projectRoot: root, reporter: ProgressReporter(mode: .quiet))
    }
    var force = RunOptions()
    force.force = true
    var outputs: [[String: String]] = []
    for _ in 0..<2 {
      XCTAssertEqual(Set(try runner().run(force).ran), ["pretrain", "finetune"])
      outputs.append(Dictionary(uniqueKeysWithValues: try runner().status().map { ($0.stage, $0.output ?? "") }))
      Thread.sleep(forTimeInterval: 1.1)  // a different second, a different wall-clock time
    }
    XCTAssertEqual(outputs[0], outputs[1])
    let dir = root + "/.peftlab/objects/" + outputs[0]["finetune"]!
    let metrics = try String(contentsOfFile: dir + "/metrics.json", encoding: .utf8)
    XCTAssertFalse(metrics.contains("\"seconds\""), "wall-clock time stays out of metrics.json")
    let timing =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/timing.json")))
      as? [String: Any]
    XCTAssertGreaterThan(timing?["seconds"] as? Double ?? 0, 0)
    XCTAssertEqual(try treeHash(dir), outputs[0]["finetune"], "timing.json is not part of the content hash")
  }
}

final class ShippedPipelineTests: XCTestCase {
  /// Every pipeline file in Pipelines/ resolves against the shipped kinds, in every profile.
  func testShippedPipelinesResolve() throws {
    let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("Pipelines").path
    let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }
    XCTAssertTrue(files.contains("sh-peft.yaml"))
    for f in files {
      let p = try Pipeline.load(dir + "/" + f, profile: nil, registry: StandardStages.registry)
      XCTAssertFalse(p.stages.isEmpty, f)
      for profile in ["smoke", "quick", "full", "paper"]
      where (try? String(contentsOfFile: dir + "/" + f, encoding: .utf8))?.contains("\(profile):") == true {
        XCTAssertNoThrow(
          try Pipeline.load(dir + "/" + f, profile: profile, registry: StandardStages.registry), "\(f) \(profile)")
      }
    }
    let sh = try Pipeline.load(dir + "/sh-peft.yaml", profile: "quick", registry: StandardStages.registry)
    XCTAssertEqual(
      sh.stages.filter { $0.kind == "finetune" }.count, 3 * 3 * 2, "full and linear probe, 3 tasks x 3 seeds")
    XCTAssertEqual(sh.stage("finetune@busi-synth@seed2")?.params["steps"], .int(200))
    XCTAssertEqual(sh.stage("finetune@busi-synth@seed2")?.params["batch"], .int(64))
    XCTAssertEqual(sh.stage("finetune@busi-synth@seed2")?.params["optimizer"], .string("sgd"), "the paper's recipe")
    // the calibration's full fine-tuning and linear probe are the SH-PEFT study's very stages (one cache key)
    let cal = try Pipeline.load(dir + "/calibration.yaml", profile: "quick", registry: StandardStages.registry)
    XCTAssertEqual(cal.stage("cal-finetune@busi-synth@seed2")?.params, sh.stage("finetune@busi-synth@seed2")?.params)
    XCTAssertEqual(
      cal.stage("cal-linear-probe@busi-synth@seed2")?.params, sh.stage("linear-probe@busi-synth@seed2")?.params)
    XCTAssertEqual(cal.stage("pretrain")?.params, sh.stage("pretrain")?.params)
    XCTAssertEqual(
      sh.stage("sparsity@busi-synth@seed3")?.needs, ["data@busi-synth", "finetune@busi-synth@seed3", "pretrain"])
    XCTAssertEqual(sh.stage("table5@chaoyang-synth@seed1@lambda0.5")?.params["lambda"], .double(0.5))
    let full = try Pipeline.load(dir + "/sh-peft.yaml", profile: "full", registry: StandardStages.registry)
    XCTAssertEqual(full.stages.filter { $0.kind == "shpeft" && $0.base == "shpeft" }.count, 6 * 5, "full: 5 seeds")
    let paper = try Pipeline.load(dir + "/sh-peft.yaml", profile: "paper", registry: StandardStages.registry)
    XCTAssertEqual(paper.stage("pretrain")?.params["from"], .string("checkpoints/clip-vit-b16.safetensors"))
    XCTAssertNotNil(paper.stage("finetune@limuc@seed5"), "the real datasets, 5 seeds")
    XCTAssertEqual(paper.stages.first { $0.base == "finetune" }?.params["steps"], .int(40000))
  }
}

final class ImportStageTests: XCTestCase {
  func testImportStageFeedsFinetuneAndNamesAMissingFile() throws {
    let root = try projectWithSyntheticManifests(["busi-synth"], counts: (48, 16, 16), tag: "importstage")
    let yaml = """
      stages:
        clip:
          kind: import
          params: {from: "\(fixture("clip_micro.safetensors"))", heads: 2}
        finetune:
          kind: finetune
          needs: [clip]
          params: {dataset: busi-synth, steps: 5, batch: 16, optimizer: adamw, lr: 0.001}
      """
    try yaml.write(toFile: root + "/Pipelines/p.yaml", atomically: true, encoding: .utf8)
    let registry = StandardStages.registry
    func runner() throws -> Runner {
      Runner(
        pipeline: try Pipeline.load(root + "/Pipelines/p.yaml", profile: nil, registry: registry), registry: registry,
        cache: try Cache(root: root + "/.peftlab"), projectRoot: root, reporter: ProgressReporter(mode: .quiet))
    }
    XCTAssertEqual(Set(try runner().run(RunOptions()).ran), ["clip", "finetune"])
    let st = try runner().status()
    let out = root + "/.peftlab/objects/" + st.first { $0.stage == "clip" }!.output!
    let imported = try Checkpoint.load(out + "/model.h5")
    let (direct, _) = try CheckpointImport.load(safetensors: fixture("clip_micro.safetensors"), head: .linear, heads: 2)
    XCTAssertEqual(imported.values("blocks.1.attn.qkv.weight"), direct.values("blocks.1.attn.qkv.weight"))
    XCTAssertEqual(imported.config.preNorm, true, "CLIP's ln_pre")

    try yaml.replacingOccurrences(of: fixture("clip_micro.safetensors"), with: "checkpoints/missing.safetensors")
      .write(toFile: root + "/Pipelines/p.yaml", atomically: true, encoding: .utf8)
    let s = try runner().run(RunOptions())
    guard case .failed(let msg) = s.outcomes["clip"] else {
      return XCTFail("a missing checkpoint fails its stage: \(s.outcomes)")
    }
    XCTAssertTrue(msg.contains("checkpoints/missing.safetensors") && msg.contains("p.yaml"), msg)
    XCTAssertEqual(s.outcomes["finetune"], .skipped("stopped after 'clip' failed (use --keep-going)"))
  }
}

/// Bring your own checkpoints: W_ori and W_ft of two tasks made elsewhere (here: written as timm-named
/// safetensors), imported as stages, feed the sparsity and hybridity studies unchanged.
final class ImportedCheckpointStudyTests: XCTestCase {
  func testImportedFineTunedModelsFeedSparsityAndHybridity() throws {
    let root = try projectWithSyntheticManifests(["busi-synth", "chaoyang-synth"], counts: (32, 16, 24), tag: "byo")
    try FileManager.default.createDirectory(atPath: root + "/checkpoints", withIntermediateDirectories: true)
    var c = try ViTConfig.preset("micro")
    func write(_ m: ViT, _ name: String) throws {
      try SafetensorsFile.write(
        root + "/checkpoints/" + name, tensors: m.layout.tensors.map { ($0.name, $0.shape, m.values($0.name)!) })
    }
    c.numClasses = 3
    let ori = try ViT(config: c, seed: 1)
    try write(ori, "ori.safetensors")
    for (task, classes, seed) in [("busi-synth", 3, 5), ("chaoyang-synth", 4, 6)] {
      c.numClasses = classes
      let ft = try ViT(config: c, seed: UInt64(seed))  // its head; the backbone = W_ori + a change of varying size
      var rng = Xoshiro256(seed: UInt64(seed))
      for t in ori.layout.tensors where !t.name.hasPrefix("head") {
        let w = ori.values(t.name)!
        try ft.setValues(t.name, w.map { $0 + Float(rng.normal()) * 0.01 * Float(rng.uniform() < 0.1 ? 10 : 1) })
      }
      try write(ft, "ft-\(task).safetensors")
    }
    let yaml = """
      stages:
        original:
          kind: import
          params: {from: checkpoints/ori.safetensors, heads: 2}
        ft:
          kind: import
          matrix: {task: [busi-synth, chaoyang-synth]}
          params: {from: "checkpoints/ft-${item.task}.safetensors", heads: 2, dataset: "${item.task}", seed: 1}
        sparsity:
          kind: sparsity
          needs: [original, ft@busi-synth]
          params: {dataset: busi-synth, original: original, grid: [0, 10, 100]}
        hybridity:
          kind: hybridity
          needs: [original, ft]
          params: {original: original, ks: [1, 10]}
      """
    try yaml.write(toFile: root + "/Pipelines/p.yaml", atomically: true, encoding: .utf8)
    let registry = StandardStages.registry
    func runner() throws -> Runner {
      Runner(
        pipeline: try Pipeline.load(root + "/Pipelines/p.yaml", profile: nil, registry: registry), registry: registry,
        cache: try Cache(root: root + "/.peftlab"), projectRoot: root, reporter: ProgressReporter(mode: .quiet))
    }
    let r = try runner().run(RunOptions())
    XCTAssertTrue(r.failed.isEmpty, "\(r.outcomes)")
    let st = try runner().status()
    func out(_ s: String) -> String { root + "/.peftlab/objects/" + st.first { $0.stage == s }!.output! }
    let sp =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out("sparsity") + "/sparsity.json")))
      as! [String: Any]
    let rows = try XCTUnwrap(sp["grid"] as? [[String: Any]])
    XCTAssertEqual(rows.last?["f1_fraction"] as? Double ?? 0, 1, accuracy: 1e-9, "k = 100 % is W_ft itself")
    XCTAssertTrue(FileManager.default.fileExists(atPath: out("hybridity") + "/hybridity.json"))
    // a W_ft whose head does not fit its task is an error naming the file and both class counts
    try yaml.replacingOccurrences(of: "ft-${item.task}.safetensors", with: "ft-busi-synth.safetensors")
      .write(toFile: root + "/Pipelines/p.yaml", atomically: true, encoding: .utf8)
    var keep = RunOptions(); keep.keepGoing = true
    let bad = try runner().run(keep)
    guard case .failed(let msg)? = bad.outcomes["ft@chaoyang-synth"] else { return XCTFail("\(bad.outcomes)") }
    XCTAssertTrue(msg.contains("ft-busi-synth.safetensors") && msg.contains("3 classes") && msg.contains("has 4"), msg)
  }
}

/// Evaluation keeps no activation (one block's buffers serve every block): the same loss, bit for bit,
/// as a forward that keeps every layer.
final class StreamedEvaluationTests: XCTestCase {
  func testStreamedEvaluationEqualsKeepingEveryLayer() throws {
    var c = try ViTConfig.preset("micro")
    c.depth = 3
    let m = try ViT(config: c, seed: 4)
    var rng = Xoshiro256(seed: 5)
    let n = 10, size = c.channels * c.imageSize * c.imageSize
    let set = ImageSet(
      images: (0..<(n * size)).map { _ in Float(rng.normal()) }, labels: (0..<n).map { Int32($0 % c.numClasses) },
      channels: c.channels, height: c.imageSize, width: c.imageSize, classes: c.numClasses)
    let e = Evaluation.evaluate(m, on: set, batch: 4)
    var lossSum = 0.0, start = 0
    while start < n {
      let b = min(4, n - start)
      let acts = Activations(config: c, batch: b)  // keeps every layer
      var imgs: [Float] = [], labs: [Int32] = []
      set.gather(Array(start..<(start + b))[...], images: &imgs, labels: &labs)
      imgs.withUnsafeBufferPointer { m.forward(images: $0.baseAddress!, acts: acts) }
      lossSum += Double(labs.withUnsafeBufferPointer { m.loss(acts: acts, targets: $0.baseAddress!) }) * Double(b)
      start += b
    }
    XCTAssertEqual(try XCTUnwrap(e.loss), lossSum / Double(n))
  }
}

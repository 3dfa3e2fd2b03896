//===--- RunnerTests.swift - what reruns, and what the cache keeps ---------===//
import Foundation
import Pipeline
import XCTest

let threeStages = """
  stages:
    prepare:
      kind: shell
      params:
        cmd: echo hello > $OUT/greeting.txt
    train:
      kind: shell
      needs: [prepare]
      matrix: {dataset: [a, b], seed: [1, 2]}
      params:
        cmd: 'cat $IN_PREPARE/greeting.txt > $OUT/r.txt; echo ${item.dataset} ${item.seed} >> $OUT/r.txt'
    other:
      kind: shell
      params: {cmd: 'echo other > $OUT/o.txt'}
    summary:
      kind: shell
      needs: [train, other]
      params: {cmd: 'cat $IN_TRAIN_A_SEED1/r.txt $IN_OTHER/o.txt > $OUT/all.txt'}
  """

final class RunnerTests: XCTestCase {
  func testMatrixNamesAndFirstRunThenNoOp() throws {
    let p = try Project(threeStages)
    let s1 = try p.run()
    XCTAssertEqual(
      Set(s1.ran), ["prepare", "train@a@seed1", "train@a@seed2", "train@b@seed1", "train@b@seed2", "other", "summary"])
    XCTAssertEqual(try p.output("summary", "all.txt"), "hello\na 1\nother\n")
    let s2 = try p.run()
    XCTAssertTrue(s2.ran.isEmpty)
    XCTAssertTrue(try p.runner().status().allSatisfy { $0.state == .upToDate })
    XCTAssertTrue(FileManager.default.fileExists(atPath: p.root + "/Pipelines/p.lock"))
  }

  func testChangingOneParameterRerunsExactlyItsDependents() throws {
    let p = try Project(threeStages)
    try p.run()
    try p.write(threeStages.replacingOccurrences(of: "echo other", with: "echo OTHER"))
    let st = try p.runner().status()
    let other = st.first { $0.stage == "other" }!
    XCTAssertEqual(other.state, .stale)
    XCTAssertEqual(
      other.changes, [.param(name: "cmd", old: "\"echo other > $OUT/o.txt\"", new: "\"echo OTHER > $OUT/o.txt\"")])
    XCTAssertTrue(
      other.changes[0].description.contains("echo other") && other.changes[0].description.contains("echo OTHER"))
    let s = try p.run()
    XCTAssertEqual(Set(s.ran), ["other", "summary"])
    XCTAssertEqual(try p.output("summary", "all.txt"), "hello\na 1\nOTHER\n")
    // the lock file now records the new parameter
    let lock = try String(contentsOfFile: p.root + "/Pipelines/p.lock", encoding: .utf8)
    XCTAssertTrue(lock.contains("echo OTHER"))
  }

  func testEarlyCutoffWhenOutputIsIdentical() throws {
    let p = try Project(threeStages)
    try p.run()
    // a different command with byte-identical output
    try p.write(
      threeStages.replacingOccurrences(
        of: "echo hello > $OUT/greeting.txt", with: "printf 'hello\\n' > $OUT/greeting.txt"))
    let s = try p.run()
    XCTAssertEqual(s.ran, ["prepare"], "downstream stages are cut off")
    XCTAssertEqual(s.outcomes["summary"], .cached)
  }

  func testKindVersionBumpRerunsItsStages() throws {
    struct Echo: StageKind {
      var version: Int
      let name = "echo"
      let parameters = [ParameterSpec("text")]
      func run(_ c: StageContext) throws {
        try (c.params["text"]!.description + " v\(version)").write(
          toFile: c.outputDir + "/t.txt", atomically: true, encoding: .utf8)
      }
    }
    let yaml = """
      stages:
        e: {kind: echo, params: {text: hi}}
        s: {kind: shell, params: {cmd: 'echo s > $OUT/s'}}
        d: {kind: shell, needs: [e], params: {cmd: 'cat $IN_E/t.txt > $OUT/d'}}
      """
    let p = try Project(yaml)
    p.registry.register(Echo(version: 1))
    try p.run()
    p.registry.register(Echo(version: 2))
    let e = try p.runner().status().first { $0.stage == "e" }!
    XCTAssertEqual(e.changes, [.kindVersion(old: 1, new: 2)])
    XCTAssertEqual(Set(try p.run().ran), ["e", "d"])
    XCTAssertEqual(try p.output("d", "d"), "hi v2")
  }

  func testForceAndForceDownstream() throws {
    let p = try Project(threeStages)
    try p.run()
    XCTAssertEqual(try p.run(["prepare"], force: true).ran, ["prepare"])
    let s = try p.run(["prepare"], forceDownstream: true)
    XCTAssertEqual(
      Set(s.ran), ["prepare", "train@a@seed1", "train@a@seed2", "train@b@seed1", "train@b@seed2", "summary"])
  }

  func testTargetsRunOnlyTheirClosure() throws {
    let p = try Project(threeStages)
    let s = try p.run(["train@b@seed2"])
    XCTAssertEqual(Set(s.ran), ["prepare", "train@b@seed2"])
    XCTAssertEqual(Set(try p.run(["train"]).ran), ["train@a@seed1", "train@a@seed2", "train@b@seed1"])
  }

  func testProfileAndSharedDefaultsOverrideParameters() throws {
    let yaml = """
      defaults:
        shell: {deps: []}
      profiles:
        quick: {greet: {cmd: 'echo quick > $OUT/g'}}
      stages:
        greet: {kind: shell, params: {cmd: 'echo full > $OUT/g'}}
      """
    let p = try Project(yaml)
    try p.run(profile: "quick")
    let st = try p.runner(profile: "quick").status()[0]
    XCTAssertEqual(
      try String(contentsOfFile: p.root + "/.peftlab/objects/" + st.output! + "/g", encoding: .utf8), "quick\n")
    let plain = try p.runner().status()[0]
    XCTAssertEqual(plain.state, .stale, "without the profile the parameter differs from the last run")
    XCTAssertEqual(plain.changes, [.param(name: "cmd", old: "\"echo quick > $OUT/g\"", new: "\"echo full > $OUT/g\"")])
    XCTAssertTrue(FileManager.default.fileExists(atPath: p.root + "/Pipelines/p.quick.lock"))
  }

  func testVariablesInParametersAndNeedsFollowTheProfile() throws {
    let yaml = """
      vars: {word: full, part: a, deps: [x.txt]}
      profiles:
        quick: {vars: {word: quick, part: b}}
      stages:
        src:
          kind: shell
          matrix: {part: [a, b]}
          params: {cmd: 'echo ${item.part} > $OUT/p'}
        greet:
          kind: shell
          needs: ["src@${vars.part}"]
          params: {cmd: 'cat $IN_SRC_${vars.part}/p > $OUT/g; echo ${vars.word} >> $OUT/g', outs: "${vars.deps}"}
      """.replacingOccurrences(of: "$IN_SRC_${vars.part}", with: "\"$(env | grep ^IN_SRC | cut -d= -f2)\"")
    let p = try Project(yaml)
    let pipeline = try p.runner(profile: "quick").pipeline
    let greet = try XCTUnwrap(pipeline.stages.first { $0.name == "greet" })
    XCTAssertEqual(greet.needs, ["src@b"])
    XCTAssertEqual(greet.params["outs"], .array([.string("x.txt")]), "a whole ${vars.NAME} keeps its list")
    XCTAssertTrue(greet.params["cmd"]?.string?.hasSuffix("echo quick >> $OUT/g") == true)
    XCTAssertThrowsError(try Project(yaml.replacingOccurrences(of: "${vars.word}", with: "${vars.nope}")).runner()) {
      XCTAssertTrue("\($0)".contains("'${vars.nope}'") && "\($0)".contains("no variable 'nope'"), "\($0)")
    }
  }

  func testFailedStageLeavesNoResultAndIsReported() throws {
    let yaml = """
      stages:
        bad: {kind: shell, params: {cmd: 'echo partial > $OUT/x; exit 3'}}
        after: {kind: shell, needs: [bad], params: {cmd: 'echo > $OUT/y'}}
        fine: {kind: shell, params: {cmd: 'echo ok > $OUT/z'}}
      """
    let p = try Project(yaml)
    var o = RunOptions()
    o.keepGoing = true
    let s = try p.runner().run(o)
    XCTAssertEqual(s.failed, ["bad"])
    if case .skipped = s.outcomes["after"]! {} else { XCTFail("after should be skipped") }
    XCTAssertEqual(s.outcomes["fine"]!.didRun, true)
    let st = try p.runner().status()
    XCTAssertEqual(st.first { $0.stage == "bad" }!.state, .failed)
    XCTAssertTrue(st.first { $0.stage == "bad" }!.error!.contains("status 3"))
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: p.root + "/.peftlab/objects").count, 1, "only 'fine'")
    XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: p.root + "/.peftlab/tmp").isEmpty)
  }

  func testCorruptObjectIsDetectedOnReadAndRecomputed() throws {
    let p = try Project(threeStages)
    try p.run()
    let prep = try p.runner().status().first { $0.stage == "prepare" }!.output!
    let file = p.root + "/.peftlab/objects/" + prep + "/greeting.txt"
    try "tampered\n".write(toFile: file, atomically: false, encoding: .utf8)
    let cache = try Cache(root: p.root + "/.peftlab")
    XCTAssertFalse(cache.verify(prep), "cache verify detects it")
    // a stage that reads it detects it too, and the producer is recomputed
    let s = try p.run(["train@a@seed1"], force: true)
    XCTAssertTrue(s.ran.contains("prepare"))
    XCTAssertEqual(try p.output("train@a@seed1", "r.txt"), "hello\na 1\n")
    XCTAssertTrue(cache.verify(prep))
  }

  func testPipelineErrorsNameFileLineAndStage() throws {
    let cases: [(String, [String])] = [
      ("stages:\n  a: {kind: nope}\n", ["p.yaml:2", "'a'", "unknown kind 'nope'"]),
      (
        "stages:\n  a:\n    kind: shell\n    params:\n      cmd: x\n      colour: red\n",
        ["p.yaml:6", "'a'", "unknown parameter 'colour'"]
      ),
      (
        "stages:\n  a: {kind: shell, needs: [b], params: {cmd: x}}\n  b: {kind: shell, needs: [a], params: {cmd: x}}\n",
        ["cycle", "a -> b -> a"]
      ),
      (
        "stages:\n  a:\n    kind: shell\n    needs: [ghost]\n    params: {cmd: x}\n",
        ["p.yaml:4", "'a'", "needs 'ghost'"]
      ),
      (
        "stages:\n  a:\n    kind: shell\n    matrix: {v: [x, x]}\n    params: {cmd: x}\n",
        ["duplicate stage name 'a@x'"]
      ),
      ("stages:\n  a: {kind: shell}\n", ["'a'", "missing required parameter 'cmd'"]),
      ("stages:\n  a: {kind: shell, params: {cmd: '${item.zz}'}}\n", ["no matrix key 'zz'"]),
    ]
    for (yaml, parts) in cases {
      let p = try Project(yaml)
      do {
        _ = try p.runner()
        XCTFail("expected an error for:\n\(yaml)")
      } catch {
        let s = "\(error)"
        XCTAssertTrue(s.contains(p.pipelinePath), "\(s) names the file")
        for part in parts { XCTAssertTrue(s.contains(part), "'\(s)' lacks '\(part)'") }
      }
    }
  }

  func testExternalDepsEnterTheKey() throws {
    let yaml = "stages:\n  a: {kind: shell, params: {cmd: 'cat script.sh > $OUT/c', deps: [script.sh]}}\n"
    let p = try Project(yaml)
    try "v1".write(toFile: p.root + "/script.sh", atomically: true, encoding: .utf8)
    try p.run()
    XCTAssertTrue(try p.run().ran.isEmpty)
    try "v2".write(toFile: p.root + "/script.sh", atomically: true, encoding: .utf8)
    let a = try p.runner().status()[0]
    if case .external(let f, _, _) = a.changes.first { XCTAssertEqual(f, "script.sh") } else { XCTFail("\(a.changes)") }
    XCTAssertEqual(try p.run().ran, ["a"])
  }

  func testMatrixOverAGroupFromAVarsFile() throws {
    let p = try Project(
      """
      vars: groups.yaml
      stages:
        train:
          kind: shell
          matrix: {dataset: "${vars.suite}", seed: [1]}
          params: {cmd: 'echo ${item.dataset} > $OUT/d'}
      """)
    try "suite: [busi-synth, oct-synth]\n".write(
      toFile: p.root + "/Pipelines/groups.yaml", atomically: true, encoding: .utf8)
    XCTAssertEqual(Set(try p.run().ran), ["train@busi-synth@seed1", "train@oct-synth@seed1"])
    // adding a dataset to the group adds exactly its stage
    try "suite: [busi-synth, oct-synth, cxr3-synth]\n".write(
      toFile: p.root + "/Pipelines/groups.yaml", atomically: true, encoding: .utf8)
    XCTAssertEqual(try p.run().ran, ["train@cxr3-synth@seed1"])
    try "other: [x]\n".write(toFile: p.root + "/Pipelines/groups.yaml", atomically: true, encoding: .utf8)
    XCTAssertThrowsError(try p.runner()) { XCTAssertTrue("\($0)".contains("no list 'suite' in vars")) }
  }
}

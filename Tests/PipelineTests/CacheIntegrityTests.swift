import Foundation
import Pipeline
import XCTest

/// The cache never serves a wrong result: tampered objects, inputs written to by a stage, `--force`
/// over a corrupt object, garbage collection against lock files, and parameters of the wrong type.
final class CacheIntegrityTests: XCTestCase {
  func testTamperedLeafObjectIsNotServedAsCached() throws {
    let p = try Project("stages:\n  leaf: {kind: shell, params: {cmd: 'echo clean > $OUT/v'}}\n")
    try p.run()
    let h = try p.runner().status()[0].output!
    let file = p.root + "/.peftlab/objects/" + h + "/v"
    chmod(file, 0o644)
    try "POISON\n".write(toFile: file, atomically: false, encoding: .utf8)
    XCTAssertNotEqual(try p.runner().status()[0].state, .upToDate, "status does not call a tampered object up to date")
    XCTAssertEqual(try p.run().ran, ["leaf"], "run recomputes it")
    XCTAssertEqual(try p.output("leaf", "v"), "clean\n")
  }

  func testForceReplacesACorruptObject() throws {
    let p = try Project("stages:\n  leaf: {kind: shell, params: {cmd: 'echo clean > $OUT/v'}}\n")
    try p.run()
    let h = try p.runner().status()[0].output!
    let file = p.root + "/.peftlab/objects/" + h + "/v"
    chmod(file, 0o644)
    try "POISON\n".write(toFile: file, atomically: false, encoding: .utf8)
    try p.run(force: true)
    XCTAssertEqual(try p.output("leaf", "v"), "clean\n")
    XCTAssertTrue(try Cache(root: p.root + "/.peftlab").verify(h))
  }

  func testARecordEditedToPointAtAnotherObjectIsNotServed() throws {
    let p = try Project(
      "stages:\n  a: {kind: shell, params: {cmd: 'echo A > $OUT/v'}}\n  b: {kind: shell, params: {cmd: 'echo B > "
        + "$OUT/v'}}\n"
    )
    try p.run()
    let cache = try Cache(root: p.root + "/.peftlab")
    var a = try XCTUnwrap(cache.lastRun(of: "a")), b = try XCTUnwrap(cache.lastRun(of: "b"))
    a = try XCTUnwrap(cache.record(for: a.key)); b = try XCTUnwrap(cache.record(for: b.key))
    XCTAssertTrue(a.isIntact && a.seal != nil)
    // point a's record at b's (valid) object
    let path = p.root + "/.peftlab/records/\(a.key).json"
    let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: a.output, with: b.output)
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    XCTAssertFalse(try XCTUnwrap(cache.record(for: a.key)).isIntact, "the edit breaks the seal")
    XCTAssertNil(cache.hit(a.key), "an edited record is not served")
    XCTAssertEqual(try p.run().ran, ["a"], "its stage recomputes")
    XCTAssertEqual(try p.output("a", "v"), "A\n")
    XCTAssertTrue(cache.allRecords().allSatisfy(\.isIntact))
  }

  func testADepsFileEditedWithTheSameSizeAndRestoredMtimeIsSeen() throws {
    let p = try Project("stages:\n  a: {kind: shell, params: {cmd: 'cat in.txt > $OUT/v', deps: [in.txt]}}\n")
    let file = p.root + "/in.txt"
    try "one\n".write(toFile: file, atomically: false, encoding: .utf8)
    try p.run()
    var st = stat()
    XCTAssertEqual(stat(file, &st), 0)
    Thread.sleep(forTimeInterval: 0.02)
    try "two\n".write(toFile: file, atomically: false, encoding: .utf8)  // same size, then the old mtime back
    var times = [st.st_atim, st.st_mtim]
    XCTAssertEqual(utimensat(AT_FDCWD, file, &times, 0), 0)
    XCTAssertEqual(try p.run().ran, ["a"], "the edit is seen (ctime changed)")
    XCTAssertEqual(try p.output("a", "v"), "two\n")
  }

  func testPublishedFilesAreReadOnly() throws {
    let p = try Project("stages:\n  leaf: {kind: shell, params: {cmd: 'echo clean > $OUT/v'}}\n")
    try p.run()
    let h = try p.runner().status()[0].output!
    var st = stat()
    XCTAssertEqual(stat(p.root + "/.peftlab/objects/" + h + "/v", &st), 0)
    XCTAssertEqual(st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH), 0)
  }

  /// A stage that writes into its input while a consumer runs (as root, permissions do not stop it)
  /// leaves neither a poisoned consumer nor a poisoned producer in the cache.
  func testAStageWritingIntoItsInputPoisonsNothing() throws {
    let p = try Project(
      """
      stages:
        up: {kind: shell, params: {cmd: 'echo clean > $OUT/v'}}
        writer: {kind: shell, needs: [up],
                 params: {cmd: 'chmod u+w $IN_UP/v; echo POISON >> $IN_UP/v; echo w > $OUT/w'}}
        reader: {kind: shell, needs: [up], params: {cmd: 'sleep 0.3; cat $IN_UP/v > $OUT/r'}}
      """)
    let summary = try p.run(jobs: 2)  // the writer's own input changes under it: recomputed twice, then it fails
    let cache = try Cache(root: p.root + "/.peftlab")
    let status = try p.runner().status()
    for s in status where s.output != nil {
      XCTAssertTrue(cache.verify(s.output!), "\(s.stage)'s object matches its hash")
    }
    func read(_ stage: String, _ file: String) -> String? {
      guard let h = status.first(where: { $0.stage == stage })?.output else { return nil }
      return try? String(contentsOfFile: p.root + "/.peftlab/objects/" + h + "/" + file, encoding: .utf8)
    }
    if let r = read("reader", "r") { XCTAssertEqual(r, "clean\n", "the reader never publishes a poisoned read") }
    XCTAssertEqual(read("up", "v") ?? "clean\n", "clean\n")
    guard case .failed(let why) = summary.outcomes["writer"] else { return XCTFail("the writer fails") }
    XCTAssertTrue(why.contains("changed again while it ran"), why)
  }

  func testGcKeepsWhatAnyLockFileReferences() throws {
    let p = try Project(
      """
      stages:
        a: {kind: shell, params: {cmd: 'echo one > $OUT/v'}}
      profiles:
        other:
          a: {cmd: 'echo two > $OUT/v'}
      """)
    try p.run()
    try p.run(profile: "other")  // the last run of 'a' is now the profile's
    let cache = try Cache(root: p.root + "/.peftlab")
    let (_, removed, locks) = cache.collectGarbage(lockDir: p.root + "/Pipelines")
    XCTAssertEqual(removed, 0, "p.lock still references the default profile's result")
    XCTAssertEqual(Set(locks.map(\.0)), ["p.lock", "p.other.lock"])
    XCTAssertTrue(try p.run().ran.isEmpty, "the default profile is still cached")
    let (_, removedWithoutLocks, _) = cache.collectGarbage(lockDir: p.root + "/nowhere")
    XCTAssertEqual(removedWithoutLocks, 1, "without lock files only the last run is kept")
  }

  struct Counting: StageKind {
    let name = "counting"
    let version = 1
    var parameters: [ParameterSpec] {
      [
        ParameterSpec("steps", default: .int(5)).positive(), ParameterSpec("lr", default: .double(0.1)).positive(),
        ParameterSpec("seed", default: .int(0)).atLeast(0),
        ParameterSpec("ratio", default: .double(0.5)).atLeast(0).atMost(1),
        ParameterSpec("mode", default: .string("full")).oneOf(["full", "linear-probe"]),
        ParameterSpec("fraction").positive().atMost(1).optional(like: .double(0)),
      ]
    }
    func run(_ context: StageContext) throws {}
  }

  /// An optional parameter may be left out, is then not in the key (so adding one to a kind reruns
  /// nothing), and when given is checked like any other.
  func testOptionalParametersAreCheckedWhenGivenAndNotKeyedWhenAbsent() throws {
    let p = try Project("stages:\n  a:\n    kind: counting\n    params: {steps: 3}\n")
    p.registry.register(Counting())
    let params = try XCTUnwrap(p.runner().pipeline.stages.first { $0.name == "a" }?.params)
    XCTAssertNil(params["fraction"], "absent: not filled in, not keyed")
    XCTAssertEqual(params["steps"], .int(3))
    for (value, want) in [
      ("fraction: 1.5", "must be ≤ 1"), ("fraction: 0", "must be > 0"), ("fraction: abc", "must be a number"),
    ] {
      let q = try Project("stages:\n  a:\n    kind: counting\n    params:\n      \(value)\n")
      q.registry.register(Counting())
      XCTAssertThrowsError(try q.runner(), value) { e in
        XCTAssertTrue("\(e)".contains("p.yaml:5") && "\(e)".contains(want), "\(e)")
      }
    }
    let ok = try Project("stages:\n  a:\n    kind: counting\n    params: {fraction: 0.25}\n")
    ok.registry.register(Counting())
    XCTAssertEqual(try ok.runner().pipeline.stages.first { $0.name == "a" }?.params["fraction"], .double(0.25))
  }

  func testParametersOfTheWrongTypeAreErrorsNamingFileAndLine() throws {
    for (value, want) in [
      ("steps: abc", "must be an integer"), ("steps: 2.5", "must be an integer"), ("lr: fast", "must be a number"),
      ("steps: [1]", "must be an integer"),
    ] {
      let p = try Project("stages:\n  a:\n    kind: counting\n    params:\n      \(value)\n")
      p.registry.register(Counting())
      XCTAssertThrowsError(try p.runner(), value) { e in
        XCTAssertTrue("\(e)".contains("p.yaml:5") && "\(e)".contains(want), "\(e)")
      }
    }
    let ok = try Project("stages:\n  a:\n    kind: counting\n    params: {steps: 7, lr: 1}\n")
    ok.registry.register(Counting())
    XCTAssertNoThrow(try ok.runner(), "an integer is a number")
  }

  func testParametersOutOfRangeOrNotAChoiceAreErrorsNamingFileAndLine() throws {
    for (value, want) in [
      ("steps: -5", "must be > 0, not -5"), ("steps: 0", "must be > 0"), ("lr: -0.1", "must be > 0"),
      ("seed: -1", "must be ≥ 0"), ("ratio: 1.5", "must be ≤ 1"), ("lr: .nan", "finite"),
      ("mode: linear_probe", "must be one of 'full', 'linear-probe', not 'linear_probe'"),
    ] {
      let p = try Project("stages:\n  a:\n    kind: counting\n    params:\n      \(value)\n")
      p.registry.register(Counting())
      XCTAssertThrowsError(try p.runner(), value) { e in
        XCTAssertTrue("\(e)".contains("p.yaml:5") && "\(e)".contains("'counting'") && "\(e)".contains(want), "\(e)")
      }
    }
  }
}

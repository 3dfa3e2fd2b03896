//===--- ProcessTests.swift - SIGKILL mid-stage, concurrent runs -----------===//
import Foundation
import Pipeline
import TestSupport
import XCTest

final class ProcessTests: XCTestCase {
  override func setUp() {
    XCTAssertTrue(
      FileManager.default.isExecutableFile(atPath: peftlabBinary()),
      "build the peftlab executable first (make test does): \(peftlabBinary())")
  }

  func testSIGKILLMidWriteLeavesCacheConsistent() throws {
    let yaml = "stages:\n  slow: {kind: shell, params: {cmd: 'echo part > $OUT/a; sleep 1; echo rest > $OUT/b'}}\n"
    let p = try Project(yaml)
    let proc = try launch(["run", "--pipeline", p.pipelinePath, "--cache-dir", ".peftlab"], cwd: p.root)
    XCTAssertTrue(waitForPartialOutput(p, file: "a"), "the stage started writing")
    kill(proc.processIdentifier, SIGKILL)
    proc.waitUntilExit()
    let tmp = p.root + "/.peftlab/tmp"
    XCTAssertTrue(
      ((try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []).count > 0,
      "the dead run's work folder is left")
    let cache = try Cache(root: p.root + "/.peftlab")
    XCTAssertTrue(cache.allRecords().isEmpty, "no record for a killed stage")
    XCTAssertTrue(cache.allObjects().isEmpty, "no half-written object")
    XCTAssertEqual(try p.runner().status()[0].state, .neverRun)
    // the next run recomputes it (and clears the dead run's work folder)
    let s = try p.run()
    XCTAssertEqual(s.ran, ["slow"])
    XCTAssertEqual(try p.output("slow", "b"), "rest\n")
    XCTAssertTrue(cache.allObjects().allSatisfy(cache.verify))
    usleep(1_200_000)  // let the orphaned shell finish; it writes only into the dead work folder
    XCTAssertTrue(cache.allObjects().allSatisfy(cache.verify))
  }

  func testTwoConcurrentRunsComputeEachStageOnce() throws {
    var yaml = "stages:\n"
    for i in 0..<4 {
      yaml += "  s\(i): {kind: shell, params: {cmd: 'sleep 0.3; echo s\(i) >> count.txt; echo \(i) > $OUT/x'}}\n"
    }
    yaml +=
      "  all: {kind: shell, needs: [s0, s1, s2, s3], params: {cmd: 'cat $IN_S0/x $IN_S1/x $IN_S2/x $IN_S3/x > "
      + "$OUT/all; echo all >> count.txt'}}\n"
    let p = try Project(yaml)
    let args = ["run", "--pipeline", p.pipelinePath, "--cache-dir", ".peftlab", "--jobs", "2"]
    let a = try launch(args, cwd: p.root)
    let b = try launch(args, cwd: p.root)
    a.waitUntilExit()
    b.waitUntilExit()
    XCTAssertEqual(a.terminationStatus, 0)
    XCTAssertEqual(b.terminationStatus, 0)
    let counts = try String(contentsOfFile: p.root + "/count.txt", encoding: .utf8).split(separator: "\n").map(
      String.init)
    XCTAssertEqual(counts.sorted(), ["all", "s0", "s1", "s2", "s3"], "each stage computed exactly once")
    XCTAssertEqual(try p.output("all", "all"), "0\n1\n2\n3\n")
    XCTAssertTrue(try p.runner().status().allSatisfy { $0.state == .upToDate })
  }

  func testCLIErrorExitCodesAndMessages() throws {
    let p = try Project("stages:\n  a: {kind: shell, params: {cmd: 'exit 4'}}\n")
    let pipe = Pipe()
    let proc = Process()
    proc.executableURL = URL(fileURLWithPath: peftlabBinary())
    proc.arguments = ["run", "--pipeline", p.pipelinePath]
    proc.currentDirectoryURL = URL(fileURLWithPath: p.root)
    proc.standardOutput = pipe
    proc.standardError = pipe
    try proc.run()
    proc.waitUntilExit()
    let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    XCTAssertEqual(proc.terminationStatus, 1)
    XCTAssertTrue(out.contains("FAILED") && out.contains("status 4"), out)
  }
}

extension ProcessTests {
  func testCtrlCCancelsCleanly() throws {
    let yaml = "stages:\n  long: {kind: shell, params: {cmd: 'echo a > $OUT/a; sleep 20; echo b > $OUT/b'}}\n"
    let p = try Project(yaml)
    let proc = try launch(["run", "--pipeline", p.pipelinePath, "--cache-dir", ".peftlab"], cwd: p.root)
    let tmp = p.root + "/.peftlab/tmp"
    XCTAssertTrue(waitForPartialOutput(p, file: "a"))
    let t = Date()
    kill(proc.processIdentifier, SIGINT)
    proc.waitUntilExit()
    XCTAssertLessThan(Date().timeIntervalSince(t), 5, "the 20 s stage was cancelled, not waited for")
    XCTAssertEqual(proc.terminationStatus, 130)
    let cache = try Cache(root: p.root + "/.peftlab")
    XCTAssertTrue(cache.allRecords().isEmpty)
    XCTAssertTrue(cache.allObjects().isEmpty)
    XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: tmp).isEmpty, "work folder removed")
    XCTAssertNil(cache.lastFailure(of: "long"), "a cancellation is not recorded as a failure")
  }
}

/// Waits (up to 10 s) until a running stage of `p` has written `file` in its work folder.
func waitForPartialOutput(_ p: Project, file: String) -> Bool {
  let tmp = p.root + "/.peftlab/tmp"
  let deadline = Date().addingTimeInterval(10)
  while Date() < deadline {
    for d in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []
    where FileManager.default.fileExists(atPath: tmp + "/" + d + "/out/" + file) { return true }
    usleep(10_000)
  }
  return false
}

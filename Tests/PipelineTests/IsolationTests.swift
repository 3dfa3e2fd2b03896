//===--- IsolationTests.swift - stages in their own processes --------------===//
// `peftlab run` starts each stage as `peftlab stage-exec` in its own process
// group: no orphan survives the run (kill -9, SIGTERM), no lock is held by a
// dead process, a crash is the stage's failure record.
import Foundation
import Pipeline
import TestSupport
import XCTest

final class IsolationTests: XCTestCase {
  override func setUp() {
    XCTAssertTrue(FileManager.default.isExecutableFile(atPath: peftlabBinary()), "build the peftlab executable first")
  }

  /// Runs peftlab with extra environment; returns status and output.
  func peftlab(_ args: [String], cwd: String, env: [String: String] = [:]) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: peftlabBinary())
    p.arguments = args
    p.currentDirectoryURL = URL(fileURLWithPath: cwd)
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: out, as: UTF8.self))
  }

  func testKill9LeavesNoOrphanAndNoStaleLock() throws {
    // the side effect after the sleep must not happen for the killed run
    let yaml =
      "stages:\n  slow: {kind: shell, params: {cmd: 'echo a > $OUT/a; sleep 1.5; echo once >> side.txt; echo b > "
      + "$OUT/b'}}\n"
    let p = try Project(yaml)
    let proc = try launch(["run", "--pipeline", p.pipelinePath, "--cache-dir", ".peftlab"], cwd: p.root)
    XCTAssertTrue(waitForPartialOutput(p, file: "a"))
    kill(proc.processIdentifier, SIGKILL)
    proc.waitUntilExit()
    usleep(2_500_000)
    XCTAssertFalse(
      FileManager.default.fileExists(atPath: p.root + "/side.txt"),
      "the killed run's stage kept running after its runner died")
    let (status, out) = try peftlab(["run", "--pipeline", p.pipelinePath], cwd: p.root)
    XCTAssertEqual(status, 0, out)
    XCTAssertFalse(out.contains("waits"), "no lock is held by the dead run: \(out)")
    XCTAssertEqual(try String(contentsOfFile: p.root + "/side.txt", encoding: .utf8), "once\n")
  }

  func testSIGTERMCancelsTheStageAndItsCommands() throws {
    let yaml = "stages:\n  long: {kind: shell, params: {cmd: 'echo a > $OUT/a; sleep 3; echo late >> side.txt'}}\n"
    let p = try Project(yaml)
    let proc = try launch(["run", "--pipeline", p.pipelinePath, "--cache-dir", ".peftlab"], cwd: p.root)
    XCTAssertTrue(waitForPartialOutput(p, file: "a"))
    kill(proc.processIdentifier, SIGTERM)
    proc.waitUntilExit()
    XCTAssertEqual(proc.terminationStatus, 130)
    usleep(3_500_000)
    XCTAssertFalse(FileManager.default.fileExists(atPath: p.root + "/side.txt"), "the stage's command outlived SIGTERM")
    XCTAssertTrue(try Cache(root: p.root + "/.peftlab").allObjects().isEmpty)
  }

  func testCrashInsideAStageIsThatStagesFailure() throws {
    let yaml = """
      stages:
        boom: {kind: shell, params: {cmd: 'echo x > $OUT/x'}}
        fine: {kind: shell, params: {cmd: 'sleep 0.3; echo y > $OUT/y'}}
      """
    let p = try Project(yaml + "\n")
    let (status, out) = try peftlab(
      ["run", "--pipeline", p.pipelinePath, "--jobs", "2", "--keep-going"], cwd: p.root,
      env: ["PEFTLAB_FAULT_TRAP_STAGE": "boom"])
    XCTAssertEqual(status, 1, out)
    XCTAssertTrue(out.contains("crashed (signal"), out)
    let cache = try Cache(root: p.root + "/.peftlab")
    let failure = try XCTUnwrap(cache.lastFailure(of: "boom"), "a crash leaves the stage's failure record")
    XCTAssertTrue(failure.error?.contains("fault injection") == true, failure.error ?? "")
    XCTAssertEqual(try p.output("fine", "y"), "y\n", "the sibling ran to the end and was published")
    XCTAssertNotNil(cache.lastRun(of: "fine")?.peakMemory, "an isolated stage's peak memory is recorded")
    let (again, out2) = try peftlab(["run", "--pipeline", p.pipelinePath], cwd: p.root)
    XCTAssertEqual(again, 0, "without the fault the stage runs: \(out2)")
  }

  func testKeyTimeErrorFailsOnlyThatStage() throws {
    let yaml = """
      stages:
        broken: {kind: shell, params: {cmd: 'true', deps: [missing.txt]}}
        fine: {kind: shell, params: {cmd: 'sleep 0.3; echo y > $OUT/y'}}
      """
    let p = try Project(yaml + "\n")
    let (status, out) = try peftlab(["run", "--pipeline", p.pipelinePath, "--jobs", "2", "--keep-going"], cwd: p.root)
    XCTAssertEqual(status, 1, out)
    XCTAssertTrue(out.contains("missing.txt"), out)
    let cache = try Cache(root: p.root + "/.peftlab")
    let fine = try XCTUnwrap(cache.lastRun(of: "fine"), "the independent stage ran")
    XCTAssertEqual(try String(contentsOfFile: cache.objectPath(fine.output) + "/y", encoding: .utf8), "y\n")
  }
}

//===--- SlurmExecutorTests.swift - the Slurm executor against a real Slurm ---===//
//
// Needs a running single-node Slurm (`make test` starts one with
// scripts/slurm-local.sh). Without one every test fails, saying why: the
// executor is not considered tested by skipping.
//===----------------------------------------------------------------------===//
import Foundation
import TestSupport
import XCTest

final class SlurmExecutorTests: XCTestCase {
  override func setUpWithError() throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["squeue", "-h"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    let ok =
      (try? p.run()) != nil
      && {
        p.waitUntilExit(); return p.terminationStatus == 0
      }()
    guard ok else {
      XCTFail(
        "Slurm is not running here: start it with `sudo scripts/slurm-local.sh start` (make test does; needs root and "
          + "slurmctld, slurmd, slurm-client, munge)"
      )
      throw NSError(domain: "slurm", code: 1, userInfo: [NSLocalizedDescriptionKey: "Slurm is not running"])
    }
  }

  func project(_ yaml: String) throws -> String {
    let root = temporaryPath("slurm-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(atPath: root + "/Pipelines", withIntermediateDirectories: true)
    try yaml.write(toFile: root + "/Pipelines/p.yaml", atomically: true, encoding: .utf8)
    return root
  }

  func squeue(_ args: [String]) -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["squeue", "-h", "-t", "all"] + args
    let pipe = Pipe()
    p.standardOutput = pipe
    try? p.run()
    let d = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: d, as: UTF8.self)
  }

  func lockOutputs(_ root: String) throws -> [String: String] {
    let j =
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/Pipelines/p.lock")))
      as! [String: Any]
    return (j["stages"] as! [String: [String: Any]]).mapValues { $0["output"] as! String }
  }

  /// Success, a failing stage, and results identical to the local executor's.
  func testStagesRunAsJobsWithTheLocalResults() throws {
    let root = try project(
      """
      stages:
        a:
          kind: shell
          params: {cmd: 'echo a > "$OUT/a.txt"', outs: [a.txt]}
        b:
          kind: shell
          needs: [a]
          params: {cmd: 'cat "$IN/a/a.txt" > "$OUT/b.txt"; echo b >> "$OUT/b.txt"', outs: [b.txt]}
          resources: {cpus: 1, mem: 500M, time: 5}
        fail:
          kind: shell
          params: {cmd: 'echo going to fail; exit 3'}
      """)
    let r = try runPeftlab(["run", "--pipeline", "Pipelines/p.yaml", "--executor", "slurm", "--keep-going"], cwd: root)
    XCTAssertEqual(r.status, 1, r.output)
    XCTAssertTrue(r.output.contains("2 ran, 0 cached, 1 failed"), r.output)
    XCTAssertTrue(r.output.contains("submitted Slurm job"), r.output)
    XCTAssertTrue(r.output.contains("Slurm job") && r.output.contains("exited with status"), r.output)
    let slurm = try lockOutputs(root)
    let local = try runPeftlab(
      ["run", "--pipeline", "Pipelines/p.yaml", "--cache-dir", ".local-cache", "a", "b"], cwd: root)
    XCTAssertEqual(local.status, 0, local.output)
    let loc = try lockOutputs(root)
    XCTAssertEqual(slurm["a"], loc["a"]); XCTAssertEqual(slurm["b"], loc["b"])
    let again = try runPeftlab(["run", "--pipeline", "Pipelines/p.yaml", "--executor", "slurm", "a", "b"], cwd: root)
    XCTAssertTrue(again.output.contains("0 ran, 2 cached"), again.output)
  }

  /// A stage over its time limit is reported as the stage's own failure.
  func testTimeLimit() throws {
    let root = try project(
      """
      stages:
        long:
          kind: shell
          params: {cmd: 'sleep 300'}
          resources: {time: 1}
      """)
    let start = Date()
    let r = try runPeftlab(["run", "--pipeline", "Pipelines/p.yaml", "--executor", "slurm"], cwd: root)
    XCTAssertEqual(r.status, 1)
    XCTAssertTrue(r.output.contains("exceeded its time limit"), r.output)
    XCTAssertLessThan(Date().timeIntervalSince(start), 200)
  }

  /// Ctrl-C cancels the run's jobs.
  func testInterruptCancelsJobs() throws {
    let root = try project(
      """
      stages:
        slow:
          kind: shell
          params: {cmd: 'sleep 120'}
      """)
    let p = try startRun(root)
    let job = try waitForJob(root)
    kill(p.processIdentifier, SIGINT)
    p.waitUntilExit()
    XCTAssertEqual(p.terminationStatus, 130)
    var state = ""
    for _ in 0..<20 {
      state = squeue(["-j", job, "-o", "%T"]).trimmingCharacters(in: .whitespacesAndNewlines);
      if state == "CANCELLED" { break }; Thread.sleep(forTimeInterval: 0.5)
    }
    XCTAssertEqual(state, "CANCELLED")
  }

  /// A killed `peftlab run` re-attaches to its running job instead of submitting again.
  func testRestartReattachesInsteadOfResubmitting() throws {
    let root = try project(
      """
      stages:
        slow:
          kind: shell
          params: {cmd: 'sleep 10; echo \(UInt32.random(in: 0...UInt32.max)) > "$OUT/x.txt"', outs: [x.txt]}
      """)
    let p = try startRun(root)
    let job = try waitForJob(root)
    kill(p.processIdentifier, SIGKILL)
    p.waitUntilExit()
    let status = try runPeftlab(["status", "--pipeline", "Pipelines/p.yaml"], cwd: root)
    XCTAssertTrue(status.output.contains("job \(job)"), "status shows the job:\n" + status.output)
    let r = try runPeftlab(["run", "--pipeline", "Pipelines/p.yaml", "--executor", "slurm"], cwd: root)
    XCTAssertEqual(r.status, 0, r.output)
    XCTAssertTrue(r.output.contains("re-attached to Slurm job \(job)"), r.output)
    XCTAssertFalse(r.output.contains("submitted Slurm job"), "no second submission:\n" + r.output)
    let name = squeue(["-j", job, "-o", "%j"]).trimmingCharacters(in: .whitespacesAndNewlines)
    XCTAssertEqual(squeue(["-n", name, "-o", "%i"]).split(separator: "\n").count, 1, "one job for the stage")
  }

  /// `peftlab run --executor slurm` in the background.
  func startRun(_ root: String) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: peftlabBinary())
    p.arguments = ["run", "--pipeline", "Pipelines/p.yaml", "--executor", "slurm"]
    p.currentDirectoryURL = URL(fileURLWithPath: root)
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    return p
  }

  /// The job id the run journaled, once Slurm runs it.
  func waitForJob(_ root: String) throws -> String {
    for _ in 0..<60 {
      let dir = root + "/.peftlab/slurm/journal"
      if let f = (try? FileManager.default.contentsOfDirectory(atPath: dir))?.first(where: { $0.hasSuffix(".json") }),
        let d = FileManager.default.contents(atPath: dir + "/" + f),
        let j = try? JSONSerialization.jsonObject(with: d) as? [String: Any], let job = j["job"] as? String,
        squeue(["-j", job, "-o", "%T"]).contains("RUNNING")
      {
        return job
      }
      Thread.sleep(forTimeInterval: 0.5)
    }
    throw NSError(domain: "slurm", code: 2, userInfo: [NSLocalizedDescriptionKey: "no Slurm job started within 30 s"])
  }
}

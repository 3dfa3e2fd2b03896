//===--- Isolation.swift - each stage in its own process -------------------===//
//
// With isolation on (the `peftlab` tool always turns it on), the runner writes
// a stage's resolved parameters to <tmp>/stage.json and starts
//     peftlab stage-exec <tmp>/stage.json
// in a new process group; stdout/stderr go to the stage's log, progress
// lines come back on fd 3. So:
//   - a trap or signal in a stage's code is that stage's failure record
//     ("crashed: signal 4 ..."), not the runner's death;
//   - cancelling (Ctrl-C, SIGTERM, a failed sibling) kills the whole group;
//   - the child polls its parent: when the runner dies (even by kill -9) the
//     child kills its own group, so nothing keeps running or writing;
//   - the key lock is an flock on a close-on-exec fd of the runner: it dies
//     with the runner, never held by an orphan.
//   - the child's peak memory (ru_maxrss) is measured and recorded.
//===----------------------------------------------------------------------===//
import Foundation

/// How the runner starts a stage in its own process: `command + [spec path]`.
public struct StageIsolation: Sendable {
  public var command: [String]
  public init(command: [String]) { self.command = command }
}

/// What an isolated stage process needs (written by the runner, read by `stage-exec`).
struct IsolatedStage: Codable {
  var stage: String
  var kind: String
  /// Canonical JSON per parameter (exactly what entered the key).
  var params: [String: String]
  var inputs: [String: String]
  var outputDir: String
  var workDir: String
  var projectRoot: String
  var cacheRoot: String
  /// The key's other components (the child may look up an equivalent cached computation).
  var keyParts: StageKeyParts?
  /// Where the child writes its error message before exiting 1.
  var errorPath: String
}

extension Runner {
  /// Runs `s` through `iso` and waits. Returns the child's peak memory (bytes).
  func runIsolated(
    _ iso: StageIsolation, _ s: StageInstance, inputs: [String: String], keyParts: StageKeyParts, out: String,
    work: String, tmp: String, log: FileHandle
  ) throws -> Int {
    let spec = IsolatedStage(
      stage: s.name, kind: s.kind, params: s.params.mapValues(\.canonicalJSON), inputs: inputs,
      outputDir: out, workDir: work, projectRoot: projectRoot, cacheRoot: cache.root, keyParts: keyParts,
      errorPath: tmp + "/error.txt")
    let specPath = tmp + "/stage.json"
    try JSONEncoder().encode(spec).write(to: URL(fileURLWithPath: specPath))
    var env = ProcessInfo.processInfo.environment
    env["PEFTLAB_STAGE"] = s.name
    let exit = try Subprocess.spawn(
      iso.command + [specPath], environment: env, output: log.fileDescriptor, cancelled: { [cancel] in cancel.isSet },
      onLine: { [reporter] line in
        let f = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
        if let frac = f.first.flatMap({ Double($0) }) {
          reporter.progress(s.name, frac, f.count > 1 ? String(f[1]) : nil)
        }
      })
    if cancel.isSet { throw PipelineError.cancelled }
    if exit.status == 0 && exit.signal == nil { return exit.peakRSS }
    if let sig = exit.signal {
      let name =
        [
          4: "SIGILL: a runtime trap", 5: "SIGTRAP: a runtime trap", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
          9: "SIGKILL: killed, perhaps out of memory", 11: "SIGSEGV", 15: "SIGTERM",
        ][Int(sig)] ?? "signal"
      let tail = Self.logTail(tmp + "/log")
      throw PipelineError.stageFailed(
        stage: s.name, message: "crashed (signal \(sig), \(name))" + (tail.isEmpty ? "" : ": \(tail)"))
    }
    if let msg = try? String(contentsOfFile: spec.errorPath, encoding: .utf8), !msg.isEmpty {
      throw PipelineError.reported(msg)
    }
    throw PipelineError.stageFailed(
      stage: s.name, message: "its process exited with status \(exit.status); see its log")
  }

  /// The line that says why a process died (Swift's "Fatal error: ..."), else the last line of the log.
  static func logTail(_ path: String) -> String {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "" }
    let lines = text.split(separator: "\n").map(String.init)
    if let fatal = lines.last(where: { $0.contains("Fatal error") || $0.contains("Precondition failed") }) {
      return fatal
    }
    return lines.last ?? ""
  }
}

/// The stage side of isolation: the body of `peftlab stage-exec SPEC`.
public enum StageProcess {
  /// Runs the stage described by `specPath` with `registry`'s kind. Exit codes:
  /// 0 done, 1 failed (message in the spec's error file), 2 unusable spec.
  public static func main(specPath: String, registry: StageRegistry) -> Int32 {
    guard let data = FileManager.default.contents(atPath: specPath),
      let spec = try? JSONDecoder().decode(IsolatedStage.self, from: data),
      let kind = registry.kinds[spec.kind]
    else {
      FileHandle.standardError.write(Data("stage-exec: \(specPath): not a stage spec of a known kind\n".utf8))
      return 2
    }
    // Die with the runner: when the parent is gone, kill this process group (the stage and its commands).
    let parent = getppid()
    let watchdog = Thread {
      while true {
        if getppid() != parent { kill(0, SIGKILL) }
        usleep(100_000)
      }
    }
    watchdog.start()
    Subprocess.shareProcessGroup = true
    var params: [String: Value] = [:]
    for (k, v) in spec.params {
      guard let parsed = try? Value.parse(json: v) else { return 2 }
      params[k] = parsed
    }
    // Fault injection for the tests of crash handling: trap inside the named stage.
    if let trap = ProcessInfo.processInfo.environment["PEFTLAB_FAULT_TRAP_STAGE"], trap == spec.stage {
      fatalError("fault injection: PEFTLAB_FAULT_TRAP_STAGE=\(trap)")
    }
    let progressLock = NSLock()
    let ctx = StageContext(
      stage: spec.stage, kindName: spec.kind, params: params, inputs: spec.inputs, outputDir: spec.outputDir,
      workDir: spec.workDir, projectRoot: spec.projectRoot, cacheRoot: spec.cacheRoot, keyParts: spec.keyParts,
      log: FileHandle.standardOutput,
      progress: { f, note in
        let line = "\(f)\t\((note ?? "").replacingOccurrences(of: "\n", with: " "))\n"
        progressLock.lock(); defer { progressLock.unlock() }
        _ = line.withCString { write(3, $0, strlen($0)) }
      },
      cancelled: { false })
    do {
      try kind.run(ctx)
      return 0
    } catch {
      let msg = (error as? PipelineError)?.description ?? "\(error)"
      try? Data(msg.utf8).write(to: URL(fileURLWithPath: spec.errorPath))
      return 1
    }
  }
}

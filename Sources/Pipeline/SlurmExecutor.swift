//===--- SlurmExecutor.swift - run stages as Slurm jobs, re-attach after a crash --===//
//
// Each stage attempt is one `sbatch` of a wrapper script that runs the same
// stage with the local executor (`peftlab stage run KEY`) against the
// shared cache, so outputs and keys are identical whichever executor ran
// them; the wrapper writes its exit code to a file atomically (the truth).
//   <cache>/slurm/<key>/<attempt>/job.sh, slurm-<jobid>.log, exitcode
//   <cache>/slurm/journal/<key>.json   {stage, key, attempt, job, submitted, dir}
// The journal entry is written before `sbatch` is called (state "submitting")
// and again with the job id the moment it returns. A restarted run that finds
// a journal entry adopts the job if Slurm still has it (or harvests its exit
// file) instead of submitting again. One `squeue` per polling cycle for all
// active jobs, with back-off; a job that left the queue without an exit file
// is declared lost after a grace period. Failures are classified: the stage's
// own (exit ≠ 0, out of memory, time limit) or the cluster's (node failure,
// preemption, lost), with separate retry budgets.
//===----------------------------------------------------------------------===//
import Foundation
import Storage

public struct SlurmOptions: Sendable {
  /// The `peftlab` executable the jobs run.
  public var command: String
  public var partition: String?
  public var account: String?
  /// Extra retries for the stage's own failures / for the cluster's.
  public var retries = 0
  public var infraRetries = 2
  public var pollInitial: Double = 1
  public var pollMax: Double = 20
  /// Seconds a job may be gone from the queue without an exit file before it is "lost".
  public var lostGrace: Double = 30
  public init(command: String) { self.command = command }
}

public enum SlurmFailure: Error, Sendable, Equatable {
  case stage(String)  // exit ≠ 0, out of memory, time limit
  case cluster(String)  // node failure, preemption, lost
}

/// Default resources per kind; a stage's `resources:` overrides them.
public struct Resources: Sendable, Equatable {
  public var cpus = 1, memMB = 2048, minutes = 60, gpus = 0
  public init() {}
  public init(_ v: [String: Value]) {
    if let c = v["cpus"]?.int { cpus = c }
    if let m = v["mem"]?.int { memMB = m } else if let s = v["mem"]?.string { memMB = Resources.megabytes(s) ?? memMB }
    if let t = v["time"]?.int {
      minutes = t
    } else if let s = v["time"]?.string {
      minutes = Resources.minutes(s) ?? minutes
    }
    if let g = v["gpus"]?.int { gpus = g }
  }
  static func megabytes(_ s: String) -> Int? {
    let t = s.trimmingCharacters(in: .whitespaces).uppercased()
    if t.hasSuffix("G"), let v = Double(t.dropLast()) { return Int(v * 1024) }
    if t.hasSuffix("M"), let v = Double(t.dropLast()) { return Int(v) }
    return Int(t)
  }
  /// "90", "1:30:00" (h:m:s) or "30:00" (m:s).
  static func minutes(_ s: String) -> Int? {
    let p = s.split(separator: ":").compactMap { Int($0) }
    switch p.count {
    case 1: return p[0]
    case 2: return p[0] + (p[1] > 0 ? 1 : 0)
    case 3: return p[0] * 60 + p[1] + (p[2] > 0 ? 1 : 0)
    default: return nil
    }
  }
}

struct JournalEntry: Codable {
  var stage: String, key: String, attempt: Int, dir: String
  var job: String?
  var submitted: String
}

/// One `squeue` call per cycle for every active job of the run.
final class SlurmMonitor: @unchecked Sendable {
  private let lock = NSLock()
  private var states: [String: String] = [:]  // job id -> state (absent: not in the queue)
  private var watched = Set<String>()
  private var lastPoll = Date.distantPast
  private var interval: Double
  let options: SlurmOptions

  init(options: SlurmOptions) { self.options = options; interval = options.pollInitial }

  func watch(_ job: String) { lock.lock(); watched.insert(job); lock.unlock() }
  func unwatch(_ job: String) { lock.lock(); watched.remove(job); states[job] = nil; lock.unlock() }
  var active: [String] { lock.lock(); defer { lock.unlock() }; return Array(watched) }

  /// The job's state from the latest poll (polling if the interval has passed); nil if not in the queue.
  func state(_ job: String) -> String? {
    lock.lock()
    let due = Date().timeIntervalSince(lastPoll) >= interval
    if due { lastPoll = Date() }
    let ids = Array(watched)
    lock.unlock()
    if due && !ids.isEmpty {
      let out = Slurm.run(["squeue", "-h", "-t", "all", "-o", "%i|%T", "-j", ids.joined(separator: ",")])
      var new: [String: String] = [:]
      for line in (out?.stdout ?? "").split(separator: "\n") {
        let f = line.split(separator: "|").map(String.init)
        if f.count == 2 { new[f[0]] = f[1] }
      }
      lock.lock()
      if out?.status == 0 || !(out?.stdout.isEmpty ?? true) { states = new }
      let changed = new.values.contains {
        ["COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "OUT_OF_MEMORY", "NODE_FAIL"].contains($0)
      }
      interval = changed ? options.pollInitial : min(interval * 1.5, options.pollMax)
      lock.unlock()
    }
    lock.lock(); defer { lock.unlock() }
    return states[job]
  }
}

public enum Slurm {
  struct Output { let status: Int32; let stdout: String; let stderr: String }

  static func run(_ args: [String], stdin: String? = nil) -> Output? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let o = Pipe(), e = Pipe()
    p.standardOutput = o
    p.standardError = e
    guard (try? p.run()) != nil else { return nil }
    let out = o.fileHandleForReading.readDataToEndOfFile(), err = e.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Output(
      status: p.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
      stderr: String(decoding: err, as: UTF8.self))
  }

  /// Whether `sbatch` and `squeue` exist and the controller answers.
  public static func available() -> String? {
    guard let o = run(["squeue", "-h", "-o", "%i"]) else { return "squeue not found (install slurm-client)" }
    return o.status == 0 ? nil : "squeue failed: " + o.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

extension Runner {
  static let journalLock = NSLock()

  func journalPath(_ key: String) -> String { cache.root + "/slurm/journal/\(key).json" }

  func readJournal(_ key: String) -> JournalEntry? {
    FileManager.default.contents(atPath: journalPath(key)).flatMap {
      try? JSONDecoder().decode(JournalEntry.self, from: $0)
    }
  }

  func writeJournal(_ e: JournalEntry) throws {
    let path = journalPath(e.key)
    try atomicWrite(try JSONEncoder().encode(e), to: path)
  }

  /// Journal entries whose jobs Slurm still has (for `peftlab status`).
  public func slurmJobs() -> [(stage: String, job: String, state: String)] {
    let dir = cache.root + "/slurm/journal"
    let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    let entries = files.filter { $0.hasSuffix(".json") }.compactMap { f -> JournalEntry? in
      FileManager.default.contents(atPath: dir + "/" + f).flatMap {
        try? JSONDecoder().decode(JournalEntry.self, from: $0)
      }
    }.filter { $0.job != nil }
    guard !entries.isEmpty,
      let out = Slurm.run([
        "squeue", "-h", "-t", "all", "-o", "%i|%T", "-j", entries.map { $0.job! }.joined(separator: ","),
      ])
    else { return [] }
    var st: [String: String] = [:]
    for l in out.stdout.split(separator: "\n") {
      let f = l.split(separator: "|"); if f.count == 2 { st[String(f[0])] = String(f[1]) }
    }
    return entries.compactMap { e in
      st[e.job!].flatMap {
        ["PENDING", "RUNNING", "CONFIGURING", "COMPLETING"].contains($0) ? (e.stage, e.job!, $0) : nil
      }
    }
  }

  /// Runs one stage as a Slurm job (adopting a journaled one if Slurm still has it).
  func executeOnSlurm(
    _ s: StageInstance, _ comp: StageRecord, force: Bool, slurm o: SlurmOptions, monitor: SlurmMonitor
  ) throws -> Executed {
    if !force, let hit = cache.hit(comp.key) { return .done(hit, nil) }
    let fm = FileManager.default
    var attempt = 1, stageFailures = 0, clusterFailures = 0
    let start = Date()
    var adopt: JournalEntry? = nil
    if let j = readJournal(comp.key), let job = j.job {
      monitor.watch(job)
      let st = monitor.state(job)
      let exitFile = j.dir + "/exitcode"
      if st != nil || fm.fileExists(atPath: exitFile) {
        adopt = j
        reporter.note("'\(s.name)': re-attached to Slurm job \(job) (\(st ?? "finished"))")
      } else {
        monitor.unwatch(job)
      }
      attempt = j.attempt + (adopt == nil ? 1 : 0)
    }
    while true {
      if cancel.isSet { throw PipelineError.cancelled }
      let entry: JournalEntry
      if let a = adopt {
        entry = a
        adopt = nil
      } else {
        entry = try submit(s, comp, attempt: attempt, force: force, o)
      }
      let job = entry.job!
      monitor.watch(job)
      let result = wait(job: job, dir: entry.dir, monitor: monitor, o)
      monitor.unwatch(job)
      switch result {
      case .success:
        guard let hit = cache.hit(comp.key) else {
          throw PipelineError.stageFailed(
            stage: s.name, message: "Slurm job \(job) exited 0 but published no result (see \(entry.dir))")
        }
        try? fm.removeItem(atPath: journalPath(comp.key))
        return .done(hit, Date().timeIntervalSince(start))
      case .failure(let f):
        // Separate budgets: the stage's own failures and the cluster's.
        let cluster: Bool, why: String
        switch f {
        case .stage(let w): (cluster, why) = (false, w);
        case .cluster(let w): (cluster, why) = (true, w)
        }
        if cluster { clusterFailures += 1 } else { stageFailures += 1 }
        let (used, budget) = cluster ? (clusterFailures, o.infraRetries) : (stageFailures, o.retries)
        if used > budget || cancel.isSet {
          try? fm.removeItem(atPath: journalPath(comp.key))
          throw PipelineError.stageFailed(
            stage: s.name,
            message: "Slurm job \(job): \(why) ("
              + (cluster ? "cluster failure, \(budget) retries used" : "log: \(entry.dir)/slurm-\(job).log") + ")")
        }
        reporter.note(
          "'\(s.name)': Slurm job \(job) \(why)\(cluster ? " (cluster)" : ""); resubmitting (\(used)/\(budget))")
      }
      attempt += 1
    }
  }

  private func submit(
    _ s: StageInstance, _ comp: StageRecord, attempt: Int, force: Bool, _ o: SlurmOptions
  ) throws -> JournalEntry {
    let dir = cache.root + "/slurm/\(comp.key)/\(attempt)"
    let fm = FileManager.default
    try? fm.removeItem(atPath: dir)
    try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let kind = registry.kinds[s.kind]!
    var r = kind.defaultResources
    for (k, v) in s.resources {
      var d = [String: Value](); d[k] = v; let o = Resources(d);
      switch k {
      case "cpus": r.cpus = o.cpus
      case "mem": r.memMB = o.memMB
      case "time": r.minutes = o.minutes
      case "gpus": r.gpus = o.gpus
      default: break
      }
    }
    func q(_ x: String) -> String { "'" + x.replacingOccurrences(of: "'", with: "'\\''") + "'" }
    // `peftlab stage run KEY`: the job runs exactly the instance this key names (an error if it changed)
    var run = [o.command, "stage", "run", comp.key, "--pipeline", pipeline.path, "--cache-dir", cache.root]
    if let p = pipeline.profile { run += ["--profile", p] }
    if force { run.append("--force") }
    // USR2 (sent 30 s before the time limit) leaves a marker; the exit code then says "time limit" (124).
    let script = """
      #!/bin/bash
      # peftlab stage \(s.name), key \(comp.key), attempt \(attempt)
      cd \(q(projectRoot))
      D=\(q(dir))
      finish() { echo "$1" > "$D/exitcode.tmp" && mv "$D/exitcode.tmp" "$D/exitcode"; }
      code() { if [ -e "$D/timelimit" ] && [ "$1" -ne 0 ]; then echo 124; else echo "$1"; fi; }
      trap 'touch "$D/timelimit"' USR2
      trap 'kill -TERM $child 2>/dev/null; finish $(code 143); exit 143' TERM
      \(run.map(q).joined(separator: " ")) &
      child=$!
      while true; do
        wait $child; rc=$?
        if [ $rc -gt 128 ] && kill -0 $child 2>/dev/null; then continue; fi
        break
      done
      finish $(code $rc)
      exit $rc

      """
    try script.write(toFile: dir + "/job.sh", atomically: true, encoding: .utf8)
    chmod(dir + "/job.sh", 0o755)
    var entry = JournalEntry(
      stage: s.name, key: comp.key, attempt: attempt, dir: dir, job: nil,
      submitted: ISO8601DateFormatter().string(from: Date()))
    try writeJournal(entry)  // "submitting": a crash now leaves a record to clean up, not a lost job id
    var args = [
      "sbatch", "--parsable", "--job-name=peftlab-\(comp.key.prefix(12))", "--output=\(dir)/slurm-%j.log",
      "--chdir=\(projectRoot)", "--no-requeue", "--signal=B:USR2@30",
      "--cpus-per-task=\(r.cpus)", "--mem=\(r.memMB)M", "--time=\(r.minutes)",
    ]
    if r.gpus > 0 { args.append("--gpus=\(r.gpus)") }
    if let p = o.partition { args.append("--partition=\(p)") }
    if let a = o.account { args.append("--account=\(a)") }
    args.append(dir + "/job.sh")
    var last = ""
    for t in 0..<3 {
      guard let out = Slurm.run(args) else {
        throw PipelineError.stageFailed(stage: s.name, message: "sbatch not found")
      }
      let id =
        out.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
      if out.status == 0, Int(id) != nil {
        entry.job = id
        try writeJournal(entry)
        reporter.note("'\(s.name)': submitted Slurm job \(id) (attempt \(attempt))")
        return entry
      }
      last = out.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
      let transient = last.contains("Socket timed out") || last.contains("temporarily unable")
      guard transient else { break }
      Thread.sleep(forTimeInterval: Double(t + 1))
    }
    try? FileManager.default.removeItem(atPath: journalPath(comp.key))
    throw PipelineError.stageFailed(stage: s.name, message: "sbatch failed: \(last)")
  }

  private func wait(job: String, dir: String, monitor: SlurmMonitor, _ o: SlurmOptions) -> Result<Void, SlurmFailure> {
    var goneSince: Date? = nil
    var lastState = "PENDING"
    while true {
      if cancel.isSet {
        _ = Slurm.run(["scancel", job])
        return .failure(.stage("cancelled"))
      }
      if let text = try? String(contentsOfFile: dir + "/exitcode", encoding: .utf8),
        let code = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
      {
        if code == 0 { return .success(()) }
        if code == 124 { return .failure(.stage("exceeded its time limit")) }
        let st = monitor.state(job) ?? lastState
        switch st {
        case "TIMEOUT": return .failure(.stage("exceeded its time limit"))
        case "OUT_OF_MEMORY": return .failure(.stage("ran out of memory"))
        case "NODE_FAIL", "PREEMPTED", "BOOT_FAIL": return .failure(.cluster(st.lowercased()))
        case "CANCELLED": return .failure(.stage("cancelled"))
        default: return .failure(.stage("exited with status \(code)"))
        }
      }
      let st = monitor.state(job)
      if let st {
        lastState = st
        goneSince = nil
        switch st {
        case "TIMEOUT": if waitForExitFile(dir, 5) == nil { return .failure(.stage("exceeded its time limit")) }
        case "OUT_OF_MEMORY": if waitForExitFile(dir, 5) == nil { return .failure(.stage("ran out of memory")) }
        case "NODE_FAIL", "BOOT_FAIL", "PREEMPTED":
          if waitForExitFile(dir, 5) == nil { return .failure(.cluster(st.lowercased())) }
        case "CANCELLED": if waitForExitFile(dir, 5) == nil { return .failure(.cluster("cancelled outside peftlab")) }
        case "FAILED", "COMPLETED":
          if waitForExitFile(dir, o.lostGrace) == nil {
            return .failure(.cluster("finished (\(st)) without an exit file"))
          }
        default: break
        }
      } else {
        if goneSince == nil { goneSince = Date() }
        if Date().timeIntervalSince(goneSince!) > o.lostGrace {
          return .failure(.cluster("lost (left the queue without an exit file)"))
        }
      }
      Thread.sleep(forTimeInterval: 0.5)
    }
  }

  private func waitForExitFile(_ dir: String, _ seconds: Double) -> Int? {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
      if let t = try? String(contentsOfFile: dir + "/exitcode", encoding: .utf8),
        let c = Int(t.trimmingCharacters(in: .whitespacesAndNewlines))
      {
        return c
      }
      Thread.sleep(forTimeInterval: 0.5)
    }
    return nil
  }
}

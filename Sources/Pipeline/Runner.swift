//===--- Runner.swift - run what is needed, in parallel, from the cache ----===//
//
// A stage's key hashes its kind, kind version, resolved params, external
// file digests and the *output hashes* of the stages it needs — not their
// keys. So when an upstream stage reruns and produces byte-identical output,
// the downstream keys do not change and they are cache hits (early cutoff).
//===----------------------------------------------------------------------===//
import Foundation
import Storage

public struct RunOptions: Sendable {
  public var targets: [String] = []
  public var jobs = 1
  public var force = false
  public var forceDownstream = false
  public var dryRun = false
  public var keepGoing = false
  /// Submit stages to Slurm instead of running them here.
  public var slurm: SlurmOptions?
  /// Leave the lock file alone (a stage run inside a Slurm job).
  public var writeLock = true
  /// Run each stage in its own process (see Isolation.swift); nil runs stages on threads of this process.
  public var isolation: StageIsolation?
  public init() {}
}

public enum StageOutcome: Sendable, Equatable {
  case cached
  case ran(seconds: Double)
  case failed(String)
  /// Not run because a stage it needs failed.
  case skipped(String)
  /// --dry-run: would run, and why.
  case wouldRun(String)

  public var didRun: Bool { if case .ran = self { return true }; return false }
}

public struct RunSummary: Sendable {
  public var outcomes: [String: StageOutcome] = [:]
  public var order: [String] = []
  public var ran: [String] { order.filter { outcomes[$0]?.didRun == true } }
  public var failed: [String] {
    order.filter {
      if case .failed = outcomes[$0] { return true }; return false
    }
  }
}

/// Set by Ctrl-C (see `Interrupt`) or by a caller: running stages are
/// cancelled, nothing is published.
public final class CancellationFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var value = false
  /// Whether this flag also follows SIGINT.
  let followsInterrupt: Bool
  public init(followsInterrupt: Bool = false) { self.followsInterrupt = followsInterrupt }
  public var isSet: Bool {
    if followsInterrupt && Interrupt.requested != 0 { return true }
    lock.lock(); defer { lock.unlock() }; return value
  }
  public func set() { lock.lock(); value = true; lock.unlock() }
}

/// SIGINT handling that cannot starve: the handler only stores a flag
/// (async-signal-safe); the runner polls it. (A Dispatch signal source needs
/// a pool thread, and long stages can occupy them all.)
public enum Interrupt {
  nonisolated(unsafe) public static var requested: Int32 = 0
  public static func install() {
    signal(SIGINT) { _ in Interrupt.requested = 1 }
    signal(SIGTERM) { _ in Interrupt.requested = 1 }  // `kill`, a batch system: cancel the same way
  }
}

public final class Runner: @unchecked Sendable {
  public let pipeline: Pipeline
  public let registry: StageRegistry
  public let cache: Cache
  public let projectRoot: String
  public let reporter: ProgressReporter
  public let cancel: CancellationFlag

  public init(
    pipeline: Pipeline, registry: StageRegistry, cache: Cache, projectRoot: String,
    reporter: ProgressReporter = ProgressReporter(), cancel: CancellationFlag = CancellationFlag()
  ) {
    self.pipeline = pipeline
    self.registry = registry
    self.cache = cache
    self.projectRoot = projectRoot
    self.reporter = reporter
    self.cancel = cancel
  }

  // MARK: - Keys

  /// The key components of a stage, given the output hashes of its needs.
  public func components(_ s: StageInstance, outputs: [String: String]) throws -> StageRecord {
    let kind = registry.kinds[s.kind]!
    var inputs: [String: String] = [:]
    for n in s.needs { inputs[n] = outputs[n]! }
    let params = s.params.mapValues(\.canonicalJSON)
    let external: [String: String]
    do {
      external = try kind.externalInputs(params: s.params, projectRoot: projectRoot, hasher: cache.hasher)
    } catch {
      throw PipelineError.file(path: pipeline.path, line: s.line, stage: s.name, message: "\(error)")
    }
    let key = StageRecord.key(
      kind: s.kind, kindVersion: kind.version, params: params, inputs: inputs, external: external)
    return StageRecord(
      key: key, stage: s.name, kind: s.kind, kindVersion: kind.version, params: params,
      inputs: inputs, external: external)
  }

  // MARK: - Run

  public func run(_ o: RunOptions) throws -> RunSummary {
    cache.cleanTemporaries()
    let (selected, forced) = try selection(o)
    let order = pipeline.topologicalOrder().map { pipeline.stages[$0] }.filter { selected.contains($0.name) }
    var st = RunState(pending: order.map(\.name), forced: forced)
    st.summary.order = order.map(\.name)
    let results = ResultQueue()
    reporter.start(total: order.count, dryRun: o.dryRun)
    let monitor = o.slurm.map { SlurmMonitor(options: $0) }
    while !st.pending.isEmpty || !st.running.isEmpty {
      if cancel.isSet && st.running.isEmpty { break }
      let progressed = startReady(&st, o, results: results, monitor: monitor)
      if st.running.isEmpty { if !progressed { break }; continue }
      // wait for one stage to finish (waking up to notice Ctrl-C)
      guard let (name, result) = results.pop(timeout: 0.2) else {
        if cancel.isSet && !st.announcedCancel {
          st.announcedCancel = true
          reporter.note("interrupted: cancelling running stages (nothing half-written is kept)")
        }
        continue
      }
      st.running.remove(name)
      finish(&st, name, result, o)
    }
    if cancel.isSet {
      if !st.announcedCancel { reporter.note("interrupted: cancelled running stages (nothing half-written is kept)") }
      cancelPending(&st.pending, &st.summary, reason: "cancelled")
    }
    precondition(st.pending.isEmpty, "runner left stages pending: \(st.pending)")
    reporter.finish(st.summary)
    cache.hasher.save()
    if !o.dryRun && o.writeLock { try writeLockFile(st.records) }
    if cancel.isSet { throw PipelineError.cancelled }
    return st.summary
  }

  /// What one `run` tracks while it schedules stages.
  private struct RunState {
    var summary = RunSummary()
    /// Output object of each finished stage, and its record.
    var outputs: [String: String] = [:]
    var records: [String: StageRecord] = [:]
    /// Not yet started, in topological order; running now.
    var pending: [String]
    var running = Set<String>()
    /// Stages rerun even if cached.
    var forced: Set<String>
    /// Dry run: stages that would run (their outputs are unknown).
    var unknownOutput = Set<String>()
    var requeues: [String: Int] = [:]
    var announcedCancel = false

    init(pending: [String], forced: Set<String>) { (self.pending, self.forced) = (pending, forced) }
    func finished(_ name: String) -> Bool { summary.outcomes[name] != nil }
  }

  /// The stages a run covers (the targets and what they need; with --force-downstream, what needs
  /// them too) and the ones it reruns even if cached.
  private func selection(_ o: RunOptions) throws -> (selected: Set<String>, forced: Set<String>) {
    var selected = o.targets.isEmpty ? Set(pipeline.stages.map(\.name)) : try pipeline.closure(of: o.targets)
    let explicit =
      o.targets.isEmpty
      ? selected
      : Set(pipeline.stages.filter { o.targets.contains($0.name) || o.targets.contains($0.base) }.map(\.name))
    var forced = Set<String>()
    if o.force { forced = explicit }
    if o.forceDownstream {
      let down = pipeline.descendants(of: explicit)
      selected = try pipeline.closure(of: Array(selected.union(down)))
      forced.formUnion(explicit.union(down))
    }
    return (selected, forced)
  }

  /// Goes through the pending stages in order: skips those whose needs failed, serves cache hits,
  /// records dry-run verdicts, and starts each ready stage on its own thread (up to the job limit).
  /// Returns whether anything changed.
  private func startReady(
    _ st: inout RunState, _ o: RunOptions, results: ResultQueue, monitor: SlurmMonitor?
  ) -> Bool {
    var progressed = false
    var i = 0
    while i < st.pending.count && !cancel.isSet {
      let s = pipeline.stage(st.pending[i])!
      if st.running.count >= max(1, o.slurm == nil ? o.jobs : max(o.jobs, 64)) && !o.dryRun { break }
      if let bad = s.needs.first(where: {
        if case .failed = st.summary.outcomes[$0] { return true };
        if case .skipped = st.summary.outcomes[$0] { return true }; return false
      }) {
        st.summary.outcomes[s.name] = .skipped("needs '\(bad)', which failed")
        reporter.event(s.name, .skipped("needs '\(bad)', which failed"))
        st.pending.remove(at: i); progressed = true; continue
      }
      guard s.needs.allSatisfy(st.finished) else { i += 1; continue }
      if o.dryRun, let u = s.needs.first(where: { st.unknownOutput.contains($0) }) {
        let why = "after '\(u)' reruns (skipped if its output is unchanged)"
        st.summary.outcomes[s.name] = .wouldRun(why); reporter.event(s.name, .wouldRun(why))
        st.unknownOutput.insert(s.name); st.pending.remove(at: i); progressed = true; continue
      }
      let comp: StageRecord
      do { comp = try components(s, outputs: st.outputs) } catch {
        // A key-time error (a missing deps file, a bad parameter) fails this stage like a run would.
        let msg = (error as? PipelineError)?.description ?? "\(error)"
        st.summary.outcomes[s.name] = .failed(msg); reporter.event(s.name, .failed(msg))
        st.pending.remove(at: i); progressed = true
        if !o.keepGoing {
          cancelPending(&st.pending, &st.summary, reason: "stopped after '\(s.name)' failed (use --keep-going)")
        }
        continue
      }
      if !st.forced.contains(s.name), let hit = cache.hit(comp.key) {
        st.outputs[s.name] = hit.output; st.records[s.name] = hit
        st.summary.outcomes[s.name] = .cached; reporter.event(s.name, .cached)
        st.pending.remove(at: i); progressed = true; continue
      }
      if o.dryRun {
        let why = st.forced.contains(s.name) ? "forced" : Explanation.reason(comp, last: cache.lastRun(of: s.name))
        st.summary.outcomes[s.name] = .wouldRun(why); reporter.event(s.name, .wouldRun(why))
        st.unknownOutput.insert(s.name); st.pending.remove(at: i); progressed = true; continue
      }
      st.pending.remove(at: i)
      st.running.insert(s.name)
      reporter.started(s.name)
      let inputs = Dictionary(uniqueKeysWithValues: s.needs.map { ($0, cache.objectPath(st.outputs[$0]!)) })
      let force = st.forced.contains(s.name)
      // A dedicated thread per running stage: stages run for minutes and
      // must not occupy the Dispatch pool that the kernels and timers use.
      let slurm = o.slurm
      let thread = Thread { [self] in
        results.push(
          s.name,
          Result {
            if let slurm, let monitor {
              return try executeOnSlurm(s, comp, force: force, slurm: slurm, monitor: monitor)
            }
            return try execute(s, comp, inputs: inputs, force: force, isolation: o.isolation)
          })
      }
      thread.stackSize = 16 << 20
      thread.start()
      progressed = true
    }
    return progressed
  }

  /// Records a stage that finished: its output, a failure (stopping the run unless --keep-going), or
  /// inputs that failed verification (their producers are recomputed, then the stage again).
  private func finish(_ st: inout RunState, _ name: String, _ result: Result<Executed, Error>, _ o: RunOptions) {
    switch result {
    case .success(.done(let rec, let ranFor)):
      st.outputs[name] = rec.output; st.records[name] = rec
      let out: StageOutcome = ranFor.map { .ran(seconds: $0) } ?? .cached
      st.summary.outcomes[name] = out; reporter.event(name, out)
    case .success(.corruptInputs(let producers)):
      // Recompute the producers, then this stage — a few times at most: a stage that keeps
      // finding its inputs changed has a sibling (or itself) writing into them.
      st.requeues[name, default: 0] += 1
      if st.requeues[name]! > 2 {
        let msg =
          "its input \(producers.map { "'\($0)'" }.joined(separator: ", ")) changed again while it ran: "
          + "some stage writes into the outputs of the stages it needs (they are read-only)"
        st.summary.outcomes[name] = .failed(msg); reporter.event(name, .failed(msg))
        if !o.keepGoing {
          cancelPending(&st.pending, &st.summary, reason: "stopped after '\(name)' failed (use --keep-going)")
        }
        return
      }
      for p in producers where !st.pending.contains(p) && !st.running.contains(p) {
        st.summary.outcomes[p] = nil; st.outputs[p] = nil
        st.forced.insert(p)
        st.pending.insert(p, at: 0)
        reporter.note("object of '\(p)' failed verification; recomputing it")
      }
      st.pending.append(name)
      reporter.requeued(name)
    case .failure(let e):
      let msg = (e as? PipelineError)?.description ?? "\(e)"
      st.summary.outcomes[name] = cancel.isSet ? .failed("cancelled") : .failed(msg)
      reporter.event(name, .failed(msg))
      if !o.keepGoing {
        cancelPending(&st.pending, &st.summary, reason: "stopped after '\(name)' failed (use --keep-going)")
      }
    }
  }

  private func cancelPending(_ pending: inout [String], _ summary: inout RunSummary, reason: String) {
    for p in pending { summary.outcomes[p] = .skipped(reason) }
    pending.removeAll()
  }

  enum Executed { case done(StageRecord, Double?), corruptInputs([String]) }

  /// Runs one stage under its key's lock (or finds that another run made it).
  func execute(
    _ s: StageInstance, _ comp: StageRecord, inputs: [String: String], force: Bool,
    isolation: StageIsolation? = nil
  ) throws -> Executed {
    let lock = try FileLock(
      cache.root + "/locks/" + comp.key + ".lock",
      note: "pid \(getpid()) computing \(s.name)"
    ) { holder in
      reporter.note("'\(s.name)' waits: its key is being computed by \(holder)")
    }
    defer { lock.release() }
    if !force, let hit = cache.hit(comp.key) { return .done(hit, nil) }
    // Verify what we read: a corrupt input object is evicted and recomputed.
    let corrupt = s.needs.filter { n in !cache.verify(URL(fileURLWithPath: inputs[n]!).lastPathComponent) }
    if !corrupt.isEmpty {
      for n in corrupt { cache.evict(URL(fileURLWithPath: inputs[n]!).lastPathComponent) }
      return .corruptInputs(corrupt)
    }
    let kind = registry.kinds[s.kind]!
    let tmp = cache.root + "/tmp/\(getpid())-\(comp.key.prefix(12))-\(UInt32.random(in: 0...UInt32.max))"
    let out = tmp + "/out", work = tmp + "/work"
    let fm = FileManager.default
    try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
    try fm.createDirectory(atPath: work + "/in", withIntermediateDirectories: true)
    for (n, dir) in inputs { try? fm.createSymbolicLink(atPath: work + "/in/" + n, withDestinationPath: dir) }
    defer { try? fm.removeItem(atPath: tmp) }
    let logTmp = tmp + "/log"
    fm.createFile(atPath: logTmp, contents: nil)
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logTmp))
    let start = Date()
    var rec = comp
    let keyParts = StageKeyParts(comp)
    do {
      let ctx = StageContext(
        stage: s.name, kindName: s.kind, params: s.params, inputs: inputs, outputDir: out, workDir: work,
        projectRoot: projectRoot, cacheRoot: cache.root, keyParts: keyParts,
        log: log, progress: { [reporter] f, note in reporter.progress(s.name, f, note) },
        cancelled: { [cancel] in cancel.isSet })
      if let isolation {
        rec.peakMemory = try runIsolated(
          isolation, s, inputs: inputs, keyParts: keyParts, out: out, work: work, tmp: tmp, log: log)
      } else {
        try kind.run(ctx)
      }
      if cancel.isSet { throw PipelineError.cancelled }
      // An input that changed while the stage ran (another stage wrote into it) poisons this result:
      // nothing is published, the input is evicted, and both are recomputed.
      let changed = s.needs.filter { n in !cache.verify(URL(fileURLWithPath: inputs[n]!).lastPathComponent) }
      if !changed.isEmpty {
        try? log.close()
        for n in changed { cache.evict(URL(fileURLWithPath: inputs[n]!).lastPathComponent) }
        reporter.note("'\(s.name)': input \(changed.joined(separator: ", ")) changed while it ran; both are recomputed")
        return .corruptInputs(changed)
      }
      try? log.close()
      rec.output = try cache.store(outputDir: out)
      rec.seconds = Date().timeIntervalSince(start)
      rec.finished = ISO8601DateFormatter().string(from: Date())
      _ = rename(logTmp, cache.logPath(comp.key))
      try cache.publish(rec)
      publishEquivalent(of: rec, work: work)
      return .done(rec, rec.seconds)
    } catch {
      try? log.close()
      _ = rename(logTmp, cache.logPath(comp.key))
      rec.error = (error as? PipelineError)?.description ?? "\(error)"
      rec.seconds = Date().timeIntervalSince(start)
      rec.finished = ISO8601DateFormatter().string(from: Date())
      if !cancel.isSet { cache.publishFailure(rec) }
      throw error
    }
  }

  // MARK: - Lock file

  /// `<pipeline>.lock` (or `<pipeline>.<profile>.lock`): per stage its key,
  /// kind, parameters, input hashes and output hash — what produced each result.
  public var lockFilePath: String {
    let url = URL(fileURLWithPath: pipeline.path)
    let base = url.deletingPathExtension().lastPathComponent
    return url.deletingLastPathComponent().appendingPathComponent(
      base + (pipeline.profile.map { ".\($0)" } ?? "") + ".lock"
    ).path
  }

  func writeLockFile(_ records: [String: StageRecord]) throws {
    var stages: [String: Any] = [:]
    if let d = FileManager.default.contents(atPath: lockFilePath),
      let old = (try? JSONSerialization.jsonObject(with: d)) as? [String: Any],
      let oldStages = old["stages"] as? [String: Any]
    {
      for (k, v) in oldStages where pipeline.byName[k] != nil { stages[k] = v }
    }
    for (name, r) in records {
      stages[name] =
        [
          "kind": r.kind, "kind_version": r.kindVersion, "key": r.key, "output": r.output,
          "params": r.params.mapValues { (try? Value.parse(json: $0).foundationValue) ?? $0 },
          "inputs": r.inputs, "external": r.external,
        ] as [String: Any]
    }
    let doc: [String: Any] = [
      "schema": 1, "pipeline": URL(fileURLWithPath: pipeline.path).lastPathComponent,
      "profile": pipeline.profile ?? NSNull(), "stages": stages,
    ]
    let data = try JSONSerialization.data(
      withJSONObject: doc, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    try atomicWrite(data + Data("\n".utf8), to: lockFilePath)
  }
}

/// Completed stages, handed from workers to the scheduler.
final class ResultQueue: @unchecked Sendable {
  private var items: [(String, Result<Runner.Executed, Error>)] = []
  private let cond = NSCondition()
  func push(_ name: String, _ r: Result<Runner.Executed, Error>) {
    cond.lock(); items.append((name, r)); cond.signal(); cond.unlock()
  }
  func pop(timeout: TimeInterval) -> (String, Result<Runner.Executed, Error>)? {
    cond.lock(); defer { cond.unlock() }
    if items.isEmpty { _ = cond.wait(until: Date().addingTimeInterval(timeout)) }
    return items.isEmpty ? nil : items.removeFirst()
  }
}

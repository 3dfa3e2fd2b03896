//===--- PipelineCommands.swift - run, status, explain, dag, cache ---------===//
import ArgumentParser
import Data
import Dispatch
import Foundation
import Kernels
import Pipeline
import Stages
import Plot
import Training

/// Every stage kind the `peftlab` tool knows.
func stageRegistry() -> StageRegistry { StandardStages.registry }

struct PipelineOptions: ParsableArguments {
  @Option(help: "Pipeline file.") var pipeline = "Pipelines/figures.yaml"
  @Option(help: "Profile that overrides parameters (e.g. quick, full, paper).") var profile: String?
  @Option(help: "Cache folder (default: .peftlab in the current folder).") var cacheDir = ".peftlab"

  func runner(
    reporter: ProgressReporter = ProgressReporter(), cancel: CancellationFlag = CancellationFlag()
  ) throws -> Runner {
    try reportingErrors {
      guard FileManager.default.fileExists(atPath: pipeline) else {
        let avail = ((try? FileManager.default.contentsOfDirectory(atPath: "Pipelines")) ?? [])
          .filter { $0.hasSuffix(".yaml") }.sorted().joined(separator: ", ")
        throw CLIError(
          message: "\(pipeline): no such pipeline file" + (avail.isEmpty ? "" : " (Pipelines/ has: \(avail))"))
      }
      let p = try Pipeline.load(pipeline, profile: profile, registry: stageRegistry())
      let cache = try Cache(root: cacheDir)
      return Runner(
        pipeline: p, registry: stageRegistry(), cache: cache,
        projectRoot: FileManager.default.currentDirectoryPath, reporter: reporter, cancel: cancel)
    }
  }
}

struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run", abstract: "Run what is needed for the target stages (default: all).")
  @OptionGroup var options: PipelineOptions
  @Argument(help: "Stages (instance names, or base names for all instances).") var stages: [String] = []
  @Option(help: "Independent stages run in parallel, up to this many.") var jobs = 1
  @Flag(help: "Rerun the targets even if cached.") var force = false
  @Flag(help: "Rerun the targets and everything downstream of them.") var forceDownstream = false
  @Flag(help: "List what would run and why; run nothing.") var dryRun = false
  @Flag(help: "After a failure, keep running stages that do not depend on it.") var keepGoing = false
  @Option(help: "local (default) or slurm: submit each stage with sbatch (shared cache; re-attaches after a crash).")
  var executor = "local"
  @Option(help: "Slurm partition.") var slurmPartition: String?
  @Option(help: "Slurm account.") var slurmAccount: String?
  @Option(help: "Slurm: retries of a stage's own failures (exit ≠ 0, time limit, out of memory).")
  var slurmRetries = 0
  @Option(help: "Slurm: retries of cluster failures (node failure, preemption, lost job).") var slurmClusterRetries = 2
  @Option(help: "Slurm: seconds a job may be gone from the queue without an exit file before it counts as lost.")
  var slurmLostGrace: Double = 30

  func run() throws {
    let cancel = CancellationFlag(followsInterrupt: true)
    Interrupt.install()
    let runner = try options.runner(cancel: cancel)
    var o = RunOptions()
    o.targets = stages
    o.jobs = jobs
    o.force = force
    o.forceDownstream = forceDownstream
    o.dryRun = dryRun
    o.keepGoing = keepGoing
    o.isolation = stageIsolation()
    switch executor {
    case "local": break
    case "slurm":
      if let why = Slurm.available() { throw CLIError(message: "--executor slurm: \(why)") }
      let exe =
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
      var so = SlurmOptions(command: exe)
      so.partition = slurmPartition
      so.account = slurmAccount
      so.retries = slurmRetries
      so.infraRetries = slurmClusterRetries
      so.lostGrace = slurmLostGrace
      o.slurm = so
    default: throw CLIError(message: "--executor must be local or slurm")
    }
    do {
      let summary = try reportingErrors { try runner.run(o) }
      if !summary.failed.isEmpty { throw ExitCode(1) }
    } catch let e as CLIError where e.message == "cancelled" {
      throw ExitCode(130)
    }
  }
}

struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "Every stage's state (up to date, stale, never run, failed) and why; exit 1 if a stage failed.")
  @OptionGroup var options: PipelineOptions
  @Flag(help: "Machine-readable output.") var json = false

  func run() throws {
    let runner = try options.runner(reporter: ProgressReporter(mode: .quiet))
    let st = try reportingErrors { try runner.status() }
    if json {
      let arr: [[String: Any]] = st.map { s in
        var d: [String: Any] = ["stage": s.stage, "state": s.state.rawValue, "reasons": s.changes.map(\.description)]
        if let k = s.key { d["key"] = k }
        if let o = s.output { d["output"] = o }
        if let e = s.error { d["error"] = e }
        return d
      }
      let data = try JSONSerialization.data(withJSONObject: arr, options: [.prettyPrinted, .sortedKeys])
      print(String(decoding: data, as: UTF8.self))
      if st.contains(where: { $0.state == .failed }) { throw ExitCode(1) }  // like the run that failed
      return
    }
    let width = min(48, st.map(\.stage.count).max() ?? 10)
    for s in st {
      let why = s.error ?? s.changes.map(\.description).joined(separator: "; ")
      print(
        "\(s.stage.padding(toLength: width, withPad: " ", startingAt: 0))  "
          + "\(s.state.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0))  \(why)"
      )
    }
    let counts = Dictionary(grouping: st, by: \.state).mapValues(\.count)
    print(
      StageStatus.State.allCasesInOrder.compactMap { c in counts[c].map { "\($0) \(c.rawValue)" } }.joined(
        separator: ", "))
    if FileManager.default.fileExists(atPath: options.cacheDir + "/slurm/journal") {
      let jobs = runner.slurmJobs()
      if !jobs.isEmpty {
        print("Slurm jobs:")
        for j in jobs {
          print(
            "  \(j.stage.padding(toLength: width, withPad: " ", startingAt: 0))  job \(j.job)  \(j.state.lowercased())")
        }
      }
    }
    if counts[.failed] != nil { throw ExitCode(1) }  // exit 1 while a stage's last run failed
  }
}

extension StageStatus.State {
  static let allCasesInOrder: [Self] = [.upToDate, .stale, .neverRun, .failed]
}

struct ExplainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "explain", abstract: "Why a stage would rerun: the difference with its last run.")
  @OptionGroup var options: PipelineOptions
  @Argument(help: "The stage.") var stage: String
  @Flag(help: "Machine-readable output.") var json = false

  func run() throws {
    let runner = try options.runner(reporter: ProgressReporter(mode: .quiet))
    let st = try reportingErrors { try runner.status() }
    guard let s = st.first(where: { $0.stage == stage }) else {
      throw CLIError(message: "\(options.pipeline): no stage named '\(stage)'")
    }
    if json {
      let d: [String: Any] = ["stage": s.stage, "state": s.state.rawValue, "changes": s.changes.map(\.description)]
      print(
        String(
          decoding: try JSONSerialization.data(withJSONObject: d, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self
        ))
      return
    }
    print("\(s.stage): \(s.state.rawValue)")
    if let e = s.error { print("  last run failed: \(e)") }
    for c in s.changes { print("  - \(c.description)") }
    if s.state == .upToDate, let o = s.output { print("  output: \(runner.cache.objectPath(o))") }
  }
}

struct DagCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "dag", abstract: "Print the stage graph.")
  @OptionGroup var options: PipelineOptions
  @Option(help: "text, dot, pdf or png.") var format = "text"
  @Option(help: "Output file for pdf/png (default: dag.<format>).") var out: String?
  @Flag(help: "Colour stages by state (up to date, stale, never run, failed) instead of kind.") var state = false

  func run() throws {
    let runner = try options.runner(reporter: ProgressReporter(mode: .quiet))
    let p = runner.pipeline
    switch format {
    case "dot":
      print("digraph pipeline {\n  rankdir=LR;\n  node [shape=box, fontname=\"DejaVu Sans\"];")
      for s in p.stages { print("  \"\(s.name)\" [label=\"\(s.name)\\n(\(s.kind))\"];") }
      for s in p.stages { for n in s.needs { print("  \"\(n)\" -> \"\(s.name)\";") } }
      print("}")
    case "text":
      for i in p.topologicalOrder() {
        let s = p.stages[i]
        print("\(s.name) [\(s.kind)]" + (s.needs.isEmpty ? "" : " <- " + s.needs.joined(separator: ", ")))
      }
    case "pdf", "png":
      let kinds = Array(Set(p.stages.map(\.kind))).sorted()
      let states = state ? Dictionary(uniqueKeysWithValues: try runner.status().map { ($0.stage, $0.state) }) : [:]
      let order: [StageStatus.State] = [.upToDate, .stale, .neverRun, .failed]
      let colourOfState = [0: 2, 1: 0, 2: 7, 3: 5]
      let nodes = p.stages.map { s in
        GraphNode(
          name: s.name, label: state ? "\(s.name) · \(states[s.name]!.rawValue)" : "\(s.name) (\(s.kind))",
          needs: s.needs,
          colour: state ? colourOfState[order.firstIndex(of: states[s.name]!)!]! : kinds.firstIndex(of: s.kind)!)
      }
      let path = out ?? "dag.\(format)"
      try reportingErrors {
        try GraphDrawing.draw(
          nodes, title: URL(fileURLWithPath: p.path).lastPathComponent + (p.profile.map { " (\($0))" } ?? ""),
          to: path, format: OutputFormat(rawValue: format)!)
      }
      print("wrote \(path)")
    default:
      throw ValidationError("unknown format '\(format)' (text, dot, pdf, png)")
    }
  }
}

struct CacheCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cache", abstract: "Inspect and maintain the cache.", subcommands: [Ls.self, Verify.self, Gc.self])

  struct CacheOptions: ParsableArguments {
    @Option(help: "Cache folder.") var cacheDir = ".peftlab"
  }

  struct Ls: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List stage results.")
    @OptionGroup var o: CacheOptions
    func run() throws {
      let cache = try reportingErrors { try Cache(root: o.cacheDir) }
      for r in cache.allRecords().sorted(by: { $0.finished < $1.finished }) {
        let mem = r.peakMemory.map { String(format: "%7.1f MiB", Double($0) / 1_048_576) } ?? "          -"
        print(
          "\(r.key.prefix(12))  \(r.finished)  \(String(format: "%7.2fs", r.seconds))  \(mem)  \(r.output.prefix(12))  "
            + "\(r.stage)"
        )
      }
    }
  }

  struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Re-hash every object; remove the corrupt ones (they are recomputed on the next run).")
    @OptionGroup var o: CacheOptions
    func run() throws {
      let cache = try reportingErrors { try Cache(root: o.cacheDir) }
      var bad = 0
      let objs = cache.allObjects()
      for h in objs where !cache.verify(h) {
        print("corrupt: \(cache.objectPath(h)) (content does not match its hash); removed")
        cache.evictObject(h)
        bad += 1
      }
      var badRecords = 0
      let records = cache.allRecords()
      for r in records where !r.isIntact {
        print(
          "corrupt: record \(r.key.prefix(12)) of '\(r.stage)' (edited: its key or seal does not match its content); "
            + "removed"
        )
        cache.removeRecord(r)
        badRecords += 1
      }
      print(
        "\(objs.count) objects and \(records.count) records checked, \(bad) corrupt objects, \(badRecords) corrupt "
          + "records"
      )
      bad += badRecords
      if bad > 0 { throw ExitCode(1) }
    }
  }

  struct Gc: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Remove results that neither a stage's last run nor any lock file in the pipelines folder refers to.")
    @OptionGroup var o: CacheOptions
    @Option(help: "Folder whose *.lock files name results to keep (every pipeline and profile).") var locks =
      "Pipelines"
    func run() throws {
      let cache = try reportingErrors { try Cache(root: o.cacheDir) }
      let (records, objects, kept) = cache.collectGarbage(lockDir: locks)
      for (f, n) in kept { print("keeps the \(n) stages of \(locks)/\(f)") }
      print("removed \(records) records and \(objects) objects")
    }
  }
}

/// How `run` and `make-paper-figures` start each stage: `peftlab stage-exec` in its own process
/// (a crash is the stage's failure; the stage dies with the run).
func stageIsolation() -> StageIsolation {
  // /proc/<pid>/exe executes this very binary even if a rebuild replaced the file meanwhile: every stage of
  // a run runs the code its keys were computed with.
  let own = "/proc/\(getpid())/exe"
  let exe = FileManager.default.isExecutableFile(atPath: own) ? own : CommandLine.arguments[0]
  return StageIsolation(command: [exe, "stage-exec", "--threads", String(Parallel.threads)])
}

/// The stage side of `run`: one stage, in its own process, from the spec the runner wrote.
struct StageExecCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stage-exec", abstract: "Run one stage from a runner-written spec (used by run).", shouldDisplay: false
  )
  @Argument(help: "stage.json written by the runner") var spec: String
  @OptionGroup var threads: ThreadOptions

  func run() throws {
    threads.apply()
    let rc = StageProcess.main(specPath: spec, registry: stageRegistry())
    if rc != 0 { throw ExitCode(rc) }
  }
}

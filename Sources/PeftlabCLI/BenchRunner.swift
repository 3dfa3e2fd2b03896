//===--- BenchRunner.swift - `peftlab bench runner` ------------------------===//
import ArgumentParser
import Foundation
import Pipeline

extension BenchCommand {
  /// 70 trivial shell stages: 6 roots, 60 stages that each need one root, 1
  /// that needs all 60, and 3 more after it. Times a full run, a no-op
  /// rerun and `status`, in a temporary folder.
  struct RunnerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "runner", abstract: "Full run, no-op rerun and status of a 70-stage shell pipeline.")
    @Option(help: "Parallel stages in the full run (default: cores).") var jobs = ProcessInfo.processInfo
      .activeProcessorCount
    @Option(help: "Repetitions (the best is reported).") var repeats = 3
    @Flag(help: "Also print the generated pipeline file.") var show = false

    static func pipelineYAML() -> String {
      var y = "stages:\n"
      y +=
        "  root:\n    kind: shell\n    matrix: {r: [0, 1, 2, 3, 4, 5]}\n    params: {cmd: 'echo ${item.r} > $OUT/x'}\n"
      for j in 0..<60 {
        y +=
          "  mid\(j): {kind: shell, needs: [root@r\(j % 6)], params: {cmd: 'cat $IN_ROOT_R\(j % 6)/x > $OUT/x; echo "
          + "\(j) >> $OUT/x'}}\n"
      }
      y += "  join:\n    kind: shell\n    needs: [" + (0..<60).map { "mid\($0)" }.joined(separator: ", ") + "]\n"
      y += "    params: {cmd: 'cat $IN_MID0/x $IN_MID59/x > $OUT/x'}\n"
      y += "  report: {kind: shell, needs: [join], params: {cmd: 'wc -l < $IN_JOIN/x > $OUT/n'}}\n"
      y += "  figure: {kind: shell, needs: [report], params: {cmd: 'cat $IN_REPORT/n > $OUT/f'}}\n"
      y += "  publish: {kind: shell, needs: [figure, join], params: {cmd: 'cat $IN_FIGURE/f > $OUT/p'}}\n"
      return y
    }

    func run() throws {
      let yaml = Self.pipelineYAML()
      if show { print(yaml) }
      var best = (full: Double.infinity, noop: Double.infinity, status: Double.infinity, load: Double.infinity)
      var stages = 0
      for _ in 0..<repeats {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
          "peftlab-bench-runner-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        ).path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/bench.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        func makeRunner() throws -> Runner {
          let p = try Pipeline.load(path, profile: nil, registry: stageRegistry())
          return Runner(
            pipeline: p, registry: stageRegistry(), cache: try Cache(root: dir + "/.peftlab"),
            projectRoot: dir, reporter: ProgressReporter(mode: .quiet))
        }
        var o = RunOptions()
        o.jobs = jobs
        var t = Date()
        let r1 = try makeRunner()
        stages = r1.pipeline.stages.count
        let s1 = try r1.run(o)
        let full = Date().timeIntervalSince(t)
        guard s1.ran.count == stages else { throw CLIError(message: "full run ran \(s1.ran.count) of \(stages)") }
        t = Date()
        let s2 = try makeRunner().run(o)
        let noop = Date().timeIntervalSince(t)
        guard s2.ran.isEmpty else { throw CLIError(message: "no-op run ran \(s2.ran)") }
        t = Date()
        let st = try makeRunner().status()
        let status = Date().timeIntervalSince(t)
        guard st.allSatisfy({ $0.state == .upToDate }) else { throw CLIError(message: "status not all up to date") }
        t = Date()
        _ = try makeRunner()
        let load = Date().timeIntervalSince(t)
        best = (min(best.full, full), min(best.noop, noop), min(best.status, status), min(best.load, load))
      }
      print(
        "peftlab bench runner — \(stages) shell stages (6 roots, 60 one-root, 1 join of 60, 3 more), --jobs \(jobs), "
          + "best of \(repeats)"
      )
      print("| measurement | seconds | goal |")
      print("|---|---|---|")
      print(String(format: "| full run (every stage runs /bin/sh) | %.3f | ≤ 0.5 |", best.full))
      print(String(format: "| no-op rerun (load, hash, 70 cache hits, lock file) | %.3f | ≤ 0.1 |", best.noop))
      print(String(format: "| status | %.3f | – |", best.status))
      print(String(format: "| of which: parse + expand + resolve the pipeline | %.3f | – |", best.load))
    }
  }
}

//===--- StageCommand.swift - `peftlab stage run KEY` ---------------------===//
import ArgumentParser
import Foundation
import Pipeline

/// One stage instance, named by its cache key: what a Slurm job runs (SlurmExecutor writes this command
/// line into job.sh), and a way to rerun exactly the stage `peftlab status --json` shows.
struct StageCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stage", abstract: "Run one stage instance by its cache key.", subcommands: [Run.self])

  struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "run",
      abstract: "Run the stage of the pipeline whose key is KEY; its inputs must be cached. The lock file is not "
        + "written (a Slurm job runs beside the submitting `peftlab run`, which writes it).")
    @OptionGroup var options: PipelineOptions
    @Argument(help: "The stage's cache key (`peftlab status --json` shows each stage's key).") var key: String
    @Flag(help: "Rerun even if cached.") var force = false

    func run() throws {
      let runner = try options.runner()
      let stage = try reportingErrors { () throws -> String in
        guard let s = try runner.status().first(where: { $0.key == key }) else {
          throw CLIError(
            message: "\(options.pipeline)\(options.profile.map { " (profile \($0))" } ?? ""): no stage has key "
              + "\(key) — the pipeline, a parameter or an input changed since the key was computed, "
              + "or an upstream stage has not run")
        }
        return s.stage
      }
      var o = RunOptions()
      o.targets = [stage]
      o.jobs = 1
      o.force = force
      o.writeLock = false
      o.isolation = stageIsolation()
      let summary = try reportingErrors { try runner.run(o) }
      if !summary.failed.isEmpty { throw ExitCode(1) }
    }
  }
}

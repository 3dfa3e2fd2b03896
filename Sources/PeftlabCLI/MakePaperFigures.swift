//===--- MakePaperFigures.swift - `peftlab make-paper-figures` ---------------===//
//
// Runs Pipelines/figures.yaml (the SH-PEFT study, the method sweep and every
// figure stage) with the given profile, then writes the report. What `make
// paper-figures` calls after installing and building.
//===----------------------------------------------------------------------===//
import ArgumentParser
import Foundation
import Pipeline

struct MakePaperFiguresCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "make-paper-figures",
    abstract: "Run the studies, the sweep and every figure (Pipelines/figures.yaml), then write Reports/out.")
  @Option(
    help: """
      smoke (seconds), quick (≈ 30 min on 2 cores), full (hours), paper (a cluster) or paper-smoke \
      (paper in shape on stand-ins from scripts/make_paper_smoke.py).
      """) var profile = "quick"
  @Option(help: "Independent stages in parallel.") var jobs = 2
  @Option(help: "Cache folder.") var cacheDir = ".peftlab"
  @OptionGroup var threads: ThreadOptions

  func run() throws {
    threads.apply()
    let cancel = CancellationFlag(followsInterrupt: true)
    Interrupt.install()
    var opts = try PipelineOptions.parse([
      "--pipeline", "Pipelines/figures.yaml", "--profile", profile, "--cache-dir", cacheDir,
    ])
    opts.profile = profile
    let runner = try opts.runner(cancel: cancel)
    var o = RunOptions()
    o.jobs = jobs
    o.isolation = stageIsolation()
    let start = Date()
    let summary = try reportingErrors { try runner.run(o) }
    guard summary.failed.isEmpty else { throw ExitCode(1) }
    try reportingErrors {
      try Report.write(
        definition: "Reports/report.yaml", profile: profile, cacheDir: cacheDir, out: "Reports/out", format: "all")
    }
    print(
      String(
        format: "make-paper-figures (%@): done in %.1f min; open Reports/out/report.pdf or Reports/out/index.md",
        profile, Date().timeIntervalSince(start) / 60))
  }
}

//===--- Peftlab.swift - the `peftlab` command -----------------------------===//
import ArgumentParser

public struct Peftlab: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "peftlab",
    abstract: "Parameter-efficient fine-tuning of Vision Transformers: train, study, plot.",
    subcommands: [
      RunCommand.self, StatusCommand.self, ExplainCommand.self, DagCommand.self, CacheCommand.self,
      DatasetCommand.self,
      TrainCommand.self, ModelCommand.self, MethodsCommand.self, ReportCommand.self, MakePaperFiguresCommand.self,
      BenchCommand.self,
      KindsCommand.self, StageCommand.self, StageExecCommand.self,
    ])

  public init() {}
}

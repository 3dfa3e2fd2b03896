//===--- StandardStages.swift - every stage kind peftlab ships -------------===//
import Data
import Training
import Figures
import Pipeline

public enum StandardStages {
  /// The registry `peftlab run` uses.
  public static var registry: StageRegistry {
    StageRegistry([
      ShellKind(), DatasetStageKind(), PretrainStageKind(), FinetuneStageKind(), ImportStageKind(),
      SparsityStageKind(), HybridityStageKind(), ImportanceStageKind(), SHPEFTStageKind(),
      PEFTStageKind(), FPTPreloadStageKind(), SweepSummaryStageKind(), MemoryScalingStageKind(), FigureStageKind(),
      StudySummaryStageKind(), KNNProbeStageKind(), LogisticProbeStageKind(), CalibrationSummaryStageKind(),
      LRChoiceStageKind(),
    ])
  }
}

//===--- Memory.swift - memory.json of `memory-scaling`; trainable parameter counts ===//
//
// FPT+ Fig. 2 / Table 2: the engine's training-memory accounting evaluated on shapes (no allocation) per
// model preset, input size and method; and every method's trainable parameters (`peftlab methods`).
//===----------------------------------------------------------------------===//
import Storage

/// One method's parameters on a model: its own, the head's, their sum, the model's total as trained, the ratio
/// (%), what the total counts, and what trains.
public struct ParameterCount: Codable {
  public var method: String
  public var methodParameters, headParameters, trainableParameters, totalParameters: Int
  public var trainablePercent: Double
  public var denominator, summary: String
  public init(
    method: String, methodParameters: Int, headParameters: Int, totalParameters: Int, denominator: String,
    summary: String
  ) {
    (self.method, self.methodParameters, self.headParameters) = (method, methodParameters, headParameters)
    trainableParameters = methodParameters + headParameters
    (self.totalParameters, self.denominator, self.summary) = (totalParameters, denominator, summary)
    trainablePercent = 100 * Double(trainableParameters) / Double(totalParameters)
  }
}

public struct MemoryScalingOutput: JSONFile {
  public static let fileName = "memory.json"

  /// One (preset, input size, method): total, activation and parameter bytes; a side network's input
  /// (`size` px, `side_patches` / `frozen_patches` tokens) for FPT/FPT+.
  public struct Row: Codable {
    public var preset: String
    public var size: Int
    public var method: String
    public var totalBytes, activationsBytes, parametersBytes: Int
    public var side: SideNetworkShape?
    public init(
      preset: String, size: Int, method: String, bytes: (total: Int, activations: Int, parameters: Int),
      side: SideNetworkShape?
    ) {
      (self.preset, self.size, self.method) = (preset, size, method)
      (totalBytes, activationsBytes, parametersBytes) = bytes
      self.side = side
    }
  }

  public var stageKind = "memory-scaling"
  public var batch: Int
  public var optimizer: String
  public var rows: [Row]
  /// Per preset, every method's parameter counts.
  public var parameters: [String: [ParameterCount]]
  public var note: String
  public init(batch: Int, optimizer: String, rows: [Row], parameters: [String: [ParameterCount]], note: String) {
    (self.batch, self.optimizer, self.rows, self.parameters, self.note) = (batch, optimizer, rows, parameters, note)
  }
}

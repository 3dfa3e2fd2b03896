//===--- SideNetwork.swift - a side network's shape in metrics.json and memory.json ===//
//
// FPT/FPT+ (Huang et al.): what a side-tuning run records of its side ViT (metrics.json `side`), and what
// memory-scaling's rows record of a side input (memory.json `side`: size and tokens only); also the
// engine's training-memory accounting of a run (metrics.json `memory_bytes`). Written and read by these
// types only: a figure that varies one setting names it (`value(_:)`), never a dictionary key.
//===----------------------------------------------------------------------===//

/// A side network's input and shape. Sizes in px; patches count tokens without the class token.
public struct SideNetworkShape: Codable, Equatable, Sendable {
  /// The side input's size (px), its patch tokens and the frozen model's.
  public var size, sidePatches, frozenPatches: Int
  /// Side patch (px), width, layers; prompts per layer; K/V tokens kept per head; the frozen model's input (px);
  /// the share of the frozen model's tokens kept. nil in memory.json's rows (shape evaluations, no run).
  public var patch, width, layers, prompts, keptTokens, frozenSize: Int?
  public var tokenRatio: Double?

  public init(size: Int, sidePatches: Int, frozenPatches: Int) {
    (self.size, self.sidePatches, self.frozenPatches) = (size, sidePatches, frozenPatches)
  }

  /// The settings an ablation figure can vary, by their metrics.json names.
  public static let settings = [
    "size", "patch", "width", "layers", "prompts", "kept_tokens", "frozen_size", "token_ratio",
  ]

  /// The value of `setting` (one of `settings`), nil if unknown or not recorded.
  public func value(_ setting: String) -> Double? {
    switch setting {
    case "size": return Double(size)
    case "patch": return patch.map(Double.init)
    case "width": return width.map(Double.init)
    case "layers": return layers.map(Double.init)
    case "prompts": return prompts.map(Double.init)
    case "kept_tokens": return keptTokens.map(Double.init)
    case "frozen_size": return frozenSize.map(Double.init)
    case "token_ratio": return tokenRatio
    default: return nil
    }
  }
}

/// The engine's training memory of a run, bytes: parameters, their gradients, optimizer state, activations
/// (with backward scratch and any preloaded batch), and their total.
public struct TrainingMemoryBytes: Codable, Equatable, Sendable {
  public var parameters, gradients, optimizer, activations, total: Int
  public init(parameters: Int, gradients: Int, optimizer: Int, activations: Int, total: Int) {
    (self.parameters, self.gradients, self.optimizer) = (parameters, gradients, optimizer)
    (self.activations, self.total) = (activations, total)
  }
}

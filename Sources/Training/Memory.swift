//===--- Memory.swift - training memory from the engine's own buffers ------===//
import Foundation

/// Peak bytes of one training step, summed from the buffers the engine
/// allocated (not the process RSS): parameters, gradients (trainable tensors
/// only), optimizer state (trained parameters only), activations (forward
/// activations + backward scratch).
public struct MemoryReport: Codable, Sendable, Equatable, CustomStringConvertible {
  public var parameters: Int
  public var gradients: Int
  public var optimizerState: Int
  public var activations: Int
  public var total: Int { parameters + gradients + optimizerState + activations }

  public var description: String {
    func mib(_ b: Int) -> String { String(format: "%.1f MiB", Double(b) / 1_048_576) }
    return "params \(mib(parameters)), grads \(mib(gradients)), optimizer \(mib(optimizerState)), "
      + "activations \(mib(activations)), total \(mib(total))"
  }
}

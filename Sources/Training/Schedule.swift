//===--- Schedule.swift - learning-rate schedules --------------------------===//
import Foundation

/// Cosine annealing with linear warmup (timm's CosineLRScheduler without restarts):
///   step < warmup:  lr = base · (step + 1) / warmup
///   otherwise:      lr = min + ½(base − min)(1 + cos(π · (step − warmup) / (total − warmup)))
/// `step` counts from 0.
public struct CosineSchedule: Codable, Sendable, Equatable {
  public var baseLR: Double
  public var warmupSteps: Int
  public var totalSteps: Int
  public var minLR: Double

  public init(baseLR: Double, warmupSteps: Int = 0, totalSteps: Int, minLR: Double = 0) {
    self.baseLR = baseLR
    self.warmupSteps = warmupSteps
    self.totalSteps = totalSteps
    self.minLR = minLR
  }

  public func lr(at step: Int) -> Float {
    if step < warmupSteps { return Float(baseLR * Double(step + 1) / Double(warmupSteps)) }
    let span = max(1, totalSteps - warmupSteps)
    let progress = min(1, Double(step - warmupSteps) / Double(span))
    return Float(minLR + 0.5 * (baseLR - minLR) * (1 + cos(Double.pi * progress)))
  }
}

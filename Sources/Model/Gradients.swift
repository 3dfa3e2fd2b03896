import Kernels

//===--- Gradients.swift - gradient buffer for the trainable tensors only --===//

/// Gradients of the trainable tensors, packed into one buffer. A frozen
/// tensor has no gradient storage and its weight-gradient GEMM is skipped.
public final class Gradients: @unchecked Sendable {
  public let layout: ViTLayout
  /// For each tensor of the layout: its offset in `buffer`, or nil if frozen.
  public let offsets: [Int?]
  public let buffer: FloatBuffer
  public let trainable: [Bool]
  /// Masked training: per tensor, the part of a weight gradient that is needed
  /// (nil: the whole gradient). Set by the trainer from the selection.
  public var plans: [WeightGradientPlan?]

  public init(layout: ViTLayout, trainable: [Bool]) {
    precondition(trainable.count == layout.tensors.count)
    self.layout = layout
    self.trainable = trainable
    var o: [Int?] = []
    var n = 0
    for (i, t) in layout.tensors.enumerated() {
      if trainable[i] { o.append(n); n += t.count } else { o.append(nil) }
    }
    offsets = o
    buffer = FloatBuffer(count: n)
    plans = Array(repeating: nil, count: layout.tensors.count)
  }

  /// All tensors trainable.
  public convenience init(layout: ViTLayout) {
    self.init(layout: layout, trainable: Array(repeating: true, count: layout.tensors.count))
  }

  @inline(__always)
  public func pointer(_ tensor: Int) -> UnsafeMutablePointer<Float>? {
    offsets[tensor].map { buffer.pointer + $0 }
  }

  public func zero() { buffer.zero() }

  /// The gradient of a tensor by name (nil if frozen or unknown).
  public func values(_ name: String) -> [Float]? {
    guard let i = layout.index(of: name), let o = offsets[i] else { return nil }
    return buffer.array(o..<(o + layout.tensors[i].count))
  }

  /// Whether any tensor that `index` depends on ... (helper for backward
  /// pruning): true if some tensor with index < `before` is trainable.
  func anyTrainable(below before: Int) -> Bool { trainable[..<before].contains(true) }
}

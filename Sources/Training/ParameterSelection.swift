//===--- ParameterSelection.swift - which parameters train -----------------===//
import Model

/// What trains, at two granularities:
/// - whole tensors (`tensors`): a frozen tensor gets no gradient storage and
///   its weight-gradient GEMM is skipped;
/// - single elements (`elements`, SH-PEFT): sorted indices into the flat
///   parameter buffer; only they change, and only they carry optimizer state
///   and weight decay. A tensor with no selected element is frozen.
public struct ParameterSelection: Sendable, Equatable {
  public var tensors: [Bool]
  public var elements: [Int]?

  public init(tensors: [Bool], elements: [Int]? = nil) {
    self.tensors = tensors
    self.elements = elements
  }

  /// Full fine-tuning.
  public static func all(_ layout: ViTLayout) -> Self {
    .init(tensors: Array(repeating: true, count: layout.tensors.count))
  }

  /// Tensors whose name satisfies `predicate`.
  public static func tensors(_ layout: ViTLayout, where predicate: (String) -> Bool) -> Self {
    .init(tensors: layout.tensors.map { predicate($0.name) })
  }

  /// The given flat indices of the backbone, plus the whole head (always trainable).
  public static func elements(_ layout: ViTLayout, backbone indices: [Int]) -> Self {
    var sorted = indices.sorted()
    for i in layout.headTensors { sorted.append(contentsOf: layout.tensors[i].range) }
    sorted.sort()
    var t = Array(repeating: false, count: layout.tensors.count)
    var k = 0
    for (i, s) in layout.tensors.enumerated() {
      while k < sorted.count && sorted[k] < s.offset { k += 1 }
      t[i] = k < sorted.count && sorted[k] < s.offset + s.count
    }
    return .init(tensors: t, elements: sorted)
  }

  /// Number of parameters that change during training.
  public func trainableCount(_ layout: ViTLayout) -> Int {
    if let e = elements { return e.count }
    return zip(layout.tensors, tensors).reduce(0) { $0 + ($1.1 ? $1.0.count : 0) }
  }
}

/// timm's weight-decay rule (`param_groups_weight_decay`): no decay for 1-D
/// tensors (biases, LayerNorm) nor for `pos_embed` and `cls_token`.
public func usesWeightDecay(_ spec: TensorSpec) -> Bool {
  spec.shape.count >= 2 && spec.count > spec.shape.last! && spec.name != "pos_embed"
    && spec.name != "cls_token"
}

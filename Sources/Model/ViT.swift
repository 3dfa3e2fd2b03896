//===--- ViT.swift - the model: config, layout and one parameter buffer ----===//
import Foundation
import Kernels
import Storage

/// A Vision Transformer whose parameters live in one flat buffer with named views.
public final class ViT: @unchecked Sendable {
  public let config: ViTConfig
  public let layout: ViTLayout
  public let params: FloatBuffer

  /// A model with timm's initialisation (`init_weights_vit_timm`): Linear
  /// weights trunc-normal(0.02) and zero biases, LayerNorm (1, 0), pos_embed
  /// trunc-normal(0.02), cls_token normal(1e-6), patch embedding as
  /// PyTorch's Conv2d default (uniform ±1/√fan_in). The SH-PEFT head ("an L2
  /// normalisation and a linear layer") is a fresh `nn.Linear`, so it gets
  /// PyTorch's Linear default, uniform ±1/√D for weight and bias: with unit
  /// features, timm's 0.02 would bound the logits to ~±0.1.
  /// With `.huggingFace(std:)`, Hugging Face's `ViTPreTrainedModel._init_weights` instead: every Linear
  /// weight (the head's too) and the patch embedding trunc-normal(std) with zero biases, pos_embed and
  /// cls_token trunc-normal(std), LayerNorm (1, 0).
  public init(config: ViTConfig, seed: UInt64, initialisation: ViTInitialisation = .timm) throws {
    try config.validate()
    self.config = config
    layout = ViTLayout(config)
    params = FloatBuffer(count: layout.totalCount)
    var rng = Xoshiro256(seed: seed)
    let p = params.pointer
    if case .huggingFace(let std) = initialisation {
      for t in layout.tensors {
        let dst = p + t.offset
        if Self.isLayerNormWeight(t.name) {
          dst.update(repeating: 1, count: t.count)
        } else if t.shape.count >= 2 {  // Linear weights, patch embedding, pos_embed, cls_token (1, 1, D)
          for j in 0..<t.count { dst[j] = Float(rng.truncatedNormal(std: std)) }
        }  // biases stay zero
      }
      return
    }
    for (i, t) in layout.tensors.enumerated() {
      let dst = p + t.offset
      let isL2Head = config.head == .l2Linear && (i == layout.headW || i == layout.headB)
      if i == layout.patchW || i == layout.patchB || isL2Head {
        let fanIn = isL2Head ? config.width : config.patchDim
        let bound = 1 / Double(fanIn).squareRoot()
        for j in 0..<t.count { dst[j] = Float((rng.uniform() * 2 - 1) * bound) }
      } else if i == layout.cls {
        for j in 0..<t.count { dst[j] = Float(rng.normal() * 1e-6) }
      } else if Self.isLayerNormWeight(t.name) {
        dst.update(repeating: 1, count: t.count)
      } else if t.shape.count >= 2 {  // linear weights and pos_embed
        for j in 0..<t.count { dst[j] = Float(rng.truncatedNormal(std: 0.02)) }
      }  // biases stay zero
    }
  }

  static func isLayerNormWeight(_ name: String) -> Bool {
    name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") || name == "norm.weight"
      || name == "norm_pre.weight"
  }

  /// A model sharing nothing with this one, with the same values.
  public func copy() -> ViT { ViT(config: config, layout: layout, params: params.copy()) }

  init(config: ViTConfig, layout: ViTLayout, params: FloatBuffer) {
    self.config = config
    self.layout = layout
    self.params = params
  }

  /// Pointer to the start of tensor `index`.
  @inline(__always)
  public func pointer(_ index: Int) -> UnsafeMutablePointer<Float> {
    params.pointer + layout.tensors[index].offset
  }

  /// The values of a tensor or q/k/v view by timm name.
  public func values(_ name: String) -> [Float]? {
    guard let s = layout.spec(named: name) else { return nil }
    return params.array(s.range)
  }

  /// Overwrites a tensor's values; the count must match.
  public func setValues(_ name: String, _ v: [Float]) throws {
    guard let s = layout.spec(named: name) else { throw ModelError.invalidConfig("no tensor '\(name)'") }
    guard v.count == s.count else {
      throw ModelError.invalidConfig("tensor '\(name)' has \(s.count) values, got \(v.count)")
    }
    v.withUnsafeBufferPointer { (params.pointer + s.offset).update(from: $0.baseAddress!, count: s.count) }
  }

  public var parameterCount: Int { layout.totalCount }
}

extension ViT {
  /// The same backbone with a newly initialised head for `classes` classes
  /// (and optionally another head kind), as when fine-tuning a pretrained model.
  public func withNewHead(classes: Int, head: HeadKind? = nil, headScale: Float? = nil, seed: UInt64) throws -> ViT {
    var c = config
    c.numClasses = classes
    if let head { c.head = head }
    if let headScale { c.headScale = headScale }
    let m = try ViT(config: c, seed: seed)
    for i in layout.backboneTensors {
      let t = layout.tensors[i]
      (m.params.pointer + m.layout.tensors[i].offset).update(from: params.pointer + t.offset, count: t.count)
    }
    return m
  }
}

/// How a new model's weights are drawn (`ViT(config:seed:initialisation:)`).
public enum ViTInitialisation: Sendable, Equatable {
  /// timm's `init_weights_vit_timm`: every pretrained-style model and fine-tuning head here.
  case timm
  /// Hugging Face's `ViTPreTrainedModel._init_weights` with `initializer_range` = std: FPT's side ViT, built
  /// from a `ViTConfig` without pretrained weights (YijinHuang/FPT `modules/side_vit.py`, `builder.py`; 0.02).
  case huggingFace(std: Double)
}

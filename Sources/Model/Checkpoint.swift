//===--- Checkpoint.swift - save and load models as HDF5 -------------------===//
//
// Layout (readable with h5py, no peftlab needed):
//   /<timm name>            float32 dataset of the tensor's shape, e.g.
//                           /blocks.0.attn.qkv.weight (3D, D)
//   attributes on /         format = "peftlab-vit-1", and every config field
//                           (image_size, patch_size, width, depth, heads,
//                           mlp_dim, channels, num_classes, activation, head,
//                           pre_norm, patch_bias, layer_norm_eps; head_scale
//                           only when it is not 1); a trained model also has
//                           normalization_mean, normalization_std (per RGB
//                           channel, [0, 1] units) and class_names (JSON lists)
//===----------------------------------------------------------------------===//
import Foundation
import Kernels
import Storage

public enum Checkpoint {
  public static let format = "peftlab-vit-1"

  /// Writes `model` to `path` atomically.
  public static func save(_ model: ViT, to path: String, extraAttributes: [String: String] = [:]) throws {
    try writeAtomically(path) { tmp in
      let f = try HDF5File.create(tmp)
      let c = model.config
      try f.setAttribute("format", string: format)
      for (k, v) in [
        ("image_size", c.imageSize), ("channels", c.channels), ("patch_size", c.patchSize),
        ("width", c.width), ("depth", c.depth), ("heads", c.heads), ("mlp_dim", c.mlpDim),
        ("num_classes", c.numClasses), ("pre_norm", c.preNorm ? 1 : 0),
        ("patch_bias", c.patchBias ? 1 : 0),
      ] { try f.setAttribute(k, int: v) }
      try f.setAttribute("activation", string: c.activation.rawValue)
      try f.setAttribute("head", string: c.head.rawValue)
      try f.setAttribute("layer_norm_eps", double: Double("\(c.layerNormEps)") ?? Double(c.layerNormEps))
      if c.headScale != 1 {
        try f.setAttribute("head_scale", double: Double("\(c.headScale)") ?? Double(c.headScale))
      }
      // a fixed order: the same attributes give the same bytes
      for (k, v) in extraAttributes.sorted(by: { $0.key < $1.key }) { try f.setAttribute(k, string: v) }
      for t in model.layout.tensors {
        try f.write(
          t.name, floats: UnsafeBufferPointer(start: model.params.pointer + t.offset, count: t.count),
          shape: t.shape)
      }
    }
  }

  /// Reads the config stored in a checkpoint.
  public static func config(of f: HDF5File) throws -> ViTConfig {
    let fmt = try f.stringAttribute("format")
    guard fmt == format else {
      throw ModelError.badFile(path: f.path, message: "format '\(fmt)' is not \(format)")
    }
    var c = ViTConfig(
      imageSize: try f.intAttribute("image_size"), channels: try f.intAttribute("channels"),
      patchSize: try f.intAttribute("patch_size"), width: try f.intAttribute("width"),
      depth: try f.intAttribute("depth"), heads: try f.intAttribute("heads"),
      numClasses: try f.intAttribute("num_classes"))
    c.mlpDim = try f.intAttribute("mlp_dim")
    guard let act = ActivationKind(rawValue: try f.stringAttribute("activation")),
      let head = HeadKind(rawValue: try f.stringAttribute("head"))
    else { throw ModelError.badFile(path: f.path, message: "unknown activation or head kind") }
    c.activation = act
    c.head = head
    c.preNorm = try f.intAttribute("pre_norm") != 0
    c.patchBias = try f.intAttribute("patch_bias") != 0
    c.layerNormEps = Float(try f.doubleAttribute("layer_norm_eps"))
    if f.hasAttribute("head_scale") { c.headScale = Float(try f.doubleAttribute("head_scale")) }
    do { try c.validate() } catch {
      throw ModelError.badFile(path: f.path, message: "\(error)")
    }
    return c
  }

  /// Loads a checkpoint written by `save`. Every tensor must be present with
  /// its exact shape; the error names the file and the tensor otherwise.
  public static func load(_ path: String) throws -> ViT {
    let f = try HDF5File.open(path)
    let c = try config(of: f)
    let model = try ViT(config: c, seed: 0)
    for t in model.layout.tensors {
      guard f.exists(t.name) else { throw ModelError.badFile(path: path, message: "missing tensor '\(t.name)'") }
      let (v, shape) = try f.readFloats(t.name)
      guard shape == t.shape else {
        throw ModelError.badFile(path: path, message: "tensor '\(t.name)' has shape \(shape), expected \(t.shape)")
      }
      if let why = nonFinite(v) { throw ModelError.badFile(path: path, message: "tensor '\(t.name)' \(why)") }
      try model.setValues(t.name, v)
    }
    return model
  }
}

/// Why weights cannot be used: "has 3 non-finite values (NaN or ±inf), the first at index 17"; nil if all are finite.
public func nonFinite(_ v: [Float]) -> String? {
  guard let first = v.firstIndex(where: { !$0.isFinite }) else { return nil }
  let n = v.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
  return "has \(n) non-finite value\(n == 1 ? "" : "s") (NaN or ±inf), the first at index \(first) (\(v[first]))"
}

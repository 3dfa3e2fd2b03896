//===--- Import.swift - timm and open_clip safetensors checkpoints ---------===//
//
// timm ViT names are peftlab's own. open_clip's CLIP visual tower is mapped:
//   [visual.]conv1.weight                      -> patch_embed.proj.weight (no bias)
//   [visual.]class_embedding (D)               -> cls_token (1, 1, D)
//   [visual.]positional_embedding (T, D)       -> pos_embed (1, T, D)
//   [visual.]ln_pre.*                          -> norm_pre.*
//   transformer.resblocks.{i}.ln_1.*           -> blocks.{i}.norm1.*
//   ....attn.in_proj_weight/bias (3D, D)       -> blocks.{i}.attn.qkv.* ([q; k; v] rows,
//                                                  addressable as attn.q/k/v views)
//   ....attn.out_proj.*                        -> blocks.{i}.attn.proj.*
//   ....ln_2.*                                 -> blocks.{i}.norm2.*
//   ....mlp.c_fc.* / mlp.c_proj.*              -> blocks.{i}.mlp.fc1.* / fc2.*
//   [visual.]ln_post.*                         -> norm.*
//   [visual.]proj (D, E)                       -> not used (the head is new)
// OpenAI's CLIP uses QuickGELU and LayerNorm eps 1e-5. A head that is absent
// or has another class count is newly initialised. A pos_embed for another
// grid is resampled bicubically (timm's rule).
//===----------------------------------------------------------------------===//
import Foundation
import Kernels

public struct ImportReport: Sendable {
  public var flavor: String
  public var loaded: [String] = []
  public var newlyInitialised: [String] = []
  public var ignored: [String] = []
  public var resampledPositionEmbedding = false
  /// What the file could not say and the import decided, one phrase each (printed and recorded).
  public var decisions: [String] = []
}

public enum CheckpointImport {
  /// Loads a timm or open_clip safetensors checkpoint.
  /// - config: the architecture to load into; nil infers it from the shapes
  ///   (heads = width / 64 unless `heads` is given).
  public static func load(
    safetensors path: String, config given: ViTConfig? = nil, numClasses: Int? = nil,
    head: HeadKind? = .l2Linear, heads: Int? = nil, activation: ActivationKind? = nil, seed: UInt64 = 0,
    lora: String? = nil
  ) throws -> (ViT, ImportReport) {
    let file = try SafetensorsFile(path: path)
    func bad(_ m: String) -> ModelError { .badFile(path: path, message: m) }
    let keys = file.entries.keys.sorted()
    let isCLIP = keys.contains { $0.contains("transformer.resblocks.") }
    // A whole CLIP/open_clip model holds the text tower too (its blocks have the same names without
    // "visual."): take the visual tower only.
    let wholeCLIP = isCLIP && keys.contains { $0.hasPrefix("visual.") }
    if !isCLIP && !keys.contains("patch_embed.proj.weight") {
      let kind =
        keys.contains { $0.hasPrefix("stages.") }
        ? "a ConvNeXt/stage-based network"
        : keys.contains { $0.hasPrefix("layer1.") }
          ? "a ResNet"
          : keys.contains { $0.hasPrefix("layers.") } ? "a Swin/hierarchical transformer" : "no ViT patch embedding"
      throw bad(
        "only ViT (timm/open_clip/CLIP layout) is supported: found \(kind) (tensors such as "
          + "\(keys.prefix(3).joined(separator: ", ")))"
      )
    }
    if keys.contains("reg_token") {
      throw bad("register tokens ('reg_token') are not supported: only ViTs with a class token")
    }
    if !isCLIP && !keys.contains("cls_token") {
      throw bad(
        "no 'cls_token': global-average-pooled ViTs are not supported (peftlab classifies from the class token)")
    }
    var source: [String: String] = [:]  // timm name -> name in the file
    var ignored: [String] = []
    for name in keys {
      if wholeCLIP && !name.hasPrefix("visual.") { ignored.append(name); continue }
      if let t = isCLIP ? clipToTimm(name) : name { source[t] = name } else { ignored.append(name) }
    }
    func shape(_ t: String) throws -> [Int] {
      guard let s = source[t], let e = file.entries[s] else { throw bad("missing tensor '\(t)'") }
      return e.shape
    }

    // Infer or check the architecture.
    var c: ViTConfig
    if let given {
      c = given
    } else {
      let pw = try shape("patch_embed.proj.weight")
      guard pw.count == 4, pw[2] == pw[3] else {
        throw bad("tensor 'patch_embed.proj.weight' has shape \(pw), expected (D, C, P, P)")
      }
      let D = pw[0], P = pw[2]
      var depth = 0
      while source["blocks.\(depth).attn.qkv.weight"] != nil { depth += 1 }
      let tokens = try shape("pos_embed").reduce(1, *) / D
      let grid = Int(Double(tokens - 1).squareRoot().rounded())
      guard grid * grid == tokens - 1 else {
        throw bad("tensor 'pos_embed' has \(tokens) tokens, not 1 + a square grid")
      }
      c = ViTConfig(
        imageSize: grid * P, channels: pw[1], patchSize: P, width: D, depth: depth,
        heads: heads ?? max(1, D / 64), numClasses: 1000)
      c.mlpDim = try shape("blocks.0.mlp.fc1.weight")[0]
      c.preNorm = source["norm_pre.weight"] != nil
      c.patchBias = source["patch_embed.proj.bias"] != nil
      c.layerNormEps = isCLIP || c.preNorm ? 1e-5 : 1e-6
      c.activation = isCLIP ? .quickGELU : .gelu
      if let hw = source["head.weight"].flatMap({ file.entries[$0] }) { c.numClasses = hw.shape[0] }
    }
    // a LoRA adapter that trained the head (modules_to_save) brings the head's class count
    let adapterHead = try lora.flatMap { try PeftAdapter.headClasses($0) }
    let fileHead = adapterHead ?? source["head.weight"].flatMap { file.entries[$0] }?.shape.first
    if let numClasses {
      c.numClasses = numClasses
    } else if given != nil || adapterHead != nil, let k = fileHead {
      c.numClasses = k  // keep the file's (or the adapter's) head
    }
    if let activation { c.activation = activation } else { c.activation = isCLIP ? .quickGELU : .gelu }
    // nil head: the file's convention (a timm classifier's head is linear; a new head is SH-PEFT's l2_linear)
    c.head = head ?? (fileHead != nil ? .linear : .l2Linear)
    try c.validate()

    let model = try ViT(config: c, seed: seed)
    var report = ImportReport(flavor: isCLIP ? "open_clip" : "timm")
    report.ignored = ignored
    report.decisions.append(
      "activation \(c.activation.rawValue)"
        + (activation != nil
          ? " (given)"
          : isCLIP
            ? " (open_clip/OpenAI CLIP convention; --activation gelu for open_clip models trained with GELU)"
            : " (timm convention; --activation quick_gelu for timm's *_clip_quickgelu models)"))
    if wholeCLIP {
      report.decisions.append(
        "visual tower taken; \(ignored.filter { !$0.hasPrefix("visual.") }.count) text-tower tensors ignored")
    }
    if let k = fileHead {
      report.decisions.append(
        k != c.numClasses
          ? "the file's \(k)-class head is replaced by a new \(c.head.rawValue) head for \(c.numClasses) classes"
          : c.head == .linear
            ? "head kept (\(k) classes, linear)"
            : "the file's \(k)-class head weights are used under an l2_linear head (features L2-normalised first: "
              + "logits differ "
              + "from the source's; --head linear keeps them)")
    } else {
      report.decisions.append("new \(c.head.rawValue) head for \(c.numClasses) classes (the file has none)")
    }
    for (i, t) in model.layout.tensors.enumerated() {
      let isHead = model.layout.headTensors.contains(i)
      guard let s = source[t.name], let e = file.entries[s] else {
        if isHead { report.newlyInitialised.append(t.name); continue }
        throw bad("missing tensor '\(t.name)'" + (isCLIP ? " (open_clip name for it not found)" : ""))
      }
      var v = try file.floats(s)
      if let why = nonFinite(v) { throw bad("tensor '\(s)' \(why)") }
      if t.name == "pos_embed" && v.count != t.count && v.count % c.width == 0 {
        let oldTokens = v.count / c.width
        let og = Int(Double(oldTokens - 1).squareRoot().rounded())
        guard og * og == oldTokens - 1 else {
          throw bad("tensor '\(s)' has \(oldTokens) tokens, not 1 + a square grid")
        }
        v = PositionEmbedding.resample(v, width: c.width, from: (og, og), to: (c.gridSize, c.gridSize))
        report.resampledPositionEmbedding = true
      }
      if v.count != t.count || squeezed(e.shape) != squeezed(t.shape) && t.name != "pos_embed" {
        if isHead { if adapterHead == nil { report.newlyInitialised.append(t.name) }; continue }
        throw bad("tensor '\(s)' has shape \(e.shape), expected \(t.shape) for '\(t.name)'")
      }
      try model.setValues(t.name, v)
      report.loaded.append(t.name)
    }
    if let lora {
      let m = try PeftAdapter.merge(lora, into: model, rename: isCLIP ? { clipToTimm($0) } : { $0 })
      report.decisions.append(
        "LoRA adapter merged into \(m.merged.count) tensors"
          + (m.replaced.isEmpty ? "" : "; \(m.replaced.joined(separator: ", ")) taken from the adapter"))
    }
    return (model, report)
  }

  static func squeezed(_ s: [Int]) -> [Int] { Array(s.drop { $0 == 1 }) }

  /// open_clip visual-tower name -> timm name (nil: not used).
  static func clipToTimm(_ name: String) -> String? {
    var n = name
    if n.hasPrefix("visual.") { n.removeFirst("visual.".count) }
    switch n {
    case "conv1.weight": return "patch_embed.proj.weight"
    case "class_embedding": return "cls_token"
    case "positional_embedding": return "pos_embed"
    case "ln_pre.weight": return "norm_pre.weight"
    case "ln_pre.bias": return "norm_pre.bias"
    case "ln_post.weight": return "norm.weight"
    case "ln_post.bias": return "norm.bias"
    default: break
    }
    let prefix = "transformer.resblocks."
    guard n.hasPrefix(prefix) else { return nil }
    let rest = n.dropFirst(prefix.count)
    guard let dot = rest.firstIndex(of: ".") else { return nil }
    let i = rest[..<dot], tail = String(rest[rest.index(after: dot)...])
    let map = [
      "ln_1.weight": "norm1.weight", "ln_1.bias": "norm1.bias",
      "attn.in_proj_weight": "attn.qkv.weight", "attn.in_proj_bias": "attn.qkv.bias",
      "attn.out_proj.weight": "attn.proj.weight", "attn.out_proj.bias": "attn.proj.bias",
      "ln_2.weight": "norm2.weight", "ln_2.bias": "norm2.bias",
      "mlp.c_fc.weight": "mlp.fc1.weight", "mlp.c_fc.bias": "mlp.fc1.bias",
      "mlp.c_proj.weight": "mlp.fc2.weight", "mlp.c_proj.bias": "mlp.fc2.bias",
    ]
    return map[tail].map { "blocks.\(i).\($0)" }
  }

  /// Loads `.h5` (peftlab checkpoint) or `.safetensors` (timm / open_clip).
  public static func loadAny(
    _ path: String, preset: ViTConfig? = nil, numClasses: Int? = nil, head: HeadKind = .l2Linear,
    seed: UInt64 = 0
  ) throws -> ViT {
    if path.hasSuffix(".safetensors") {
      return try load(safetensors: path, config: preset, numClasses: numClasses, head: head, seed: seed).0
    }
    return try Checkpoint.load(path)
  }
}

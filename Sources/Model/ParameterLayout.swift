//===--- ParameterLayout.swift - named views into one flat parameter buffer ===//
//
// Every tensor of the model lives at an offset in one flat Float buffer, in
// the order below, under timm's name:
//   patch_embed.proj.weight (D, C, P, P)   patch_embed.proj.bias (D)   [if patchBias]
//   cls_token (1, 1, D)                    pos_embed (1, T, D)
//   norm_pre.weight/.bias (D)              [if preNorm; CLIP's ln_pre]
//   blocks.{i}.norm1.weight/.bias (D)
//   blocks.{i}.attn.qkv.weight (3D, D)     blocks.{i}.attn.qkv.bias (3D)
//   blocks.{i}.attn.proj.weight (D, D)     blocks.{i}.attn.proj.bias (D)
//   blocks.{i}.norm2.weight/.bias (D)
//   blocks.{i}.mlp.fc1.weight (F, D)       blocks.{i}.mlp.fc1.bias (F)
//   blocks.{i}.mlp.fc2.weight (D, F)       blocks.{i}.mlp.fc2.bias (D)
//   norm.weight/.bias (D)                  head.weight (K, D)   head.bias (K)
// q, k and v are contiguous row blocks of qkv, so they are addressable as
// views too: blocks.{i}.attn.{q,k,v}.{weight,bias} (not separate storage).
//===----------------------------------------------------------------------===//

public struct TensorSpec: Sendable, Equatable, Hashable {
  public let name: String
  public let shape: [Int]
  /// Offset in the flat parameter buffer, in elements.
  public let offset: Int
  public var count: Int { shape.reduce(1, *) }
  public var range: Range<Int> { offset..<(offset + count) }
}

/// Tensor indices of one transformer block.
public struct BlockTensors: Sendable, Equatable {
  public let norm1W, norm1B, qkvW, qkvB, projW, projB, norm2W, norm2B, fc1W, fc1B, fc2W, fc2B: Int
  public var all: [Int] { [norm1W, norm1B, qkvW, qkvB, projW, projB, norm2W, norm2B, fc1W, fc1B, fc2W, fc2B] }
}

public struct ViTLayout: Sendable {
  public let config: ViTConfig
  public private(set) var tensors: [TensorSpec] = []
  private var byName: [String: Int] = [:]
  public let patchW: Int, patchB: Int?, cls: Int, pos: Int
  public let preNormW: Int?, preNormB: Int?
  public let blocks: [BlockTensors]
  public let normW: Int, normB: Int, headW: Int, headB: Int
  public var totalCount: Int { tensors.last.map { $0.offset + $0.count } ?? 0 }

  public init(_ c: ViTConfig) {
    config = c
    var specs: [TensorSpec] = []
    var names: [String: Int] = [:]
    var offset = 0
    func add(_ name: String, _ shape: [Int]) -> Int {
      let s = TensorSpec(name: name, shape: shape, offset: offset, count: 0)
      offset += s.count
      names[name] = specs.count
      specs.append(s)
      return specs.count - 1
    }
    let D = c.width, F = c.mlpDim
    patchW = add("patch_embed.proj.weight", [D, c.channels, c.patchSize, c.patchSize])
    patchB = c.patchBias ? add("patch_embed.proj.bias", [D]) : nil
    cls = add("cls_token", [1, 1, D])
    pos = add("pos_embed", [1, c.tokens, D])
    preNormW = c.preNorm ? add("norm_pre.weight", [D]) : nil
    preNormB = c.preNorm ? add("norm_pre.bias", [D]) : nil
    var bl: [BlockTensors] = []
    for i in 0..<c.depth {
      let p = "blocks.\(i)."
      bl.append(
        BlockTensors(
          norm1W: add(p + "norm1.weight", [D]), norm1B: add(p + "norm1.bias", [D]),
          qkvW: add(p + "attn.qkv.weight", [3 * D, D]), qkvB: add(p + "attn.qkv.bias", [3 * D]),
          projW: add(p + "attn.proj.weight", [D, D]), projB: add(p + "attn.proj.bias", [D]),
          norm2W: add(p + "norm2.weight", [D]), norm2B: add(p + "norm2.bias", [D]),
          fc1W: add(p + "mlp.fc1.weight", [F, D]), fc1B: add(p + "mlp.fc1.bias", [F]),
          fc2W: add(p + "mlp.fc2.weight", [D, F]), fc2B: add(p + "mlp.fc2.bias", [D])))
    }
    blocks = bl
    normW = add("norm.weight", [D])
    normB = add("norm.bias", [D])
    headW = add("head.weight", [c.numClasses, D])
    headB = add("head.bias", [c.numClasses])
    tensors = specs
    byName = names
  }

  /// Index of a stored tensor by its timm name.
  public func index(of name: String) -> Int? { byName[name] }

  /// A stored tensor, or a q/k/v view (`blocks.3.attn.v.weight`), by name.
  public func spec(named name: String) -> TensorSpec? {
    if let i = byName[name] { return tensors[i] }
    let parts = name.split(separator: ".")
    guard parts.count == 5, parts[0] == "blocks", parts[2] == "attn",
      let which = ["q", "k", "v"].firstIndex(of: String(parts[3])),
      let base = byName["blocks.\(parts[1]).attn.qkv.\(parts[4])"]
    else { return nil }
    let qkv = tensors[base]
    let D = config.width
    let shape = parts[4] == "weight" ? [D, D] : [D]
    let step = parts[4] == "weight" ? D * D : D
    return TensorSpec(name: name, shape: shape, offset: qkv.offset + which * step, count: 0)
  }

  /// Indices of the classifier's tensors (everything else is the backbone).
  public var headTensors: [Int] { [headW, headB] }
  public var backboneTensors: [Int] { tensors.indices.filter { $0 != headW && $0 != headB } }
}

extension TensorSpec {
  init(name: String, shape: [Int], offset: Int, count _: Int) {
    self.name = name
    self.shape = shape
    self.offset = offset
  }
}

//===--- WeightChanges.swift - dW = |W_ft − W_ori| and what it says --------===//
//
// SH-PEFT §2.1: W_ori pretrained weights, W_ft fully fine-tuned on task t,
// dW = |W_ft − W_ori| elementwise over the backbone (every tensor but the
// head; in the flat buffer the backbone is the prefix before head.weight).
// Rankings are global over all backbone elements, largest change first,
// ties broken by the lower flat index (so every ranking is deterministic).
//===----------------------------------------------------------------------===//
import Model

public enum WeightChanges {
  /// Number of backbone elements: the flat prefix before `head.weight`.
  public static func backboneCount(_ L: ViTLayout) -> Int {
    precondition(L.headW == L.tensors.count - 2 && L.headB == L.tensors.count - 1, "head must be last")
    return L.tensors[L.headW].offset
  }

  /// Backbone indices ordered by |ft − ori| descending (ties: lower index first).
  public static func ranking(original ori: ViT, finetuned ft: ViT) throws -> [Int32] {
    let n = backboneCount(ori.layout)
    guard backboneCount(ft.layout) == n, ori.config.width == ft.config.width, ori.config.depth == ft.config.depth else {
      throw StudyError.mismatch("the fine-tuned model's backbone differs from the original's")
    }
    let a = ori.params.pointer, b = ft.params.pointer
    return ranking(count: n) { abs(b[$0] - a[$0]) }
  }

  /// Indices 0..<count ordered by `score` descending, ties by index.
  public static func ranking(count n: Int, score: (Int) -> Float) -> [Int32] {
    var s = [Float](repeating: 0, count: n)
    for i in 0..<n { s[i] = score(i) }
    var order = (0..<Int32(n)).map { $0 }
    s.withUnsafeBufferPointer { sp in
      order.sort { x, y in
        let (u, v) = (sp[Int(x)], sp[Int(y)])
        return u > v || (u == v && x < y)
      }
    }
    return order
  }

  /// Elements in the top `percent` % of `n` (rounded to the nearest element).
  public static func topCount(percent: Double, of n: Int) -> Int {
    max(0, min(n, Int((percent / 100 * Double(n)).rounded())))
  }

  /// W_{ori←ft@k%}: the original backbone with the first `count` elements of
  /// `order` taken from W_ft; the head is W_ft's (SH-PEFT §2.1).
  public static func transplant(original ori: ViT, finetuned ft: ViT, order: [Int32], count: Int) -> ViT {
    let m = ft.copy()
    let n = backboneCount(ori.layout)
    let dst = m.params.pointer, src = ori.params.pointer
    dst.update(from: src, count: n)
    let f = ft.params.pointer
    for j in 0..<count { let i = Int(order[j]); dst[i] = f[i] }
    return m
  }
}

public enum StudyError: Error, CustomStringConvertible {
  case mismatch(String)
  case missingInput(String)
  public var description: String {
    switch self {
    case .mismatch(let s), .missingInput(let s): return s
    }
  }
}

/// Where a weight lives, for "where do key weights live" (neither paper shows it).
public enum WeightGroup: Int, CaseIterable, Sendable {
  case attnQ, attnK, attnV, attnProj, mlp, layerNorm, bias, embedding

  public var name: String {
    ["attn.q", "attn.k", "attn.v", "attn.proj", "mlp", "layernorm", "bias", "embedding"][rawValue]
  }

  /// The group of every backbone element (one byte each).
  public static func map(_ L: ViTLayout) -> [UInt8] {
    var g = [UInt8](repeating: 0, count: WeightChanges.backboneCount(L))
    func set(_ t: Int, _ group: WeightGroup) {
      for i in L.tensors[t].range { g[i] = UInt8(group.rawValue) }
    }
    set(L.patchW, .embedding)
    if let b = L.patchB { set(b, .bias) }
    set(L.cls, .embedding)
    set(L.pos, .embedding)
    for t in [L.preNormW, L.preNormB, L.normW, L.normB].compactMap({ $0 }) { set(t, .layerNorm) }
    let D = L.config.width
    for b in L.blocks {
      for t in [b.norm1W, b.norm1B, b.norm2W, b.norm2B] { set(t, .layerNorm) }
      for t in [b.qkvB, b.projB, b.fc1B, b.fc2B] { set(t, .bias) }
      let q = L.tensors[b.qkvW].offset
      for i in 0..<(3 * D * D) { g[q + i] = UInt8([WeightGroup.attnQ, .attnK, .attnV][i / (D * D)].rawValue) }
      set(b.projW, .attnProj)
      set(b.fc1W, .mlp)
      set(b.fc2W, .mlp)
    }
    return g
  }

  /// Share of `indices` in each group, and each group's share of all elements.
  public static func shares(_ indices: ArraySlice<Int32>, groups: [UInt8]) -> (selected: [Double], all: [Double]) {
    var sel = [Double](repeating: 0, count: allCases.count), all = sel
    for i in indices { sel[Int(groups[Int(i)])] += 1 }
    for g in groups { all[Int(g)] += 1 }
    let ns = Double(max(indices.count, 1)), na = Double(max(groups.count, 1))
    return (sel.map { $0 / ns }, all.map { $0 / na })
  }
}

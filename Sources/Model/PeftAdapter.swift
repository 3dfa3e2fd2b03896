//===--- PeftAdapter.swift - merge a Hugging Face peft LoRA adapter --------===//
//
// A folder written by peft's `save_pretrained` (adapter_model.safetensors +
// adapter_config.json) on a timm or open_clip ViT, merged into the base model
// as peft's `merge_and_unload()` does:
//   W (out, in) += s · B (out, r) · A (r, in),  s = lora_alpha / r
//   (use_rslora: lora_alpha / √r; rank_pattern / alpha_pattern per module)
// Keys are `base_model.model.<module>.lora_A.weight` / `.lora_B.weight`; every
// other key (modules_to_save such as the head, trained biases) replaces the
// base tensor of that name. DoRA and fan_in_fan_out (Conv1D) are refused.
//===----------------------------------------------------------------------===//
import Foundation
import Kernels

public enum PeftAdapter {
  public struct Merge: Sendable {
    /// Base tensors (timm names) that received a LoRA update, and those replaced whole.
    public var merged: [String] = [], replaced: [String] = []
  }

  /// The class count of a head the adapter carries (modules_to_save), nil without one.
  public static func headClasses(_ path: String) throws -> Int? {
    let st = try SafetensorsFile(path: adapterFile(path))
    return (st.entries["base_model.model.head.weight"] ?? st.entries["head.weight"])?.shape.first
  }

  public static func adapterFile(_ path: String) -> String {
    var isDir: ObjCBool = false
    _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
    return isDir.boolValue ? path + "/adapter_model.safetensors" : path
  }

  /// adapter_config.json beside the adapter file (where peft's save_pretrained writes it).
  public static func configFile(_ path: String) -> String {
    URL(fileURLWithPath: adapterFile(path)).deletingLastPathComponent().appendingPathComponent("adapter_config.json")
      .path
  }

  /// `path`: the adapter folder, or its adapter_model.safetensors (adapter_config.json beside it).
  /// `rename`: adapter module tensor name -> the model's (timm) tensor name (open_clip: `clipToTimm`).
  public static func merge(_ path: String, into model: ViT, rename: (String) -> String? = { $0 }) throws -> Merge {
    let file = adapterFile(path)
    guard FileManager.default.fileExists(atPath: file) else {
      throw ModelError.badFile(path: file, message: "no such LoRA adapter")
    }
    let cfgPath = configFile(path)
    func bad(_ p: String, _ m: String) -> ModelError { .badFile(path: p, message: m) }
    guard let data = FileManager.default.contents(atPath: cfgPath),
      let cfg = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    else { throw bad(cfgPath, "missing or not JSON (peft's save_pretrained writes it beside the adapter)") }
    guard (cfg["peft_type"] as? String) == "LORA" else {
      throw bad(cfgPath, "peft_type '\(cfg["peft_type"] ?? "none")' is not LORA: only LoRA adapters are merged")
    }
    if cfg["use_dora"] as? Bool == true { throw bad(cfgPath, "DoRA adapters are not supported (use_dora: true)") }
    if cfg["fan_in_fan_out"] as? Bool == true { throw bad(cfgPath, "fan_in_fan_out (Conv1D) is not supported") }
    guard let r0 = (cfg["r"] as? NSNumber)?.intValue, let a0 = (cfg["lora_alpha"] as? NSNumber)?.doubleValue, r0 > 0
    else { throw bad(cfgPath, "needs positive 'r' and 'lora_alpha'") }
    let rs = cfg["use_rslora"] as? Bool == true
    let rankPattern = cfg["rank_pattern"] as? [String: NSNumber] ?? [:]
    let alphaPattern = cfg["alpha_pattern"] as? [String: NSNumber] ?? [:]
    /// peft's rule: a pattern key matches a module named by it or ending in "." + it.
    func pattern(_ p: [String: NSNumber], _ module: String) -> NSNumber? {
      p.first { module == $0.key || module.hasSuffix("." + $0.key) }?.value
    }

    let st = try SafetensorsFile(path: file)
    let prefix = "base_model.model."
    var out = Merge()
    var pairs: [String: (a: String?, b: String?)] = [:]
    var whole: [String] = []
    for key in st.entries.keys.sorted() {
      let k = key.hasPrefix(prefix) ? String(key.dropFirst(prefix.count)) : key
      if k.hasSuffix(".lora_A.weight") {
        pairs[String(k.dropLast(".lora_A.weight".count)), default: (nil, nil)].a = key
      } else if k.hasSuffix(".lora_B.weight") {
        pairs[String(k.dropLast(".lora_B.weight".count)), default: (nil, nil)].b = key
      } else if k.contains("lora_") {
        throw bad(file, "tensor '\(key)': only lora_A/lora_B weights are understood (no lora embeddings/magnitudes)")
      } else {
        whole.append(key)
      }
    }
    func target(_ name: String, for key: String) throws -> (name: String, shape: [Int]) {
      guard let t = rename(name), let spec = model.layout.tensors.first(where: { $0.name == t }) else {
        throw bad(file, "tensor '\(key)' targets '\(name)', which the base model does not have")
      }
      return (t, spec.shape)
    }
    for module in pairs.keys.sorted() {
      let (ka, kb) = pairs[module]!
      guard let ka, let kb else {
        let (has, lacks) = ka == nil ? ("B", "A") : ("A", "B")
        throw bad(file, "module '\(module)' has lora_\(has) but not lora_\(lacks)")
      }
      let (t, shape) = try target(module + ".weight", for: ka)
      let A = try st.floats(ka), B = try st.floats(kb)
      let sa = st.entries[ka]!.shape, sb = st.entries[kb]!.shape
      guard shape.count == 2, sa.count == 2, sb.count == 2, sa[1] == shape[1], sb[0] == shape[0], sa[0] == sb[1] else {
        throw bad(file, "'\(ka)' \(sa) and '\(kb)' \(sb) do not factor '\(t)' \(shape)")
      }
      for (k, v) in [(ka, A), (kb, B)] where v.contains(where: { !$0.isFinite }) {
        throw bad(file, "tensor '\(k)' has a non-finite value")
      }
      let r = sa[0]
      let rank = pattern(rankPattern, module)?.intValue ?? r0
      guard rank == r else { throw bad(file, "module '\(module)' has rank \(r), the config says \(rank)") }
      let alpha = pattern(alphaPattern, module)?.doubleValue ?? a0
      let scale = Float(rs ? alpha / Double(r).squareRoot() : alpha / Double(r))
      // W (rows, cols) += scale · B (rows, r) · A (r, cols), in place in the model's flat buffer
      let spec = model.layout.tensors.first { $0.name == t }!
      B.withUnsafeBufferPointer { b in
        A.withUnsafeBufferPointer { a in
          BLAS.gemm(
            transA: false, transB: false, M: shape[0], N: shape[1], K: r, alpha: scale,
            A: b.baseAddress!, lda: r, B: a.baseAddress!, ldb: shape[1],
            beta: 1, C: model.params.pointer + spec.offset, ldc: shape[1])
        }
      }
      out.merged.append(t)
    }
    for key in whole {
      let name = key.hasPrefix(prefix) ? String(key.dropFirst(prefix.count)) : key
      let (t, shape) = try target(name, for: key)
      let v = try st.floats(key)
      guard v.count == shape.reduce(1, *) else {
        throw bad(file, "tensor '\(key)' has shape \(st.entries[key]!.shape), the base model's '\(t)' \(shape)")
      }
      if v.contains(where: { !$0.isFinite }) { throw bad(file, "tensor '\(key)' has a non-finite value") }
      try model.setValues(t, v)
      out.replaced.append(t)
    }
    return out
  }
}

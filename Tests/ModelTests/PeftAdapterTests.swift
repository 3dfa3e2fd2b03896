//===--- PeftAdapterTests.swift - a peft LoRA adapter merged on import -----===//
//
// Fixture (scripts/make_peft_fixture.py): a timm ViT, a peft LoRA adapter on
// attn.qkv (r 4) and mlp.fc1 (r 2 via rank_pattern) with the head in
// modules_to_save, and the logits of peft's merge_and_unload() model.
//===----------------------------------------------------------------------===//
import Foundation
import Kernels
import Model
import TestSupport
import XCTest
import Storage

final class PeftAdapterTests: XCTestCase {
  override func setUp() { Parallel.threads = 2 }

  func testMergedAdapterGivesPeftsMergedLogits() throws {
    let dir = fixture("peft_lora")
    let (model, report) = try CheckpointImport.load(
      safetensors: dir + "/base.safetensors", head: nil, heads: 2, lora: dir)
    XCTAssertTrue(
      report.decisions.contains { $0.contains("LoRA adapter merged into 4 tensors") }, "\(report.decisions)")
    let f = try HDF5File.open(dir + "/expected.h5")
    let images = try f.readFloats("images")
    let acts = Activations(config: model.config, batch: images.shape[0])
    images.values.withUnsafeBufferPointer { model.forward(images: $0.baseAddress!, acts: acts) }
    let err = relativeError(acts.logitsArray, try f.readFloats("logits").values)
    XCTAssertLessThan(err, 1e-5, "merged logits vs peft's merge_and_unload")
    print("peft LoRA merge: logits rel err \(err)")
    // without the adapter the logits differ: the merge is what matched
    let (base, _) = try CheckpointImport.load(safetensors: dir + "/base.safetensors", head: nil, heads: 2)
    let baseActs = Activations(config: base.config, batch: images.shape[0])
    images.values.withUnsafeBufferPointer { base.forward(images: $0.baseAddress!, acts: baseActs) }
    XCTAssertGreaterThan(relativeError(baseActs.logitsArray, try f.readFloats("logits").values), 1e-2)
  }

  func testBadAdaptersAreNamed() throws {
    let src = fixture("peft_lora")
    let dir = temporaryPath("lora-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let config = try String(contentsOfFile: src + "/adapter_config.json", encoding: .utf8)
    let st = try SafetensorsFile(path: src + "/adapter_model.safetensors")
    var tensors = try st.entries.keys.sorted().map { ($0, st.entries[$0]!.shape, try st.floats($0)) }
    func expectError(_ contains: [String], _ line: UInt = #line) {
      do {
        _ = try CheckpointImport.load(safetensors: src + "/base.safetensors", head: nil, heads: 2, lora: dir)
        XCTFail("no error", line: line)
      } catch {
        for c in contains { XCTAssertTrue("\(error)".contains(c), "\(error) lacks \(c)", line: line) }
      }
    }
    // no config beside it
    try SafetensorsFile.write(dir + "/adapter_model.safetensors", tensors: tensors)
    expectError(["adapter_config.json", "missing"])
    // DoRA
    try config.replacingOccurrences(of: "\"use_dora\": false", with: "\"use_dora\": true")
      .write(toFile: dir + "/adapter_config.json", atomically: true, encoding: .utf8)
    expectError(["DoRA"])
    try config.write(toFile: dir + "/adapter_config.json", atomically: true, encoding: .utf8)
    // a lora_B that does not factor the base tensor
    let i = tensors.firstIndex { $0.0 == "base_model.model.blocks.0.attn.qkv.lora_B.weight" }!
    tensors[i] = (tensors[i].0, [95, 4], Array(tensors[i].2.prefix(95 * 4)))
    try SafetensorsFile.write(dir + "/adapter_model.safetensors", tensors: tensors)
    expectError(["blocks.0.attn.qkv.lora_B.weight", "[95, 4]", "[96, 32]"])
    // a module the base model does not have
    tensors = try st.entries.keys.sorted().map { ($0, st.entries[$0]!.shape, try st.floats($0)) }
    tensors.append(("base_model.model.blocks.7.attn.qkv.lora_A.weight", [4, 32], [Float](repeating: 0, count: 128)))
    tensors.append(("base_model.model.blocks.7.attn.qkv.lora_B.weight", [96, 4], [Float](repeating: 0, count: 384)))
    try SafetensorsFile.write(dir + "/adapter_model.safetensors", tensors: tensors)
    expectError(["blocks.7.attn.qkv", "does not have"])
    // NaN
    tensors.removeLast(2)
    tensors[0].2[0] = .nan
    try SafetensorsFile.write(dir + "/adapter_model.safetensors", tensors: tensors)
    expectError([tensors[0].0, "non-finite"])
  }
}

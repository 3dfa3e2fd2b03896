import Model
import XCTest

/// `ViTInitialisation`: timm's (every model here) and Hugging Face's (FPT's side ViT, YijinHuang/FPT
/// `modules/side_vit.py` `_init_weights`). Statistics of the drawn tensors, not numbers of a run.
final class InitialisationTests: XCTestCase {
  func std(_ v: UnsafeBufferPointer<Float>) -> Double {
    let m = v.reduce(0.0) { $0 + Double($1) } / Double(v.count)
    return (v.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(v.count)).squareRoot()
  }

  func tensors(_ m: ViT) -> [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)] {
    m.layout.tensors.map { t in
      (t.name, t.shape, UnsafeBufferPointer(start: m.params.pointer + t.offset, count: t.count))
    }
  }

  func testHuggingFaceDrawsEveryWeightAtTheRangeAndZeroesEveryBias() throws {
    let c = ViTConfig(imageSize: 32, patchSize: 4, width: 64, depth: 2, heads: 2, numClasses: 2)
    let hf = try ViT(config: c, seed: 17, initialisation: .huggingFace(std: 0.02))
    for t in tensors(hf) {
      if t.name.hasSuffix("norm1.weight") || t.name.hasSuffix("norm2.weight") || t.name == "norm.weight" {
        XCTAssertTrue(t.values.allSatisfy { $0 == 1 }, t.name)
      } else if t.shape.count >= 2 {  // Linear weights, the patch embedding, pos_embed, cls_token, the head
        XCTAssertEqual(std(t.values), 0.02, accuracy: t.values.count >= 2048 ? 0.002 : 0.006, t.name)
      } else {
        XCTAssertTrue(t.values.allSatisfy { $0 == 0 }, "\(t.name): biases are zero")
      }
    }
    // where the two differ: timm's patch embedding is PyTorch's Conv2d default (uniform ±1/√48: std 0.083)
    // and its class token normal(1e-6)
    let timm = try ViT(config: c, seed: 17)
    let patch = { (m: ViT) in self.tensors(m).first { $0.name == "patch_embed.proj.weight" }!.values }
    let cls = { (m: ViT) in self.tensors(m).first { $0.name == "cls_token" }!.values }
    XCTAssertEqual(std(patch(timm)), 1 / (48.0 * 3).squareRoot(), accuracy: 0.01)
    XCTAssertEqual(std(patch(hf)), 0.02, accuracy: 0.003)
    XCTAssertLessThan(std(cls(timm)), 1e-5)
    XCTAssertGreaterThan(std(cls(hf)), 0.01)
  }

  func testTheSameSeedDrawsTheSameModel() throws {
    let c = try ViTConfig.preset("micro")
    for i in [ViTInitialisation.timm, .huggingFace(std: 0.02)] {
      let a = try ViT(config: c, seed: 5, initialisation: i), b = try ViT(config: c, seed: 5, initialisation: i)
      XCTAssertEqual(a.params.array(), b.params.array(), "\(i)")
    }
  }
}

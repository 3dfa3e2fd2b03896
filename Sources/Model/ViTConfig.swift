//===--- ViTConfig.swift - architecture of a pre-norm Vision Transformer ---===//
import Kernels

/// The classifier on top of the class-token feature.
public enum HeadKind: String, Codable, Sendable, CaseIterable {
  /// `head(norm(x)[:, 0])`, timm's default.
  case linear
  /// SH-PEFT: `head(normalize(norm(x)[:, 0]))`, an L2-normalised feature.
  case l2Linear = "l2_linear"
}

/// Shapes and options of a ViT (timm `VisionTransformer` / open_clip `VisionTransformer`).
public struct ViTConfig: Codable, Equatable, Sendable {
  public var imageSize: Int
  public var channels: Int
  public var patchSize: Int
  public var width: Int
  public var depth: Int
  public var heads: Int
  /// Hidden width of the MLP (width · mlp ratio).
  public var mlpDim: Int
  public var activation: ActivationKind
  public var head: HeadKind
  /// Fixed logit scale of the `l2_linear` head: logits = W · (s · f / ‖f‖) + b. 1 is the SH-PEFT
  /// paper's head; a larger s lets a short schedule reach confident logits (CLIP's zero-shot head
  /// uses 100). Ignored by the `linear` head.
  public var headScale: Float = 1
  public var numClasses: Int
  /// CLIP's `ln_pre` (timm: `norm_pre`) on the embedded tokens.
  public var preNorm: Bool
  /// timm's patch embedding has a bias; CLIP's `conv1` does not.
  public var patchBias: Bool
  public var layerNormEps: Float

  public init(
    imageSize: Int, channels: Int = 3, patchSize: Int, width: Int, depth: Int, heads: Int,
    mlpRatio: Double = 4, activation: ActivationKind = .gelu, head: HeadKind = .l2Linear,
    numClasses: Int, preNorm: Bool = false, patchBias: Bool = true, layerNormEps: Float = 1e-6
  ) {
    self.imageSize = imageSize
    self.channels = channels
    self.patchSize = patchSize
    self.width = width
    self.depth = depth
    self.heads = heads
    self.mlpDim = Int((Double(width) * mlpRatio).rounded())
    self.activation = activation
    self.head = head
    self.numClasses = numClasses
    self.preNorm = preNorm
    self.patchBias = patchBias
    self.layerNormEps = layerNormEps
  }

  public var gridSize: Int { imageSize / patchSize }
  public var numPatches: Int { gridSize * gridSize }
  /// Tokens per image: class token + patches.
  public var tokens: Int { numPatches + 1 }
  public var headDim: Int { width / heads }
  public var patchDim: Int { channels * patchSize * patchSize }

  /// Throws a readable error when the shapes do not fit together.
  public func validate() throws {
    func fail(_ s: String) -> ModelError { .invalidConfig(s) }
    guard imageSize > 0, patchSize > 0, imageSize % patchSize == 0 else {
      throw fail("image size \(imageSize) is not a multiple of patch size \(patchSize)")
    }
    guard width > 0, heads > 0, width % heads == 0 else {
      throw fail("width \(width) is not a multiple of heads \(heads)")
    }
    guard depth >= 0, mlpDim > 0, channels > 0, numClasses > 0 else {
      throw fail("depth, MLP width, channels and classes must be positive")
    }
    guard headScale.isFinite, headScale > 0 else { throw fail("head scale \(headScale) must be a positive number") }
  }

  /// FLOPs of one forward pass per image (multiply-add = 2), counting the
  /// matmuls only (patch embedding, qkv, attention, proj, MLP, head).
  public var forwardFlopsPerImage: Double {
    let T = Double(tokens), D = Double(width), F = Double(mlpDim)
    let perBlock = 2 * T * D * 3 * D + 2 * 2 * T * T * D + 2 * T * D * D + 2 * 2 * T * D * F
    return 2 * Double(numPatches) * Double(patchDim) * D + Double(depth) * perBlock
      + 2 * D * Double(numClasses)
  }
}

// MARK: - Presets

extension ViTConfig {
  /// Named architectures. The tiny ones are what the embedded default trains
  /// on 2 cores; the large ones are the papers' backbones.
  public static let presets: [String: ViTConfig] = [
    // timm vit_base_patch16_224 / vit_large_patch16_224
    "vit-b16": ViTConfig(imageSize: 224, patchSize: 16, width: 768, depth: 12, heads: 12, numClasses: 1000),
    "vit-l16": ViTConfig(imageSize: 224, patchSize: 16, width: 1024, depth: 24, heads: 16, numClasses: 1000),
    // open_clip ViT-B-16 (OpenAI weights use QuickGELU)
    "clip-vit-b16": ViTConfig(
      imageSize: 224, patchSize: 16, width: 768, depth: 12, heads: 12, activation: .quickGELU,
      numClasses: 1000, preNorm: true, patchBias: false, layerNormEps: 1e-5),
    // the same layout, narrow and shallow: the `paper-smoke` profile's stand-in for CLIP ViT-B/16
    "clip-narrow-p16": ViTConfig(
      imageSize: 224, patchSize: 16, width: 64, depth: 2, heads: 2, activation: .quickGELU,
      numClasses: 1000, preNorm: true, patchBias: false, layerNormEps: 1e-5),
    // embedded-default and benchmark sizes
    "tiny-p4": ViTConfig(imageSize: 32, patchSize: 4, width: 128, depth: 6, heads: 4, numClasses: 10),
    "tiny-p8": ViTConfig(imageSize: 32, patchSize: 8, width: 96, depth: 6, heads: 3, numClasses: 10),
    "tiny-p4n": ViTConfig(imageSize: 32, patchSize: 4, width: 64, depth: 6, heads: 2, numClasses: 10),
    // wider, shallower variants at about tiny-p4n's cost (CALIBRATION.md round 11: tested, not adopted)
    "tiny-p4w": ViTConfig(imageSize: 32, patchSize: 4, width: 96, depth: 4, heads: 3, numClasses: 10),
    "tiny-p4x": ViTConfig(imageSize: 32, patchSize: 4, width: 128, depth: 3, heads: 4, numClasses: 10),
    // deeper at tiny-p4n's width (CALIBRATION.md round 14)
    "tiny-p4d": ViTConfig(imageSize: 32, patchSize: 4, width: 64, depth: 9, heads: 2, numClasses: 10),
    "small64-p8": ViTConfig(imageSize: 64, patchSize: 8, width: 128, depth: 6, heads: 4, numClasses: 10),
    // for tests and smoke runs
    "micro": ViTConfig(imageSize: 16, patchSize: 4, width: 32, depth: 2, heads: 2, numClasses: 4),
  ]

  public static func preset(_ name: String) throws -> ViTConfig {
    guard let c = presets[name] else {
      throw ModelError.invalidConfig(
        "unknown preset '\(name)'; known: \(presets.keys.sorted().joined(separator: ", "))")
    }
    return c
  }
}

public enum ModelError: Error, CustomStringConvertible, Equatable {
  case invalidConfig(String)
  case badFile(path: String, message: String)

  public var description: String {
    switch self {
    case .invalidConfig(let s): return "invalid model config: \(s)"
    case .badFile(let path, let message): return "\(path): \(message)"
    }
  }
}

//===--- ModuleStore.swift - parameters a PEFT method adds -----------------===//
//
// The added modules' parameters live in one flat buffer with named views,
// like the model's (`blocks.3.attn.qkv.lora_A`), plus an equally laid-out
// gradient buffer. Added parameters all train; `decay` follows timm's rule
// (matrices decay, vectors and prompts do not).
//===----------------------------------------------------------------------===//
import Kernels
import Model
import Storage

public final class ModuleStore: @unchecked Sendable {
  public struct Tensor: Sendable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public let decay: Bool
    public var count: Int { shape.reduce(1, *) }
  }

  public private(set) var tensors: [Tensor] = []
  public private(set) var count = 0
  public private(set) var values = FloatBuffer(count: 0)
  public private(set) var grads = FloatBuffer(count: 0)
  private var sealed = false

  public init() {}

  /// Declares a tensor (before `seal`); returns its index.
  @discardableResult
  public func add(_ name: String, _ shape: [Int], decay: Bool? = nil) -> Int {
    precondition(!sealed, "ModuleStore: add after seal")
    let t = Tensor(
      name: name, shape: shape, offset: count, decay: decay ?? (shape.count >= 2 && shape.allSatisfy { $0 > 1 }))
    tensors.append(t)
    count += t.count
    return tensors.count - 1
  }

  /// Allocates the value and gradient buffers (zeroed).
  public func seal() {
    guard !sealed else { return }
    sealed = true
    values = FloatBuffer(count: count)
    grads = FloatBuffer(count: count)
  }

  @inline(__always) public func p(_ i: Int) -> UnsafeMutablePointer<Float> { values.pointer + tensors[i].offset }
  @inline(__always) public func g(_ i: Int) -> UnsafeMutablePointer<Float> { grads.pointer + tensors[i].offset }

  public func index(of name: String) -> Int? { tensors.firstIndex { $0.name == name } }
  public func values(_ name: String) -> [Float]? {
    index(of: name).map { i in values.array(tensors[i].offset..<(tensors[i].offset + tensors[i].count)) }
  }
  public func gradient(_ name: String) -> [Float]? {
    index(of: name).map { i in grads.array(tensors[i].offset..<(tensors[i].offset + tensors[i].count)) }
  }

  // MARK: - Initialisers

  public func fillUniform(_ i: Int, bound: Double, rng: inout Xoshiro256) {
    let d = p(i)
    for j in 0..<tensors[i].count { d[j] = Float((rng.uniform() * 2 - 1) * bound) }
  }
  public func fillNormal(_ i: Int, mean: Double, std: Double, rng: inout Xoshiro256) {
    let d = p(i)
    for j in 0..<tensors[i].count { d[j] = Float(mean + rng.normal() * std) }
  }
  public func fill(_ i: Int, _ v: Float) { p(i).update(repeating: v, count: tensors[i].count) }
  /// PyTorch's `kaiming_uniform_(a=√5)` of an (out, in) weight: uniform ±1/√in.
  public func fillKaimingUniform(_ i: Int, rng: inout Xoshiro256) {
    fillUniform(i, bound: 1 / Double(tensors[i].shape.last!).squareRoot(), rng: &rng)
  }
}

/// Modules with trainable parameters, seen by the trainer.
public protocol TrainableModules: ModelModules {
  var store: ModuleStore { get }
  /// Called after backward and before the optimizer step (regularisers, gradient masks).
  func afterBackward(step: Int)
  /// Called after the optimizer step (AdaLoRA's rank allocation).
  func afterStep(step: Int)
  /// Bytes of the modules' own saved activations and scratch at the last batch size.
  var activationBytes: Int { get }
  /// Floats `beginForward(batch:tokens:)` allocates (for estimates without allocating).
  func activationCount(batch B: Int, tokens T: Int) -> Int
}

extension TrainableModules {
  public func afterBackward(step: Int) {}
  public func afterStep(step: Int) {}
}

/// Grows a scratch buffer to at least `n` floats.
@inline(__always)
func ensure(_ buf: inout FloatBuffer, _ n: Int) {
  if buf.count < n { buf = FloatBuffer(count: n) }
}

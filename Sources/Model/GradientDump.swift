//===--- GradientDump.swift - `peftlab model grads` ------------------------===//
//
// Reads a batch file with `images` (float32, N×C×H×W) and `labels` (integer,
// N), runs forward and backward with every parameter trainable, and writes
// an HDF5 file with `logits` (N, K), `loss` (scalar) and `grads/<timm name>`
// for every parameter — so a user can compare an import with PyTorch.
//===----------------------------------------------------------------------===//
import Foundation
import Storage

public enum GradientDump {
  public struct Result {
    public var logits: [Float]
    public var loss: Float
    public var grads: Gradients
  }

  /// Forward + backward of `model` on the batch stored in `batchPath`.
  public static func compute(model: ViT, batchPath: String) throws -> Result {
    let f = try HDF5File.open(batchPath)
    let (images, shape) = try f.readFloats("images")
    let (labels64, lshape) = try f.readInt64s("labels")
    let c = model.config
    func bad(_ m: String) -> ModelError { .badFile(path: batchPath, message: m) }
    guard shape.count == 4, shape[1] == c.channels, shape[2] == c.imageSize, shape[3] == c.imageSize else {
      throw bad("'images' has shape \(shape), expected (N, \(c.channels), \(c.imageSize), \(c.imageSize))")
    }
    guard lshape == [shape[0]] else { throw bad("'labels' has shape \(lshape), expected (\(shape[0]))") }
    if let badLabel = labels64.first(where: { $0 < 0 || $0 >= c.numClasses }) {
      throw bad("label \(badLabel) is outside 0..<\(c.numClasses)")
    }
    let labels = labels64.map { Int32($0) }
    let acts = Activations(config: c, batch: shape[0])
    let grads = Gradients(layout: model.layout)
    model.forward(images: images, acts: acts)
    let loss = model.loss(acts: acts, targets: labels)
    model.backward(acts: acts, targets: labels, grads: grads)
    return Result(logits: acts.logitsArray, loss: loss, grads: grads)
  }

  /// Writes `logits`, `loss` and `grads/<name>` to `outPath` atomically.
  public static func write(_ r: Result, model: ViT, to outPath: String) throws {
    try writeAtomically(outPath) { tmp in
      let f = try HDF5File.create(tmp)
      try f.write(
        "logits", floats: r.logits, shape: [r.logits.count / model.config.numClasses, model.config.numClasses])
      try f.write("loss", scalar: r.loss)
      for t in model.layout.tensors {
        try f.write("grads/" + t.name, floats: r.grads.values(t.name)!, shape: t.shape)
      }
    }
  }
}

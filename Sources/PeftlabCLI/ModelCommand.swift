//===--- ModelCommand.swift - `peftlab model ...` --------------------------===//
import ArgumentParser
import Foundation
import Kernels
import Model

struct ModelCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "model", abstract: "Inspect, import and check models.",
    subcommands: [Grads.self, Info.self, Import.self])

  /// `peftlab model grads`: logits, loss and every parameter gradient of a batch.
  struct Grads: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write logits, loss and grads/<timm name> of a batch, to compare an import with PyTorch.")
    @Option(help: "A peftlab checkpoint (.h5) or a timm/open_clip .safetensors file.") var checkpoint: String
    @Option(help: "Architecture preset for a .safetensors file (default: inferred from its shapes).") var preset:
      String?
    @Option(help: "Attention heads for an inferred architecture (default: width / 64).") var heads: Int?
    @Option(help: "Classes of a newly initialised head (safetensors without a head).") var classes: Int?
    @Option(help: "Head kind for a .safetensors file: linear or l2_linear.") var head = "l2_linear"
    @Option(help: "HDF5 file with images (float32, N×C×H×W) and labels (integer, N).") var batch: String
    @Option(help: "Output HDF5 file.") var out: String
    @OptionGroup var threads: ThreadOptions

    func run() throws {
      threads.apply()
      try reportingErrors {
        let model = try loadModel(checkpoint, preset: preset, heads: heads, classes: classes, head: head)
        let r = try GradientDump.compute(model: model, batchPath: batch)
        try GradientDump.write(r, model: model, to: out)
        print(
          String(
            format: "loss %.6f; wrote logits, loss and %d gradients to %@", r.loss, model.layout.tensors.count, out))
      }
    }
  }

  /// `peftlab model info`: config and the tensor table.
  struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a model's config and its tensors.")
    @Option(help: "Checkpoint (.h5 or .safetensors); omit to describe --preset.") var checkpoint: String?
    @Option(help: "Architecture preset.") var preset: String = "micro"
    @Option(help: "Attention heads for an inferred architecture.") var heads: Int?

    func run() throws {
      try reportingErrors {
        let model =
          try checkpoint.map { try loadModel($0, preset: nil, heads: heads, classes: nil, head: "l2_linear") }
          ?? ViT(config: try ViTConfig.preset(preset), seed: 0)
        let c = model.config
        print(
          "image \(c.imageSize)  channels \(c.channels)  patch \(c.patchSize)  width \(c.width)  depth \(c.depth)  "
            + "heads \(c.heads)  mlp \(c.mlpDim)"
        )
        print(
          "activation \(c.activation.rawValue)  head \(c.head.rawValue)  classes \(c.numClasses)  norm_pre "
            + "\(c.preNorm)  patch bias \(c.patchBias)  LN eps \(c.layerNormEps)"
        )
        print(
          "parameters \(model.parameterCount)  forward GFLOP/image "
            + "\(String(format: "%.4f", c.forwardFlopsPerImage / 1e9))"
        )
        for t in model.layout.tensors {
          print("  \(t.name.padding(toLength: 32, withPad: " ", startingAt: 0)) \(t.shape)  offset \(t.offset)")
        }
      }
    }
  }

  /// `peftlab model import`: safetensors -> peftlab HDF5 checkpoint.
  struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Convert a timm/open_clip .safetensors checkpoint to peftlab HDF5.")
    @Argument(help: "The .safetensors file.") var source: String
    @Option(help: "Output checkpoint (.h5).") var out: String
    @Option(help: "Architecture preset (default: inferred).") var preset: String?
    @Option(help: "Attention heads for an inferred architecture.") var heads: Int?
    @Option(help: "Classes of the head (a new head if it differs).") var classes: Int?
    @Option(help: "Head kind: linear or l2_linear (default: linear if the file has a head, else l2_linear).") var head:
      String?
    @Option(help: "MLP activation: gelu or quick_gelu (default: the source's convention, printed).") var activation:
      String?
    @Option(help: "A Hugging Face peft LoRA adapter (folder or adapter_model.safetensors) to merge in.")
    var lora: String?

    func validate() throws {
      if let head, HeadKind(rawValue: head) == nil {
        throw ValidationError("--head must be linear or l2_linear, not '\(head)'")
      }
      if let activation, ActivationKind(rawValue: activation) == nil {
        throw ValidationError(
          "--activation must be \(ActivationKind.allCases.map(\.rawValue).joined(separator: " or ")), not "
            + "'\(activation)'"
        )
      }
    }

    func run() throws {
      try reportingErrors {
        let (model, report) = try CheckpointImport.load(
          safetensors: source, config: try preset.map { try ViTConfig.preset($0) }, numClasses: classes,
          head: head.flatMap(HeadKind.init(rawValue:)), heads: heads,
          activation: activation.flatMap(ActivationKind.init(rawValue:)), lora: lora)
        try Checkpoint.save(
          model, to: out,
          extraAttributes: [
            "imported_from": source, "import_flavor": report.flavor,
            "import_decisions": report.decisions.joined(separator: "; "),
          ])
        print(
          "\(report.flavor): loaded \(report.loaded.count) tensors"
            + (report.newlyInitialised.isEmpty ? "" : "; new: \(report.newlyInitialised.joined(separator: ", "))")
            + (report.ignored.isEmpty ? "" : "; ignored \(report.ignored.count)")
            + (report.resampledPositionEmbedding ? "; pos_embed resampled" : ""))
        print("decided: " + report.decisions.joined(separator: "; "))
        print("wrote \(out)")
      }
    }
  }
}

func loadModel(_ path: String, preset: String?, heads: Int?, classes: Int?, head: String) throws -> ViT {
  guard let h = HeadKind(rawValue: head) else { throw ValidationError("unknown head '\(head)'") }
  if path.hasSuffix(".safetensors") {
    return try CheckpointImport.load(
      safetensors: path, config: try preset.map { try ViTConfig.preset($0) }, numClasses: classes, head: h,
      heads: heads
    ).0
  }
  return try Checkpoint.load(path)
}

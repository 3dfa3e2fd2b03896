//===--- DatasetStage.swift - the `dataset` stage kind ---------------------===//
//
//   stages:
//     data:
//       kind: dataset
//       matrix: {task: "${vars.tasks}"}
//       params: {name: "${item.task}", sizes: [8, 16, 32]}
// Output: data-<S>.h5 per size S (/<split>/images uint8 (N, S, S, C), /<split>/labels) and
// info.json (counts per split and class; per size its file and the normalisation statistics of the
// training split). A training stage that needs it reads the file at its model's input size (a side
// network's copy is another size of the same stage). The key includes the dataset's content hash
// (manifest text + data files), so editing one manifest reruns only what uses it.
//===----------------------------------------------------------------------===//
import Data
import Foundation
import Outputs
import Pipeline
import Storage

public struct DatasetStageKind: StageKind {
  public init() {}
  public let name = "dataset"
  public let version = 3  // 3: several sizes, data-<size>.h5 each; 2: info.json is DatasetInfoOutput
  public let parameters: [ParameterSpec] = [
    ParameterSpec("name", help: "dataset name (a manifest in `manifests`)"),
    ParameterSpec("size", default: .null, help: "image size in px (default: the manifest's; or give `sizes`)"),
    ParameterSpec("sizes", default: .array([]), help: "image sizes in px, one data-<size>.h5 each (instead of `size`)"),
    ParameterSpec(
      "manifests", default: .string("data-manifests"), help: "folder of manifests, relative to the project"),
    ParameterSpec("data_root", default: .string("data"), help: "data root, relative to the project"),
  ]

  struct Values: Decodable {
    var name: String
    var size: Int?
    var sizes: [Int]
    var manifests, dataRoot: String
  }

  /// The manifest and the data root (absolute).
  func manifest(_ params: [String: Value], projectRoot: String) throws -> (DatasetManifest, String) {
    let v = try Parameters.decode(Values.self, from: params, context: "dataset")
    let m = try DatasetLocation(dataset: v.name, manifests: v.manifests, dataRoot: v.dataRoot)
      .manifest(root: projectRoot)
    return (m, projectRoot + "/" + v.dataRoot)
  }

  public func externalInputs(
    params: [String: Value], projectRoot: String, hasher: FileHasher
  ) throws -> [String: String] {
    let (m, root) = try manifest(params, projectRoot: projectRoot)
    return ["dataset:" + m.name: try DatasetCheck.contentHash(m, root: root, hasher: hasher)]
  }

  public func run(_ ctx: StageContext) throws {
    let (m, root) = try manifest(ctx.params, projectRoot: ctx.projectRoot)
    let v = try ctx.decode(Values.self)
    if v.size != nil && !v.sizes.isEmpty {
      throw PipelineError.stageFailed(stage: ctx.stage, message: "give `size` or `sizes`, not both")
    }
    if let bad = v.sizes.first(where: { $0 <= 0 }) {
      throw PipelineError.stageFailed(stage: ctx.stage, message: "sizes must be > 0 (has \(bad))")
    }
    let sizes = v.sizes.isEmpty ? [v.size ?? m.imageSize] : Array(Set(v.sizes)).sorted()
    var counts: [String: [Int]] = [:]
    var decoded: [DatasetInfoOutput.Decoded] = []
    for size in sizes {
      var at = m
      at.imageSize = size
      ctx.log("loading \(m.name) at \(size) px")
      let splits = try DatasetLoader.load(at, root: root)
      let file = DatasetInfoOutput.fileName(size: size)
      try DatasetCache.write(splits, to: try HDF5File.create(ctx.outputDir + "/" + file))
      for (s, r) in splits {
        var c = [Int](repeating: 0, count: m.classes.count)
        for i in 0..<r.count where r.label(i) >= 0 { c[r.label(i)] += 1 }
        counts[s] = c
      }
      let n = splits["train"].map { Normalization.of($0) }
      decoded.append(.init(size: size, file: file, normalization: n.map { .init(mean: $0.mean, std: $0.std) }))
    }
    try DatasetInfoOutput(name: m.name, task: m.task.rawValue, classes: m.classes, counts: counts, decoded: decoded)
      .write(in: ctx.outputDir)
  }
}

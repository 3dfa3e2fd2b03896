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

  /// The manifest, the data root (absolute) and the sizes to decode, ascending; `size` with `sizes` or a size
  /// ≤ 0 is an error when the key is computed (before anything runs).
  func manifest(_ params: [String: Value], projectRoot: String) throws -> (DatasetManifest, String, [Int]) {
    let v = try Parameters.decode(Values.self, from: params, context: "dataset")
    if v.size != nil && !v.sizes.isEmpty { throw PipelineError.parameter("dataset: give `size` or `sizes`, not both") }
    if let bad = (v.sizes + [v.size ?? 1]).first(where: { $0 <= 0 }) {
      throw PipelineError.parameter("dataset: sizes must be > 0, not \(bad)")
    }
    let m = try DatasetLocation(dataset: v.name, manifests: v.manifests, dataRoot: v.dataRoot)
      .manifest(root: projectRoot)
    let sizes = v.sizes.isEmpty ? [v.size ?? m.imageSize] : Array(Set(v.sizes)).sorted()
    return (m, projectRoot + "/" + v.dataRoot, sizes)
  }

  public func externalInputs(
    params: [String: Value], projectRoot: String, hasher: FileHasher
  ) throws -> [String: String] {
    let (m, root, _) = try manifest(params, projectRoot: projectRoot)
    return ["dataset:" + m.name: try DatasetCheck.contentHash(m, root: root, hasher: hasher)]
  }

  public func run(_ ctx: StageContext) throws {
    let (m, root, sizes) = try manifest(ctx.params, projectRoot: ctx.projectRoot)
    var counts: [String: [Int]] = [:]
    var decoded: [DatasetInfoOutput.Decoded] = []
    for size in sizes {
      var at = m
      at.imageSize = size
      ctx.log("loading \(m.name) at \(size) px")
      let splits = try DatasetLoader.load(at, root: root)
      let file = DatasetInfoOutput.fileName(size: size)
      try DatasetCache.write(splits, to: try HDF5File.create(ctx.outputDir + "/" + file))
      for (s, r) in splits where counts[s] == nil {  // the labels are the same at every size
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

//===--- DatasetStage.swift - the `dataset` stage kind ---------------------===//
//
//   stages:
//     data:
//       kind: dataset
//       matrix: {dataset: "${vars.sh-peft-synth}"}
//       params: {name: "${item.dataset}", size: 32}
// Output: data.h5 (/<split>/images uint8 (N, S, S, C), /<split>/labels) and
// info.json (counts per split and class, normalisation statistics of the
// training split). The key includes the dataset's content hash (manifest
// text + data files), so editing one manifest reruns only what uses it.
//===----------------------------------------------------------------------===//
import Data
import Foundation
import Outputs
import Pipeline
import Storage

public struct DatasetStageKind: StageKind {
  public init() {}
  public let name = "dataset"
  public let version = 2  // 2: info.json is DatasetInfoOutput (adds stage_kind)
  public let parameters: [ParameterSpec] = [
    ParameterSpec("name", help: "dataset name (a manifest in `manifests`)"),
    ParameterSpec("size", default: .null, help: "image size in px (default: the manifest's)"),
    ParameterSpec(
      "manifests", default: .string("data-manifests"), help: "folder of manifests, relative to the project"),
    ParameterSpec("data_root", default: .string("data"), help: "data root, relative to the project"),
  ]

  struct Values: Decodable {
    var name: String
    var size: Int?
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
    var (m, root) = try manifest(ctx.params, projectRoot: ctx.projectRoot)
    if let s = try ctx.decode(Values.self).size { m.imageSize = s }
    ctx.log("loading \(m.name) at \(m.imageSize) px")
    let splits = try DatasetLoader.load(m, root: root)
    let f = try HDF5File.create(ctx.outputDir + "/data.h5")
    var counts: [String: [Int]] = [:]
    for (s, r) in splits.sorted(by: { $0.key < $1.key }) {
      try f.write(s + "/images", uint8s: r.images, shape: [r.count, r.height, r.width, r.channels])
      try f.write(
        s + "/labels", int64s: r.labels.map(Int64.init), shape: r.labelWidth == 1 ? [r.count] : [r.count, r.labelWidth])
      var c = [Int](repeating: 0, count: m.classes.count)
      for i in 0..<r.count where r.label(i) >= 0 { c[r.label(i)] += 1 }
      counts[s] = c
    }
    let n = splits["train"].map { Normalization.of($0) }
    try DatasetInfoOutput(
      name: m.name, task: m.task.rawValue, classes: m.classes, size: m.imageSize, counts: counts,
      normalization: n.map { .init(mean: $0.mean, std: $0.std) }
    ).write(in: ctx.outputDir)
  }
}

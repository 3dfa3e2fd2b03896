//===--- EquivalentStage.swift - reuse a cached stage that computed the same thing --===//
//
// A stage's key is fixed before it runs: kind, version, parameters, its inputs' output hashes, external
// hashes. A kind that resolves a parameter from a needed stage at run time — a `peft` stage with
// `lr_from` reads its learning rate from an `lr-choice` — can find out only then that it is about to
// compute exactly what another stage already computed (the search's run with its seed at the chosen rate). It
// asks `cachedEquivalent(params:dropping:)`: the key a stage of its kind would have with the resolved
// parameters and without the input it resolved them from, looked up like any cache hit (record intact,
// object present and re-verified). Reusing that output gives the same bytes as recomputing it (fixed
// seed and thread count: the same numbers), so the stage's output hash does not depend on which path ran.
// A stage that finds nothing and computes calls `declareEquivalent(params:dropping:)`: the runner then also
// records its output under that resolved key, so a later run in which the resolving input changed while the
// resolved parameters did not (another method's rate moved in the choice file) finds it instead of
// recomputing — a changed choice reruns only the stages whose rate it changed.
//===----------------------------------------------------------------------===//
import Foundation
import Storage

/// What a stage's key was computed from besides its kind and parameters.
public struct StageKeyParts: Codable, Sendable {
  public var kindVersion: Int
  /// Output hash of each needed stage, by stage name.
  public var inputs: [String: String]
  public var external: [String: String]

  public init(kindVersion: Int, inputs: [String: String], external: [String: String]) {
    (self.kindVersion, self.inputs, self.external) = (kindVersion, inputs, external)
  }

  init(_ r: StageRecord) { self.init(kindVersion: r.kindVersion, inputs: r.inputs, external: r.external) }

  /// The key (and inputs) of the same computation with `params` (resolved, canonical JSON) and without the
  /// `dropping` inputs: what `cachedEquivalent` looks up and `publishEquivalent` records.
  func equivalent(
    kind: String, params: [String: String], dropping: some Sequence<String>
  ) -> (
    key: String, inputs: [String: String]
  ) {
    let dropped = Set(dropping)
    let kept = inputs.filter { !dropped.contains($0.key) }
    return (
      StageRecord.key(kind: kind, kindVersion: kindVersion, params: params, inputs: kept, external: external), kept
    )
  }
}

extension StageContext {
  /// The output folder of a completed stage of this kind with `params` (resolved), this stage's inputs without
  /// `dropping` and its external inputs; nil if there is none (or no key parts were handed to this stage).
  public func cachedEquivalent(params: [String: Value], dropping: Set<String>) -> (key: String, dir: String)? {
    guard let parts = keyParts, let cache = try? Cache(root: cacheRoot) else { return nil }
    let key = parts.equivalent(kind: kindName, params: params.mapValues(\.canonicalJSON), dropping: dropping).key
    guard let hit = cache.hit(key) else { return nil }
    return (key, cache.objectPath(hit.output))
  }

  /// Asks the runner to record this stage's output, once it succeeds, also under the key `cachedEquivalent`
  /// looks up with the same arguments (Runner.publishEquivalent). The request is a file in the work folder, so
  /// it crosses the process boundary of an isolated stage.
  public func declareEquivalent(params: [String: Value], dropping: Set<String>) throws {
    let request = EquivalentRequest(params: params.mapValues(\.canonicalJSON), dropping: dropping.sorted())
    try atomicWrite(try JSONEncoder().encode(request), to: workDir + "/" + EquivalentRequest.fileName)
  }

  /// Copies every file of `dir` (a cached object) into this stage's output folder.
  public func copyOutput(from dir: String) throws {
    let fm = FileManager.default
    for name in try fm.contentsOfDirectory(atPath: dir).sorted() {
      try fm.copyItem(atPath: dir + "/" + name, toPath: outputDir + "/" + name)
    }
  }
}

/// `declareEquivalent`'s request: the resolved parameters (canonical JSON) and the inputs the key leaves out.
struct EquivalentRequest: Codable {
  static let fileName = "equivalent.json"
  var params: [String: String]
  var dropping: [String]
}

extension Runner {
  /// Records `rec`'s output also under the key its stage declared (`declareEquivalent`): the same kind, version
  /// and external inputs, the resolved parameters, the inputs without the dropped ones. Only the record is
  /// written (no state/: no stage has that name's key); an existing intact record of that key is kept. Best
  /// effort: without it a later run recomputes what it could have reused.
  func publishEquivalent(of rec: StageRecord, work: String) {
    guard let d = FileManager.default.contents(atPath: work + "/" + EquivalentRequest.fileName),
      let q = try? JSONDecoder().decode(EquivalentRequest.self, from: d)
    else { return }
    var alias = rec
    alias.params = q.params
    (alias.key, alias.inputs) = StageKeyParts(rec).equivalent(kind: rec.kind, params: q.params, dropping: q.dropping)
    guard alias.key != rec.key, cache.hit(alias.key) == nil else { return }
    try? cache.publishRecord(alias)
  }
}

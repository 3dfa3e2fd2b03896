//===--- Explain.swift - why a stage would rerun; the status of every stage ===//
import Foundation

/// One difference between a stage's last run and what it would run now.
public enum Change: Equatable, Sendable, CustomStringConvertible {
  case neverRun
  case kindVersion(old: Int, new: Int)
  case param(name: String, old: String?, new: String?)
  case input(stage: String, old: String?, new: String?)
  case external(file: String, old: String?, new: String?)
  case upstreamPending(stage: String)
  case forced

  public var description: String {
    func short(_ h: String?) -> String { h.map { String($0.prefix(12)) } ?? "none" }
    switch self {
    case .neverRun: return "never run"
    case .kindVersion(let o, let n): return "kind version \(o) -> \(n)"
    case .param(let name, let o, let n):
      if o == nil { return "param \(name) added: \(n!)" }
      if n == nil { return "param \(name) removed (was \(o!))" }
      return "param \(name): \(o!) -> \(n!)"
    case .input(let s, let o, let n):
      if o == nil { return "new input '\(s)'" }
      if n == nil { return "input '\(s)' removed" }
      return "input '\(s)' changed: \(short(o)) -> \(short(n))"
    case .external(let f, let o, let n): return "file \(f) changed: \(short(o)) -> \(short(n))"
    case .upstreamPending(let s): return "needs '\(s)', which is not up to date"
    case .forced: return "forced"
    }
  }
}

public enum Explanation {
  /// Differences between the last successful run and the current components.
  public static func diff(_ now: StageRecord, last: StageRecord?) -> [Change] {
    guard let last else { return [.neverRun] }
    var out: [Change] = []
    if last.kindVersion != now.kindVersion { out.append(.kindVersion(old: last.kindVersion, new: now.kindVersion)) }
    for k in Set(last.params.keys).union(now.params.keys).sorted() where last.params[k] != now.params[k] {
      out.append(.param(name: k, old: last.params[k], new: now.params[k]))
    }
    for k in Set(last.inputs.keys).union(now.inputs.keys).sorted() where last.inputs[k] != now.inputs[k] {
      out.append(.input(stage: k, old: last.inputs[k], new: now.inputs[k]))
    }
    for k in Set(last.external.keys).union(now.external.keys).sorted() where last.external[k] != now.external[k] {
      out.append(.external(file: k, old: last.external[k], new: now.external[k]))
    }
    return out
  }

  /// One line: the differences, or why a matching run is missing.
  public static func reason(_ now: StageRecord, last: StageRecord?) -> String {
    let d = diff(now, last: last)
    if d.isEmpty { return "output missing from the cache" }
    return d.map(\.description).joined(separator: "; ")
  }
}

public struct StageStatus: Sendable {
  public enum State: String, Sendable { case upToDate = "up to date", stale, neverRun = "never run", failed }
  public var stage: String
  public var state: State
  public var changes: [Change]
  public var key: String?
  public var output: String?
  public var error: String?
}

extension Runner {
  /// The state of every stage, in dependency order. Reads records only: no
  /// object is hashed, so this is as fast as a no-op run.
  public func status() throws -> [StageStatus] {
    var outputs: [String: String] = [:]
    var out: [StageStatus] = []
    for i in pipeline.topologicalOrder() {
      let s = pipeline.stages[i]
      let last = cache.lastRun(of: s.name)
      if let pendingNeed = s.needs.first(where: { outputs[$0] == nil }) {
        var changes: [Change] = [.upstreamPending(stage: pendingNeed)]
        if last == nil { changes.insert(.neverRun, at: 0) }
        out.append(StageStatus(stage: s.name, state: last == nil ? .neverRun : .stale, changes: changes))
        continue
      }
      let comp = try components(s, outputs: outputs)
      if let hit = cache.hit(comp.key) {
        outputs[s.name] = hit.output
        out.append(StageStatus(stage: s.name, state: .upToDate, changes: [], key: comp.key, output: hit.output))
      } else if let f = cache.lastFailure(of: s.name), f.key == comp.key {
        out.append(StageStatus(stage: s.name, state: .failed, changes: [], key: comp.key, error: f.error))
      } else {
        out.append(
          StageStatus(
            stage: s.name, state: last == nil ? .neverRun : .stale,
            changes: Explanation.diff(comp, last: last), key: comp.key))
      }
    }
    return out
  }
}

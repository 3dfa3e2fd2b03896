//===--- PipelineFile.swift - parsing and expanding a pipeline file --------===//
//
//   defaults:                 # per-kind parameter defaults shared by the stages
//     finetune: {lr: 0.001}
//   params: params.yaml       # (optional) the same, from a file next to this one
//   profiles:                 # overrides by kind, stage or instance name
//     quick: {finetune: {steps: 200}, vars: {seeds: [1]}}   # (and of variables)
//   stages:
//     finetune:
//       kind: finetune
//       needs: [pretrain]
//       matrix: {dataset: [chaoyang-synth, busi-synth], seed: [1, 2]}
//       params: {dataset: "${item.dataset}", seed: "${item.seed}"}
//
// A matrix stage expands to instances named base@value@...: strings as
// they are, other values prefixed by their key (finetune@busi-synth@seed2).
// `needs` entries name an instance or a base stage (all its instances) and
// may use ${item.KEY}. A string that is exactly "${item.KEY}" takes the
// item's value with its type (a number stays a number).
//===----------------------------------------------------------------------===//
import Foundation
import Yams

/// A stage after expansion and parameter resolution.
public struct StageInstance: Sendable {
  public var name: String
  public var base: String
  public var kind: String
  public var params: [String: Value]
  public var needs: [String]
  public var line: Int
  /// `resources:` for executors that schedule jobs (cpus, mem, time, gpus); not part of the key.
  public var resources: [String: Value] = [:]
}

public struct Pipeline: Sendable {
  public var path: String
  public var profile: String?
  public var stages: [StageInstance]
  public var byName: [String: Int]

  public func stage(_ name: String) -> StageInstance? { byName[name].map { stages[$0] } }
}

// MARK: - YAML with line numbers

struct Located {
  var value: Value
  var line: Int
  var children: [String: Located] = [:]
  var items: [Located] = []
  /// Mapping keys in file order.
  var keys: [String] = []
  var orderedChildren: [(String, Located)] { keys.map { ($0, children[$0]!) } }
}

/// Limits on a pipeline, params or vars file, checked before any work: size, nesting, nodes after
/// alias expansion (a YAML alias bomb), includes, and matrix instances.
enum PipelineLimits {
  static let bytes = 4 << 20, depth = 64, nodes = 200_000, includeDepth = 16, instances = 20_000
}

/// Parses YAML text into located values; errors name the file (and line) for what is too big or
/// too deep, invalid, or a mapping with the same key twice.
func parseYAML(_ text: String, path: String) throws -> Located? {
  func fail(_ line: Int, _ m: String) -> PipelineError { .file(path: path, line: line, stage: nil, message: m) }
  guard text.utf8.count <= PipelineLimits.bytes else { throw fail(0, "larger than \(PipelineLimits.bytes >> 20) MiB") }
  // Nesting, before the parser recurses into it: flow brackets, block indentation and "- - -" runs.
  var flow = 0, lineNo = 1, atLineStart = true, indent = 0, dashes = 0
  for b in text.utf8 {
    switch b {
    case UInt8(ascii: "["), UInt8(ascii: "{"): flow += 1; atLineStart = false
    case UInt8(ascii: "]"), UInt8(ascii: "}"): flow -= 1; atLineStart = false
    case UInt8(ascii: "\n"): lineNo += 1; atLineStart = true; indent = 0; dashes = 0
    case UInt8(ascii: " ") where atLineStart: indent += 1
    case UInt8(ascii: "-") where atLineStart: dashes += 1
    default: atLineStart = false
    }
    if max(flow, 0) + indent / 2 + dashes > PipelineLimits.depth {
      throw fail(lineNo, "nested deeper than \(PipelineLimits.depth) levels")
    }
  }
  let node: Node?
  do { node = try Yams.compose(yaml: text) } catch { throw fail(0, "not valid YAML: \(error)") }
  guard let node else { return nil }
  var budget = PipelineLimits.nodes
  return try convert(node, budget: &budget, path: path)
}

func convert(_ node: Node, budget: inout Int, path: String) throws -> Located {
  let line = (node.mark?.line ?? 0)
  budget -= 1
  guard budget >= 0 else {
    throw PipelineError.file(
      path: path, line: line, stage: nil,
      message: "more than \(PipelineLimits.nodes) values (after expanding YAML aliases)")
  }
  switch node {
  case .scalar(let s):
    if s.style == .plain {
      if s.string == "~" || s.string == "null" || s.string.isEmpty { return Located(value: .null, line: line) }
      if let b = Bool.construct(from: s) { return Located(value: .bool(b), line: line) }
      if let i = Int.construct(from: s) { return Located(value: .int(i), line: line) }
      if let d = Double.construct(from: s) { return Located(value: .double(d), line: line) }
    }
    return Located(value: .string(s.string), line: line)
  case .sequence(let seq):
    var items: [Located] = []
    for n in seq { items.append(try convert(n, budget: &budget, path: path)) }
    return Located(value: .array(items.map(\.value)), line: line, items: items)
  case .mapping(let m):
    var kids: [String: Located] = [:]
    var obj: [String: Value] = [:]
    var keys: [String] = []
    for (k, v) in m {
      let key = k.string ?? "\(k)"
      let c = try convert(v, budget: &budget, path: path)
      guard kids[key] == nil else {
        throw PipelineError.file(
          path: path, line: k.mark?.line ?? line, stage: nil, message: "key '\(key)' appears twice in one mapping")
      }
      keys.append(key)
      kids[key] = c
      obj[key] = c.value
    }
    return Located(value: .object(obj), line: line, children: kids, keys: keys)
  }
}

// MARK: - Loading

extension Pipeline {
  /// Loads, expands and resolves a pipeline file against the registered kinds.
  public static func load(_ path: String, profile: String?, registry: StageRegistry) throws -> Pipeline {
    try load(path, profile: profile, registry: registry, including: [])
  }

  /// `including`: the chain of files whose `include:` led here (a file met twice is a cycle).
  static func load(_ path: String, profile: String?, registry: StageRegistry, including: [String]) throws -> Pipeline {
    var l = try PipelineLoader(path: path, profile: profile, registry: registry, including: including)
    try l.readDefaults()
    try l.readVars()
    try l.applyProfile()
    let stagesNode = try l.stagesNode()
    try l.include()
    for (base, node) in stagesNode.orderedChildren { try l.addStage(base, node) }  // file order: stable output
    try l.checkOverrides()
    try l.resolveNeeds()
    let p = Pipeline(path: path, profile: profile, stages: l.instances, byName: l.byName)
    try p.checkAcyclic()
    return p
  }

  /// Stage names and matrix strings: letters, digits, '.', '_', '+', '-', starting with a letter or digit
  /// (they name files in the cache and may appear in shell commands).
  static func isSafeName(_ s: String) -> Bool {
    guard let f = s.unicodeScalars.first, f.properties.isAlphabetic || ("0"..."9").contains(f), s.count <= 200 else {
      return false
    }
    return s.unicodeScalars.allSatisfy {
      $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._+-".unicodeScalars.contains($0))
    }
      && !s.contains("..")
  }

  static func expandMatrix(
    _ node: Located?, stage: String, vars: [String: Value], fail: (Int, String?, String) -> PipelineError
  ) throws -> [[(String, Value)]] {
    guard let node else { return [[]] }
    func list(_ v: Located) throws -> [Value]? {
      if let s = v.value.string, s.hasPrefix("${vars."), s.hasSuffix("}") {
        let name = String(s.dropFirst(7).dropLast())
        guard let l = vars[name]?.array else {
          throw fail(
            v.line, stage, "'\(s)': no list '\(name)' in vars (have: \(vars.keys.sorted().joined(separator: ", ")))")
        }
        return l
      }
      return v.value.array
    }
    if let l = try list(node) {  // foreach: [a, b] -> item.value
      return l.map { [("value", $0)] }
    }
    guard case .object = node.value else { throw fail(node.line, stage, "'matrix' must map keys to lists") }
    var combos: [[(String, Value)]] = [[]]
    for (key, v) in node.orderedChildren {
      guard let values = try list(v), !values.isEmpty else {
        throw fail(v.line, stage, "matrix key '\(key)' must be a non-empty list")
      }
      for x in values {  // values name the instances and may be pasted into a command: no shell syntax
        switch x {
        case .int, .double, .bool: continue
        case .string(let t) where isSafeName(t): continue
        default:
          throw fail(
            v.line, stage,
            "matrix value \(x.canonicalJSON) of '\(key)' must be a number, true/false or a name "
              + "of letters, digits, '.', '_', '-'")
        }
      }
      guard combos.count * values.count <= PipelineLimits.instances else {
        throw fail(v.line, stage, "matrix expands to more than \(PipelineLimits.instances) instances")
      }
      combos = combos.flatMap { c in values.map { c + [(key, $0)] } }
    }
    return combos
  }

  /// Replaces ${item.KEY} (this instance's matrix values) and ${vars.NAME} (the pipeline's variables) in strings,
  /// recursively in arrays and objects; a string that is exactly one of them takes its value (a list stays a list).
  static func interpolate(
    _ v: Value, item: [(String, Value)], vars: [String: Value] = [:], line: Int, stage: String,
    fail: (Int, String?, String) -> PipelineError
  ) throws -> Value {
    switch v {
    case .string(let s):
      guard s.contains("${") else { return v }
      let lookup = Dictionary(item, uniquingKeysWith: { a, _ in a })
      func resolve(_ expr: String) throws -> Value {
        if expr.hasPrefix("item.") {
          guard let val = lookup[String(expr.dropFirst(5))] else {
            throw fail(line, stage, "'\(s)': no matrix key '\(expr.dropFirst(5))'")
          }
          return val
        }
        if expr.hasPrefix("vars.") {
          guard let val = vars[String(expr.dropFirst(5))] else {
            throw fail(line, stage, "'${\(expr)}': no variable '\(expr.dropFirst(5))' (vars:)")
          }
          return val
        }
        throw fail(line, stage, "'${\(expr)}': only ${item.KEY} of this stage's matrix or ${vars.NAME} can be used")
      }
      if s.hasPrefix("${"), s.hasSuffix("}"), s.firstIndex(of: "}") == s.index(before: s.endIndex) {
        return try resolve(String(s.dropFirst(2).dropLast()))
      }
      var out = ""
      var rest = Substring(s)
      while let r = rest.range(of: "${") {
        out += rest[..<r.lowerBound]
        guard let close = rest[r.upperBound...].firstIndex(of: "}") else {
          throw fail(line, stage, "unclosed '${' in '\(s)'")
        }
        out += try resolve(String(rest[r.upperBound..<close])).description
        rest = rest[rest.index(after: close)...]
      }
      return .string(out + rest)
    case .array(let a):
      return .array(try a.map { try interpolate($0, item: item, vars: vars, line: line, stage: stage, fail: fail) })
    case .object(let o):
      return .object(
        try o.mapValues { try interpolate($0, item: item, vars: vars, line: line, stage: stage, fail: fail) })
    default: return v
    }
  }

  /// Throws naming the cycle if the `needs` graph has one.
  func checkAcyclic() throws {
    var state = [Int](repeating: 0, count: stages.count)  // 0 new, 1 on stack, 2 done
    var stack: [String] = []
    func visit(_ i: Int) throws {
      if state[i] == 2 { return }
      if state[i] == 1 {
        let cycle = stack.drop { $0 != stages[i].name } + [stages[i].name]
        throw PipelineError.file(
          path: path, line: stages[i].line, stage: stages[i].name,
          message: "cycle: " + cycle.joined(separator: " -> "))
      }
      state[i] = 1
      stack.append(stages[i].name)
      for n in stages[i].needs { try visit(byName[n]!) }
      stack.removeLast()
      state[i] = 2
    }
    for i in stages.indices { try visit(i) }
  }

  /// Stage indices in dependency order (needs first), stable by file order.
  public func topologicalOrder() -> [Int] {
    var done = [Bool](repeating: false, count: stages.count)
    var order: [Int] = []
    func visit(_ i: Int) {
      if done[i] { return }
      done[i] = true
      for n in stages[i].needs { visit(byName[n]!) }
      order.append(i)
    }
    for i in stages.indices { visit(i) }
    return order
  }

  /// The targets and everything they need, transitively.
  public func closure(of targets: [String]) throws -> Set<String> {
    var out = Set<String>()
    var todo: [String] = []
    for t in targets {
      if byName[t] != nil {
        todo.append(t)
      } else {
        let all = stages.filter { $0.base == t }.map(\.name)
        guard !all.isEmpty else {
          throw PipelineError.file(path: path, line: 0, stage: t, message: "no stage named '\(t)'")
        }
        todo += all
      }
    }
    while let t = todo.popLast() {
      if out.insert(t).inserted { todo += stage(t)!.needs }
    }
    return out
  }

  /// Stages that (transitively) need any of `names`.
  public func descendants(of names: Set<String>) -> Set<String> {
    var out = Set<String>()
    var changed = true
    while changed {
      changed = false
      for s in stages where !out.contains(s.name) && s.needs.contains(where: { names.contains($0) || out.contains($0) })
      {
        out.insert(s.name)
        changed = true
      }
    }
    return out
  }
}

/// YAML text as Foundation values ([String: Any], [Any], String, Int, Double, Bool, NSNull), with the
/// pipeline file's limits (size, nesting, alias expansion) and errors that name `path`: what
/// `Yams.load` gives, except that it cannot trap (Yams traps on a mapping key that is not a scalar).
public func loadYAML(_ text: String, path: String) throws -> Any? {
  guard let root = try parseYAML(text, path: path) else { return nil }
  return root.value.foundationValue
}

extension Value {
  /// The value as Foundation types (JSONSerialization-like).
  public var foundationValue: Any {
    switch self {
    case .null: return NSNull()
    case .bool(let b): return b
    case .int(let i): return i
    case .double(let d): return d
    case .string(let s): return s
    case .array(let a): return a.map(\.foundationValue)
    case .object(let o): return o.mapValues(\.foundationValue)
    }
  }
}

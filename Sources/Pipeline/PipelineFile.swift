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

  /// Replaces ${item.KEY} in strings (recursively in arrays and objects).
  static func interpolate(
    _ v: Value, item: [(String, Value)], line: Int, stage: String, fail: (Int, String?, String) -> PipelineError
  ) throws -> Value {
    switch v {
    case .string(let s):
      guard s.contains("${") else { return v }
      let lookup = Dictionary(item, uniquingKeysWith: { a, _ in a })
      if s.hasPrefix("${item."), s.hasSuffix("}"), s.firstIndex(of: "}") == s.index(before: s.endIndex) {
        let key = String(s.dropFirst(7).dropLast())
        guard let val = lookup[key] else { throw fail(line, stage, "'\(s)': no matrix key '\(key)'") }
        return val
      }
      var out = ""
      var rest = Substring(s)
      while let r = rest.range(of: "${") {
        out += rest[..<r.lowerBound]
        guard let close = rest[r.upperBound...].firstIndex(of: "}") else {
          throw fail(line, stage, "unclosed '${' in '\(s)'")
        }
        let expr = String(rest[r.upperBound..<close])
        guard expr.hasPrefix("item."), let val = lookup[String(expr.dropFirst(5))] else {
          throw fail(line, stage, "'${\(expr)}': only ${item.KEY} of this stage's matrix can be used")
        }
        out += val.description
        rest = rest[rest.index(after: close)...]
      }
      return .string(out + rest)
    case .array(let a):
      return .array(try a.map { try interpolate($0, item: item, line: line, stage: stage, fail: fail) })
    case .object(let o):
      return .object(try o.mapValues { try interpolate($0, item: item, line: line, stage: stage, fail: fail) })
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

/// The steps of `Pipeline.load` for one file, in order: the file and its top-level keys, shared defaults,
/// variables, the profile, `include:`, each stage's instances (matrix, parameters, needs), then the
/// needs resolved to instance names. Every error names the file, the line and the stage.
struct PipelineLoader {
  let path: String, profile: String?, registry: StageRegistry, including: [String]
  /// The file's canonical path (include cycles are found by it).
  let canonical: String
  let root: Located
  /// Shared defaults per kind: `defaults:` and/or a `params:` file.
  var defaults: [String: [String: Value]] = [:]
  /// Lists (and values) that matrices use as ${vars.NAME}.
  var vars: [String: Value] = [:]
  /// The profile's overrides, by kind, stage base name or instance name.
  var overrides: [String: Located] = [:]
  var instances: [StageInstance] = []
  var byName: [String: Int] = [:]
  var instancesOfBase: [String: [String]] = [:]
  /// Per instance (its index), the `needs` as written, with their lines.
  var pendingNeeds: [(Int, [(String, Int)])] = []

  func fail(_ line: Int, _ stage: String?, _ m: String) -> PipelineError {
    .file(path: path, line: line, stage: stage, message: m)
  }

  /// Reads and parses the file; checks the include chain and the top-level keys.
  init(path: String, profile: String?, registry: StageRegistry, including: [String]) throws {
    (self.path, self.profile, self.registry, self.including) = (path, profile, registry, including)
    canonical = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    func fail(_ line: Int, _ m: String) -> PipelineError { .file(path: path, line: line, stage: nil, message: m) }
    if including.contains(canonical) {
      throw fail(
        0,
        "include cycle: "
          + (including + [canonical]).map { URL(fileURLWithPath: $0).lastPathComponent }
          .joined(separator: " -> "))
    }
    guard including.count < PipelineLimits.includeDepth else {
      throw fail(0, "includes nested deeper than \(PipelineLimits.includeDepth) files")
    }
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw PipelineError.io(path: path, message: "cannot read pipeline file")
    }
    guard let root = try parseYAML(text, path: path) else { throw fail(0, "empty pipeline file") }
    guard case .object = root.value else { throw fail(root.line, "top level must be a mapping") }
    for k in root.children.keys where !["stages", "defaults", "params", "profiles", "vars", "include"].contains(k) {
      throw fail(
        root.children[k]!.line, "unknown top-level key '\(k)' (stages, defaults, params, profiles, vars, include)")
    }
    self.root = root
  }

  /// A file named relative to this pipeline file.
  func sibling(_ rel: String) -> String {
    URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(rel).path
  }

  /// Shared defaults: a `params:` file, then `defaults:`.
  mutating func readDefaults() throws {
    func add(_ obj: Located, from file: String) throws {
      for (kind, v) in obj.children {
        guard let o = v.value.object else {
          throw PipelineError.file(
            path: file, line: v.line, stage: nil, message: "defaults for '\(kind)' must be a mapping")
        }
        defaults[kind, default: [:]].merge(o) { _, new in new }
      }
    }
    if let p = root.children["params"] {
      guard let rel = p.value.string else { throw fail(p.line, nil, "'params' must name a YAML file") }
      let file = sibling(rel)
      guard let t = try? String(contentsOfFile: file, encoding: .utf8), let n = try parseYAML(t, path: file) else {
        throw fail(p.line, nil, "cannot read params file '\(file)'")
      }
      try add(n, from: file)
    }
    if let d = root.children["defaults"] { try add(d, from: path) }
  }

  /// `vars:` — a mapping, the path of a YAML file of one (e.g. dataset groups), or a list of those
  /// (merged in order).
  mutating func readVars() throws {
    guard let v = root.children["vars"] else { return }
    for e in v.items.isEmpty ? [v] : v.items {
      if let rel = e.value.string {
        let file = sibling(rel)
        guard let t = try? String(contentsOfFile: file, encoding: .utf8), let n = try parseYAML(t, path: file),
          let o = n.value.object
        else { throw fail(e.line, nil, "cannot read vars file '\(file)'") }
        vars.merge(o) { _, new in new }
      } else if let o = e.value.object {
        vars.merge(o) { _, new in new }
      } else {
        throw fail(e.line, nil, "'vars' must be a mapping, the path of a YAML file, or a list of those")
      }
    }
    try resolveVarRefs()
  }

  /// A variable that is exactly "${vars.NAME}" takes that variable's value.
  mutating func resolveVarRefs() throws {
    for (k, v) in vars {
      guard let s = v.string, s.hasPrefix("${vars."), s.hasSuffix("}") else { continue }
      let ref = String(s.dropFirst(7).dropLast())
      guard let r = vars[ref], r.string?.hasPrefix("${vars.") != true else {
        throw fail(root.children["vars"]?.line ?? 0, nil, "variable '\(k)' refers to '\(ref)', which is no variable")
      }
      vars[k] = r
    }
  }

  /// The profile's overrides; its `vars:` replace variables.
  mutating func applyProfile() throws {
    guard let profile else { return }
    guard let p = root.children["profiles"]?.children[profile] else {
      let known = root.children["profiles"]?.children.keys.sorted().joined(separator: ", ") ?? "none"
      throw fail(root.children["profiles"]?.line ?? 0, nil, "unknown profile '\(profile)' (defined: \(known))")
    }
    overrides = p.children
    if let v = overrides.removeValue(forKey: "vars") {
      guard v.value.object != nil else { throw fail(v.line, nil, "profile '\(profile)': 'vars' must be a mapping") }
      for (k, e) in v.children { vars[k] = e.value }
      try resolveVarRefs()
    }
  }

  /// `stages:` (may be absent in a file that only includes others).
  func stagesNode() throws -> Located {
    guard
      let stagesNode = root.children["stages"]
        ?? (root.children["include"] != nil ? Located(value: .object([:]), line: 0, children: [:], keys: []) : nil),
      !stagesNode.children.isEmpty || root.children["include"] != nil
    else {
      throw fail(root.line, nil, "no 'stages'")
    }
    return stagesNode
  }

  /// `include:` other pipeline files, each resolved with its own vars, defaults and the same profile;
  /// their stages join this DAG (a stage in two files must be identical in both).
  mutating func include() throws {
    guard let inc = root.children["include"] else { return }
    for e in inc.items.isEmpty ? [inc] : inc.items {
      guard let rel = e.value.string else { throw fail(e.line, nil, "'include' must list pipeline files") }
      let file = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(rel).standardized.path
      let sub = try Pipeline.load(file, profile: profile, registry: registry, including: including + [canonical])
      for st in sub.stages {
        if let i = byName[st.name] {
          let o = instances[i]
          guard o.kind == st.kind && o.params == st.params && o.needs == st.needs else {
            throw fail(e.line, st.name, "stage '\(st.name)' differs between included files")
          }
          continue
        }
        byName[st.name] = instances.count
        instancesOfBase[st.base, default: []].append(st.name)
        instances.append(st)
      }
    }
  }

  /// One `stages:` entry: its instances (one per matrix item), each with checked parameters.
  mutating func addStage(_ base: String, _ node: Located) throws {
    guard Pipeline.isSafeName(base) else {
      throw fail(
        node.line, base,
        "stage name '\(base)' must use letters, digits, '.', '_', '+', '-' and start with a letter or digit")
    }
    if base.contains("@") { throw fail(node.line, base, "stage names may not contain '@'") }
    for k in node.children.keys
    where !["kind", "params", "needs", "matrix", "foreach", "desc", "resources"].contains(k) {
      throw fail(node.children[k]!.line, base, "unknown key '\(k)' (kind, params, needs, matrix, desc, resources)")
    }
    var resources: [String: Value] = [:]
    if let r = node.children["resources"] {
      guard let o = r.value.object else {
        throw fail(r.line, base, "'resources' must be a mapping (cpus, mem, time, gpus)")
      }
      for k in o.keys where !["cpus", "mem", "time", "gpus"].contains(k) {
        throw fail(r.line, base, "unknown resource '\(k)' (cpus, mem, time, gpus)")
      }
      resources = o
    }
    guard let kindName = node.children["kind"]?.value.string else { throw fail(node.line, base, "missing 'kind'") }
    guard let kind = registry.kinds[kindName] else {
      throw fail(
        node.children["kind"]!.line, base,
        "unknown kind '\(kindName)' (known: \(registry.kinds.keys.sorted().joined(separator: ", ")))")
    }
    let items = try Pipeline.expandMatrix(
      node.children["matrix"] ?? node.children["foreach"], stage: base, vars: vars, fail: fail)
    for item in items {
      let name =
        item.isEmpty
        ? base
        : ([base]
          + item.map { k, v in
            if case .string(let s) = v { return s }
            return k + v.description
          }).joined(separator: "@")
      if byName[name] != nil { throw fail(node.line, name, "duplicate stage name '\(name)'") }
      let params = try parameters(of: kind, base: base, name: name, node: node, item: item)
      var needs: [(String, Int)] = []
      if let n = node.children["needs"] {
        for e in n.items.isEmpty ? [n] : n.items {
          guard case .string = e.value else { throw fail(e.line, name, "'needs' entries must be stage names") }
          let v = try Pipeline.interpolate(e.value, item: item, line: e.line, stage: name, fail: fail)
          needs.append((v.description, e.line))
        }
      }
      byName[name] = instances.count
      instancesOfBase[base, default: []].append(name)
      pendingNeeds.append((instances.count, needs))
      instances.append(
        StageInstance(
          name: name, base: base, kind: kindName, params: params, needs: [], line: node.line, resources: resources))
    }
  }

  /// An instance's parameters: kind defaults < shared defaults < stage < profile (kind < base < instance);
  /// unknown names, missing required ones, wrong types and values out of range are errors.
  func parameters(
    of kind: any StageKind, base: String, name: String, node: Located, item: [(String, Value)]
  ) throws -> [String: Value] {
    let kindName = kind.name
    var params: [String: Value] = [:]
    for spec in kind.parameters { if let d = spec.defaultValue { params[spec.name] = d } }
    var paramLines: [String: Int] = [:]
    for (k, v) in defaults[kindName] ?? [:] { params[k] = v; paramLines[k] = node.line }
    if let p = node.children["params"] {
      guard case .object = p.value else { throw fail(p.line, name, "'params' must be a mapping") }
      for (k, v) in p.children {
        params[k] = try Pipeline.interpolate(v.value, item: item, line: v.line, stage: name, fail: fail)
        paramLines[k] = v.line
      }
    }
    for key in [kindName, base, name] {
      guard let o = overrides[key] else { continue }
      for (k, v) in o.children { params[k] = v.value; paramLines[k] = v.line }
    }
    let known = Set(kind.parameters.map(\.name))
    for k in params.keys.sorted() where !known.contains(k) {
      throw fail(
        paramLines[k] ?? node.line, name,
        "unknown parameter '\(k)' for kind '\(kindName)' (known: \(known.sorted().joined(separator: ", ")))")
    }
    for spec in kind.parameters where params[spec.name] == nil && !spec.isOptional {
      throw fail(node.line, name, "missing required parameter '\(spec.name)' of kind '\(kindName)'")
    }
    for spec in kind.parameters {  // a parameter's type is its default's (a number where a number goes)
      guard let d = spec.defaultValue ?? spec.optionalType, let v = params[spec.name],
        let want = Value.typeMismatch(v, expected: d)
      else { continue }
      throw fail(
        paramLines[spec.name] ?? node.line, name,
        "parameter '\(spec.name)' of kind '\(kindName)' must be \(want), not \(v.canonicalJSON)")
    }
    for spec in kind.parameters {  // ranges and choices
      guard let v = params[spec.name], let why = spec.rangeError(v) else { continue }
      throw fail(paramLines[spec.name] ?? node.line, name, "parameter '\(spec.name)' of kind '\(kindName)' \(why)")
    }
    return params
  }

  /// A profile key must name a kind, a stage or an instance.
  func checkOverrides() throws {
    for key in overrides.keys where registry.kinds[key] == nil && instancesOfBase[key] == nil && byName[key] == nil {
      throw fail(overrides[key]!.line, nil, "profile '\(profile!)' overrides '\(key)', which is no kind or stage")
    }
  }

  /// `needs` to instance names (a base name stands for all its instances); two needs may not share
  /// a $IN_ variable.
  mutating func resolveNeeds() throws {
    for (i, needs) in pendingNeeds {
      var resolved: [String] = []
      for (n, line) in needs {
        if byName[n] != nil {
          resolved.append(n)
        } else if let all = instancesOfBase[n] {
          resolved += all
        } else {
          throw fail(line, instances[i].name, "needs '\(n)', which is no stage of this pipeline")
        }
      }
      instances[i].needs = Array(Set(resolved)).sorted()
      let env = Dictionary(grouping: instances[i].needs, by: ShellKind.envName)
      if let (v, clash) = env.first(where: { $0.value.count > 1 }) {
        throw fail(
          instances[i].line, instances[i].name,
          "needs \(clash.map { "'\($0)'" }.joined(separator: " and ")), which share the variable $\(v): rename one")
      }
    }
  }
}

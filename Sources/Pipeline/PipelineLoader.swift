//===--- PipelineLoader.swift - one pipeline file into stage instances ----===//
import Foundation

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
          let v = try Pipeline.interpolate(e.value, item: item, vars: vars, line: e.line, stage: name, fail: fail)
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
        params[k] = try Pipeline.interpolate(v.value, item: item, vars: vars, line: v.line, stage: name, fail: fail)
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

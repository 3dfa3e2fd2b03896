//===--- StageKind.swift - what a stage kind declares ----------------------===//
import Foundation

/// One parameter a kind accepts, with its default (nil = required).
public struct ParameterSpec: Sendable {
  public var name: String
  public var defaultValue: Value?
  public var help: String
  /// Allowed values of a string parameter (nil: any).
  public var choices: [String]?
  /// Bounds of a numeric parameter, checked when the pipeline is loaded.
  public var minimum: Double?, maximum: Double?
  public var exclusiveMinimum = false, exclusiveMaximum = false
  /// An optional parameter without a default: absent means "the kind decides", and an absent
  /// optional parameter is not part of the stage's key (adding one reruns nothing).
  public var isOptional = false
  /// The type an optional parameter must have (a value of that type).
  public var optionalType: Value?
  public init(_ name: String, default defaultValue: Value? = nil, help: String = "") {
    self.name = name
    self.defaultValue = defaultValue
    self.help = help
  }

  /// One line for listings (`peftlab kinds`, `peftlab train --help`): name, type, default, constraint, help.
  public var summary: String {
    let value = defaultValue.map { "= " + $0.canonicalJSON } ?? (isOptional ? "optional" : "required")
    var line = "  \(name): \(typeName ?? "any") \(value)"
    if !constraint.isEmpty { line += "  [\(constraint)]" }
    if !help.isEmpty { line += "  — \(help)" }
    return line
  }

  /// May be left out (no default; the kind decides); when given it must have `like`'s type.
  public func optional(like: Value) -> ParameterSpec {
    var s = self; s.isOptional = true; s.optionalType = like; return s
  }
  /// Only these strings.
  public func oneOf(_ c: [String]) -> ParameterSpec { var s = self; s.choices = c; return s }
  /// A number ≥ m (or > m if `exclusive`).
  public func atLeast(_ m: Double, exclusive: Bool = false) -> ParameterSpec {
    var s = self; s.minimum = m; s.exclusiveMinimum = exclusive; return s
  }
  /// A number > 0.
  public func positive() -> ParameterSpec { atLeast(0, exclusive: true) }
  /// A number ≤ m (or < m if `exclusive`).
  public func atMost(_ m: Double, exclusive: Bool = false) -> ParameterSpec {
    var s = self; s.maximum = m; s.exclusiveMaximum = exclusive; return s
  }

  /// Why `v` is out of this parameter's range or choices (nil: it is fine, or null).
  public func rangeError(_ v: Value) -> String? {
    if let c = choices, case .string(let x) = v, !c.contains(x) {
      return "must be one of \(c.map { "'\($0)'" }.joined(separator: ", ")), not '\(x)'"
    }
    let x: Double
    switch v {
    case .int(let i): x = Double(i)
    case .double(let d): x = d
    default: return nil
    }
    guard x.isFinite else { return "must be a finite number, not \(v.canonicalJSON)" }
    if let m = minimum, exclusiveMinimum ? !(x > m) : !(x >= m) {
      return "must be \(exclusiveMinimum ? ">" : "≥") \(Self.show(m)), not \(v.canonicalJSON)"
    }
    if let m = maximum, exclusiveMaximum ? !(x < m) : !(x <= m) {
      return "must be \(exclusiveMaximum ? "<" : "≤") \(Self.show(m)), not \(v.canonicalJSON)"
    }
    return nil
  }

  static func show(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d) }

  /// The parameter's type in words ("integer", "string", ...; nil: any value).
  public var typeName: String? {
    guard let like = defaultValue ?? optionalType else { return nil }
    switch like {
    case .int: return "integer"
    case .double: return "number"
    case .bool: return "boolean"
    case .string: return "string"
    case .array: return "list"
    case .object, .null: return nil
    }
  }

  /// The range and choices in words ("> 0", "≥ 0 and < 1", "one of sgd, adamw"; empty: none).
  public var constraint: String {
    var parts: [String] = []
    if let m = minimum { parts.append((exclusiveMinimum ? "> " : "≥ ") + Self.show(m)) }
    if let m = maximum { parts.append((exclusiveMaximum ? "< " : "≤ ") + Self.show(m)) }
    if let c = choices { parts.append("one of " + c.joined(separator: ", ")) }
    return parts.joined(separator: " and ")
  }
}

/// What a running stage sees.
public final class StageContext: @unchecked Sendable {
  public let stage: String
  /// The stage's kind (`finetune`, `shpeft`, ...).
  public let kindName: String
  public let params: [String: Value]
  /// Output folder of each needed stage, by stage name (read-only).
  public let inputs: [String: String]
  /// Where the stage writes its outputs (a temporary folder, moved into the cache on success).
  public let outputDir: String
  /// Scratch folder that is deleted afterwards.
  public let workDir: String
  public let projectRoot: String
  /// The cache folder of this run (`--cache-dir`): where a kind keeps derived data it shares across stages,
  /// such as decoded datasets.
  public let cacheRoot: String
  /// What the stage's key was computed from besides its kind and parameters (EquivalentStage.swift).
  public let keyParts: StageKeyParts?
  let logHandle: FileHandle
  let progressSink: (Double, String?) -> Void
  let cancelled: () -> Bool

  init(
    stage: String, kindName: String, params: [String: Value], inputs: [String: String], outputDir: String,
    workDir: String,
    projectRoot: String, cacheRoot: String, keyParts: StageKeyParts? = nil, log: FileHandle,
    progress: @escaping (Double, String?) -> Void,
    cancelled: @escaping () -> Bool
  ) {
    self.keyParts = keyParts
    self.stage = stage
    self.kindName = kindName
    self.params = params
    self.inputs = inputs
    self.outputDir = outputDir
    self.workDir = workDir
    self.projectRoot = projectRoot
    self.cacheRoot = cacheRoot
    logHandle = log
    progressSink = progress
    self.cancelled = cancelled
  }

  /// The same stage with other parameters (a kind that derives one at run time, e.g. a learning
  /// rate chosen by a needed stage; the key already holds that stage's output hash).
  public func replacing(params: [String: Value]) -> StageContext {
    StageContext(
      stage: stage, kindName: kindName, params: params, inputs: inputs, outputDir: outputDir,
      workDir: workDir,
      projectRoot: projectRoot, cacheRoot: cacheRoot, keyParts: keyParts, log: logHandle, progress: progressSink,
      cancelled: cancelled)
  }

  /// Appends a line to the stage's log (stored in the cache).
  public func log(_ line: String) { logHandle.write(Data((line + "\n").utf8)) }
  /// Reports progress in [0, 1] (e.g. training steps done / total).
  public func progress(_ fraction: Double, _ note: String? = nil) { progressSink(fraction, note) }
  /// True once the run is being cancelled (Ctrl-C): long stages should stop.
  public var isCancelled: Bool { cancelled() }
  public var logFileHandle: FileHandle { logHandle }
}

/// A kind of stage (shell, finetune, sparsity, ...). Registered with the runner.
public protocol StageKind: Sendable {
  var name: String { get }
  /// Bump when the kind's code changes what it computes: its stages rerun.
  var version: Int { get }
  var parameters: [ParameterSpec] { get }
  /// Content hashes of files outside the cache that the stage reads (they
  /// enter the cache key), e.g. a script or dataset files.
  func externalInputs(params: [String: Value], projectRoot: String, hasher: FileHasher) throws -> [String: String]
  func run(_ context: StageContext) throws
  /// What a Slurm job of this kind asks for unless the stage's `resources:` says otherwise.
  var defaultResources: Resources { get }
}

extension StageKind {
  public func externalInputs(
    params: [String: Value], projectRoot: String, hasher: FileHasher
  ) throws -> [String: String] { [:] }
  public var defaultResources: Resources { Resources() }
}

/// The kinds a runner knows.
public struct StageRegistry: Sendable {
  public private(set) var kinds: [String: any StageKind] = [:]
  public init(_ kinds: [any StageKind] = [ShellKind()]) { for k in kinds { register(k) } }
  public mutating func register(_ kind: any StageKind) { kinds[kind.name] = kind }
}

//===--- Value.swift - parameter values and canonical JSON -----------------===//
import Foundation

/// A parameter value as written in a pipeline file. Its canonical JSON
/// (sorted keys, no spaces, integers without a fraction, doubles in their
/// shortest round-trip form) is what cache keys hash.
public enum Value: Hashable, Sendable, CustomStringConvertible {
  case null
  case bool(Bool)
  case int(Int)
  case double(Double)
  case string(String)
  case array([Value])
  case object([String: Value])

  public var canonicalJSON: String {
    switch self {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .double(let d):
      if d.isFinite && d == d.rounded() && abs(d) < 1e15 { return String(Int(d)) + ".0" }
      return d.isFinite ? "\(d)" : "\"\(d)\""
    case .string(let s): return Value.quote(s)
    case .array(let a): return "[" + a.map(\.canonicalJSON).joined(separator: ",") + "]"
    case .object(let o):
      return "{" + o.keys.sorted().map { Value.quote($0) + ":" + o[$0]!.canonicalJSON }.joined(separator: ",") + "}"
    }
  }

  static func quote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
      }
    }
    return out + "\""
  }

  /// Short human form (for explain / status output).
  public var description: String {
    switch self {
    case .string(let s): return s
    default: return canonicalJSON
    }
  }

  public var string: String? { if case .string(let s) = self { return s }; return nil }
  public var int: Int? {
    switch self {
    case .int(let i): return i
    case .double(let d) where d == d.rounded(): return Int(d)
    default: return nil
    }
  }
  public var double: Double? {
    switch self {
    case .int(let i): return Double(i)
    case .double(let d): return d
    default: return nil
    }
  }
  public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
  public var array: [Value]? { if case .array(let a) = self { return a }; return nil }
  public var object: [String: Value]? { if case .object(let o) = self { return o }; return nil }

  /// From JSONSerialization output.
  public init(json: Any) {
    switch json {
    case is NSNull: self = .null
    case let n as NSNumber:
      switch String(cString: n.objCType) {
      case "c" where "\(type(of: n))".contains("Boolean"): self = .bool(n.boolValue)
      case "d", "f": self = .double(n.doubleValue)
      default: self = .int(n.intValue)
      }
    case let s as String: self = .string(s)
    case let a as [Any]: self = .array(a.map { Value(json: $0) })
    case let o as [String: Any]: self = .object(o.mapValues { Value(json: $0) })
    default: self = .string("\(json)")
    }
  }

  /// Parses canonical (or any) JSON text.
  public static func parse(json text: String) throws -> Value {
    let obj = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    return Value(json: obj)
  }
}

public enum PipelineError: Error, CustomStringConvertible, Equatable {
  /// A problem in a pipeline file: file, line (0 if unknown), stage, message.
  case file(path: String, line: Int, stage: String?, message: String)
  case io(path: String, message: String)
  case stageFailed(stage: String, message: String)
  case locked(String)
  case cancelled
  /// A parameter's value is wrong (the runner adds the file, line and stage).
  case parameter(String)
  /// A message already formatted elsewhere (by a stage run in its own process).
  case reported(String)

  public var description: String {
    switch self {
    case .file(let path, let line, let stage, let message):
      return "\(path)\(line > 0 ? ":\(line)" : "")\(stage.map { ": stage '\($0)'" } ?? ""): \(message)"
    case .io(let path, let message): return "\(path): \(message)"
    case .stageFailed(let stage, let message): return "stage '\(stage)' failed: \(message)"
    case .locked(let s): return s
    case .cancelled: return "cancelled"
    case .parameter(let m): return m
    case .reported(let m): return m
    }
  }
}

extension Value {
  /// What `v` should have been if its type differs from the default `expected` (nil: it fits).
  /// An integer fits where a number goes; a whole number where an integer goes; null or a list
  /// where the default is null or a list; anything where the default is an object.
  static func typeMismatch(_ v: Value, expected: Value) -> String? {
    switch (expected, v) {
    case (.int, .int), (.double, .int), (.double, .double), (.bool, .bool), (.string, .string), (.null, _),
      (.object, _),
      (.array, .array):
      return nil
    case (.int, .double(let d)) where d == d.rounded() && abs(d) < 1e15: return nil
    case (.int, _): return "an integer"
    case (.double, _): return "a number"
    case (.bool, _): return "true or false"
    case (.string, _): return "a string"
    case (.array, _): return "a list"
    }
  }
}

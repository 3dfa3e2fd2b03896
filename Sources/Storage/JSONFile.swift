//===--- JSONFile.swift - a JSON file written and read by one Codable type ===//
//
// A stage's JSON output is declared once, as a `Codable` type, and both written and read through it:
//   - keys are the Swift names in snake_case (`offdiagonalMeanPerSeed` ↔ "offdiagonal_mean_per_seed";
//     dictionary keys — task and method names — are left as they are);
//   - the bytes are JSONSerialization's pretty, key-sorted form (the form every stage output has had, so
//     a file written through its type is byte-identical to the same content written as a dictionary);
//   - a number that is not finite (NaN: no value) is written as null and read back as NaN.
// Numbers cross JSONEncoder/JSONDecoder only, which round-trip a Double exactly (JSONSerialization's
// reader can be one ulp off).
//===----------------------------------------------------------------------===//
import Foundation

/// The file of wall-clock measurements beside a stage's outputs: kept in the cached object, left out of
/// its content hash (Pipeline's `isTimingFile`), so a rerun that differs only in time has the same name.
public let timingFileName = "timing.json"

/// A JSON file in a stage's output folder, with the type that writes and reads it.
public protocol JSONFile: Codable {
  /// The file's name in the folder.
  static var fileName: String { get }
  /// The `stage_kind` the file records when several kinds write a file of that name (nil: any).
  static var writtenBy: String? { get }
}

extension JSONFile {
  /// Writes the file into `dir` (atomically).
  public func write(in dir: String) throws { try JSONCoding.write(self, to: dir + "/" + Self.fileName) }

  /// The file in `dir`, or an error naming the file and what is wrong.
  public static func read(in dir: String) throws -> Self { try JSONCoding.read(Self.self, from: dir + "/" + fileName) }

  public static var writtenBy: String? { nil }

  /// Whether `dir` has the file (written by `writtenBy`, when the type names a kind).
  public static func exists(in dir: String) -> Bool {
    let path = dir + "/" + fileName
    guard FileManager.default.fileExists(atPath: path) else { return false }
    guard let kind = writtenBy else { return true }
    return (try? JSONCoding.read(StageKindHeader.self, from: path))?.stageKind == kind
  }
}

/// The `stage_kind` field a stage's JSON output records.
struct StageKindHeader: Codable { var stageKind: String? }

public enum JSONCoding {
  /// What a non-finite number is while it crosses JSONEncoder/JSONDecoder (never in a file).
  static let nonFinite = "peftlab:non-finite"

  /// Pretty, key-sorted bytes of a JSONSerialization object (non-finite numbers as null).
  public static func data(_ object: Any) throws -> Data {
    try JSONSerialization.data(withJSONObject: finiteOrNull(object), options: [.prettyPrinted, .sortedKeys])
  }

  /// `object` with every non-finite number as NSNull (JSON null).
  static func finiteOrNull(_ object: Any) -> Any {
    switch object {
    case let d as Double: return d.isFinite ? d : NSNull()
    case let f as Float: return f.isFinite ? Double(f) : NSNull()
    case let a as [Any]: return a.map(finiteOrNull)
    case let o as [String: Any]: return o.mapValues(finiteOrNull)
    default: return object
    }
  }

  /// `value` as a JSONSerialization object (dictionaries, arrays, numbers, strings, NSNull).
  public static func object<T: Encodable>(_ value: T) throws -> Any {
    let e = JSONEncoder()
    e.keyEncodingStrategy = .convertToSnakeCase
    e.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: nonFinite, negativeInfinity: nonFinite, nan: nonFinite)
    return try JSONDecoder().decode(Value.self, from: try e.encode(value)).object
  }

  /// Adds `values` to the JSON object in `path` (created if absent; its other keys stay), atomically.
  public static func merge(_ values: [String: Any], into path: String) throws {
    var all =
      FileManager.default.contents(atPath: path).flatMap { try? JSONSerialization.jsonObject(with: $0) }
      as? [String: Any] ?? [:]
    all.merge(values) { _, new in new }
    try atomicWrite(try data(all), to: path)
  }

  /// Writes `value` to `path` atomically.
  public static func write<T: Encodable>(_ value: T, to path: String) throws {
    try atomicWrite(try data(try object(value)), to: path)
  }

  /// Reads `path` as a `T`, or an error naming the file and what is wrong.
  public static func read<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
    guard let bytes = FileManager.default.contents(atPath: path) else {
      throw StorageError.file(path: path, message: "cannot read")
    }
    let value: Value
    do { value = try JSONDecoder().decode(Value.self, from: bytes) } catch {
      throw StorageError.file(path: path, message: "not JSON")
    }
    do {
      // null (a non-finite number) → the marker string, which the decoder reads as NaN.
      let d = JSONDecoder()
      d.keyDecodingStrategy = .convertFromSnakeCase
      d.nonConformingFloatDecodingStrategy = .convertFromString(
        positiveInfinity: nonFinite + "+", negativeInfinity: nonFinite + "-", nan: nonFinite)
      return try d.decode(T.self, from: try JSONEncoder().encode(value.replacingNull))
    } catch let e as DecodingError {
      throw StorageError.file(
        path: path, message: "not a \(T.self) file: \(DecodingFailure.describe(e, subject: "field"))")
    }
  }

  /// Any JSON value, read exactly (JSONDecoder's number parsing).
  enum Value: Codable {
    case null, bool(Bool), int(Int), double(Double), string(String), array([Value]), object([String: Value])

    init(from decoder: Decoder) throws {
      let c = try decoder.singleValueContainer()
      if c.decodeNil() {
        self = .null
      } else if let b = try? c.decode(Bool.self) {
        self = .bool(b)
      } else if let i = try? c.decode(Int.self) {
        self = .int(i)
      } else if let d = try? c.decode(Double.self) {
        self = .double(d)
      } else if let s = try? c.decode(String.self) {
        self = .string(s)
      } else if let a = try? c.decode([Value].self) {
        self = .array(a)
      } else {
        self = .object(try c.decode([String: Value].self))
      }
    }

    func encode(to encoder: Encoder) throws {
      var c = encoder.singleValueContainer()
      switch self {
      case .null: try c.encodeNil()
      case .bool(let b): try c.encode(b)
      case .int(let i): try c.encode(i)
      case .double(let d): try c.encode(d)
      case .string(let s): try c.encode(s)
      case .array(let a): try c.encode(a)
      case .object(let o): try c.encode(o)
      }
    }

    /// The JSONSerialization object; the non-finite marker becomes NSNull.
    var object: Any {
      switch self {
      case .null: return NSNull()
      case .bool(let b): return b
      case .int(let i): return i
      case .double(let d): return d
      case .string(let s): return s == JSONCoding.nonFinite ? NSNull() : s
      case .array(let a): return a.map(\.object)
      case .object(let o): return o.mapValues(\.object)
      }
    }

    /// Every null as the non-finite marker.
    var replacingNull: Value {
      switch self {
      case .null: return .string(JSONCoding.nonFinite)
      case .array(let a): return .array(a.map(\.replacingNull))
      case .object(let o): return .object(o.mapValues(\.replacingNull))
      default: return self
      }
    }
  }
}

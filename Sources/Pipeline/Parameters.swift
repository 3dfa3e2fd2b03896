//===--- Parameters.swift - a stage's parameters as one typed struct -------===//
//
// A kind declares its parameters as `ParameterSpec`s (names, defaults, ranges: checked when the
// pipeline loads, listed by `peftlab kinds`) and reads them as one `Decodable` struct whose fields are
// the parameters in camelCase (`crop_min` → `cropMin`):
//
//   struct Values: Decodable { var steps: Int; var cropMin: Double; var jitter: Double? }
//   let v = try ctx.decode(Values.self)
//
// The loader fills in every default, so a non-optional field is always there; an optional parameter
// without a default is an optional field. Nothing reads `params["…"]` with a second default.
//===----------------------------------------------------------------------===//
import Foundation
import Storage

public enum Parameters {
  /// `params` as `T`. A missing or mistyped parameter is an error naming `context` (the stage) and it.
  public static func decode<T: Decodable>(_ type: T.Type, from params: [String: Value], context: String) throws -> T {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    do {
      return try decoder.decode(T.self, from: Data(json(.object(params)).utf8))
    } catch let e as DecodingError {
      if case .dataCorrupted(let c) = e, c.codingPath.isEmpty, let key = fractionalInteger(T.self, in: params) {
        throw PipelineError.parameter("\(context): parameter '\(key)' must be an integer, not \(params[key]!)")
      }
      throw PipelineError.parameter("\(context): " + describe(e))
    }
  }

  /// The parameter holding a fractional number where `T` wants an integer: Foundation reports that as
  /// invalid JSON without the field, so each fractional value is tried rounded, and the one that lets
  /// decoding get past that error is named.
  static func fractionalInteger<T: Decodable>(_: T.Type, in params: [String: Value]) -> String? {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    for key in params.keys.sorted() {
      guard case .double(let d) = params[key]!, d != d.rounded(), d.isFinite else { continue }
      var q = params
      q[key] = .int(Int(d.rounded()))
      do { _ = try decoder.decode(T.self, from: Data(json(.object(q)).utf8)) } catch DecodingError.dataCorrupted(let c)
        where c.codingPath.isEmpty
      { continue } catch {}
      return key
    }
    return nil
  }

  /// JSON for decoding: a whole-number double is written as an integer, so it decodes as Int or Double
  /// (the loader already made a value have its parameter's type).
  static func json(_ v: Value) -> String {
    switch v {
    case .double(let d) where d.isFinite && d == d.rounded() && abs(d) < 1e15: return String(Int(d))
    case .array(let a): return "[" + a.map(json).joined(separator: ",") + "]"
    case .object(let o):
      return "{" + o.keys.sorted().map { Value.quote($0) + ":" + json(o[$0]!) }.joined(separator: ",") + "}"
    default: return v.canonicalJSON
    }
  }

  static func describe(_ e: DecodingError) -> String { DecodingFailure.describe(e, subject: "parameter") }
}

extension StageContext {
  /// This stage's parameters as `T` (see `Parameters`).
  public func decode<T: Decodable>(_ type: T.Type) throws -> T {
    try Parameters.decode(T.self, from: params, context: "stage '\(stage)'")
  }
}

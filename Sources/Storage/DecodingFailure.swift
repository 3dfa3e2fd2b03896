//===--- DecodingFailure.swift - a DecodingError in words ------------------===//
//
// What is wrong with a decoded file or parameter list, naming the field as the file spells it
// (snake_case): "parameter 'crop_min' must be a number", "field 'grid.3.k_percent' is missing".
//===----------------------------------------------------------------------===//

public enum DecodingFailure {
  /// `e` as "<subject> '<path>' <what is wrong>".
  public static func describe(_ e: DecodingError, subject: String) -> String {
    func name(_ path: [CodingKey]) -> String {
      "\(subject) '" + path.map { $0.intValue.map(String.init) ?? snakeCase($0.stringValue) }.joined(separator: ".")
        + "'"
    }
    switch e {
    case .keyNotFound(let key, let c): return "\(name(c.codingPath + [key])) is missing"
    case .typeMismatch(let t, let c): return "\(name(c.codingPath)) must be \(typeName(t))"
    case .valueNotFound(let t, let c): return "\(name(c.codingPath)) must be \(typeName(t)), not null"
    case .dataCorrupted(let c): return "\(name(c.codingPath)): \(c.debugDescription)"
    @unknown default: return "\(e)"
    }
  }

  /// `cropMin` → `crop_min`.
  public static func snakeCase(_ s: String) -> String {
    s.reduce(into: "") { out, ch in out += ch.isUppercase ? "_" + ch.lowercased() : String(ch) }
  }

  /// A Swift type as a reader of the file says it.
  public static func typeName(_ t: Any.Type) -> String {
    switch t {
    case is Int.Type: return "an integer"
    case is Double.Type, is Float.Type: return "a number"
    case is Bool.Type: return "true or false"
    case is String.Type: return "a string"
    default: return "\(t)"
    }
  }
}

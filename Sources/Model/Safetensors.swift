//===--- Safetensors.swift - read and write .safetensors files -------------===//
//
// Format: 8-byte little-endian header length n, n bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...
//  "__metadata__": {...}}, then the raw little-endian tensor bytes, with
// offsets relative to the end of the header.
//===----------------------------------------------------------------------===//
import Foundation
import Storage

public struct SafetensorsFile {
  public struct Entry: Sendable {
    public let dtype: String
    public let shape: [Int]
    public let begin: Int, end: Int
  }

  public let path: String
  public let entries: [String: Entry]
  public let metadata: [String: String]
  private let data: Data
  private let dataStart: Int

  public init(path: String) throws {
    func bad(_ m: String) -> ModelError { .badFile(path: path, message: m) }
    guard FileManager.default.fileExists(atPath: path) else { throw bad("no such file") }
    let d = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
    guard d.count >= 8 else { throw bad("not a safetensors file (\(d.count) bytes, no header)") }
    let n = d.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    guard n <= UInt64(d.count - 8), n < 100_000_000 else {
      throw bad("header length \(n) exceeds the file (\(d.count) bytes): truncated or not safetensors")
    }
    let header = d.subdata(in: 8..<(8 + Int(n)))
    guard let json = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
      throw bad("header is not a JSON object")
    }
    var es: [String: Entry] = [:]
    var meta: [String: String] = [:]
    let payload = d.count - 8 - Int(n)
    for (name, value) in json {
      if name == "__metadata__" {
        for (k, v) in value as? [String: Any] ?? [:] { meta[k] = "\(v)" }
        continue
      }
      guard let o = value as? [String: Any], let dtype = o["dtype"] as? String,
        let shapeNums = o["shape"] as? [NSNumber], let offNums = o["data_offsets"] as? [NSNumber], offNums.count == 2
      else { throw bad("tensor '\(name)': malformed header entry (needs dtype, shape, data_offsets)") }
      // integers only, and small enough that no product overflows
      func ints(_ a: [NSNumber]) -> [Int]? {
        let v = a.map { $0.doubleValue }
        guard v.allSatisfy({ $0 >= 0 && $0 < 1e15 && $0 == $0.rounded() }) else { return nil }
        return v.map { Int($0) }
      }
      guard let shape = ints(shapeNums), let count = checkedCount(shape) else {
        throw bad("tensor '\(name)': shape \(shapeNums) is not a list of sizes that fit in memory")
      }
      guard let offs = ints(offNums) else {
        throw bad("tensor '\(name)': data_offsets \(offNums) are not byte offsets")
      }
      guard let width = Self.byteWidth(dtype) else { throw bad("tensor '\(name)': unsupported dtype \(dtype)") }
      guard offs[0] >= 0, offs[1] >= offs[0], offs[1] - offs[0] == count * width else {
        throw bad("tensor '\(name)': data_offsets \(offs) do not match shape \(shape) of \(dtype)")
      }
      guard offs[1] <= payload else {
        throw bad("tensor '\(name)': data ends at byte \(offs[1]) but the file has \(payload): truncated")
      }
      es[name] = Entry(dtype: dtype, shape: shape, begin: offs[0], end: offs[1])
    }
    self.path = path
    entries = es
    metadata = meta
    data = d
    dataStart = 8 + Int(n)
  }

  static func byteWidth(_ dtype: String) -> Int? {
    switch dtype {
    case "F32": return 4
    case "F16", "BF16": return 2
    case "F64": return 8
    case "U8", "BOOL": return 1
    default: return nil
    }
  }

  /// The tensor's values converted to Float32.
  public func floats(_ name: String) throws -> [Float] {
    guard let e = entries[name] else { throw ModelError.badFile(path: path, message: "missing tensor '\(name)'") }
    let count = e.shape.reduce(1, *)
    var out = [Float](repeating: 0, count: count)
    data.withUnsafeBytes { raw in
      let base = raw.baseAddress! + dataStart + e.begin
      switch e.dtype {
      case "F32":
        for i in 0..<count {
          out[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        }
      case "F64":
        for i in 0..<count {
          out[i] = Float(
            Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
        }
      case "U8", "BOOL":
        for i in 0..<count { out[i] = Float(base.load(fromByteOffset: i, as: UInt8.self)) }
      case "BF16":
        for i in 0..<count {
          let h = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
          out[i] = Float(bitPattern: UInt32(h) << 16)
        }
      default:  // F16
        for i in 0..<count {
          let h = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
          out[i] = halfToFloat(h)
        }
      }
    }
    return out
  }

  /// Writes float32 tensors as a safetensors file (atomically).
  public static func write(_ path: String, tensors: [(name: String, shape: [Int], values: [Float])]) throws {
    try write(
      path,
      raw: tensors.map { t in
        precondition(t.values.count == t.shape.reduce(1, *), "\(t.name): shape/value mismatch")
        return (t.name, "F32", t.shape, t.values.withUnsafeBytes { Data($0) })
      })
  }

  /// Writes uint8 tensors (e.g. 0/1 masks) as a safetensors file (atomically).
  public static func write(
    _ path: String, bytes tensors: [(name: String, shape: [Int], values: [UInt8])],
    metadata: [String: String] = [:]
  ) throws {
    try write(
      path,
      raw: tensors.map { t in
        precondition(t.values.count == t.shape.reduce(1, *), "\(t.name): shape/value mismatch")
        return (t.name, "U8", t.shape, Data(t.values))
      }, metadata: metadata)
  }

  static func write(
    _ path: String, raw tensors: [(name: String, dtype: String, shape: [Int], data: Data)],
    metadata: [String: String] = [:]
  ) throws {
    var header: [String: Any] = [:]
    var offset = 0
    for t in tensors {
      header[t.name] = ["dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + t.data.count]]
      offset += t.data.count
    }
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while json.count % 8 != 0 { json.append(0x20) }
    var out = Data()
    var n = UInt64(json.count).littleEndian
    withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
    out.append(json)
    for t in tensors { out.append(t.data) }
    try writeAtomically(path) { tmp in try out.write(to: URL(fileURLWithPath: tmp)) }
  }
}

/// IEEE 754 half → single precision.
func halfToFloat(_ h: UInt16) -> Float {
  let sign = UInt32(h & 0x8000) << 16
  var exp = Int32((h >> 10) & 0x1F)
  var mant = UInt32(h & 0x3FF)
  if exp == 0 {
    if mant == 0 { return Float(bitPattern: sign) }
    while mant & 0x400 == 0 { mant <<= 1; exp -= 1 }
    exp += 1
    mant &= 0x3FF
  } else if exp == 31 {
    return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
  }
  return Float(bitPattern: sign | UInt32(exp + 112) << 23 | (mant << 13))
}

//===--- Npz.swift - numpy .npz (a zip of .npy arrays) and .npy ------------===//
//
// Zip: the end-of-central-directory record (and its zip64 locator/record)
// gives the central directory; each entry gives method (0 stored, 8 deflate),
// sizes (zip64 extra field when 0xFFFFFFFF), the local header offset and the CRC-32, checked on every read
// (zlib's crc32_z).
// npy: "\x93NUMPY", version, header length, a Python dict literal with
// 'descr' (e.g. '|u1', '<i8', '<f4'), 'fortran_order' and 'shape'.
//===----------------------------------------------------------------------===//
import CZlib
import Foundation
import Storage

/// A numeric array read from .npy, kept as Double or as raw bytes for uint8.
public struct NpyArray: Sendable {
  public var shape: [Int]
  public var dtype: String
  /// uint8 data (dtype |u1 or |b1), else empty.
  public var bytes: [UInt8]
  /// Other dtypes, converted.
  public var values: [Double]
  public var count: Int { shape.reduce(1, *) }

  /// Element i as an integer; -1 for a value that is not one (NaN, ±inf, beyond Int), so range checks reject it.
  public func int(_ i: Int) -> Int {
    if !bytes.isEmpty { return Int(bytes[i]) }
    let v = values[i]
    return v.isFinite && abs(v) < 9e18 ? Int(v) : -1
  }
}

public struct NpzFile {
  public let path: String
  struct Entry { var method: UInt16; var compressed: Int; var size: Int; var offset: Int; var crc: UInt32 }
  let entries: [String: Entry]
  let data: Data

  public var names: [String] { entries.keys.map { $0.hasSuffix(".npy") ? String($0.dropLast(4)) : $0 }.sorted() }

  public init(path: String) throws {
    func bad(_ m: String) -> DataError { .file(path, m) }
    guard FileManager.default.fileExists(atPath: path) else { throw bad("no such file") }
    let d = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
    // Every read is bounds-checked: a field pointing outside the file is an error, never a trap.
    func need(_ o: Int, _ n: Int, _ what: String) throws {
      guard o >= 0, n >= 0, o <= d.count - n else {
        throw bad("\(what) lies outside the file (offset \(o), \(n) bytes): corrupt or truncated zip")
      }
    }
    func u16(_ o: Int) -> Int { Int(d[o]) | Int(d[o + 1]) << 8 }
    func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
    func u64(_ o: Int) throws -> Int {
      let hi = u32(o + 4)
      guard hi < 0x8000_0000 else { throw bad("a zip64 size or offset does not fit in 63 bits: corrupt zip") }
      return u32(o) | hi << 32
    }
    // find the end-of-central-directory record (within the last 64 KiB + 22 bytes)
    guard d.count >= 22 else { throw bad("not a zip/npz file (\(d.count) bytes)") }
    var eocd = -1
    var i = d.count - 22
    while i >= max(0, d.count - 65_557) {
      if d[i] == 0x50 && d[i + 1] == 0x4b && d[i + 2] == 0x05 && d[i + 3] == 0x06 { eocd = i; break }
      i -= 1
    }
    guard eocd >= 0 else { throw bad("no zip end-of-central-directory record: truncated or not an npz file") }
    var count = u16(eocd + 10), cdOffset = u32(eocd + 16)
    if (count == 0xFFFF || cdOffset == 0xFFFF_FFFF), eocd >= 20, u32(eocd - 20) == 0x0706_4b50 {
      let rec = try u64(eocd - 20 + 8)
      try need(rec, 56, "the zip64 end record")
      guard u32(rec) == 0x0606_4b50 else { throw bad("bad zip64 end record") }
      count = try u64(rec + 32)
      cdOffset = try u64(rec + 48)
    }
    guard count <= d.count / 46 else {
      throw bad("the zip directory claims \(count) entries, more than the file can hold: corrupt zip")
    }
    var es: [String: Entry] = [:]
    var p = cdOffset
    for _ in 0..<count {
      try need(p, 46, "a zip directory entry")
      guard u32(p) == 0x0201_4b50 else { throw bad("corrupt zip central directory") }
      let method = UInt16(u16(p + 10))
      var csize = u32(p + 20), usize = u32(p + 24)
      let nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32)
      var offset = u32(p + 42)
      try need(p + 46, nameLen + extraLen + commentLen, "a zip entry's name and extra fields")
      let name = String(decoding: d[(p + 46)..<(p + 46 + nameLen)], as: UTF8.self)
      var e = p + 46 + nameLen
      let extraEnd = e + extraLen
      while e + 4 <= extraEnd {  // zip64 extended information
        let id = u16(e), len = u16(e + 2)
        if id == 0x0001 {
          var q = e + 4
          let fieldEnd = min(extraEnd, q + len)
          if usize == 0xFFFF_FFFF { guard q + 8 <= fieldEnd else { break }; usize = try u64(q); q += 8 }
          if csize == 0xFFFF_FFFF { guard q + 8 <= fieldEnd else { break }; csize = try u64(q); q += 8 }
          if offset == 0xFFFF_FFFF { guard q + 8 <= fieldEnd else { break }; offset = try u64(q) }
        }
        e += 4 + len
      }
      es[name] = Entry(method: method, compressed: csize, size: usize, offset: offset, crc: UInt32(u32(p + 16)))
      p = extraEnd + commentLen
    }
    self.path = path
    entries = es
    data = d
  }

  /// The raw bytes of one member (`name` with or without ".npy"), inflated if deflated.
  public func member(_ name: String) throws -> Data {
    func bad(_ m: String) -> DataError { .file(path, "array '\(name)': \(m)") }
    guard let e = entries[name] ?? entries[name + ".npy"] else {
      throw DataError.file(path, "no array '\(name)' (has: \(names.joined(separator: ", ")))")
    }
    let o = e.offset
    guard o >= 0, o <= data.count - 30 else { throw bad("local header beyond the end: truncated") }
    let nameLen = Int(data[o + 26]) | Int(data[o + 27]) << 8
    let extraLen = Int(data[o + 28]) | Int(data[o + 29]) << 8
    let start = o + 30 + nameLen + extraLen
    guard e.compressed >= 0, e.compressed <= data.count - start else {
      throw bad("data ends beyond the file: truncated")
    }
    // deflate expands at most ~1032:1; a larger claimed size is corrupt (and would allocate it)
    guard e.size >= 0, e.size <= e.compressed &* 1032 &+ 1024, e.method != 0 || e.size == e.compressed else {
      throw bad("claims \(e.size) bytes from \(e.compressed) compressed: corrupt zip entry")
    }
    let raw = data.subdata(in: start..<(start + e.compressed))
    let bytes: Data
    switch e.method {
    case 0: bytes = raw
    case 8: bytes = try inflate(raw, expected: e.size, fail: bad)
    default: throw bad("unsupported zip compression method \(e.method)")
    }
    let crc = bytes.withUnsafeBytes { b in
      UInt32(crc32_z(0, b.baseAddress?.assumingMemoryBound(to: Bytef.self), b.count))
    }
    guard crc == e.crc else {
      throw bad(String(format: "CRC-32 %08x, the zip directory says %08x: corrupt member", crc, e.crc))
    }
    return bytes
  }

  func inflate(_ input: Data, expected: Int, fail: (String) -> DataError) throws -> Data {
    var out = Data(count: expected)
    var stream = z_stream()
    guard czlib_inflate_init_raw(&stream) == Z_OK else { throw fail("zlib init failed") }
    defer { inflateEnd(&stream) }
    var mutableInput = input
    let status: Int32 = mutableInput.withUnsafeMutableBytes { inp in
      out.withUnsafeMutableBytes { outp in
        stream.next_in = inp.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_in = uInt(inp.count)
        stream.next_out = outp.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(outp.count)
        return CZlib.inflate(&stream, Z_FINISH)
      }
    }
    guard status == Z_STREAM_END, Int(stream.total_out) == expected else {
      throw fail("corrupt deflate data (zlib status \(status))")
    }
    return out
  }

  /// Parses one member as an .npy array.
  public func array(_ name: String) throws -> NpyArray {
    try NpyArray(npy: try member(name), source: "\(path) array '\(name)'")
  }
}

extension NpyArray {
  public init(npy d: Data, source: String) throws {
    func bad(_ m: String) -> DataError { .file(source, m) }
    guard d.count >= 10, d.prefix(6) == Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) else {
      throw bad("not an .npy array")
    }
    let major = d[d.startIndex + 6]
    let hlen =
      major == 1
      ? Int(d[d.startIndex + 8]) | Int(d[d.startIndex + 9]) << 8
      : Int(d[d.startIndex + 8]) | Int(d[d.startIndex + 9]) << 8 | Int(d[d.startIndex + 10]) << 16 | Int(
        d[d.startIndex + 11]) << 24
    let hstart = major == 1 ? 10 : 12
    guard major >= 1 && major <= 3, d.count >= hstart else { throw bad("unsupported .npy version \(major)") }
    guard d.count >= hstart + hlen else { throw bad("truncated .npy header") }
    let header = String(
      decoding: d.subdata(in: (d.startIndex + hstart)..<(d.startIndex + hstart + hlen)), as: UTF8.self)
    func field(_ key: String) -> String? {
      guard let r = header.range(of: "'\(key)':") else { return nil }
      return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
    }
    guard let descrPart = field("descr"), let q1 = descrPart.firstIndex(of: "'"),
      let q2 = descrPart[descrPart.index(after: q1)...].firstIndex(of: "'")
    else { throw bad("no 'descr' in .npy header") }
    let descr = String(descrPart[descrPart.index(after: q1)..<q2])
    guard let fo = field("fortran_order"), fo.hasPrefix("False") else {
      throw bad("Fortran-ordered arrays are not supported")
    }
    guard let sp = field("shape"), let open = sp.firstIndex(of: "("), let close = sp.firstIndex(of: ")") else {
      throw bad("no 'shape' in .npy header")
    }
    guard open < close else { throw bad("malformed 'shape' in .npy header") }
    var shape: [Int] = []
    for part in sp[sp.index(after: open)..<close].split(separator: ",") {
      let t = part.trimmingCharacters(in: .whitespaces)
      guard let v = Int(t), v >= 0 else { throw bad("shape entry '\(t)' is not a size (a non-negative integer)") }
      shape.append(v)
    }
    guard let n = checkedCount(shape) else { throw bad("shape \(shape) has more elements than memory can hold") }
    let body = d.subdata(in: (d.startIndex + hstart + hlen)..<d.endIndex)
    let width: Int
    switch descr {
    case "|u1", "|b1", "|i1": width = 1
    case "<i2", "<u2": width = 2
    case "<i4", "<u4", "<f4": width = 4
    case "<i8", "<u8", "<f8": width = 8
    default: throw bad("unsupported dtype '\(descr)'")
    }
    guard n <= body.count / width else {
      throw bad("data has \(body.count) bytes, shape \(shape) of \(descr) needs \(n * width): truncated")
    }
    var bytes: [UInt8] = [], values: [Double] = []
    body.withUnsafeBytes { raw in
      let p = raw.baseAddress!
      switch descr {
      case "|u1", "|b1": bytes = Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: n))
      case "|i1": values = (0..<n).map { Double(p.load(fromByteOffset: $0, as: Int8.self)) }
      case "<i2":
        values = (0..<n).map { Double(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) }
      case "<u2":
        values = (0..<n).map { Double(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
      case "<i4":
        values = (0..<n).map { Double(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
      case "<u4":
        values = (0..<n).map { Double(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
      case "<f4":
        values = (0..<n).map {
          Double(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))))
        }
      case "<i8":
        values = (0..<n).map { Double(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
      case "<u8":
        values = (0..<n).map { Double(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
      default:
        values = (0..<n).map {
          Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)))
        }
      }
    }
    self.init(shape: shape, dtype: descr, bytes: bytes, values: values)
  }
}

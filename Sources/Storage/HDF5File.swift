//===--- HDF5File.swift - a small typed wrapper over the HDF5 C API --------===//
import CHDF5
import Foundation

/// An open HDF5 file. Datasets are addressed by path ("grads/head.weight");
/// intermediate groups are created on write. Errors name the file and object.
public final class HDF5File {
  public let path: String
  private let id: hid_t
  var idForExtensions: hid_t { id }

  private init(path: String, id: hid_t) {
    self.path = path
    self.id = id
  }

  deinit { H5Fclose(id) }

  /// Creates (truncating) a file for writing. No object records a modification time (HDF5 tracks
  /// them by default), so the same content gives the same bytes: a stage's output hash depends on
  /// what it computed, not when.
  public static func create(_ path: String) throws -> HDF5File {
    chdf5_silence_errors()
    let fcpl = H5Pcreate(chdf5_p_file_create())
    defer { H5Pclose(fcpl) }
    H5Pset_obj_track_times(fcpl, false)  // the root group
    let fapl = H5Pcreate(chdf5_p_file_access())
    defer { H5Pclose(fapl) }
    chdf5_use_checksummed_format(fapl)
    let id = H5Fcreate(path, chdf5_acc_trunc(), fcpl, fapl)
    guard id >= 0 else { throw StorageError.file(path: path, message: "cannot create HDF5 file") }
    return HDF5File(path: path, id: id)
  }

  /// Opens an existing file read-only.
  public static func open(_ path: String) throws -> HDF5File {
    chdf5_silence_errors()
    guard FileManager.default.fileExists(atPath: path) else {
      throw StorageError.file(path: path, message: "no such file")
    }
    guard H5Fis_hdf5(path) > 0 else { throw StorageError.file(path: path, message: "not an HDF5 file") }
    let id = H5Fopen(path, chdf5_acc_rdonly(), chdf5_p_default())
    guard id >= 0 else { throw StorageError.file(path: path, message: "cannot open HDF5 file") }
    return HDF5File(path: path, id: id)
  }

  private func fail(_ what: String) -> StorageError { .file(path: path, message: what) }

  // MARK: - Writing

  private func writeRaw(
    _ name: String, type: hid_t, shape: [Int], bytes: UnsafeRawPointer?
  ) throws {
    var dims = shape.map { hsize_t($0) }
    let space = H5Screate_simple(Int32(dims.count), &dims, nil)
    guard space >= 0 else { throw fail("cannot make dataspace for '\(name)'") }
    defer { H5Sclose(space) }
    try createGroups(containing: name)
    let dcpl = untimed(chdf5_p_dataset_create())
    defer { H5Pclose(dcpl) }
    if !shape.isEmpty && !shape.contains(0) {
      // Chunked (≤ 1 Mi elements per chunk) with a Fletcher-32 checksum per chunk: HDF5 verifies it
      // on every read, so flipped bytes in the data are an error, not silently different weights.
      var chunk = shape.map { hsize_t($0) }
      let rest = shape.dropFirst().reduce(1, *)
      chunk[0] = hsize_t(max(1, min(shape[0], (1 << 20) / max(1, rest))))
      H5Pset_chunk(dcpl, Int32(chunk.count), &chunk)
      H5Pset_fletcher32(dcpl)
    }
    let ds = H5Dcreate2(id, name, type, space, chdf5_p_default(), dcpl, chdf5_p_default())
    guard ds >= 0 else { throw fail("cannot create dataset '\(name)'") }
    defer { H5Dclose(ds) }
    if shape.reduce(1, *) > 0 {
      guard H5Dwrite(ds, type, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), bytes) >= 0 else {
        throw fail("cannot write dataset '\(name)'")
      }
    }
  }

  public func write(_ name: String, floats: UnsafeBufferPointer<Float>, shape: [Int]) throws {
    precondition(floats.count == shape.reduce(1, *), "shape \(shape) does not match \(floats.count) values")
    try writeRaw(name, type: chdf5_native_float(), shape: shape, bytes: floats.baseAddress)
  }

  public func write(_ name: String, floats: [Float], shape: [Int]? = nil) throws {
    try floats.withUnsafeBufferPointer { try write(name, floats: $0, shape: shape ?? [floats.count]) }
  }

  public func write(_ name: String, int64s: [Int64], shape: [Int]? = nil) throws {
    let s = shape ?? [int64s.count]
    precondition(int64s.count == s.reduce(1, *))
    try int64s.withUnsafeBytes { try writeRaw(name, type: chdf5_native_int64(), shape: s, bytes: $0.baseAddress) }
  }

  public func write(_ name: String, uint8s: [UInt8], shape: [Int]? = nil) throws {
    let s = shape ?? [uint8s.count]
    precondition(uint8s.count == s.reduce(1, *))
    try uint8s.withUnsafeBytes { try writeRaw(name, type: chdf5_native_uint8(), shape: s, bytes: $0.baseAddress) }
  }

  /// Reads any integer dataset as uint8 (values are converted by HDF5; out-of-range values clip).
  public func readUInt8s(_ name: String) throws -> (values: [UInt8], shape: [Int]) {
    try readRaw(name, type: chdf5_native_uint8(), zero: UInt8(0))
  }

  public func write(_ name: String, doubles: [Double], shape: [Int]? = nil) throws {
    let s = shape ?? [doubles.count]
    precondition(doubles.count == s.reduce(1, *))
    try doubles.withUnsafeBytes { try writeRaw(name, type: chdf5_native_double(), shape: s, bytes: $0.baseAddress) }
  }

  /// A scalar float dataset (shape ()).
  public func write(_ name: String, scalar: Float) throws {
    var v = scalar
    let space = H5Screate(H5S_SCALAR)
    defer { H5Sclose(space) }
    try createGroups(containing: name)
    let dcpl = untimed(chdf5_p_dataset_create())
    defer { H5Pclose(dcpl) }
    let ds = H5Dcreate2(id, name, chdf5_native_float(), space, chdf5_p_default(), dcpl, chdf5_p_default())
    guard ds >= 0 else { throw fail("cannot create dataset '\(name)'") }
    defer { H5Dclose(ds) }
    H5Dwrite(ds, chdf5_native_float(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), &v)
  }

  /// A creation property list of `cls` that records no times.
  private func untimed(_ cls: hid_t) -> hid_t {
    let p = H5Pcreate(cls)
    H5Pset_obj_track_times(p, false)
    return p
  }

  /// Creates the groups on the way to `name` ("a/b/c" → a, a/b), without times.
  private func createGroups(containing name: String) throws {
    let parts = name.split(separator: "/").dropLast()
    var path = ""
    for part in parts {
      path += (path.isEmpty ? "" : "/") + part
      if H5Lexists(id, path, chdf5_p_default()) > 0 { continue }
      let gcpl = untimed(chdf5_p_group_create())
      defer { H5Pclose(gcpl) }
      let g = H5Gcreate2(id, path, chdf5_p_default(), gcpl, chdf5_p_default())
      guard g >= 0 else { throw fail("cannot create group '\(path)'") }
      H5Gclose(g)
    }
  }

  // MARK: - Reading

  public func exists(_ name: String) -> Bool {
    var prefix = ""
    for part in name.split(separator: "/") {
      prefix += (prefix.isEmpty ? "" : "/") + part
      if H5Lexists(id, prefix, chdf5_p_default()) <= 0 { return false }
    }
    return true
  }

  public func shape(of name: String) throws -> [Int] {
    guard exists(name) else { throw fail("missing dataset '\(name)'") }
    let ds = H5Dopen2(id, name, chdf5_p_default())
    guard ds >= 0 else { throw fail("'\(name)' is not a dataset") }
    defer { H5Dclose(ds) }
    let space = H5Dget_space(ds)
    defer { H5Sclose(space) }
    let rank = Int(H5Sget_simple_extent_ndims(space))
    guard rank >= 0, rank <= 32 else { throw fail("'\(name)' has an unreadable dataspace (rank \(rank))") }
    var dims = [hsize_t](repeating: 0, count: max(rank, 1))
    H5Sget_simple_extent_dims(space, &dims, nil)
    guard dims.allSatisfy({ $0 < 1 << 40 }) else { throw fail("'\(name)' has dimensions \(dims) too large to read") }
    return rank == 0 ? [] : dims.map { Int($0) }
  }

  private func readRaw<T>(_ name: String, type: hid_t, zero: T) throws -> ([T], [Int]) {
    let shape = try shape(of: name)
    guard let count = checkedCount(shape),
      count <= Int(ProcessInfo.processInfo.physicalMemory / 2) / MemoryLayout<T>.stride
    else {
      throw fail("'\(name)' has shape \(shape): more than half this machine's memory")
    }
    let ds = H5Dopen2(id, name, chdf5_p_default())
    defer { H5Dclose(ds) }
    try checkLayout(ds, name: name, rank: shape.count)
    // What is stored bounds what can be read (filters expand at most ~1000x): a corrupt dataspace
    // claiming billions of elements is an error before the allocation.
    let stored = Int(clamping: H5Dget_storage_size(ds))
    guard count <= (stored &* 1024 &+ (64 << 20)) / MemoryLayout<T>.stride else {
      throw fail("'\(name)' claims shape \(shape) but stores \(stored) bytes: corrupt")
    }
    var out = [T](repeating: zero, count: count)
    let status = out.withUnsafeMutableBytes {
      H5Dread(ds, type, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress)
    }
    guard status >= 0 else {
      throw fail("cannot read '\(name)' as \(T.self) (wrong type, or its checksum does not match: corrupt data)")
    }
    return (out, shape)
  }

  /// A chunked dataset's chunk dimensions must be ≥ 1 and within its maximum dimensions (HDF5
  /// refuses to create anything else); libhdf5 1.10 reads past its buffers on a corrupt one.
  private func checkLayout(_ ds: hid_t, name: String, rank: Int) throws {
    let dcpl = H5Dget_create_plist(ds)
    guard dcpl >= 0 else { throw fail("'\(name)': unreadable creation properties: corrupt") }
    defer { H5Pclose(dcpl) }
    guard H5Pget_layout(dcpl) == H5D_CHUNKED else { return }
    var chunk = [hsize_t](repeating: 0, count: 32)
    let r = Int(H5Pget_chunk(dcpl, 32, &chunk))
    let space = H5Dget_space(ds)
    defer { H5Sclose(space) }
    var dims = [hsize_t](repeating: 0, count: max(rank, 1)), maxDims = dims
    H5Sget_simple_extent_dims(space, &dims, &maxDims)
    guard r == rank,
      (0..<rank).allSatisfy({ chunk[$0] >= 1 && (maxDims[$0] == hsize_t.max || chunk[$0] <= maxDims[$0]) })
    else {
      throw fail("'\(name)' has chunk dimensions \(chunk.prefix(max(r, 0))) for a dataset of \(dims): corrupt")
    }
  }

  /// Reads any numeric dataset, converted to Float.
  public func readFloats(_ name: String) throws -> (values: [Float], shape: [Int]) {
    try readRaw(name, type: chdf5_native_float(), zero: Float(0))
  }

  /// Reads any integer dataset, converted to Int64.
  public func readInt64s(_ name: String) throws -> (values: [Int64], shape: [Int]) {
    try readRaw(name, type: chdf5_native_int64(), zero: Int64(0))
  }

  /// Paths of every dataset in the file, sorted.
  public func datasetNames() -> [String] {
    final class Box { var names: [String] = [] }
    let box = Box()
    let ctx = Unmanaged.passUnretained(box).toOpaque()
    H5Ovisit2(
      id, H5_INDEX_NAME, H5_ITER_NATIVE,
      { _, name, info, ctx in
        if let name, let info, info.pointee.type == H5O_TYPE_DATASET {
          Unmanaged<Box>.fromOpaque(ctx!).takeUnretainedValue().names.append(String(cString: name))
        }
        return 0
      }, ctx, UInt32(H5O_INFO_BASIC))
    return box.names.sorted()
  }

  // MARK: - Attributes (on the root group)

  /// A variable-length UTF-8 string attribute (h5py reads it as `str`).
  public func setAttribute(_ name: String, string: String) throws {
    let type = H5Tcopy(chdf5_c_s1())
    defer { H5Tclose(type) }
    H5Tset_size(type, chdf5_variable())
    H5Tset_cset(type, H5T_CSET_UTF8)
    let space = H5Screate(H5S_SCALAR)
    defer { H5Sclose(space) }
    let attr = H5Acreate2(id, name, type, space, chdf5_p_default(), chdf5_p_default())
    guard attr >= 0 else { throw fail("cannot create attribute '\(name)'") }
    defer { H5Aclose(attr) }
    let status = string.withCString { p -> herr_t in
      var ptr: UnsafePointer<CChar>? = p
      return H5Awrite(attr, type, &ptr)
    }
    guard status >= 0 else { throw fail("cannot write attribute '\(name)'") }
  }

  public func setAttribute(_ name: String, int: Int) throws {
    var v = Int64(int)
    try writeScalarAttribute(name, type: chdf5_native_int64(), &v)
  }

  public func setAttribute(_ name: String, double: Double) throws {
    var v = double
    try writeScalarAttribute(name, type: chdf5_native_double(), &v)
  }

  private func writeScalarAttribute(_ name: String, type: hid_t, _ value: UnsafeRawPointer) throws {
    let space = H5Screate(H5S_SCALAR)
    defer { H5Sclose(space) }
    let attr = H5Acreate2(id, name, type, space, chdf5_p_default(), chdf5_p_default())
    guard attr >= 0 else { throw fail("cannot create attribute '\(name)'") }
    defer { H5Aclose(attr) }
    H5Awrite(attr, type, value)
  }

  public func hasAttribute(_ name: String) -> Bool { H5Aexists(id, name) > 0 }

  public func stringAttribute(_ name: String) throws -> String {
    guard hasAttribute(name) else { throw fail("missing attribute '\(name)'") }
    let attr = H5Aopen(id, name, chdf5_p_default())
    defer { H5Aclose(attr) }
    let ftype = H5Aget_type(attr)
    defer { H5Tclose(ftype) }
    guard H5Tget_class(ftype) == H5T_STRING else { throw fail("attribute '\(name)' is not a string") }
    if H5Tis_variable_str(ftype) > 0 {
      var p: UnsafeMutablePointer<CChar>? = nil
      H5Aread(attr, ftype, &p)
      defer { if let p { H5free_memory(p) } }
      return p.map { String(cString: $0) } ?? ""
    }
    let size = H5Tget_size(ftype)
    var buf = [UInt8](repeating: 0, count: size + 1)
    H5Aread(attr, ftype, &buf)
    return String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self)
  }

  public func intAttribute(_ name: String) throws -> Int {
    guard hasAttribute(name) else { throw fail("missing attribute '\(name)'") }
    let attr = H5Aopen(id, name, chdf5_p_default())
    defer { H5Aclose(attr) }
    var v: Int64 = 0
    guard H5Aread(attr, chdf5_native_int64(), &v) >= 0 else { throw fail("attribute '\(name)' is not an integer") }
    return Int(v)
  }

  public func doubleAttribute(_ name: String) throws -> Double {
    guard hasAttribute(name) else { throw fail("missing attribute '\(name)'") }
    let attr = H5Aopen(id, name, chdf5_p_default())
    defer { H5Aclose(attr) }
    var v = 0.0
    guard H5Aread(attr, chdf5_native_double(), &v) >= 0 else { throw fail("attribute '\(name)' is not a number") }
    return v
  }
}

extension HDF5File {
  /// A numeric attribute of a group (e.g. written by h5py as `g.attrs[k] = v`).
  public func groupDoubleAttribute(_ group: String, _ name: String) throws -> Double {
    let gid = H5Oopen(idForExtensions, group, chdf5_p_default())
    guard gid >= 0 else { throw StorageError.file(path: path, message: "missing group '\(group)'") }
    defer { H5Oclose(gid) }
    guard H5Aexists(gid, name) > 0 else {
      throw StorageError.file(path: path, message: "missing attribute '\(group)/\(name)'")
    }
    let attr = H5Aopen(gid, name, chdf5_p_default())
    defer { H5Aclose(attr) }
    var v = 0.0
    guard H5Aread(attr, chdf5_native_double(), &v) >= 0 else {
      throw StorageError.file(path: path, message: "attribute '\(group)/\(name)' is not a number")
    }
    return v
  }
}

//===--- FileHasher.swift - hash once: digests memoised by file identity ---===//
import Foundation
import Storage

/// SHA-256 of files, remembered by (path, size, mtime ns, ctime ns, inode) so that a
/// no-op run does not re-read large artifacts. Saved as JSON in the cache. The change time is in
/// the identity because no user can set it: an edit that restores size and mtime is still seen.
public final class FileHasher: @unchecked Sendable {
  struct Entry: Codable { var size: Int64; var mtime: Int64; var ctime: Int64; var inode: UInt64; var hash: String }
  private var entries: [String: Entry] = [:]
  private let lock = NSLock()
  private let path: String?
  private var dirty = false

  public init(memo path: String?) {
    self.path = path
    if let path, let d = FileManager.default.contents(atPath: path),
      let e = try? JSONDecoder().decode([String: Entry].self, from: d)
    {
      entries = e
    }
  }

  static func identity(_ path: String) -> (Int64, Int64, Int64, UInt64)? {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    let ctime = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
    return (Int64(st.st_size), mtime, ctime, UInt64(st.st_ino))
  }

  /// Digest of a regular file (memoised).
  public func hash(file: String) throws -> String {
    guard let (size, mtime, ctime, inode) = Self.identity(file) else {
      throw PipelineError.io(path: file, message: "no such file")
    }
    lock.lock()
    if let e = entries[file], e.size == size, e.mtime == mtime, e.ctime == ctime, e.inode == inode {
      lock.unlock()
      return e.hash
    }
    lock.unlock()
    let h = try SHA256Hasher.hex(file: file)
    lock.lock()
    entries[file] = Entry(size: size, mtime: mtime, ctime: ctime, inode: inode, hash: h)
    dirty = true
    lock.unlock()
    return h
  }

  public func save() {
    lock.lock()
    defer { lock.unlock() }
    guard dirty, let path, let d = try? JSONEncoder().encode(entries) else { return }
    try? atomicWrite(d, to: path)
    dirty = false
  }
}

// `timingFileName` (Storage): the wall-clock measurements a stage may write beside its results (seconds
// of training, of selection): kept in the object, left out of its content hash, so that rerunning a stage
// gives the same object name when only the time differs. Every file named `timing.*` is left out.

/// True for files that hold wall-clock measurements only (`timing.json`, `timing.md`, ...).
public func isTimingFile(_ relativePath: String) -> Bool {
  (relativePath as NSString).lastPathComponent.hasPrefix("timing.")
}

/// Digest of a folder: SHA-256 over "relative path\0file digest\n" for every
/// regular file but `timing.*` files, sorted by path. `memo` nil re-reads every file (verification).
public func treeHash(_ dir: String, memo: FileHasher? = nil) throws -> String {
  let fm = FileManager.default
  guard let walker = fm.enumerator(atPath: dir) else { throw PipelineError.io(path: dir, message: "no such folder") }
  var files: [String] = []
  while let rel = walker.nextObject() as? String {
    var isDir: ObjCBool = false
    guard !isTimingFile(rel) else { continue }
    if fm.fileExists(atPath: dir + "/" + rel, isDirectory: &isDir), !isDir.boolValue { files.append(rel) }
  }
  var h = SHA256Hasher()
  for rel in files.sorted() {
    let full = dir + "/" + rel
    let d = try memo?.hash(file: full) ?? SHA256Hasher.hex(file: full)
    h.update(rel + "\u{0}" + d + "\n")
  }
  return h.finalize()
}

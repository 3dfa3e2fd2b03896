//===--- AtomicWrite.swift - files appear whole or not at all --------------===//
import Foundation

/// Writes a file at `path` atomically: `body` writes to a temporary file in the same folder (created if
/// missing), which is renamed over `path` only if `body` succeeds; on failure the temporary file is removed.
public func writeAtomically(_ path: String, _ body: (String) throws -> Void) throws {
  let url = URL(fileURLWithPath: path)
  let dir = url.deletingLastPathComponent().path
  try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
  do {
    try body(tmp)
    guard rename(tmp, path) == 0 else {
      throw StorageError.file(path: path, message: "cannot rename the temporary file into place")
    }
  } catch {
    try? FileManager.default.removeItem(atPath: tmp)
    throw error
  }
}

/// Writes `data` to `path` atomically (see `writeAtomically`).
public func atomicWrite(_ data: Data, to path: String) throws {
  try writeAtomically(path) { tmp in
    guard FileManager.default.createFile(atPath: tmp, contents: data) else {
      throw StorageError.file(path: path, message: "cannot write")
    }
  }
}

/// A file that cannot be read, written or parsed: its path and what is wrong.
public enum StorageError: Error, CustomStringConvertible, Equatable {
  case file(path: String, message: String)

  public var description: String {
    switch self {
    case .file(let path, let message): return "\(path): \(message)"
    }
  }
}

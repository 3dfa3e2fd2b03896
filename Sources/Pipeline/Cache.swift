//===--- Cache.swift - content-addressed stage results ---------------------===//
//
//   <cache>/objects/<tree hash>/   a stage's output folder, named by its content hash
//   <cache>/records/<key>.json     key -> output hash, params, inputs, timing
//   <cache>/state/<stage>.json     the stage's last successful record (for explain)
//   <cache>/state/<stage>.failed.json  its last failure, if later than that
//   <cache>/logs/<key>.log         the stage's log
//   <cache>/locks/<key>.lock       flock held while a key is being computed
//   <cache>/tmp/                   work folders; anything here is garbage
//   <cache>/filehashes.json        file digests by (size, mtime, inode)
// Objects and records appear only by rename, after the stage succeeded, so a
// failed or killed stage leaves nothing but garbage in tmp/.
//===----------------------------------------------------------------------===//
import Foundation
import Storage

/// What produced a stage result: the components of its cache key.
public struct StageRecord: Codable, Sendable, Equatable {
  public var schema = 1
  public var key: String
  public var stage: String
  public var kind: String
  public var kindVersion: Int
  /// Resolved parameters, canonical JSON per name.
  public var params: [String: String]
  /// Output hash of each needed stage.
  public var inputs: [String: String]
  /// Digests of files outside the cache the stage read.
  public var external: [String: String]
  public var output: String = ""
  public var seconds: Double = 0
  public var finished: String = ""
  public var error: String?
  /// Peak resident memory of the stage's process, bytes (isolated runs; not part of the key or output).
  public var peakMemory: Int?
  /// SHA-256 over the key components, the key and the output hash, written on publish: a record
  /// edited afterwards (say, to point at another valid object) no longer matches and is not served.
  public var seal: String?

  /// What `seal` must be for this record.
  public var expectedSeal: String {
    let k = Self.key(kind: kind, kindVersion: kindVersion, params: params, inputs: inputs, external: external)
    return SHA256Hasher.hex(Data("peftlab-record-v1\n\(k)\n\(key)\n\(stage)\n\(output)".utf8))
  }

  /// True if the record's key is the hash of its components and the seal matches (records written
  /// before seals existed have none: their key is still checked).
  public var isIntact: Bool {
    key == Self.key(kind: kind, kindVersion: kindVersion, params: params, inputs: inputs, external: external)
      && (seal == nil || seal == expectedSeal)
  }

  /// SHA-256 of the canonical JSON of the key components.
  public static func key(
    kind: String, kindVersion: Int, params: [String: String], inputs: [String: String],
    external: [String: String]
  ) -> String {
    let obj: Value = .object([
      "kind": .string(kind), "kind_version": .int(kindVersion),
      "params": .object(params.mapValues { .string($0) }),
      "inputs": .object(inputs.mapValues { .string($0) }),
      "external": .object(external.mapValues { .string($0) }),
    ])
    return SHA256Hasher.hex(obj.canonicalJSON)
  }
}

public final class Cache: @unchecked Sendable {
  public let root: String
  public let hasher: FileHasher

  public init(root: String) throws {
    self.root = root
    let fm = FileManager.default
    for sub in ["objects", "records", "state", "logs", "locks", "tmp"] {
      try fm.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
    }
    hasher = FileHasher(memo: root + "/filehashes.json")
  }

  public func objectPath(_ hash: String) -> String { root + "/objects/" + hash }
  func recordPath(_ key: String) -> String { root + "/records/" + key + ".json" }
  func statePath(_ stage: String) -> String { root + "/state/" + stage + ".json" }
  func failedPath(_ stage: String) -> String { root + "/state/" + stage + ".failed.json" }
  public func logPath(_ key: String) -> String { root + "/logs/" + key + ".log" }

  public func record(for key: String) -> StageRecord? { read(recordPath(key)) }
  public func lastRun(of stage: String) -> StageRecord? { read(statePath(stage)) }
  public func lastFailure(of stage: String) -> StageRecord? { read(failedPath(stage)) }

  func read(_ path: String) -> StageRecord? {
    guard let d = FileManager.default.contents(atPath: path) else { return nil }
    return try? JSONDecoder().decode(StageRecord.self, from: d)
  }

  func write(_ r: StageRecord, to path: String) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .prettyPrinted]
    try atomicWrite(try enc.encode(r), to: path)
  }

  /// A hit: a record for the key whose object exists and still has the content its name says
  /// (re-hashed through the stat-keyed memo, so an unchanged object costs a `stat` per file). A
  /// tampered object is evicted: the stage misses and recomputes.
  public func hit(_ key: String) -> StageRecord? {
    guard let r = record(for: key), r.key == key, r.isIntact,
      FileManager.default.fileExists(atPath: objectPath(r.output))
    else { return nil }
    guard (try? treeHash(objectPath(r.output), memo: hasher)) == r.output else {
      evict(r.output)
      return nil
    }
    return r
  }

  /// Moves a finished output folder into the object store; returns its hash.
  func store(outputDir: String) throws -> String {
    let h = try treeHash(outputDir)
    let dst = objectPath(h)
    if FileManager.default.fileExists(atPath: dst) && !verify(h) {
      evict(h)  // a corrupt object under this name: the fresh output replaces it
    }
    if FileManager.default.fileExists(atPath: dst) {
      try? FileManager.default.removeItem(atPath: outputDir)  // same content already stored
    } else if makeReadOnly(outputDir), rename(outputDir, dst) != 0 {
      if !FileManager.default.fileExists(atPath: dst) {  // lost a race to an identical object is fine
        throw PipelineError.io(path: dst, message: "cannot move output into the cache")
      }
    }
    return h
  }

  /// Drops write permission from every file of a finished output, so a stage cannot append to its
  /// inputs (unless it runs as root: `run` re-hashes a stage's inputs after it ran for that case).
  /// Folders stay writable so that eviction can remove them. Always true.
  private func makeReadOnly(_ dir: String) -> Bool {
    let fm = FileManager.default
    for rel in (fm.enumerator(atPath: dir)?.allObjects as? [String]) ?? [] {
      let p = dir + "/" + rel
      var st = stat()
      guard lstat(p, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
      chmod(p, st.st_mode & ~(S_IWUSR | S_IWGRP | S_IWOTH))
    }
    return true
  }

  /// Publishes a successful result: record by key, then the stage's state.
  func publish(_ r: StageRecord) throws {
    let r = try publishRecord(r)
    try write(r, to: statePath(r.stage))
    try? FileManager.default.removeItem(atPath: failedPath(r.stage))
  }

  /// Seals and writes a record without touching state/ (alone: an equivalent key's record, EquivalentStage.swift).
  @discardableResult
  func publishRecord(_ r: StageRecord) throws -> StageRecord {
    var r = r
    r.seal = r.expectedSeal
    try write(r, to: recordPath(r.key))
    return r
  }

  func publishFailure(_ r: StageRecord) { try? write(r, to: failedPath(r.stage)) }

  /// Re-hashes an object; true if its content matches its name.
  public func verify(_ hash: String) -> Bool {
    (try? treeHash(objectPath(hash))) == hash
  }

  /// Removes a corrupt object (and so every record pointing at it misses).
  func evict(_ hash: String) {
    let p = objectPath(hash)
    let trash = root + "/tmp/evicted-\(hash)-\(getpid())"
    if rename(p, trash) == 0 { try? FileManager.default.removeItem(atPath: trash) }
  }

  /// Removes work folders left by runs that are no longer alive.
  public func cleanTemporaries() {
    let tmp = root + "/tmp"
    for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] {
      // work folders are named <pid>-<...>; keep those of live processes
      if let pid = Int32(name.split(separator: "-").first ?? ""), pid != getpid(), kill(pid, 0) == 0 { continue }
      if name.hasPrefix("\(getpid())-") { continue }
      try? FileManager.default.removeItem(atPath: tmp + "/" + name)
    }
  }

  public func allRecords() -> [StageRecord] {
    let dir = root + "/records"
    return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted().compactMap {
      read(dir + "/" + $0)
    }
  }

  public func allObjects() -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: root + "/objects")) ?? []).sorted()
  }
}

/// An exclusive flock on a file, held until `release` (or process death).
final class FileLock {
  let fd: Int32
  let path: String

  /// Takes the lock, waiting if needed; `onWait` is called once with the holder's note.
  init(_ path: String, note: String, onWait: (String) -> Void) throws {
    self.path = path
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)  // children never hold it
    guard fd >= 0 else { throw PipelineError.io(path: path, message: "cannot open lock file") }
    if flock(fd, LOCK_EX | LOCK_NB) != 0 {
      let holder = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "another process"
      onWait(holder.trimmingCharacters(in: .whitespacesAndNewlines))
      guard flock(fd, LOCK_EX) == 0 else { close(fd); throw PipelineError.locked("cannot lock \(path)") }
    }
    ftruncate(fd, 0)
    _ = note.withCString { write(fd, $0, strlen($0)) }
  }

  func release() {
    flock(fd, LOCK_UN)
    close(fd)
  }
}

extension Cache {
  /// Removes a record whose key or seal does not match its content (`cache verify`).
  public func removeRecord(_ r: StageRecord) {
    try? FileManager.default.removeItem(atPath: recordPath(r.key))
    if let st = lastRun(of: r.stage), st.key == r.key {
      try? FileManager.default.removeItem(atPath: statePath(r.stage))
    }
  }

  /// Removes a corrupt object (`cache verify`).
  public func evictObject(_ hash: String) { evict(hash) }

  /// Keeps the results that some stage's last run (state/) refers to, and every result a lock file
  /// in `lockDir` (`Pipelines/*.lock`: any pipeline, any profile) records; removes other records,
  /// unreferenced objects and dead temporaries. Returns what it removed and which locks it kept.
  public func collectGarbage(lockDir: String? = nil) -> (records: Int, objects: Int, locks: [(String, Int)]) {
    cleanTemporaries()
    let fm = FileManager.default
    let states = ((try? fm.contentsOfDirectory(atPath: root + "/state")) ?? [])
      .filter { !$0.hasSuffix(".failed.json") }.compactMap { read(root + "/state/" + $0) }
    var keepKeys = Set(states.map(\.key)), keepObjects = Set(states.map(\.output))
    var locks: [(String, Int)] = []
    if let lockDir {
      for f in ((try? fm.contentsOfDirectory(atPath: lockDir)) ?? []).sorted() where f.hasSuffix(".lock") {
        guard let d = fm.contents(atPath: lockDir + "/" + f),
          let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any],
          let stages = o["stages"] as? [String: Any]
        else { continue }
        for case let st as [String: Any] in stages.values {
          if let k = st["key"] as? String { keepKeys.insert(k) }
          if let h = st["output"] as? String { keepObjects.insert(h) }
        }
        locks.append((f, stages.count))
      }
    }
    var nr = 0, no = 0
    for r in allRecords() where !keepKeys.contains(r.key) {
      try? fm.removeItem(atPath: recordPath(r.key)); nr += 1
    }
    for h in allObjects() where !keepObjects.contains(h) { evict(h); no += 1 }
    return (nr, no, locks)
  }
}

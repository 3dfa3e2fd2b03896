//===--- BenchHash.swift - `peftlab bench hash` ----------------------------===//
import ArgumentParser
import Foundation
import Storage

extension BenchCommand {
  /// Hashes one file of N MB (what `cache verify` and storing an output do per file) with peftlab's
  /// SHA-256 (swift-crypto) and, in the same run, with coreutils' `sha256sum`; best of `repeats`.
  struct HashBench: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "hash", abstract: "SHA-256 of one large file: peftlab's hasher against sha256sum (same run).")
    @Option(help: "File size, MB (10^6 bytes).") var megabytes = 400
    @Option(help: "Repetitions (the best is reported).") var repeats = 3

    func run() throws {
      let path = NSTemporaryDirectory() + "peftlab-bench-hash-\(getpid()).bin"
      defer { try? FileManager.default.removeItem(atPath: path) }
      var rng = Xoshiro256(seed: 1)
      var data = Data(count: megabytes * 1_000_000)  // one buffer, written once
      data.withUnsafeMutableBytes { b in
        let words = b.bindMemory(to: UInt64.self)
        for i in words.indices { words[i] = rng.next() }
      }
      try atomicWrite(data, to: path)
      data = Data()
      func best(_ body: () throws -> String) rethrows -> (Double, String) {
        var t = Double.infinity, digest = ""
        for _ in 0..<repeats {
          let start = Date()
          digest = try body()
          t = min(t, Date().timeIntervalSince(start))
        }
        return (t, digest)
      }
      let (ours, d1) = try best { try SHA256Hasher.hex(file: path) }
      let (tool, d2) = try best {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sha256sum", path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return String(text.prefix(64))
      }
      let mb = Double(megabytes)
      print("peftlab bench hash — one \(megabytes) MB file (page cache warm), best of \(repeats)")
      print("| hasher | seconds | MB/s | vs sha256sum |")
      print("|---|---|---|---|")
      print(
        String(format: "| peftlab SHA256Hasher (swift-crypto) | %.3f | %.0f | %.2f× |", ours, mb / ours, tool / ours))
      print(String(format: "| coreutils sha256sum | %.3f | %.0f | 1.00× |", tool, mb / tool))
      guard d1 == d2 else { throw CLIError(message: "digests differ: \(d1) vs \(d2)") }
      print("digests agree: \(d1)")
    }
  }
}

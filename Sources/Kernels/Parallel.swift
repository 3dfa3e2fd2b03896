//===--- Parallel.swift - deterministic data parallelism -------------------===//
//
// peftlab has exactly one level of parallelism: work is split into contiguous
// chunks across `Parallel.threads` Dispatch workers, and OpenBLAS itself runs
// single-threaded (never nest the two; ../shared/research/swift-anchors.md
// §2.4 rule 7). A chunk's boundaries depend only on the problem size and the
// thread count, so a fixed thread count gives bit-identical results.
//
//===----------------------------------------------------------------------===//
import Dispatch
import Foundation
import COpenBLAS

public enum Parallel {
  nonisolated(unsafe) private static var _threads: Int = {
    openblas_set_num_threads(1)
    return max(1, ProcessInfo.processInfo.activeProcessorCount)
  }()

  /// Number of workers every kernel splits its work into (default: all cores).
  /// Setting it also pins OpenBLAS to one thread.
  public static var threads: Int {
    get { _threads }
    set {
      openblas_set_num_threads(1)
      _threads = max(1, newValue)
    }
  }

  /// Chunk `c` of `chunks` over `0..<n`: contiguous, sizes differ by at most one.
  @inline(__always)
  public static func chunk(_ c: Int, of chunks: Int, n: Int) -> Range<Int> {
    let base = n / chunks, extra = n % chunks
    let lo = c * base + min(c, extra)
    return lo..<(lo + base + (c < extra ? 1 : 0))
  }

  /// Runs `body(chunkIndex, range)` over `0..<n` split into at most `threads`
  /// chunks of at least `grain` items. Chunks run concurrently and must write
  /// disjoint memory. Returns the number of chunks used.
  @discardableResult
  public static func forRanges(_ n: Int, grain: Int = 1, _ body: (Int, Range<Int>) -> Void) -> Int {
    guard n > 0 else { return 0 }
    let chunks = max(1, min(threads, n / max(1, grain)))
    if chunks == 1 {
      body(0, 0..<n)
      return 1
    }
    withoutActuallyEscaping(body) { body in
      nonisolated(unsafe) let work = body
      DispatchQueue.concurrentPerform(iterations: chunks) { c in
        work(c, chunk(c, of: chunks, n: n))
      }
    }
    return chunks
  }

  /// The number of chunks `forRanges(n, grain:)` will use (to size per-chunk scratch).
  public static func chunkCount(_ n: Int, grain: Int = 1) -> Int {
    max(1, min(threads, n / max(1, grain)))
  }
}

/// A raw float pointer that may be shared by Dispatch workers writing disjoint ranges.
public struct SharedPointer: @unchecked Sendable {
  public let base: UnsafeMutablePointer<Float>
  public init(_ base: UnsafeMutablePointer<Float>) { self.base = base }
}

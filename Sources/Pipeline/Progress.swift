//===--- Progress.swift - what a run prints --------------------------------===//
import Foundation

@inline(__always) func flushOut() { fflush(nil) }

/// Prints stage events. On a terminal it keeps a live last line (done/total,
/// running stages with their progress, elapsed, ETA); otherwise plain lines.
public final class ProgressReporter: @unchecked Sendable {
  public enum Mode: Sendable { case live, plain, quiet }
  let mode: Mode
  private let lock = NSLock()
  private var total = 0, done = 0
  private var running: [String: Double] = [:]
  private var start = Date()
  private var dryRun = false
  private var lastDraw = Date.distantPast

  public init(mode: Mode? = nil) {
    self.mode = mode ?? (isatty(STDOUT_FILENO) != 0 ? .live : .plain)
  }

  func emit(_ line: String) {
    guard mode != .quiet else { return }
    if mode == .live { print("\r\u{1B}[K" + line); drawLive(force: true) } else { print(line) }
    flushOut()
  }

  func drawLive(force: Bool = false) {
    guard mode == .live, Date().timeIntervalSince(lastDraw) > 0.1 || force else { return }
    lastDraw = Date()
    let elapsed = Date().timeIntervalSince(start)
    let eta =
      done > 0 && done < total ? String(format: ", ETA %.0fs", elapsed / Double(done) * Double(total - done)) : ""
    let names = running.sorted { $0.key < $1.key }.prefix(3).map { name, f in
      f > 0 ? "\(name) \(Int(f * 100))%" : name
    }.joined(separator: ", ")
    let more = running.count > 3 ? " +\(running.count - 3)" : ""
    print(
      "\r\u{1B}[K[\(done)/\(total)] \(String(format: "%.1fs", elapsed))\(eta)  running: \(names)\(more)", terminator: ""
    )
    flushOut()
  }

  func start(total: Int, dryRun: Bool) {
    lock.lock(); defer { lock.unlock() }
    self.total = total; done = 0; running = [:]; start = Date(); self.dryRun = dryRun
  }

  func started(_ stage: String) {
    lock.lock(); defer { lock.unlock() }
    running[stage] = 0
    if mode == .plain { print("running \(stage)"); flushOut() } else { drawLive(force: true) }
  }

  func requeued(_ stage: String) { lock.lock(); running[stage] = nil; lock.unlock() }

  func progress(_ stage: String, _ f: Double, _ note: String?) {
    lock.lock(); defer { lock.unlock() }
    running[stage] = f
    drawLive()
  }

  func note(_ s: String) { lock.lock(); defer { lock.unlock() }; emit("note: " + s) }

  func event(_ stage: String, _ o: StageOutcome) {
    lock.lock(); defer { lock.unlock() }
    running[stage] = nil
    done += 1
    switch o {
    case .cached: emit("cached   \(stage)")
    case .ran(let s): emit(String(format: "ran      %@ (%.2fs)", stage, s))
    case .failed(let m): emit("FAILED   \(stage): \(m)")
    case .skipped(let m): emit("skipped  \(stage): \(m)")
    case .wouldRun(let m): emit("would run \(stage): \(m)")
    }
  }

  func finish(_ s: RunSummary) {
    lock.lock(); defer { lock.unlock() }
    guard mode != .quiet else { return }
    if mode == .live { print("\r\u{1B}[K", terminator: "") }
    let ran = s.ran.count, failed = s.failed.count
    let cached = s.outcomes.values.filter { $0 == .cached }.count
    print(String(format: "%d ran, %d cached, %d failed in %.2fs", ran, cached, failed, Date().timeIntervalSince(start)))
    flushOut()
  }
}

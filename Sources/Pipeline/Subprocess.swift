//===--- Subprocess.swift - a child in its own process group ---------------===//
import Foundation

enum Subprocess {
  /// Set in a stage's own process (`stage-exec`): commands it starts stay in its
  /// process group, so cancelling or orphan-killing the stage reaches them too.
  nonisolated(unsafe) static var shareProcessGroup = false

  struct Exit {
    /// Exit status, or 128 + signal if killed.
    var status: Int32
    /// The signal that killed it (nil: it exited).
    var signal: Int32?
    /// Peak resident set size of the child, bytes (getrusage ru_maxrss).
    var peakRSS: Int
  }

  /// Runs `argv` with stdout and stderr on `output`, in a new process group,
  /// polling `cancelled`: on cancellation the whole group gets SIGTERM, then
  /// SIGKILL after 2 s. Returns the exit status (128 + signal if killed).
  static func run(
    _ argv: [String], environment: [String: String], output: Int32,
    cancelled: () -> Bool
  ) throws -> Int32 {
    try spawn(argv, environment: environment, output: output, cancelled: cancelled).status
  }

  /// `run`, plus: lines the child writes to its fd 3 are handed to `onLine`; the
  /// child's signal and peak memory are returned.
  static func spawn(
    _ argv: [String], environment: [String: String], output: Int32,
    cancelled: () -> Bool, onLine: ((String) -> Void)? = nil
  ) throws -> Exit {
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    let ownGroup = !shareProcessGroup
    if ownGroup {
      posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
      posix_spawnattr_setpgroup(&attr, 0)
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, output, 1)
    posix_spawn_file_actions_adddup2(&actions, output, 2)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    var fds: [Int32] = [-1, -1]
    if onLine != nil {
      guard pipe(&fds) == 0 else { throw PipelineError.io(path: argv[0], message: "cannot create a pipe") }
      for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }  // only the dup2'd fd 3 reaches the child
      _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
      posix_spawn_file_actions_adddup2(&actions, fds[1], 3)
    }
    let cArgs = argv.map { strdup($0) } + [nil]
    let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in cArgs + cEnv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgs, cEnv)
    if fds[1] >= 0 { close(fds[1]) }
    defer { if fds[0] >= 0 { close(fds[0]) } }
    guard rc == 0 else {
      throw PipelineError.io(path: argv[0], message: "cannot start: \(String(cString: strerror(rc)))")
    }
    let target = ownGroup ? -pid : pid
    var pendingLine = Data()
    func drain() {
      guard fds[0] >= 0, let onLine else { return }
      var buf = [UInt8](repeating: 0, count: 4096)
      while true {
        let n = read(fds[0], &buf, buf.count)
        if n <= 0 { break }
        pendingLine.append(contentsOf: buf[0..<n])
        while let nl = pendingLine.firstIndex(of: 10) {
          onLine(String(decoding: pendingLine[pendingLine.startIndex..<nl], as: UTF8.self))
          pendingLine.removeSubrange(pendingLine.startIndex...nl)
        }
      }
    }
    var status: Int32 = 0
    var usage = rusage()
    var termSent: Date?
    while true {
      let r = wait4(pid, &status, WNOHANG, &usage)
      if r == pid { break }
      if r < 0 && errno != EINTR { break }
      drain()
      if cancelled() {
        if termSent == nil {
          kill(target, SIGTERM); termSent = Date()
        } else if Date().timeIntervalSince(termSent!) > 2 {
          kill(target, SIGKILL)
        }
      }
      usleep(termSent == nil ? 1000 : 10_000)
    }
    drain()
    if cancelled() && ownGroup { kill(-pid, SIGKILL) }  // stragglers of the group
    let rss = Int(usage.ru_maxrss) * 1024
    if status & 0x7f == 0 { return Exit(status: (status >> 8) & 0xff, signal: nil, peakRSS: rss) }
    return Exit(status: 128 + (status & 0x7f), signal: status & 0x7f, peakRSS: rss)
  }
}

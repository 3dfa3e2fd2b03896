//===--- Subprocess.swift - a child in its own process group ---------------===//
import Foundation

enum Subprocess {
  /// Runs `argv` with stdout and stderr on `output`, in a new process group,
  /// polling `cancelled`: on cancellation the whole group gets SIGTERM, then
  /// SIGKILL after 2 s. Returns the exit status (128 + signal if killed).
  static func run(_ argv: [String], environment: [String: String], output: Int32,
                  cancelled: () -> Bool) throws -> Int32 {
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
    posix_spawnattr_setpgroup(&attr, 0)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, output, 1)
    posix_spawn_file_actions_adddup2(&actions, output, 2)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    let cArgs = argv.map { strdup($0) } + [nil]
    let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in cArgs + cEnv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgs, cEnv)
    guard rc == 0 else { throw PipelineError.io(path: argv[0], message: "cannot start: \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    var termSent: Date?
    while true {
      let r = waitpid(pid, &status, WNOHANG)
      if r == pid { break }
      if r < 0 && errno != EINTR { break }
      if cancelled() {
        if termSent == nil { kill(-pid, SIGTERM); termSent = Date() }
        else if Date().timeIntervalSince(termSent!) > 2 { kill(-pid, SIGKILL) }
      }
      usleep(termSent == nil ? 1000 : 10_000)
    }
    if cancelled() { kill(-pid, SIGKILL) }  // stragglers of the group
    if status & 0x7f == 0 { return (status >> 8) & 0xff }
    return 128 + (status & 0x7f)
  }
}

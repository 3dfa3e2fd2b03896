//===--- ShellKind.swift - the built-in `shell` kind -----------------------===//
//
//   stages:
//     prepare:
//       kind: shell
//       params:
//         cmd: python3 scripts/prep.py --out "$OUT/table.csv"
//         outs: [table.csv]            # files the command must create in $OUT
//         deps: [scripts/prep.py]      # project files it reads (hashed into the key)
// The command runs with /bin/sh in the project root. $OUT is the stage's
// output folder; $IN_<STAGE> (upper-cased, non-alphanumerics as _) is the
// output folder of each needed stage; `in/<stage>` links exist in $WORK.
//===----------------------------------------------------------------------===//
import Foundation

public struct ShellKind: StageKind {
  public init() {}
  public let name = "shell"
  public let version = 1
  public let parameters: [ParameterSpec] = [
    ParameterSpec("cmd", help: "shell command (run with /bin/sh -c in the project root)"),
    ParameterSpec("outs", default: .array([]), help: "files the command must create in $OUT"),
    ParameterSpec("deps", default: .array([]), help: "project files the command reads; their content is hashed"),
  ]

  /// The parameters: the command, the files it must create in $OUT, the project files it reads.
  struct Values: Decodable {
    var cmd: String
    var outs, deps: [String]
  }

  public func externalInputs(
    params: [String: Value], projectRoot: String, hasher: FileHasher
  ) throws -> [String: String] {
    let v = try Parameters.decode(Values.self, from: params, context: "shell stage")
    var out: [String: String] = [:]
    for rel in v.outs where rel.isEmpty || rel.hasPrefix("/") || rel.split(separator: "/").contains("..") {
      throw PipelineError.parameter("outs entry \(Value.quote(rel)) must be a path inside $OUT (relative, no '..')")
    }
    for rel in v.deps {
      guard !rel.isEmpty else { throw PipelineError.parameter("deps entry \"\" must be a file path") }
      let full = rel.hasPrefix("/") ? rel : projectRoot + "/" + rel
      out[rel] = try hasher.hash(file: full)
    }
    return out
  }

  public static func envName(_ stage: String) -> String {
    "IN_" + String(stage.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
  }

  public func run(_ ctx: StageContext) throws {
    let v = try ctx.decode(Values.self), cmd = v.cmd
    var env = ProcessInfo.processInfo.environment
    env["OUT"] = ctx.outputDir
    env["WORK"] = ctx.workDir
    for (stage, dir) in ctx.inputs { env[Self.envName(stage)] = dir }
    let status = try Subprocess.run(
      ["/bin/sh", "-c", "cd '\(ctx.projectRoot.replacingOccurrences(of: "'", with: "'\\''"))' && \(cmd)"],
      environment: env, output: ctx.logFileHandle.fileDescriptor, cancelled: { ctx.isCancelled })
    if ctx.isCancelled { throw PipelineError.cancelled }
    guard status == 0 else {
      throw PipelineError.stageFailed(stage: ctx.stage, message: "command exited with status \(status): \(cmd)")
    }
    for rel in v.outs {
      if !FileManager.default.fileExists(atPath: ctx.outputDir + "/" + rel) {
        throw PipelineError.stageFailed(stage: ctx.stage, message: "declared output '\(rel)' was not created in $OUT")
      }
    }
  }
}

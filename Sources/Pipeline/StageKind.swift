//===--- StageKind.swift - what a stage kind declares ----------------------===//
import Foundation

/// One parameter a kind accepts, with its default (nil = required).
public struct ParameterSpec: Sendable {
  public var name: String
  public var defaultValue: Value?
  public var help: String
  public init(_ name: String, default defaultValue: Value? = nil, help: String = "") {
    self.name = name
    self.defaultValue = defaultValue
    self.help = help
  }
}

/// What a running stage sees.
public final class StageContext: @unchecked Sendable {
  public let stage: String
  /// The stage's kind (`finetune`, `shpeft`, ...).
  public let kindName: String
  public let params: [String: Value]
  /// Output folder of each needed stage, by stage name (read-only).
  public let inputs: [String: String]
  /// Where the stage writes its outputs (a temporary folder, moved into the cache on success).
  public let outputDir: String
  /// Scratch folder that is deleted afterwards.
  public let workDir: String
  public let projectRoot: String
  let logHandle: FileHandle
  let progressSink: (Double, String?) -> Void
  let cancelled: () -> Bool

  init(stage: String, kindName: String, params: [String: Value], inputs: [String: String], outputDir: String, workDir: String,
       projectRoot: String, log: FileHandle, progress: @escaping (Double, String?) -> Void,
       cancelled: @escaping () -> Bool) {
    self.stage = stage
    self.kindName = kindName
    self.params = params
    self.inputs = inputs
    self.outputDir = outputDir
    self.workDir = workDir
    self.projectRoot = projectRoot
    logHandle = log
    progressSink = progress
    self.cancelled = cancelled
  }

  /// Appends a line to the stage's log (stored in the cache).
  public func log(_ line: String) { logHandle.write(Data((line + "\n").utf8)) }
  /// Reports progress in [0, 1] (e.g. training steps done / total).
  public func progress(_ fraction: Double, _ note: String? = nil) { progressSink(fraction, note) }
  /// True once the run is being cancelled (Ctrl-C): long stages should stop.
  public var isCancelled: Bool { cancelled() }
  public var logFileHandle: FileHandle { logHandle }
}

/// A kind of stage (shell, finetune, sparsity, ...). Registered with the runner.
public protocol StageKind: Sendable {
  var name: String { get }
  /// Bump when the kind's code changes what it computes: its stages rerun.
  var version: Int { get }
  var parameters: [ParameterSpec] { get }
  /// Content hashes of files outside the cache that the stage reads (they
  /// enter the cache key), e.g. a script or dataset files.
  func externalInputs(params: [String: Value], projectRoot: String, hasher: FileHasher) throws -> [String: String]
  func run(_ context: StageContext) throws
  /// What a Slurm job of this kind asks for unless the stage's `resources:` says otherwise.
  var defaultResources: Resources { get }
}

extension StageKind {
  public func externalInputs(params: [String: Value], projectRoot: String, hasher: FileHasher) throws -> [String: String] { [:] }
  public var defaultResources: Resources { Resources() }
}

/// The kinds a runner knows.
public struct StageRegistry: Sendable {
  public private(set) var kinds: [String: any StageKind] = [:]
  public init(_ kinds: [any StageKind] = [ShellKind()]) { for k in kinds { register(k) } }
  public mutating func register(_ kind: any StageKind) { kinds[kind.name] = kind }
}

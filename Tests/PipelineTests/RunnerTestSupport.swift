import Foundation
import Pipeline
import TestSupport
import XCTest

/// A project folder with a pipeline file, a cache, and helpers to run it.
final class Project {
  let root: String
  let pipelinePath: String
  var registry = StageRegistry()

  init(_ yaml: String, name: String = #function) throws {
    root =
      FileManager.default.temporaryDirectory.appendingPathComponent(
        "peftlab-runner-\(getpid())-\(name.filter(\.isLetter))-\(UInt32.random(in: 0...UInt32.max))"
      ).path
    try FileManager.default.createDirectory(atPath: root + "/Pipelines", withIntermediateDirectories: true)
    pipelinePath = root + "/Pipelines/p.yaml"
    try write(yaml)
  }

  deinit { try? FileManager.default.removeItem(atPath: root) }

  func write(_ yaml: String) throws { try yaml.write(toFile: pipelinePath, atomically: true, encoding: .utf8) }

  func runner(profile: String? = nil) throws -> Runner {
    let p = try Pipeline.load(pipelinePath, profile: profile, registry: registry)
    return Runner(
      pipeline: p, registry: registry, cache: try Cache(root: root + "/.peftlab"), projectRoot: root,
      reporter: ProgressReporter(mode: .quiet))
  }

  @discardableResult
  func run(
    _ targets: [String] = [], jobs: Int = 2, force: Bool = false, forceDownstream: Bool = false,
    profile: String? = nil
  ) throws -> RunSummary {
    var o = RunOptions()
    o.targets = targets
    o.jobs = jobs
    o.force = force
    o.forceDownstream = forceDownstream
    return try runner(profile: profile).run(o)
  }

  func output(_ stage: String, _ file: String) throws -> String {
    let st = try runner().status().first { $0.stage == stage }!
    return try String(contentsOfFile: root + "/.peftlab/objects/" + st.output! + "/" + file, encoding: .utf8)
  }
}

func launch(_ args: [String], cwd: String) throws -> Process {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: peftlabBinary())
  p.arguments = args
  p.currentDirectoryURL = URL(fileURLWithPath: cwd)
  p.standardOutput = FileHandle.nullDevice
  p.standardError = FileHandle.nullDevice
  try p.run()
  return p
}

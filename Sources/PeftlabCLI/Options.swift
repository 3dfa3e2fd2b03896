//===--- Options.swift - options shared by several subcommands -------------===//
import ArgumentParser
import Foundation
import Kernels
import Model

struct ThreadOptions: ParsableArguments {
  @Option(help: "Worker threads for every kernel (default: all cores). Fixed seed + fixed threads = identical numbers.")
  var threads: Int?

  func apply() {
    if let threads { Parallel.threads = threads }
  }
}

struct ModelOptions: ParsableArguments {
  @Option(help: "Architecture preset: \(ViTConfig.presets.keys.sorted().joined(separator: ", ")).")
  var preset: String = "micro"

  @Option(help: "Classifier head: linear or l2_linear (SH-PEFT).")
  var head: String = "l2_linear"

  @Option(help: "Fixed logit scale s of the l2_linear head: logits = W·(s·f/‖f‖) + b (1: the paper's head).")
  var headScale: Float = 1

  func config(classes: Int? = nil) throws -> ViTConfig {
    var c = try ViTConfig.preset(preset)
    guard let h = HeadKind(rawValue: head) else {
      throw ValidationError("unknown head '\(head)' (linear, l2_linear)")
    }
    c.head = h
    c.headScale = headScale
    if let classes { c.numClasses = classes }
    return c
  }
}

/// Errors from the library, printed as "error: <file>: <what>" with exit code 1.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
  do { return try body() } catch let e as ModelError {
    throw CLIError(message: e.description)
  } catch let e as CLIError {
    throw e
  } catch let e as ValidationError {
    throw e
  } catch {
    throw CLIError(message: "\(error)")
  }
}

struct CLIError: Error, CustomStringConvertible {
  var message: String
  var description: String { message }
}

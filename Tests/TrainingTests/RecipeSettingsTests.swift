import Pipeline
import Stages
import TestSupport
import Training
import XCTest

/// `peftlab train` and the pipeline's training kinds share one recipe: the same defaults, checks and config.
final class RecipeSettingsTests: XCTestCase {
  func testDefaultsAreTheFinetuneKindsAndOptionsOverrideThem() throws {
    let finetune = try XCTUnwrap(StandardStages.registry.kinds["finetune"])
    let r = try RecipeSettings([:])
    for name in ["steps", "batch", "optimizer", "lr", "momentum", "weight_decay", "warmup", "clip", "seed", "augment"] {
      let spec = try XCTUnwrap(finetune.parameters.first { $0.name == name }, name)
      XCTAssertEqual(r.parameters[name], spec.defaultValue, name)
    }
    XCTAssertEqual(r.config.batchSize, 64)
    XCTAssertNil(r.config.clipNorm)
    XCTAssertNotNil(r.augmentation)
    guard case .sgd(let momentum, let wd) = r.config.optimizer else { return XCTFail("\(r.config.optimizer)") }
    XCTAssertEqual(momentum, 0.9)
    XCTAssertEqual(wd, 0)

    let o = try RecipeSettings([
      "optimizer": .string("adamw"), "lr": .double(3e-3), "clip": .double(1), "augment": .bool(false), "steps": .int(7),
    ])
    XCTAssertEqual(o.steps, 7)
    XCTAssertEqual(o.config.clipNorm, 1)
    XCTAssertNil(o.augmentation)
    guard case .adamw = o.config.optimizer else { return XCTFail("\(o.config.optimizer)") }
  }

  func testTheBatchIsAtMostTheTrainingImagesAsInThePipeline() throws {
    let small = try RecipeSettings(["batch": .int(64)], trainImages: 8)
    XCTAssertEqual(small.batch, 8)
    XCTAssertEqual(small.config.batchSize, 8)
    XCTAssertEqual(try RecipeSettings(["batch": .int(32)], trainImages: 100).config.batchSize, 32)
  }

  func testABadOptionIsAnErrorNamingIt() {
    for (o, words) in [
      (["lr": Value.double(-1)], "lr must be >"), (["optimizer": .string("rmsprop")], "optimizer must be one of"),
      (["crop_min": .double(2)], "crop_min must be ≤ 1"),
      (["nonsense": .int(1)], "unknown recipe parameter 'nonsense'"),
    ] {
      XCTAssertThrowsError(try RecipeSettings(o)) { XCTAssertTrue("\($0)".contains(words), "\($0)") }
    }
  }

  /// `peftlab train -S key=value` sets a recipe parameter by its pipeline name (a YAML scalar); a bad key, value or
  /// form exits non-zero naming it, and `--help` lists the recipe's parameters from the same specs.
  func testTrainCommandTakesRecipeParametersByPipelineName() throws {
    let dir = temporaryPath("")
    let ok = try runPeftlab(
      [
        "train", "--preset", "micro", "-S", "steps=2", "--set", "batch=8", "-S", "optimizer=adamw", "-S",
        "augment=false",
        "--train-images", "16", "--test-images", "8", "--threads", "1",
      ], cwd: dir)
    XCTAssertEqual(ok.status, 0, ok.output)
    for words in ["steps 2", "batch 8", "optimizer \"adamw\"", "augment false", "trained 2 steps"] {
      XCTAssertTrue(ok.output.contains(words), "\(words): \(ok.output)")
    }
    for (args, words) in [
      (["-S", "stepz=2"], "unknown recipe parameter 'stepz'"), (["-S", "lr=-1"], "lr must be >"),
      (["-S", "steps"], "--set takes key=value"), (["-S", "optimizer=rmsprop"], "optimizer must be one of"),
    ] {
      let r = try runPeftlab(["train", "--preset", "micro"] + args, cwd: dir)
      XCTAssertNotEqual(r.status, 0, r.output)
      XCTAssertTrue(r.output.contains(words), "\(args): \(r.output)")
    }
    let help = try runPeftlab(["train", "--help"], cwd: dir).output
    for name in RecipeSettings.specs.map(\.name) { XCTAssertTrue(help.contains("  \(name): "), "\(name): \(help)") }
  }
}

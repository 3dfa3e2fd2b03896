import Pipeline
import Stages
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

  func testABadOptionIsAnErrorNamingIt() {
    for (o, words) in [
      (["lr": Value.double(-1)], "lr must be >"), (["optimizer": .string("rmsprop")], "optimizer must be one of"),
      (["crop_min": .double(2)], "crop_min must be ≤ 1"),
      (["nonsense": .int(1)], "unknown recipe parameter 'nonsense'"),
    ] {
      XCTAssertThrowsError(try RecipeSettings(o)) { XCTAssertTrue("\($0)".contains(words), "\($0)") }
    }
  }
}

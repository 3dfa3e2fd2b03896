import Foundation
import Kernels
import XCTest

final class FastMathTests: XCTestCase {
  func testExpMatchesLibm() {
    var worst = 0.0
    var x: Float = -87
    while x < 88 {
      let ref = Foundation.exp(Double(x))
      worst = max(worst, abs(Double(FastMath.exp(x)) - ref) / ref)
      x += 0.0137
    }
    XCTAssertLessThan(worst, 5e-7, "relative error of exp")
    XCTAssertEqual(FastMath.exp(0), 1)
    XCTAssertEqual(FastMath.exp(-200), 0, accuracy: 1e-37)
    XCTAssertTrue(FastMath.exp(200).isFinite)
  }

  func testErfMatchesLibm() {
    var worst = 0.0
    var x: Float = -6
    while x < 6 {
      worst = max(worst, abs(Double(FastMath.erf(x)) - Foundation.erf(Double(x))))
      x += 0.00371
    }
    XCTAssertLessThan(worst, 5e-7, "absolute error of erf (~6 ulp near 1)")
  }
}

//===--- Published.swift - Reports/published.yaml, typed ------------------===//
//
// The numbers the papers publish (typed in from the papers; the only hard-coded numbers of the report):
// SH-PEFT's Tables 1, 4, 5 (F1 %), FPT+'s Table 1 (AUC %, trainable %, memory MB), each by method or setting.
//===----------------------------------------------------------------------===//
import Foundation
import Pipeline
import Storage

struct PublishedNumbers: Decodable {
  struct SHPEFT: Decodable {
    var table1AvgF1, table4F1, table5F1: [String: Double]
  }
  struct FPTPlus: Decodable {
    var table1AvgAuc, table1ParamsPercent, table1MemoryMb: [String: Double]
  }
  var shPeft: SHPEFT
  var fptPlus: FPTPlus
  enum CodingKeys: String, CodingKey { case shPeft = "sh-peft", fptPlus = "fpt-plus" }

  /// The figure stage's `published` file, or an error naming it and what is wrong.
  static func read(_ i: FigureInput) throws -> PublishedNumbers {
    let file = i.ctx.projectRoot + "/" + i.parameters.published
    func bad(_ m: String) -> PipelineError { .stageFailed(stage: i.ctx.stage, message: "\(file): \(m)") }
    guard let text = try? String(contentsOfFile: file, encoding: .utf8), let y = try loadYAML(text, path: file) else {
      throw bad("cannot read the published numbers")
    }
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    do {
      return try decoder.decode(Self.self, from: try JSONSerialization.data(withJSONObject: y))
    } catch let e as DecodingError {
      throw bad(DecodingFailure.describe(e, subject: "field"))
    }
  }
}

//===--- MethodCount.swift - every method's trainable parameters on a config ===//
import Model
import Outputs

/// What `peftlab methods` prints and the memory-scaling stage records: per method its own
/// parameters, the head's, the trainable total and the ratio to all parameters of the model as
/// trained (FPT/FPT+: frozen model incl. its head + side ViT + fusion, as the FPT code prints it).
public enum MethodCount {
  public static func rows(config c0: ViTConfig, classes: Int, options o: MethodOptions) throws -> [ParameterCount] {
    var c = c0
    c.numClasses = classes
    let L = ViTLayout(c)
    var rows: [ParameterCount] = []
    for m in PEFTMethod.allCases {
      let method: Int, head: Int, total: Int
      var denominator = "model + head + added modules"
      if m.isSideTuning {
        let plan = try SideTuningPlan(plus: m == .fptPlus, frozen: c0, classes: classes, options: o.side)
        let sideHead = classes * plan.side.width + classes
        head = sideHead
        method = plan.trainableParameters() - sideHead
        total = plan.totalParameters(frozenParameters: ViTLayout(c0).totalCount)
        denominator =
          "frozen model (\(c0.numClasses)-class head) + side \(plan.side.width)×\(plan.side.depth) "
          + "@\(plan.side.imageSize)px + fusion"
      } else {
        let s = MethodSetup.make(m, config: c, options: o)
        method = s.methodParameters(L)
        head = s.headParameters(L)
        total = s.totalParameters(L)
      }
      rows.append(
        ParameterCount(
          method: m.rawValue, methodParameters: method, headParameters: head, totalParameters: total,
          denominator: denominator, summary: m.summary))
    }
    return rows
  }
}

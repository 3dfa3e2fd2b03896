//===--- SPT.swift - SPT-LoRA's parameter allocation (He et al., ICCV 2023) --===//
//
// ziplab/SPT `engine.py get_sensitivity` and the allocation after it:
//   sensitivity = Σ_batches (mini-batch gradient)² per weight; candidates are
//   the backbone minus cls_token, patch_embed, pos_embed; take the global
//   top-τ. A matrix (q, k, v, proj, fc1, fc2 of each block) with at least
//   (in·r + r·out)/α of its entries in the top-τ is tuned structurally with
//   LoRA (r = 8, α = 10, no α/r scaling); otherwise its top-τ entries are
//   tuned unstructured. A vector (norm or bias) with ≥ dim/β (β = 5) entries
//   in the top-τ trains whole, else its entries. cls_token always trains.
//   τ is chosen as the largest with total ≤ budget (SPT sweeps budgets in
//   0.02 M steps and keeps the closest).
//===----------------------------------------------------------------------===//
import Model

public struct SPTAllocation: Sendable {
  /// Flat backbone indices that train unstructured (incl. whole vectors and cls_token).
  public var elements: [Int]
  /// Matrices tuned with LoRA.
  public var targets: [(Int, LinearTarget)]
  public var unstructured: Int
  public var total: Int
  public var tau: Int

  enum Group { case matrix(Int, LinearTarget, params: Int), vector(count: Int), excluded }

  public static func allocate(
    sensitivity: [Float], layout L: ViTLayout, budget: Int, rank r: Int = 8, alpha: Double = 10, beta: Double = 5
  ) -> SPTAllocation {
    // group of every tensor range (q/k/v are row blocks of qkv.weight)
    var ranges: [(Range<Int>, Group)] = []
    let c = L.config
    for i in L.backboneTensors {
      let t = L.tensors[i]
      if t.name == "cls_token" || t.name == "pos_embed" || t.name.hasPrefix("patch_embed") {
        ranges.append((t.range, .excluded)); continue
      }
      if t.shape.count < 2 { ranges.append((t.range, .vector(count: t.count))); continue }
      let layer = Int(t.name.split(separator: ".")[1])!
      if t.name.hasSuffix("attn.qkv.weight") {
        for (j, tg) in [LinearTarget.q, .k, .v].enumerated() {
          let g = tg.geometry(c)
          let lo = t.offset + j * c.width * c.width
          ranges.append((lo..<(lo + c.width * c.width), .matrix(layer, tg, params: r * (g.inp + g.out))))
        }
        continue
      }
      let tg: LinearTarget = t.name.hasSuffix("attn.proj.weight") ? .proj : t.name.hasSuffix("fc1.weight") ? .fc1 : .fc2
      let g = tg.geometry(c)
      ranges.append((t.range, .matrix(layer, tg, params: r * (g.inp + g.out))))
    }
    ranges.sort { $0.0.lowerBound < $1.0.lowerBound }
    var groupOf = [Int32](repeating: -1, count: sensitivity.count)
    for (gi, (rg, grp)) in ranges.enumerated() {
      if case .excluded = grp { continue }
      for j in rg { groupOf[j] = Int32(gi) }
    }
    let order = (0..<sensitivity.count).filter { groupOf[$0] >= 0 }.sorted {
      sensitivity[$0] > sensitivity[$1] || (sensitivity[$0] == sensitivity[$1] && $0 < $1)
    }
    let cls = L.tensors[L.cls]

    func evaluate(_ tau: Int) -> SPTAllocation {
      var counts = [Int](repeating: 0, count: ranges.count)
      for j in order.prefix(tau) { counts[Int(groupOf[j])] += 1 }
      var lora = Set<Int>(), wholeVec = Set<Int>(), total = cls.count
      var targets: [(Int, LinearTarget)] = []
      for (gi, (_, grp)) in ranges.enumerated() {
        switch grp {
        case .matrix(let l, let tg, let params):
          if Double(counts[gi]) >= Double(params) / alpha && counts[gi] > 0 {
            lora.insert(gi); targets.append((l, tg)); total += params
          } else {
            total += counts[gi]
          }
        case .vector(let n):
          if Double(counts[gi]) >= Double(n) / beta && counts[gi] > 0 {
            wholeVec.insert(gi); total += n
          } else {
            total += counts[gi]
          }
        case .excluded: break
        }
      }
      var el: [Int] = Array(cls.range)
      var unstructured = 0
      for j in order.prefix(tau) {
        let gi = Int(groupOf[j])
        if lora.contains(gi) || wholeVec.contains(gi) { continue }
        el.append(j); unstructured += 1
      }
      for gi in wholeVec { el.append(contentsOf: ranges[gi].0) }
      el.sort()
      return SPTAllocation(elements: el, targets: targets, unstructured: unstructured, total: total, tau: tau)
    }
    var lo = 0, hi = min(order.count, max(budget, 0))
    while lo < hi {
      let mid = (lo + hi + 1) / 2
      if evaluate(mid).total <= budget { lo = mid } else { hi = mid - 1 }
    }
    return evaluate(lo)
  }
}

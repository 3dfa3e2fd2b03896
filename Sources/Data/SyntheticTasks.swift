//===--- SyntheticTasks.swift - the embedded medical-like suite ------------===//
//
// Six tasks mirroring SH-PEFT's datasets, plus a many-class upstream set.
// Each image is a random scene of its modality; the class changes only a
// few local structures, with a strength `cue` (1 = default) that the
// calibration tunes — never the labels or the metrics — and, for OCT, a
// `finding_scale` (1 = default): the findings' size in the frame.
//   pathology  (Chaoyang-like)  normal | serrated | adenocarcinoma | adenoma
//   ct         (COVID19-CT-like) non-covid | covid
//   ultrasound (BUSI-like)      normal | benign | malignant
//   xray       (pediatric CXR)  normal | bacterial | viral
//   oct        (retinal OCT)    cnv | dme | drusen | normal
//   endoscopy  (LIMUC-like)     mayo 0 | 1 | 2 | 3
//   upstream   61 findings (10 motif kinds × 2 polarities × 3 shapes, and none),
//              each drawn on any scene with every other attribute random
//              (SyntheticVocabulary.swift; manifest: `classes: {count: 61, prefix: finding-}`)
//===----------------------------------------------------------------------===//
import Dispatch
import Foundation
import Storage

public enum SyntheticTask: String, CaseIterable, Sendable {
  case pathology, ct, ultrasound, xray, oct, endoscopy, upstream

  public var classes: [String] {
    switch self {
    case .pathology: return ["normal", "serrated", "adenocarcinoma", "adenoma"]
    case .ct: return ["non-covid", "covid"]
    case .ultrasound: return ["normal", "benign", "malignant"]
    case .xray: return ["normal", "bacterial", "viral"]
    case .oct: return ["cnv", "dme", "drusen", "normal"]
    case .endoscopy: return ["mayo 0", "mayo 1", "mayo 2", "mayo 3"]
    case .upstream: return []  // as many recipes as the manifest asks for (UpstreamRecipe)
    }
  }

  public var channels: Int {
    switch self {
    case .pathology, .endoscopy, .upstream: return 3
    default: return 1
    }
  }

  /// Renders one image of class `label` at `size` px; the scene comes from the shared vocabulary
  /// (SyntheticVocabulary.swift), the class-specific structures from here. `scale` multiplies the size of
  /// the findings (OCT only; 1 draws the default).
  func draw(_ label: Int, size: Int, cue: Double, scale: Double = 1, rng: inout Xoshiro256) -> Sketch {
    func u(_ a: Double, _ b: Double) -> Double { a + (b - a) * rng.uniform() }
    let scene: Scene
    switch self {
    case .pathology: scene = .pathology
    case .ct: scene = .ct
    case .ultrasound: scene = .ultrasound
    case .xray: scene = .xray
    case .oct: scene = .oct
    case .endoscopy: scene = .endoscopy
    case .upstream: preconditionFailure("upstream images come from UpstreamRecipe")
    }
    var (s, g) = scene.draw(size: size, rng: &rng)
    switch self {
    case .pathology:
      // glands: light lumens ringed by nuclei; the ring's regularity is the cue
      let glands = Int(u(2, 4))
      for _ in 0..<glands {
        let cx = u(0.2, 0.8), cy = u(0.2, 0.8), r = u(0.1, 0.17)
        s.ellipse(cx, cy, r * 0.75, r * 0.6, angle: u(0, 3), color: [0.98, 0.95, 0.97], alpha: 0.8)
        let n = Int(u(9, 13))
        for k in 0..<n {
          var a = Double(k) / Double(n) * 2 * .pi
          var rr = r
          switch label {
          case 1: rr *= 1 + 0.25 * cue * (k % 2 == 0 ? 1 : -0.6)  // serrated: saw-tooth ring
          case 2: rr *= 1 + 0.45 * cue * (rng.uniform() - 0.5); a += 0.5 * cue * (rng.uniform() - 0.5)  // disorganised
          default: break
          }
          let big = label == 2 ? 1 + 0.7 * cue * rng.uniform() : 1
          let elong = label == 3 ? 1 + 0.9 * cue : 1  // adenoma: elongated, crowded nuclei
          s.ellipse(
            cx + rr * cos(a), cy + rr * sin(a) * 0.8, 0.03 * big, 0.03 * big * elong, angle: a,
            color: [0.35, 0.18, 0.5], alpha: Float(0.85))
        }
      }
      let scattered = Int(u(6, 12) + (label == 3 ? 10 * cue : 0) + (label == 2 ? 5 * cue : 0))
      for _ in 0..<scattered {
        s.ellipse(
          u(0, 1), u(0, 1), 0.018, 0.018 * (label == 3 ? 1 + 0.8 * cue : 1), angle: u(0, 3),
          color: [0.4, 0.2, 0.55], alpha: 0.7)
      }
    case .ct:
      let (lx, rx) = g.lungs
      if label == 1 {  // ground-glass opacities: faint, peripheral, often bilateral
        for _ in 0..<Int(u(1, 4)) {
          let left = rng.uniform() < 0.5
          let cx = (left ? lx - 0.07 : rx + 0.07) + u(-0.03, 0.03)
          s.ellipse(
            cx, u(0.35, 0.68), u(0.04, 0.08), u(0.05, 0.1), color: [0.32], alpha: Float(min(1, 0.55 * cue)), soft: 0.8)
        }
      } else if rng.uniform() < 0.35 {  // non-covid: a small solid nodule sometimes
        s.ellipse(rng.uniform() < 0.5 ? lx : rx, u(0.35, 0.65), 0.02, 0.02, color: [0.5], alpha: 0.8)
      }
    case .ultrasound:
      let cx = u(0.35, 0.65), cy = u(0.45, 0.7)
      if label == 1 {  // benign: oval, wider than tall, smooth margin
        s.ellipse(
          cx, cy, u(0.12, 0.18), u(0.07, 0.1), angle: u(-0.2, 0.2), color: [0.12],
          alpha: Float(min(0.9, 0.25 + 0.65 * cue)), soft: 0.2)
      } else if label == 2 {  // malignant: irregular margin, taller than wide, posterior shadow
        let r = u(0.08, 0.12)
        s.ellipse(
          cx, cy, r, r * (1 + 0.3 * cue), color: [0.1], alpha: Float(min(0.9, 0.25 + 0.65 * cue)), soft: 0.1,
          rough: 0.35 * cue,
          lobes: Int(u(6, 10)), phase: u(0, 6))
        s.ellipse(cx, min(0.98, cy + 0.25), r * 0.8, 0.2, color: [0.15], alpha: Float(0.45 * cue), soft: 0.8)
      } else if rng.uniform() < 0.5 {  // normal: a small cyst-like dark spot at times
        s.ellipse(cx, cy, 0.05, 0.04, color: [0.2], alpha: 0.6)
      }
    case .xray:
      if label == 1 {  // bacterial: one dense focal (lobar) consolidation
        let left = rng.uniform() < 0.5
        s.ellipse(
          left ? 0.3 : 0.7, u(0.45, 0.7), u(0.06, 0.09), u(0.07, 0.11), color: [0.7], alpha: Float(min(1, 0.75 * cue)),
          soft: 0.5)
      } else if label == 2 {  // viral: diffuse, bilateral, streaky perihilar opacities
        for _ in 0..<Int(u(6, 10)) {
          let left = rng.uniform() < 0.5, x0 = left ? 0.42 : 0.58
          s.line(
            x0, u(0.4, 0.6), x0 + (left ? -1 : 1) * u(0.1, 0.2), u(0.3, 0.7), width: 0.02, color: [0.6],
            alpha: Float(min(1, 0.45 * cue)))
        }
      }
    case .oct:
      let base = g.retina, rpe = g.rpe
      let k = scale  // the findings' size: radii and their offsets from the RPE scale together
      switch label {
      case 0:  // CNV: a hyperreflective blob under the retina lifting the RPE, with fluid
        let cx = u(0.35, 0.65)
        s.ellipse(cx, rpe - 0.02 * k, 0.08 * k, 0.05 * k, color: [0.85], alpha: Float(min(1, 0.8 * cue)), soft: 0.4)
        s.ellipse(cx, rpe - 0.08 * k, 0.05 * k, 0.025 * k, color: [0.05], alpha: Float(min(1, 0.7 * cue)))
      case 1:  // DME: dark intraretinal cysts
        for _ in 0..<Int(u(2, 5)) {
          s.ellipse(
            u(0.3, 0.7), base + u(-0.09, -0.03), u(0.035, 0.06) * k, u(0.03, 0.045) * k, color: [0.05],
            alpha: Float(min(1, 0.85 * cue)))
        }
      case 2:  // drusen: small bumps on the RPE
        for _ in 0..<Int(u(2, 5)) {
          s.ellipse(
            u(0.2, 0.8), rpe - 0.03 * k, u(0.035, 0.05) * k, 0.035 * k, color: [0.85], alpha: Float(min(1, 0.8 * cue)),
            soft: 0.3)
        }
      default: break
      }
    case .endoscopy:
      let vessels = label == 0 ? 6 : (label == 1 ? Int(3 - 2 * cue + 1) : 0)
      for _ in 0..<max(0, vessels) {  // branching submucosal vessels, fading with severity
        var x = u(0, 1), y = u(0, 1)
        for _ in 0..<4 {
          let nx = x + u(-0.2, 0.2), ny = y + u(-0.2, 0.2)
          s.line(x, y, nx, ny, width: 0.012, color: [0.6, 0.1, 0.15], alpha: 0.7)
          (x, y) = (nx, ny)
        }
      }
      if label >= 1 {  // erythema
        s.ellipse(
          u(0.3, 0.7), u(0.3, 0.7), 0.35, 0.3, color: [0.9, 0.25, 0.25],
          alpha: Float(min(1, 0.2 * Double(label) * cue)), soft: 0.9)
      }
      if label >= 2 {  // erosions: small white-yellow spots
        for _ in 0..<Int(u(2, 5)) {
          s.ellipse(u(0.1, 0.9), u(0.1, 0.9), 0.02, 0.02, color: [0.95, 0.9, 0.7], alpha: Float(min(1, 0.8 * cue)))
        }
      }
      if label == 3 {  // ulcers with fibrin, and bleeding
        for _ in 0..<Int(u(1, 3)) {
          s.ellipse(
            u(0.2, 0.8), u(0.2, 0.8), u(0.05, 0.09), u(0.04, 0.07), color: [0.95, 0.92, 0.75],
            alpha: Float(min(1, 0.9 * cue)), rough: 0.2)
        }
        s.ellipse(u(0.2, 0.8), u(0.2, 0.8), 0.05, 0.03, color: [0.4, 0.02, 0.05], alpha: Float(min(1, 0.7 * cue)))
      }
    case .upstream: break
    }
    scene.finish(&s, rng: &rng)
    return s
  }
}

/// Generates a synthetic dataset split from its manifest's `generator` block:
///   generator: {task: ultrasound, seed: 1, cue: 1.0, counts: {train: 1200, val: 170, test: 340},
///               class_weights: [0.17, 0.56, 0.27]}
public enum SyntheticGenerator {
  /// Bumped whenever a generator draws different images for the same manifest (it enters the
  /// datasets' content hash, so cached decodes and every stage that used them are recomputed).
  /// 2: the shared vocabulary (scenes + motifs) and the recipe-based upstream set.
  public static let version = 2

  /// Classes of the upstream set: every finding of the vocabulary (kind × polarity × shape), each in
  /// `bins` × `bins` size × contrast ranges, and "none" (45 with one bin, 177 with two, 397 with three).
  public static func upstreamClassCount(bins: Int = 1) -> Int { UpstreamRecipe.classCount(bins: bins) }

  /// What upstream class `c` is, in words (e.g. "dark rough blob", "size 2/2, contrast 1/2 dark rough blob").
  public static func upstreamClassDescription(_ c: Int, bins: Int = 1) -> String {
    UpstreamRecipe(classIndex: c, bins: bins).description
  }

  public static func task(_ m: DatasetManifest) throws -> SyntheticTask {
    guard let name = m.generator["task"]?.string, let t = SyntheticTask(rawValue: name) else {
      throw DataError.file(
        m.file, "generator.task must be one of \(SyntheticTask.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    guard t == .upstream || t.classes == m.classes else {
      throw DataError.file(m.file, "generator '\(name)' has classes \(t.classes), the manifest lists \(m.classes)")
    }
    return t
  }

  /// The split's images at `size` px (default: the manifest's size).
  public static func generate(_ m: DatasetManifest, split: String, size: Int? = nil) throws -> RawImages {
    let t = try task(m)
    let size = size ?? m.imageSize
    guard let count = m.generator["counts"]?.object?[split]?.int else {
      throw DataError.file(m.file, "generator.counts.\(split) is missing")
    }
    if m.task == .multiLabel { return try generateMultiLabel(m, task: t, split: split, count: count, size: size) }
    let seed = UInt64(m.generator["seed"]?.int ?? 0)
    let cue = m.generator["cue"]?.double ?? 1
    let scale = try findingScale(m, task: t)
    let classCount = t == .upstream ? m.classes.count : t.classes.count
    let weights = m.generator["class_weights"]?.array?.compactMap(\.double) ?? Array(repeating: 1, count: classCount)
    guard weights.count == classCount else {
      throw DataError.file(m.file, "generator.class_weights needs \(classCount) numbers")
    }
    let bins = t == .upstream ? UpstreamRecipe.bins(forClassCount: classCount) : 1
    guard let bins else {
      let counts = (1...4).map { String(UpstreamRecipe.classCount(bins: $0)) }.joined(separator: ", ")
      throw DataError.file(
        m.file,
        "the upstream generator has \(counts) classes (1 to 4 size × contrast bins per finding), "
          + "the manifest lists \(classCount)")
    }
    let (sizes, contrasts) = try upstreamRanges(m)
    let recipes =
      t == .upstream
      ? (0..<classCount).map { UpstreamRecipe(classIndex: $0, bins: bins, sizes: sizes, contrasts: contrasts) } : []
    let cumulative = weights.reduce(into: [Double]()) { $0.append(($0.last ?? 0) + $1 / weights.reduce(0, +)) }
    let splitCode: UInt64 = ["train": 1, "val": 2, "test": 3][split] ?? 4
    let stream = seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(t.rawValue.hashValueStable) ^ (splitCode << 56)
    var imgs = [UInt8](repeating: 0, count: count * size * size * t.channels)
    var labels = [Int](repeating: 0, count: count)
    let n = size * size * t.channels
    imgs.withUnsafeMutableBufferPointer { out in
      labels.withUnsafeMutableBufferPointer { lab in
        nonisolated(unsafe) let o = out, l = lab
        DispatchQueue.concurrentPerform(iterations: count) { i in
          var rng = Xoshiro256(seed: stream ^ UInt64(i) &* 0xD1B5_4A32_D192_ED03)
          let r = rng.uniform()
          let label = cumulative.firstIndex { r < $0 } ?? classCount - 1
          let img =
            t == .upstream
            ? recipes[label].draw(size: size, rng: &rng).bytes
            : t.draw(label, size: size, cue: cue, scale: scale, rng: &rng).bytes
          for j in 0..<n { o[i * n + j] = img[j] }
          l[i] = label
        }
      }
    }
    return RawImages(images: imgs, labels: labels, count: count, height: size, width: size, channels: t.channels)
  }
}

extension SyntheticGenerator {
  /// `generator.finding_scale` (default 1): how large the findings are in the frame. Only the OCT generator
  /// draws its findings at a scale (its lesions sit on a thin retina: 1–3 px at 32 px); elsewhere it is an error.
  static func findingScale(_ m: DatasetManifest, task t: SyntheticTask) throws -> Double {
    guard let v = m.generator["finding_scale"] else { return 1 }
    guard t == .oct else {
      throw DataError.file(
        m.file, "generator.finding_scale is drawn by the oct generator only (this is '\(t.rawValue)')")
    }
    guard let x = v.double, x > 0, x <= 3 else {
      throw DataError.file(m.file, "generator.finding_scale must be a number in (0, 3]")
    }
    return x
  }

  /// The multi-label upstream set: each image a scene with 1 to `generator.findings` (default 3) distinct
  /// findings of the vocabulary, labelled with all of them (a multi-hot row over the 44 findings).
  static func generateMultiLabel(
    _ m: DatasetManifest, task t: SyntheticTask, split: String, count: Int, size: Int
  ) throws -> RawImages {
    let K = UpstreamRecipe.findingCount
    guard t == .upstream, m.classes.count == K else {
      throw DataError.file(
        m.file, "a multi-label synthetic set is the upstream generator with its \(K) findings as classes")
    }
    let most = m.generator["findings"]?.int ?? 3
    guard (1...K).contains(most) else { throw DataError.file(m.file, "generator.findings must be in 1...\(K)") }
    let (sizes, contrasts) = try upstreamRanges(m)
    let recipes = (0..<K).map { UpstreamRecipe(classIndex: $0, sizes: sizes, contrasts: contrasts) }
    let splitCode: UInt64 = ["train": 1, "val": 2, "test": 3][split] ?? 4
    let seed = UInt64(m.generator["seed"]?.int ?? 0)
    let stream = seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64("upstream-multi-label".hashValueStable) ^ (splitCode << 56)
    let n = size * size * t.channels
    var imgs = [UInt8](repeating: 0, count: count * n)
    var labels = [Int](repeating: 0, count: count * K)
    imgs.withUnsafeMutableBufferPointer { out in
      labels.withUnsafeMutableBufferPointer { lab in
        nonisolated(unsafe) let o = out, l = lab
        DispatchQueue.concurrentPerform(iterations: count) { i in
          var rng = Xoshiro256(seed: stream ^ UInt64(i) &* 0xD1B5_4A32_D192_ED03)
          let found = UpstreamRecipe.findings(most: most, rng: &rng)
          let img = UpstreamRecipe.draw(found.map { recipes[$0] }, size: size, rng: &rng).bytes
          for j in 0..<n { o[i * n + j] = img[j] }
          for c in found { l[i * K + c] = 1 }
        }
      }
    }
    return RawImages(
      images: imgs, labels: labels, count: count, height: size, width: size, channels: t.channels, labelWidth: K)
  }
}

extension SyntheticGenerator {
  /// The upstream findings' size and contrast ranges: `generator.size: [lo, hi]` (fraction of the image,
  /// 0 < lo ≤ hi ≤ 1) and `generator.contrast: [lo, hi]` (0 < lo ≤ hi ≤ 1); absent: 0.08–0.22 and 0.4–0.8.
  static func upstreamRanges(_ m: DatasetManifest) throws -> (ClosedRange<Double>, ClosedRange<Double>) {
    func range(_ key: String, _ fallback: ClosedRange<Double>) throws -> ClosedRange<Double> {
      guard let v = m.generator[key] else { return fallback }
      guard let a = v.array?.compactMap(\.double), a.count == 2, a[0] > 0, a[0] <= a[1], a[1] <= 1 else {
        throw DataError.file(m.file, "generator.\(key) must be [lo, hi] with 0 < lo ≤ hi ≤ 1, not \(v)")
      }
      return a[0]...a[1]
    }
    return (try range("size", UpstreamRecipe.defaultSizes), try range("contrast", UpstreamRecipe.defaultContrasts))
  }
}

extension String {
  /// FNV-1a: a hash that is the same in every process (String.hashValue is seeded per run).
  var hashValueStable: UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
  }
}

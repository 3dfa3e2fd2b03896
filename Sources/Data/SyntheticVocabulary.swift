//===--- SyntheticVocabulary.swift - scenes and motifs the suite is made of -===//
//
// The embedded world's visual vocabulary, shared by the upstream
// (pretraining) set and the six downstream tasks:
//   Scene  a modality's anatomy without any class-specific structure
//          (stained tissue, CT chest, breast ultrasound, chest X-ray, retinal
//          OCT, colon mucosa) or a generic natural-like field, plus the
//          modality's acquisition noise (`finish`: grain, speckle, blur);
//   Motif  a local structure with continuous attributes — kind (blob, ring,
//          nuclei cluster, nuclei ring, streaks, vessels, haze, grating,
//          bumps on a layer, shadowed lesion), polarity, contrast, size,
//          elongation, orientation, margin roughness, softness, count,
//          spread and where in the image it sits.
// A downstream class differs from its siblings by such attributes (a
// lesion's roughness and aspect, nuclei size and crowding, streaks against
// a focal opacity); an upstream class is a finding — a motif kind with a
// polarity and a shape — drawn on any scene with every other attribute
// random. A model that tells the findings apart must encode them, as a
// foundation model's features encode the visual concepts its data contains
// — never the downstream labels.
//===----------------------------------------------------------------------===//
import Foundation
import Storage

/// Where a scene keeps the anatomy that downstream generators place structures on.
struct SceneGeometry {
  /// Centres of the left and right lung (CT, X-ray), in image units.
  var lungs = (0.31, 0.69)
  /// OCT: the retina's base line and foveal dip depth.
  var retina = 0.5, dip = 0.07
  /// OCT: the retinal pigment epithelium's height.
  var rpe: Double { retina + 0.07 }
}

/// A modality's anatomy, or a generic field, without class-specific structures.
enum Scene: Int, CaseIterable, Sendable {
  case pathology, ct, ultrasound, xray, oct, endoscopy, natural, clouds

  var channels: Int {
    switch self {
    case .pathology, .endoscopy, .natural, .clouds: return 3
    default: return 1
    }
  }

  /// Draws the scene; `glands` adds pathology's regular glands (the upstream
  /// set's tissue; the pathology task draws its own, with the class's nuclei).
  func draw(size: Int, glands: Bool = false, rng: inout Xoshiro256) -> (Sketch, SceneGeometry) {
    func u(_ a: Double, _ b: Double) -> Double { a + (b - a) * rng.uniform() }
    var g = SceneGeometry()
    switch self {
    case .pathology:
      var s = Sketch(size: size, channels: 3, fill: [0.93, 0.78, 0.86])
      s.add(Sketch.noise(size: size, cells: 4, octaves: 3, rng: &rng), amount: 0.25)
      if glands {
        for _ in 0..<Int(u(2, 4)) {
          let cx = u(0.2, 0.8), cy = u(0.2, 0.8), r = u(0.1, 0.17)
          s.ellipse(cx, cy, r * 0.75, r * 0.6, angle: u(0, 3), color: [0.98, 0.95, 0.97], alpha: 0.8)
          let n = Int(u(9, 13))
          for k in 0..<n {
            let a = Double(k) / Double(n) * 2 * .pi
            s.ellipse(
              cx + r * cos(a), cy + r * sin(a) * 0.8, 0.03, 0.03, angle: a, color: [0.35, 0.18, 0.5], alpha: 0.85)
          }
        }
        for _ in 0..<Int(u(6, 12)) {
          s.ellipse(u(0, 1), u(0, 1), 0.018, 0.018, angle: u(0, 3), color: [0.4, 0.2, 0.55], alpha: 0.7)
        }
      }
      return (s, g)
    case .ct:
      var s = Sketch(size: size, channels: 1, fill: [0.05])
      s.ellipse(0.5, 0.52, 0.46, 0.36, color: [0.55])  // body
      g.lungs = (0.31 + u(-0.02, 0.02), 0.69 + u(-0.02, 0.02))
      s.ellipse(g.lungs.0, 0.5, 0.15, 0.24, color: [0.12])
      s.ellipse(g.lungs.1, 0.5, 0.15, 0.24, color: [0.12])
      s.ellipse(0.5, 0.62, 0.07, 0.07, color: [0.7])  // heart and vessels
      for _ in 0..<Int(u(3, 7)) {
        let side = rng.uniform() < 0.5 ? g.lungs.0 : g.lungs.1
        s.ellipse(side + u(-0.08, 0.08), u(0.35, 0.65), 0.012, 0.012, color: [0.45], alpha: 0.8)
      }
      return (s, g)
    case .ultrasound:
      var s = Sketch(size: size, channels: 1, fill: [0.45])
      s.add(Sketch.noise(size: size, cells: 3, octaves: 2, rng: &rng), amount: 0.3)
      for k in 0..<3 {  // tissue layers
        s.line(
          0, 0.15 + 0.08 * Double(k) + u(-0.02, 0.02), 1, 0.17 + 0.08 * Double(k), width: 0.02, color: [0.7], alpha: 0.5
        )
      }
      return (s, g)
    case .xray:
      var s = Sketch(size: size, channels: 1, fill: [0.75])
      s.ellipse(0.32, 0.5, 0.15, 0.3, color: [0.25], soft: 0.4)  // lungs are dark on X-ray
      s.ellipse(0.68, 0.5, 0.15, 0.3, color: [0.25], soft: 0.4)
      g.lungs = (0.32, 0.68)
      s.ellipse(0.47, 0.62, 0.1, 0.12, color: [0.7], alpha: 0.9, soft: 0.4)  // heart
      for k in 0..<5 {  // ribs
        let y = 0.3 + 0.09 * Double(k)
        s.line(0.15, y, 0.45, y + 0.04, width: 0.012, color: [0.55], alpha: 0.5)
        s.line(0.55, y + 0.04, 0.85, y, width: 0.012, color: [0.55], alpha: 0.5)
      }
      return (s, g)
    case .oct:
      var s = Sketch(size: size, channels: 1, fill: [0.08])
      g.retina = u(0.45, 0.55); g.dip = u(0.05, 0.09)
      let layers: [(Double, Float, Double)] = [
        (-0.12, 0.55, 0.03), (-0.06, 0.35, 0.04), (0.0, 0.45, 0.03), (0.07, 0.9, 0.03),
      ]
      for (off, val, w) in layers {  // retinal layers with the foveal dip
        let depth = off < 0.05 ? (off < -0.1 ? 1.0 : 0.5) : 0
        func yy(_ x: Double) -> Double { g.retina + off + g.dip * exp(-pow((x - 0.5) / 0.12, 2)) * depth }
        for i in 0..<16 {
          let x0 = Double(i) / 16, x1 = Double(i + 1) / 16
          s.line(x0, yy(x0), x1, yy(x1), width: w, color: [val], alpha: 0.9)
        }
      }
      return (s, g)
    case .endoscopy:
      var s = Sketch(size: size, channels: 3, fill: [0.85, 0.45, 0.4])
      s.add(Sketch.noise(size: size, cells: 3, octaves: 2, rng: &rng), amount: 0.2)
      return (s, g)
    case .natural:  // a colour gradient with soft colour patches
      let a: [Float] = (0..<3).map { _ in Float(u(0.1, 0.9)) }, b: [Float] = (0..<3).map { _ in Float(u(0.1, 0.9)) }
      var s = Sketch(size: size, channels: 3, fill: a)
      let angle = u(0, 2 * .pi)
      for y in 0..<size {
        for x in 0..<size {
          let t = Float(
            0.5 + 0.5 * ((Double(x) / Double(size) - 0.5) * cos(angle) + (Double(y) / Double(size) - 0.5) * sin(angle)))
          for c in 0..<3 { s.px[(y * size + x) * 3 + c] = a[c] * (1 - t) + b[c] * t }
        }
      }
      for _ in 0..<Int(u(2, 6)) {
        s.ellipse(
          u(0, 1), u(0, 1), u(0.1, 0.3), u(0.1, 0.3), angle: u(0, 3), color: (0..<3).map { _ in Float(u(0, 1)) },
          alpha: Float(u(0.2, 0.5)), soft: 0.9)
      }
      return (s, g)
    case .clouds:  // multi-octave noise in two colours
      let a: [Float] = (0..<3).map { _ in Float(u(0, 0.6)) }, b: [Float] = (0..<3).map { _ in Float(u(0.4, 1)) }
      var s = Sketch(size: size, channels: 3, fill: a)
      let n = Sketch.noise(size: size, cells: Int(u(2, 6)), octaves: 3, rng: &rng)
      for i in 0..<(size * size) { for c in 0..<3 { s.px[i * 3 + c] = a[c] + (b[c] - a[c]) * n[i] } }
      return (s, g)
    }
  }

  /// The modality's acquisition noise, applied after every structure is drawn.
  func finish(_ s: inout Sketch, rng: inout Xoshiro256) {
    switch self {
    case .pathology: s.grain(0.03, rng: &rng)
    case .ct: s.grain(0.05, rng: &rng)
    case .ultrasound: s.grain(0.35, rng: &rng, multiplicative: true); s.blur()  // speckle
    case .xray: s.grain(0.04, rng: &rng); s.blur()
    case .oct: s.grain(0.25, rng: &rng, multiplicative: true); s.grain(0.03, rng: &rng)
    case .endoscopy:
      s.add(Sketch.noise(size: s.size, cells: 6, octaves: 1, rng: &rng), amount: 0.08); s.grain(0.03, rng: &rng)
    case .natural, .clouds: s.grain(0.04, rng: &rng)
    }
  }
}

/// A local structure with continuous attributes (image units; see the file comment).
struct Motif: Sendable {
  enum Kind: Int, CaseIterable, Sendable {
    case blob, ring, nuclei, nucleiRing, streaks, vessels, haze, grating, bumps, shadowed
  }
  /// Where the motif's centre falls.
  enum Region: Int, CaseIterable, Sendable { case anywhere, centre, left, right, top, bottom, periphery }

  var kind: Kind
  var polarity: Float  // +1 brighter, −1 darker than the scene beneath
  var contrast: Double  // intensity change at full coverage, 0 … 1
  var size: Double  // radius or length scale (image units)
  var aspect: Double  // height / width, 0.5 … 2
  var angle: Double  // orientation (radians) of blobs, streaks, vessels and gratings
  var oriented: Bool  // false: nuclei and streaks take a random direction each
  var rough: Double  // margin irregularity 0 … 0.4 (rings: radial jitter)
  var lobes: Int  // 3 … 12
  var soft: Double  // edge softness 0.1 … 0.9
  var count: Int  // repeated elements 1 … 12
  var spread: Double  // cluster radius 0.05 … 0.35
  var region: Region
  var tint: [Float]  // colour direction on RGB scenes (grey scenes ignore it)

  /// A centre inside the motif's region.
  func centre(rng: inout Xoshiro256) -> (Double, Double) {
    func u(_ a: Double, _ b: Double) -> Double { a + (b - a) * rng.uniform() }
    switch region {
    case .anywhere: return (u(0.15, 0.85), u(0.15, 0.85))
    case .centre: return (u(0.4, 0.6), u(0.4, 0.6))
    case .left: return (u(0.15, 0.38), u(0.2, 0.8))
    case .right: return (u(0.62, 0.85), u(0.2, 0.8))
    case .top: return (u(0.2, 0.8), u(0.15, 0.38))
    case .bottom: return (u(0.2, 0.8), u(0.62, 0.85))
    case .periphery:
      let a = u(0, 2 * .pi), r = u(0.3, 0.4)
      return (0.5 + r * cos(a), 0.5 + r * sin(a))
    }
  }

  /// Draws the motif on `s` as a change of intensity: its geometry is rendered into a mask m in
  /// [0, 1], then every pixel moves by polarity · contrast · m (along the tint on RGB scenes), so the
  /// motif is equally visible on a dark lung and a bright rib.
  func draw(on s: inout Sketch, rng: inout Xoshiro256) {
    var mask = Sketch(size: s.size, channels: 1, fill: [0])
    drawMask(on: &mask, rng: &rng)
    let dir: [Float] = (0..<s.channels).map { s.channels == 1 ? 1 : 0.4 + 0.6 * abs(tint[$0]) }
    let amount = polarity * Float(contrast)
    for i in 0..<(s.size * s.size) where mask.px[i] > 0 {
      for c in 0..<s.channels {
        let p = i * s.channels + c
        s.px[p] = min(1, max(0, s.px[p] + amount * dir[c] * mask.px[i]))
      }
    }
  }

  /// The motif's geometry, drawn in white on a black one-channel sketch (alpha = coverage).
  private func drawMask(on s: inout Sketch, rng: inout Xoshiro256) {
    func u(_ a: Double, _ b: Double) -> Double { a + (b - a) * rng.uniform() }
    let color: [Float] = [1]
    let (cx, cy) = centre(rng: &rng)
    let rx = size, ry = size * aspect
    switch kind {
    case .blob:
      s.ellipse(
        cx, cy, rx, ry, angle: angle, color: color, alpha: 0.9, soft: soft * 0.6, rough: rough, lobes: lobes,
        phase: u(0, 6))
    case .shadowed:  // a lesion with a soft posterior shadow (or enhancement) beneath it
      s.ellipse(cx, min(0.98, cy + ry + size), rx * 0.8, size * 1.5, color: color, alpha: 0.5, soft: 0.8)
      s.ellipse(
        cx, cy, rx, ry, angle: angle, color: color, alpha: 0.9, soft: soft * 0.4, rough: rough, lobes: lobes,
        phase: u(0, 6))
    case .ring:
      let n = 20
      for k in 0..<n {
        let a = Double(k) / Double(n) * 2 * .pi, b = Double(k + 1) / Double(n) * 2 * .pi
        let ra = 1 + rough * sin(Double(lobes) * a), rb = 1 + rough * sin(Double(lobes) * b)
        s.line(
          cx + rx * ra * cos(a), cy + ry * ra * sin(a), cx + rx * rb * cos(b), cy + ry * rb * sin(b),
          width: max(0.02, size * 0.3), color: color, alpha: 0.85)
      }
    case .nuclei:  // a cluster of small nuclei; aspect elongates them
      for _ in 0..<count {
        let a = u(0, 2 * .pi), r = spread * rng.uniform().squareRoot()
        let d = max(0.015, size * 0.25)
        s.ellipse(
          cx + r * cos(a), cy + r * sin(a), d, d * aspect, angle: oriented ? angle : u(0, .pi), color: color,
          alpha: 0.85, soft: soft * 0.5)
      }
    case .nucleiRing:  // nuclei around a gland-like ring; roughness disorders it
      let n = count + 6, d = max(0.015, size * 0.2), r0 = max(0.06, spread * 0.6)
      for k in 0..<n {
        let a = Double(k) / Double(n) * 2 * .pi + rough * (rng.uniform() - 0.5)
        let rr = r0 * (1 + rough * (rng.uniform() - 0.5) * 2)
        s.ellipse(
          cx + rr * cos(a), cy + rr * sin(a) * 0.8, d, d * aspect, angle: a, color: color, alpha: 0.85, soft: soft * 0.5
        )
      }
    case .streaks:  // lines radiating from the centre
      for _ in 0..<count {
        let a = oriented ? angle + 0.4 * rng.normal() : u(0, 2 * .pi), len = size * u(1, 2.5)
        s.line(
          cx, cy, cx + len * cos(a), cy + len * sin(a), width: max(0.015, size * 0.15), color: color,
          alpha: 0.9)
      }
    case .vessels:  // branching polylines
      for _ in 0..<max(1, count / 2) {
        var x = cx + u(-spread, spread), y = cy + u(-spread, spread)
        for _ in 0..<4 {
          let a = oriented ? angle + 0.6 * rng.normal() : u(0, 2 * .pi)
          let nx = x + size * 1.5 * cos(a), ny = y + size * 1.5 * sin(a)
          s.line(x, y, nx, ny, width: 0.014 + 0.01 * aspect, color: color, alpha: 0.75)
          (x, y) = (nx, ny)
        }
      }
    case .haze:  // a large faint soft opacity (ground glass, erythema, consolidation)
      s.ellipse(cx, cy, rx * 1.6, ry * 1.6, angle: angle, color: color, alpha: 0.7, soft: 0.9)
    case .grating:  // an oriented periodic texture inside a soft patch
      let period = 0.04 + size * 0.3, r = max(0.1, spread)
      s.texture(cx, cy, r, period: period, angle: angle, color: color, alpha: 0.7)
    case .bumps:  // a bright or dark band with bumps sitting on it (drusen-like)
      s.line(0.05, cy, 0.95, cy + 0.05 * (aspect - 1), width: 0.025, color: color, alpha: 0.7)
      for _ in 0..<count {
        let x = u(0.15, 0.85), r = max(0.02, size * 0.4)
        s.ellipse(x, cy - r * 0.6 + 0.05 * (aspect - 1) * x, r, r * 0.8, color: color, alpha: 0.85, soft: soft * 0.5)
      }
    }
  }
}

/// An upstream class: a finding — a motif kind with a polarity and, for the kinds with a body
/// (blob, shadowed lesion, ring, nuclei, nuclei ring, haze), a shape: smooth and round, elongated,
/// or rough-margined — or no finding: 6 × 2 × 3 + 4 × 2 + 1 = 45 classes. Size, contrast,
/// softness, count, spread, orientation, region and colour, and the scene, are drawn per image.
struct UpstreamRecipe: Sendable {
  static let shaped: [Motif.Kind] = [.blob, .shadowed, .ring, .nuclei, .nucleiRing, .haze]
  static let unshaped: [Motif.Kind] = [.streaks, .vessels, .grating, .bumps]
  /// Findings (kind × polarity × shape) and "no finding": the classes with one magnitude bin.
  static let findingCount = shaped.count * 2 * 3 + unshaped.count * 2
  static let classCount = findingCount + 1
  /// Class count with `bins` magnitude bins (size × contrast, each cut into `bins` ranges) per finding.
  static func classCount(bins: Int) -> Int { findingCount * bins * bins + 1 }
  /// The bins of a class count (nil if no bins give it).
  static func bins(forClassCount n: Int) -> Int? { (1...4).first { classCount(bins: $0) == n } }

  let kind: Motif.Kind?, polarity: Float, shapeBin: Int
  /// Size and contrast bins (0..<bins each); with bins = 1 size and contrast are free, as before.
  let sizeBin: Int, contrastBin: Int, bins: Int
  /// The ranges a finding's size (fraction of the image, drawn log-uniform) and contrast are drawn from.
  let sizes: ClosedRange<Double>, contrasts: ClosedRange<Double>
  static let defaultSizes = 0.08...0.22, defaultContrasts = 0.4...0.8

  init(
    classIndex: Int, bins: Int = 1, sizes: ClosedRange<Double> = defaultSizes,
    contrasts: ClosedRange<Double> = defaultContrasts
  ) {
    self.bins = bins
    (self.sizes, self.contrasts) = (sizes, contrasts)
    let none = classIndex == Self.classCount(bins: bins) - 1
    let c = none ? Self.findingCount : classIndex % Self.findingCount
    let magnitude = none ? 0 : classIndex / Self.findingCount
    (sizeBin, contrastBin) = (magnitude % bins, magnitude / bins)
    let nShaped = Self.shaped.count * 6
    if c < nShaped {
      kind = Self.shaped[c % Self.shaped.count]
      polarity = (c / Self.shaped.count) % 2 == 0 ? 1 : -1
      shapeBin = c / (2 * Self.shaped.count)
    } else if c < Self.findingCount {
      let d = c - nShaped
      kind = Self.unshaped[d % Self.unshaped.count]
      polarity = d / Self.unshaped.count == 0 ? 1 : -1
      shapeBin = 3  // random shape
    } else {
      kind = nil; polarity = 1; shapeBin = 3
    }
  }

  var description: String {
    guard let kind else { return "no finding" }
    let magnitude =
      bins == 1
      ? "" : "size \(sizeBin + 1)/\(bins), contrast \(contrastBin + 1)/\(bins) "
    return magnitude + "\(polarity > 0 ? "bright" : "dark") "
      + (shapeBin < 3 ? ["round ", "elongated ", "rough "][shapeBin] : "") + "\(kind)"
  }

  /// The sub-range `bin` of `bins` equal parts of [lo, hi].
  private func part(_ lo: Double, _ hi: Double, _ bin: Int) -> (Double, Double) {
    if bins == 1 { return (lo, hi) }  // the 45-class set draws exactly as it always did
    let w = (hi - lo) / Double(bins)
    return (lo + w * Double(bin), lo + w * Double(bin + 1))
  }

  /// The class's motif with this image's free attributes.
  func motif(rng: inout Xoshiro256) -> Motif {
    func u(_ a: Double, _ b: Double) -> Double { a + (b - a) * rng.uniform() }
    let logSize = part(log(sizes.lowerBound), log(sizes.upperBound), sizeBin)
    let size = exp(u(logSize.0, logSize.1))
    var aspect = 1.0, rough = 0.0
    switch shapeBin < 3 ? shapeBin : Int(rng.uniform() * 3) {
    case 0: aspect = u(0.85, 1.15)
    case 1: aspect = u(1.8, 2.4); if rng.uniform() < 0.5 { aspect = 1 / aspect }
    default: aspect = u(0.85, 1.15); rough = u(0.25, 0.4)
    }
    let contrast = part(contrasts.lowerBound, contrasts.upperBound, contrastBin)
    return Motif(
      kind: kind ?? .blob, polarity: polarity, contrast: u(contrast.0, contrast.1), size: size, aspect: aspect,
      angle: u(0, .pi),
      oriented: true, rough: rough, lobes: Int(u(5, 11)), soft: u(0.1, 0.8), count: Int(u(3, 11)),
      spread: u(0.1, 0.3), region: Motif.Region.allCases[Int(rng.uniform() * Double(Motif.Region.allCases.count))],
      tint: (0..<3).map { _ in Float(u(-1, 1)) })
  }

  /// One instance: a random scene (independent of the class), the class's motif, the scene's noise; RGB.
  func draw(size: Int, rng: inout Xoshiro256) -> Sketch {
    Self.draw([self], size: size, rng: &rng)
  }

  /// A random scene with every finding of `recipes` on it (each with its own free attributes), then the
  /// scene's noise; RGB. One recipe: the multi-class set's image; several: the multi-label set's.
  static func draw(_ recipes: [UpstreamRecipe], size: Int, rng: inout Xoshiro256) -> Sketch {
    let scene = Scene.allCases[Int(rng.uniform() * Double(Scene.allCases.count))]
    var (s, _) = scene.draw(size: size, glands: true, rng: &rng)
    for r in recipes {
      let m = r.motif(rng: &rng)
      if r.kind != nil { m.draw(on: &s, rng: &rng) }
    }
    scene.finish(&s, rng: &rng)
    return s.rgb
  }

  /// The multi-label set's findings of one image: 1 to `most` distinct findings (classes 0..<findingCount),
  /// the count uniform, ascending.
  static func findings(most: Int, rng: inout Xoshiro256) -> [Int] {
    let n = 1 + Int(rng.uniform() * Double(most))
    var chosen: Set<Int> = []
    while chosen.count < n { chosen.insert(Int(rng.uniform() * Double(findingCount))) }
    return chosen.sorted()
  }
}

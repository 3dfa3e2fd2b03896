//===--- SSF.swift - scale and shift features (Lian et al., NeurIPS 2022) --===//
//
// y = γ ⊙ x + β after each operation (dongzelian/SSF `vision_transformer.py`):
// the patch embedding, norm1, qkv, attn proj, norm2, fc1 (before the
// activation), fc2, and the final norm; γ ~ N(1, .02), β ~ N(0, .02).
// Shapes at a site with C channels: x, y (rows, C); γ, β (C).
// Backward: dγ += Σ_rows dy ⊙ x;  dβ += Σ_rows dy;  dx = γ ⊙ dy.
// Every site follows a linear map (or LayerNorm's affine), so SSF merges:
// W' = diag(γ) W, b' = γ ⊙ b + β.
//===----------------------------------------------------------------------===//
import Kernels
import Model
import Storage

public final class SSFModules: TrainableModules {
  struct Site { let site: HookSite, layer: Int, channels: Int, scale: Int, shift: Int, saved: Int }
  public let config: ViTConfig
  public let store = ModuleStore()
  private var sites: [Site] = []
  private var index: [Int: Int] = [:]
  private var saved = FloatBuffer(count: 0)
  private var savedSize = 0

  public static let blockSites: [HookSite] = [.norm1, .qkv, .proj, .norm2, .fc1, .fc2]

  public init(config c: ViTConfig, seed: UInt64) {
    config = c
    let D = c.width
    func add(_ s: HookSite, _ l: Int, _ C: Int, _ name: String) {
      let sc = store.add(name + ".ssf_scale", [C], decay: false)
      let sh = store.add(name + ".ssf_shift", [C], decay: false)
      index[l * 16 + s.rawValue] = sites.count
      sites.append(Site(site: s, layer: l, channels: C, scale: sc, shift: sh, saved: 0))
    }
    add(.patch, 0, D, "patch_embed")
    for l in 0..<c.depth {
      let p = "blocks.\(l)."
      add(.norm1, l, D, p + "norm1"); add(.qkv, l, 3 * D, p + "attn.qkv"); add(.proj, l, D, p + "attn.proj")
      add(.norm2, l, D, p + "norm2"); add(.fc1, l, c.mlpDim, p + "mlp.fc1"); add(.fc2, l, D, p + "mlp.fc2")
    }
    add(.norm, 0, D, "norm")
    store.seal()
    var rng = Xoshiro256(seed: seed)
    for s in sites {
      store.fillNormal(s.scale, mean: 1, std: 0.02, rng: &rng)
      store.fillNormal(s.shift, mean: 0, std: 0.02, rng: &rng)
    }
  }

  public func anchors(_ L: ViTLayout) -> [Int] { sites.map { L.anchor($0.site, layer: $0.layer) } }
  public func hooks(_ site: HookSite, layer: Int) -> Bool { index[layer * 16 + site.rawValue] != nil }

  private var offsets: [Int] = []
  public func beginForward(batch B: Int, tokens T: Int) {
    let Np = config.numPatches
    var o = 0
    offsets = sites.map { s in
      let rows = s.site == .patch ? B * Np : (s.site == .norm ? B : B * T)
      defer { o += rows * s.channels }
      return o
    }
    savedSize = o
    ensure(&saved, o)
  }
  public var activationBytes: Int { saved.count * 4 }
  public func activationCount(batch B: Int, tokens T: Int) -> Int {
    sites.reduce(0) { $0 + ($1.site == .patch ? B * config.numPatches : ($1.site == .norm ? B : B * T)) * $1.channels }
  }

  public func forward(
    _ site: HookSite, layer: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int
  ) {
    let i = index[layer * 16 + site.rawValue]!, s = sites[i], C = s.channels
    let x = saved.pointer + offsets[i]
    x.update(from: out, count: rows * C)
    let g = store.p(s.scale), b = store.p(s.shift)
    Parallel.forRanges(rows, grain: 64) { _, rs in
      for r in rs { for c in 0..<C { out[r * C + c] = x[r * C + c] * g[c] + b[c] } }
    }
  }

  public func backwardOutput(_ site: HookSite, layer: Int, dout: UnsafeMutablePointer<Float>, rows: Int) {
    let i = index[layer * 16 + site.rawValue]!, s = sites[i], C = s.channels
    let x = saved.pointer + offsets[i]
    let g = store.p(s.scale), dg = store.g(s.scale), db = store.g(s.shift)
    for r in 0..<rows {
      for c in 0..<C {
        let d = dout[r * C + c]
        dg[c] += d * x[r * C + c]
        db[c] += d
        dout[r * C + c] = d * g[c]
      }
    }
  }

  /// Folds γ, β into the weights and biases before each site (re-parameterisation).
  public func merge(into m: ViT) {
    let L = m.layout
    for s in sites {
      let (w, b): (Int, Int?) = {
        switch s.site {
        case .patch: return (L.patchW, L.patchB)
        case .norm1: return (L.blocks[s.layer].norm1W, L.blocks[s.layer].norm1B)
        case .qkv: return (L.blocks[s.layer].qkvW, L.blocks[s.layer].qkvB)
        case .proj: return (L.blocks[s.layer].projW, L.blocks[s.layer].projB)
        case .norm2: return (L.blocks[s.layer].norm2W, L.blocks[s.layer].norm2B)
        case .fc1: return (L.blocks[s.layer].fc1W, L.blocks[s.layer].fc1B)
        case .fc2: return (L.blocks[s.layer].fc2W, L.blocks[s.layer].fc2B)
        case .norm: return (L.normW, L.normB)
        case .mlpOut: fatalError("SSF has no mlpOut site")
        }
      }()
      let C = s.channels, per = L.tensors[w].count / C
      let g = store.p(s.scale), sh = store.p(s.shift), wp = m.pointer(w)
      for c in 0..<C { for j in 0..<per { wp[c * per + j] *= g[c] } }
      guard let b else {
        // CLIP's patch embedding has no bias; its output is added to pos_embed's patch rows next
        // (x0 = [cls; patch_embed(img)] + pos_embed), so β folds into those rows (not the class token's).
        precondition(s.site == .patch, "SSF merge needs a bias at \(s.site)")
        let pos = m.pointer(L.pos), T = L.tensors[L.pos].count / C
        for t in 1..<T { for c in 0..<C { pos[t * C + c] += sh[c] } }
        continue
      }
      let bp = m.pointer(b)
      for c in 0..<C { bp[c] = bp[c] * g[c] + sh[c] }
    }
  }
}

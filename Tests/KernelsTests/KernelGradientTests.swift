//===--- KernelGradientTests.swift - every backward against finite differences
//
// Each test: y = forward(x, θ); loss = Σ w ⊙ y for a fixed random w; the
// backward pass with dout = w must match central differences of that loss
// for every input and parameter. Shapes are tiny; Float central differences
// with eps 1e-2 are accurate to ~1e-3 relative here.
//===----------------------------------------------------------------------===//
import Kernels
import XCTest

final class KernelGradientTests: XCTestCase {
  override func setUp() { Parallel.threads = 2 }

  func testLinear() {
    let N = 5, C = 7, OC = 6
    var x = randomFloats(N * C, seed: 1), w = randomFloats(OC * C, seed: 2), b = randomFloats(OC, seed: 3)
    let proj = randomFloats(N * OC, seed: 4)
    func run(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
      var y = [Float](repeating: 0, count: N * OC)
      Linear.forward(out: &y, inp: x, weight: w, bias: b, N: N, C: C, OC: OC)
      return project(y, proj)
    }
    var dx = [Float](repeating: 0, count: N * C), dw = [Float](repeating: 0, count: OC * C)
    var db = [Float](repeating: 0, count: OC)
    Linear.backward(dinp: &dx, dweight: &dw, dbias: &db, dout: proj, inp: x, weight: w, N: N, C: C, OC: OC)
    checkGradient("linear dinp", x: &x, analytic: dx) { run($0, w, b) }
    checkGradient("linear dweight", x: &w, analytic: dw) { run(x, $0, b) }
    checkGradient("linear dbias", x: &b, analytic: db) { run(x, w, $0) }
    // forward against the naive twin
    var y1 = [Float](repeating: 0, count: N * OC), y2 = y1
    Linear.forward(out: &y1, inp: x, weight: w, bias: b, N: N, C: C, OC: OC)
    Linear.forwardReference(out: &y2, inp: x, weight: w, bias: b, N: N, C: C, OC: OC)
    for i in 0..<y1.count { XCTAssertEqual(y1[i], y2[i], accuracy: 1e-5) }
  }

  func testLayerNorm() {
    let N = 6, C = 10
    var x = randomFloats(N * C, seed: 5, scale: 2), w = randomFloats(C, seed: 6), b = randomFloats(C, seed: 7)
    let proj = randomFloats(N * C, seed: 8)
    func run(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
      var y = [Float](repeating: 0, count: N * C), m = [Float](repeating: 0, count: N), r = m
      LayerNorm.forward(out: &y, mean: &m, rstd: &r, inp: x, weight: w, bias: b, N: N, C: C, eps: 1e-5)
      return project(y, proj)
    }
    var y = [Float](repeating: 0, count: N * C), m = [Float](repeating: 0, count: N), r = m
    LayerNorm.forward(out: &y, mean: &m, rstd: &r, inp: x, weight: w, bias: b, N: N, C: C, eps: 1e-5)
    var ref = y
    LayerNorm.forwardReference(out: &ref, inp: x, weight: w, bias: b, N: N, C: C, eps: 1e-5)
    for i in 0..<y.count { XCTAssertEqual(y[i], ref[i], accuracy: 1e-5) }
    var dx = [Float](repeating: 0, count: N * C), dw = [Float](repeating: 0, count: C), db = dw
    var scratch = [Float](repeating: 0, count: LayerNorm.scratchCount(N: N, C: C))
    LayerNorm.backward(
      dinp: &dx, dweight: &dw, dbias: &db, dout: proj, inp: x, weight: w, mean: m, rstd: r, N: N, C: C,
      scratch: &scratch)
    checkGradient("layernorm dinp", x: &x, analytic: dx) { run($0, w, b) }
    checkGradient("layernorm dweight", x: &w, analytic: dw) { run(x, $0, b) }
    checkGradient("layernorm dbias", x: &b, analytic: db) { run(x, w, $0) }
  }

  func testAttention() {
    let B = 2, T = 5, D = 8, H = 2
    var qkv = randomFloats(B * T * 3 * D, seed: 9, scale: 1.5)
    let proj = randomFloats(B * T * D, seed: 10)
    func run(_ qkv: [Float]) -> Double {
      var out = [Float](repeating: 0, count: B * T * D), p = [Float](repeating: 0, count: B * H * T * T)
      Attention.forward(out: &out, probs: &p, qkv: qkv, B: B, T: T, D: D, H: H)
      return project(out, proj)
    }
    var out = [Float](repeating: 0, count: B * T * D), p = [Float](repeating: 0, count: B * H * T * T)
    Attention.forward(out: &out, probs: &p, qkv: qkv, B: B, T: T, D: D, H: H)
    var ref = out
    Attention.forwardReference(out: &ref, qkv: qkv, B: B, T: T, D: D, H: H)
    for i in 0..<out.count { XCTAssertEqual(out[i], ref[i], accuracy: 1e-5) }
    for row in 0..<(B * H * T) {
      XCTAssertEqual(p[(row * T)..<((row + 1) * T)].reduce(0, +), 1, accuracy: 1e-5)
    }
    var dqkv = [Float](repeating: 0, count: qkv.count)
    var scratch = [Float](repeating: 0, count: Attention.scratchCount(B: B, T: T, H: H))
    Attention.backward(dqkv: &dqkv, dout: proj, qkv: qkv, probs: p, B: B, T: T, D: D, H: H, scratch: &scratch)
    checkGradient("attention dqkv", x: &qkv, analytic: dqkv, sample: 240) { run($0) }
    // The engine's path: no matrix kept (per-worker scratch), backward recomputes P — the same bits.
    var out2 = [Float](repeating: 0, count: B * T * D)
    var fwdScratch = [Float](repeating: 0, count: Attention.forwardScratchCount(B: B, T: T, H: H))
    var received = [Float](repeating: 0, count: B * H * T), score = received
    Attention.forward(
      out: &out2, probs: &fwdScratch, keepProbs: false, received: &received, qkv: qkv, B: B, T: T, D: D, H: H)
    XCTAssertEqual(out2, out)
    Attention.attentionReceived(score: &score, probs: p, B: B, T: T, H: H)
    XCTAssertEqual(received, score)
    var dqkv2 = [Float](repeating: 0, count: qkv.count)
    Attention.backward(dqkv: &dqkv2, dout: proj, qkv: qkv, probs: nil, B: B, T: T, D: D, H: H, scratch: &scratch)
    XCTAssertEqual(dqkv2, dqkv)
  }

  func testActivations() {
    for kind in ActivationKind.allCases {
      let n = 37
      var x = randomFloats(n, seed: 11, scale: 3)
      let proj = randomFloats(n, seed: 12)
      func run(_ x: [Float]) -> Double {
        var y = [Float](repeating: 0, count: n)
        Activation.forward(kind, out: &y, inp: x, n: n)
        return project(y, proj)
      }
      var y = [Float](repeating: 0, count: n)
      Activation.forward(kind, out: &y, inp: x, n: n)
      for i in 0..<n {
        XCTAssertEqual(Double(y[i]), Activation.forwardReference(kind, Double(x[i])), accuracy: 1e-5)
      }
      var dx = [Float](repeating: 0, count: n)
      Activation.backward(kind, dinp: &dx, inp: x, dout: proj, n: n)
      checkGradient("\(kind) dinp", x: &x, analytic: dx, eps: 1e-3) { run($0) }
    }
  }

  func testL2Normalize() {
    let N = 3, C = 6
    for scale: Float in [1, 7.5] {
      var x = randomFloats(N * C, seed: 13)
      let proj = randomFloats(N * C, seed: 14)
      func run(_ x: [Float]) -> Double {
        var y = [Float](repeating: 0, count: N * C), r = [Float](repeating: 0, count: N)
        L2Normalize.forward(out: &y, norm: &r, inp: x, N: N, C: C, scale: scale)
        return project(y, proj)
      }
      var y = [Float](repeating: 0, count: N * C), r = [Float](repeating: 0, count: N)
      L2Normalize.forward(out: &y, norm: &r, inp: x, N: N, C: C, scale: scale)
      for n in 0..<N {
        XCTAssertEqual(
          y[(n * C)..<((n + 1) * C)].reduce(0) { $0 + $1 * $1 }, scale * scale, accuracy: 1e-4 * scale * scale)
      }
      var dx = [Float](repeating: 0, count: N * C)
      L2Normalize.backward(dinp: &dx, dout: proj, out: y, norm: r, N: N, C: C, scale: scale)
      checkGradient("l2normalize (scale \(scale)) dinp", x: &x, analytic: dx, eps: 1e-3) { run($0) }
    }
  }

  func testSoftmaxCrossEntropy() {
    let B = 4, K = 5
    var logits = randomFloats(B * K, seed: 15, scale: 3)
    let targets: [Int32] = [0, 3, 4, 1]
    func run(_ l: [Float]) -> Double {
      var p = [Float](repeating: 0, count: B * K), losses = [Float](repeating: 0, count: B)
      return Double(SoftmaxCrossEntropy.forward(probs: &p, losses: &losses, logits: l, targets: targets, B: B, K: K))
    }
    var p = [Float](repeating: 0, count: B * K), losses = [Float](repeating: 0, count: B)
    let loss = SoftmaxCrossEntropy.forward(probs: &p, losses: &losses, logits: logits, targets: targets, B: B, K: K)
    // reference: −log softmax in Double
    var ref = 0.0
    for b in 0..<B {
      let row = (0..<K).map { Double(logits[b * K + $0]) }
      let m = row.max()!
      let z = row.reduce(0) { $0 + exp($1 - m) }
      ref += -(row[Int(targets[b])] - m - log(z))
    }
    XCTAssertEqual(Double(loss), ref / Double(B), accuracy: 1e-5)
    var dl = [Float](repeating: 0, count: B * K)
    SoftmaxCrossEntropy.backward(dlogits: &dl, probs: p, targets: targets, B: B, K: K)
    checkGradient("cross-entropy dlogits", x: &logits, analytic: dl, eps: 1e-3) { run($0) }
  }

  func testSigmoidBinaryCrossEntropy() {
    let B = 3, K = 4
    var logits = randomFloats(B * K, seed: 25, scale: 4)
    logits[0] = 40  // large logits stay finite (no exp overflow)
    logits[1] = -40
    let targets: [Float] = [1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0]
    func run(_ l: [Float]) -> Double {
      var p = [Float](repeating: 0, count: B * K), losses = [Float](repeating: 0, count: B)
      return Double(
        SigmoidBinaryCrossEntropy.forward(probs: &p, losses: &losses, logits: l, targets: targets, B: B, K: K))
    }
    var p = [Float](repeating: 0, count: B * K), losses = [Float](repeating: 0, count: B)
    let loss = SigmoidBinaryCrossEntropy.forward(
      probs: &p, losses: &losses, logits: logits, targets: targets, B: B, K: K)
    // reference: −y·log σ(x) − (1−y)·log(1−σ(x)) in Double, mean over all entries
    var ref = 0.0
    for i in 0..<(B * K) {
      let x = Double(logits[i]), y = Double(targets[i])
      ref += x >= 0 ? (1 - y) * x + log(1 + exp(-x)) : -y * x + log(1 + exp(x))
    }
    XCTAssertEqual(Double(loss), ref / Double(B * K), accuracy: 1e-5)
    XCTAssertEqual(p[0], 1, accuracy: 1e-6)
    XCTAssertEqual(Double(losses.reduce(0, +)) / Double(B), ref / Double(B * K), accuracy: 1e-5)
    logits[0] = 2  // the finite-difference check away from saturation
    logits[1] = -1
    _ = SigmoidBinaryCrossEntropy.forward(probs: &p, losses: &losses, logits: logits, targets: targets, B: B, K: K)
    var dl = [Float](repeating: 0, count: B * K)
    SigmoidBinaryCrossEntropy.backward(dlogits: &dl, probs: p, targets: targets, B: B, K: K)
    checkGradient("binary cross-entropy dlogits", x: &logits, analytic: dl, eps: 1e-3) { run($0) }
  }

  func testResidualAndTokenEmbed() {
    let B = 2, Np = 3, D = 4, T = Np + 1
    var patch = randomFloats(B * Np * D, seed: 16), cls = randomFloats(D, seed: 17)
    var pos = randomFloats(T * D, seed: 18)
    let proj = randomFloats(B * T * D, seed: 19)
    func run(_ patch: [Float], _ cls: [Float], _ pos: [Float]) -> Double {
      var x = [Float](repeating: 0, count: B * T * D)
      TokenEmbed.forward(x: &x, patchOut: patch, cls: cls, pos: pos, B: B, Np: Np, D: D)
      var y = x
      Residual.forward(out: &y, a: x, b: x, n: x.count)  // y = 2x
      return project(y, proj)
    }
    // d/dx of 2x is 2·proj; run the residual backward to get it.
    var dx = [Float](repeating: 0, count: B * T * D)
    Residual.backward(da: &dx, db: nil, dout: proj, n: dx.count)
    Residual.backward(da: &dx, db: nil, dout: proj, n: dx.count)
    var dp = [Float](repeating: 0, count: B * Np * D), dc = [Float](repeating: 0, count: D)
    var dpos = [Float](repeating: 0, count: T * D)
    TokenEmbed.backward(dpatchOut: &dp, dcls: &dc, dpos: &dpos, dx: dx, B: B, Np: Np, D: D)
    checkGradient("token embed dpatch", x: &patch, analytic: dp) { run($0, cls, pos) }
    checkGradient("token embed dcls", x: &cls, analytic: dc) { run(patch, $0, pos) }
    checkGradient("token embed dpos", x: &pos, analytic: dpos) { run(patch, cls, $0) }
  }

  func testPatchifyMatchesConvolutionOrder() {
    // image (1, 2, 4, 4), patch 2: patch 1 (row 0, col 1) of channel 1 starts at pixel (0, 2).
    let img = (0..<32).map(Float.init)
    var patches = [Float](repeating: 0, count: 4 * 8)
    Patchify.forward(patches: &patches, images: img, B: 1, C: 2, H: 4, W: 4, P: 2)
    XCTAssertEqual(Array(patches[8..<16]), [2, 3, 6, 7, 18, 19, 22, 23])
  }

  func testGemmSplitMatchesSingleCall() {
    let M = 300, N = 70, K = 90
    let a = randomFloats(M * K, seed: 20), b = randomFloats(K * N, seed: 21)
    var c1 = [Float](repeating: 0, count: M * N), c2 = c1, c3 = c1
    BLAS.gemm(
      transA: false, transB: false, M: M, N: N, K: K, alpha: 1, A: a, lda: K, B: b, ldb: N, beta: 0, C: &c1, ldc: N)
    BLAS.parallelGemm(
      transA: false, transB: false, M: M, N: N, K: K, alpha: 1, A: a, lda: K, B: b, ldb: N, beta: 0,
      C: &c2, ldc: N, minFlopsToSplit: 1)
    BLAS.gemmReference(
      transA: false, transB: false, M: M, N: N, K: K, alpha: 1, A: a, lda: K, B: b, ldb: N, beta: 0, C: &c3, ldc: N)
    for i in 0..<c1.count {
      XCTAssertEqual(c1[i], c2[i], accuracy: 1e-4)
      XCTAssertEqual(c1[i], c3[i], accuracy: 1e-4)
    }
    // transposed A, split by rows of C = columns of A
    let at = randomFloats(K * M, seed: 22)
    BLAS.gemm(
      transA: true, transB: false, M: M, N: N, K: K, alpha: 1, A: at, lda: M, B: b, ldb: N, beta: 0, C: &c1, ldc: N)
    BLAS.parallelGemm(
      transA: true, transB: false, M: M, N: N, K: K, alpha: 1, A: at, lda: M, B: b, ldb: N, beta: 0,
      C: &c2, ldc: N, minFlopsToSplit: 1)
    for i in 0..<c1.count { XCTAssertEqual(c1[i], c2[i], accuracy: 1e-4) }
  }
}

#!/usr/bin/env python3
"""PyTorch reference for `peftlab bench train`: the same three configs, batch 64,
SGD (momentum 0.9) full fine-tuning step of a timm ViT, timed the same way.
    python3 scripts/bench_pytorch.py --threads 2
"""
import argparse, time
import torch, timm, torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--seconds", type=float, default=3.0)
a = p.parse_args()
torch.set_num_threads(a.threads)

def sgemm_gflops(n=1024):
    x, y = torch.randn(n, n), torch.randn(n, n)
    x @ y
    best = 1e9
    for _ in range(5):
        s = time.perf_counter(); x @ y; best = min(best, time.perf_counter() - s)
    return 2 * n ** 3 / best / 1e9

def flops(img, patch, width, depth, heads, mlp, classes=10):
    T = (img // patch) ** 2 + 1; D = width; Fm = mlp
    block = 2*T*D*3*D + 2*2*T*T*D + 2*T*D*D + 2*2*T*D*Fm
    pe = 2 * (T - 1) * 3 * patch * patch * D
    fwd = pe + depth * block + 2 * D * classes
    return 3 * fwd - pe

ref = sgemm_gflops()
print(f"torch {torch.__version__}, threads {a.threads}: matmul 1024³ {ref:.1f} GFLOP/s")
print("| config | step ms | images/s | GFLOP/s | of sgemm |")
for cfg in [(32, 4, 128, 6, 4, 512), (32, 8, 96, 6, 3, 384), (64, 8, 128, 6, 4, 512)]:
    img, patch, width, depth, heads, mlp = cfg
    m = timm.models.vision_transformer.VisionTransformer(
        img_size=img, patch_size=patch, embed_dim=width, depth=depth, num_heads=heads,
        mlp_ratio=mlp / width, num_classes=10)
    opt = torch.optim.SGD(m.parameters(), lr=1e-4, momentum=0.9)
    x = torch.randn(a.batch, 3, img, img); y = torch.arange(a.batch) % 10
    def step():
        opt.zero_grad(); F.cross_entropy(m(x), y).backward(); opt.step()
    for _ in range(2): step()
    n = 0; s = time.perf_counter()
    while time.perf_counter() - s < a.seconds or n < 3:
        step(); n += 1
    t = (time.perf_counter() - s) / n
    gf = flops(*cfg) * a.batch / t / 1e9
    print(f"| {cfg} | {t*1e3:.1f} | {a.batch/t:.0f} | {gf:.1f} | {100*gf/ref:.0f}% |")

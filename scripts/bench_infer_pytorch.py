"""PyTorch's CPU inference throughput for `peftlab bench infer --pytorch`.

The same ViT shape as the engine's preset (timm's VisionTransformer when timm imports, else an
equivalent torch.nn model with scaled_dot_product_attention), random weights, torch.inference_mode,
the same batch and thread count. Prints one JSON line: images per second (best of --iterations).
"""
import argparse, json, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, h, mlp):
        super().__init__()
        self.h = h
        self.norm1, self.norm2 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, mlp), nn.Linear(mlp, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, t, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        x = x + self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, size, patch, d, depth, h, mlp, classes):
        super().__init__()
        self.patch = nn.Conv2d(3, d, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, d) * 0.02)
        self.blocks = nn.Sequential(*[Block(d, h, mlp) for _ in range(depth)])
        self.norm, self.head = nn.LayerNorm(d, eps=1e-6), nn.Linear(d, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        return self.head(self.norm(self.blocks(x))[:, 0])


def main():
    a = argparse.ArgumentParser()
    for k in ["image_size", "patch", "width", "depth", "heads", "mlp", "classes", "batch", "threads", "iterations"]:
        a.add_argument("--" + k.replace("_", "-"), type=int, required=True)
    o = a.parse_args()
    torch.set_num_threads(o.threads)
    try:
        import timm  # noqa: F401
        from timm.models.vision_transformer import VisionTransformer
        m = VisionTransformer(img_size=o.image_size, patch_size=o.patch, embed_dim=o.width, depth=o.depth, num_heads=o.heads,
                              mlp_ratio=o.mlp / o.width, num_classes=o.classes)
        impl = "timm " + timm.__version__
    except Exception:
        m = ViT(o.image_size, o.patch, o.width, o.depth, o.heads, o.mlp, o.classes)
        impl = "torch.nn ViT (scaled_dot_product_attention)"
    m.eval()
    x = torch.randn(o.batch, 3, o.image_size, o.image_size)
    best = float("inf")
    with torch.inference_mode():
        m(x)  # warm-up
        for _ in range(o.iterations):
            s = time.perf_counter()
            m(x)
            best = min(best, time.perf_counter() - s)
    print(json.dumps({"images_per_s": o.batch / best, "impl": impl, "torch": torch.__version__}))


if __name__ == "__main__":
    main()

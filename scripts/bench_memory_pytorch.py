#!/usr/bin/env python3
"""PyTorch reference for `peftlab bench memory --pytorch`: the same presets and methods, batch 64,
two SGD (momentum 0.9) steps of a timm ViT, each configuration in its own process (forked from one
interpreter that has imported torch and timm but run nothing, so the import is paid once). Memory is
the process's peak RSS (getrusage ru_maxrss) minus the peak just before the model is built — the same
measure peftlab reports — so the framework's own allocations count, as in peftlab's row.

    python3 scripts/bench_memory_pytorch.py --presets tiny-p4,tiny-p8 --methods full,linear-probe,...

Methods: full, linear-probe, bitfit, lora (q, v; r 8), adapter (AdaptFormer: parallel, 64, x0.1),
vpt-deep (16 prompts per layer). fpt+ has no timm counterpart: reported as not run.
"""
import argparse, json, resource, subprocess, sys

PRESETS = {"tiny-p4": (32, 4, 128, 6, 4), "tiny-p8": (32, 8, 96, 6, 3), "micro": (16, 4, 32, 2, 2)}


def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def one(preset, method, batch, threads):
    import torch, timm, torch.nn as nn, torch.nn.functional as F
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.randn(batch, 3, PRESETS[preset][0], PRESETS[preset][0])
    y = torch.arange(batch) % 5
    before = rss()
    img, patch, width, depth, heads = PRESETS[preset]
    m = timm.models.vision_transformer.VisionTransformer(img_size=img, patch_size=patch, embed_dim=width, depth=depth,
                                                         num_heads=heads, mlp_ratio=4, num_classes=5)
    for p in m.parameters():
        p.requires_grad_(method == "full")
    for p in m.head.parameters():
        p.requires_grad_(True)
    extra = []
    if method == "bitfit":
        for n, p in m.named_parameters():
            if n.endswith(".bias"):
                p.requires_grad_(True)
    elif method == "lora":
        class QV(nn.Module):
            def __init__(self, qkv, r=8):
                super().__init__(); self.qkv = qkv; d = qkv.in_features
                self.aq, self.bq = nn.Linear(d, r, bias=False), nn.Linear(r, d, bias=False)
                self.av, self.bv = nn.Linear(d, r, bias=False), nn.Linear(r, d, bias=False)
                nn.init.zeros_(self.bq.weight); nn.init.zeros_(self.bv.weight)
            def forward(self, h):
                out = self.qkv(h); d = h.shape[-1]
                return torch.cat([out[..., :d] + self.bq(self.aq(h)), out[..., d:2 * d], out[..., 2 * d:] + self.bv(self.av(h))], -1)
        for b in m.blocks:
            b.attn.qkv = QV(b.attn.qkv); extra += list(b.attn.qkv.parameters())[1:]
    elif method == "adapter":
        for b in m.blocks:
            b.down, b.up = nn.Linear(width, 64), nn.Linear(64, width)
            nn.init.zeros_(b.up.weight); nn.init.zeros_(b.up.bias)
            extra += list(b.down.parameters()) + list(b.up.parameters())
            def fwd(h, b=b):
                h = h + b.attn(b.norm1(h))
                return h + b.mlp(b.norm2(h)) + 0.1 * b.up(F.relu(b.down(h)))
            b.forward = fwd
    elif method == "vpt-deep":
        prompts = nn.Parameter(torch.zeros(depth, 16, width)); extra.append(prompts)
        def forward(inp):
            h = m._pos_embed(m.patch_embed(inp))
            for i, b in enumerate(m.blocks):
                h = b(torch.cat([h[:, :1], prompts[i].expand(inp.shape[0], -1, -1), h[:, 1:] if i == 0 else h[:, 17:]], 1))
            return m.head(m.norm(h)[:, 0])
        m.forward = forward
    elif method != "full" and method != "linear-probe":
        return {"key": f"{preset}:{method}", "rss_delta_mib": None, "note": "no timm counterpart"}
    params = [p for p in m.parameters() if p.requires_grad] + extra
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    for _ in range(2):
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
    return {"key": f"{preset}:{method}", "rss_delta_mib": (rss() - before) / 2 ** 20}


if __name__ == "__main__":
    a = argparse.ArgumentParser()
    a.add_argument("--presets", default="tiny-p4,tiny-p8"); a.add_argument("--methods", default="full,linear-probe,bitfit,lora,adapter,vpt-deep,fpt+")
    a.add_argument("--batch", type=int, default=64); a.add_argument("--threads", type=int, default=2); a.add_argument("--one")
    o = a.parse_args()
    if o.one:
        p, m = o.one.split(":")
        print(json.dumps(one(p, m, o.batch, o.threads)))
        sys.exit(0)
    import os, torch, timm  # noqa: F401  (imported once; each configuration runs in a forked child)
    for p in o.presets.split(","):
        for m in o.methods.split(","):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                try:
                    out = json.dumps(one(p, m, o.batch, o.threads))
                except Exception as e:  # noqa: BLE001
                    out = json.dumps({"key": f"{p}:{m}", "rss_delta_mib": None, "note": str(e)})
                os.write(w, out.encode()); os.close(w)
                os._exit(0)
            os.close(w)
            data = b""
            while chunk := os.read(r, 65536):
                data += chunk
            os.close(r); os.waitpid(pid, 0)
            print(data.decode() or json.dumps({"key": f"{p}:{m}", "rss_delta_mib": None, "note": "the child failed"}), flush=True)

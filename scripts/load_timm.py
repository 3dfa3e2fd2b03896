"""Rebuild a timm VisionTransformer from a peftlab model.h5 (every model peftlab trains or imports).

    python3 scripts/load_timm.py .peftlab/objects/<finetune stage>/model.h5
    python3 scripts/load_timm.py model.h5 --images batch.h5 --out logits.h5   # logits of /images (N, C, H, W)

model.h5 holds one float32 dataset per tensor under its timm name and the config as attributes
(Sources/Model/Checkpoint.swift). The `l2_linear` head (SH-PEFT's: head(s * f / |f|)) is timm's head
behind an L2 normalisation; `quick_gelu` is CLIP's activation; `pre_norm` is CLIP's ln_pre.
`model.peftlab` carries the normalisation mean/std ([0, 1] units) and class names when stored.
"""
import argparse
import json
from functools import partial

import h5py
import numpy as np
import timm  # noqa: F401  (registers the layers VisionTransformer uses)
import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer


class L2Head(torch.nn.Module):
    """SH-PEFT's head: logits = Linear(scale * f / max(|f|, 1e-12))."""

    def __init__(self, linear, scale):
        super().__init__()
        self.linear, self.scale = linear, scale

    def forward(self, x):
        return self.linear(self.scale * F.normalize(x, dim=-1))


def load(path):
    with h5py.File(path, "r") as f:
        a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        if a.get("format") != "peftlab-vit-1":
            raise SystemExit(f"{path}: not a peftlab model.h5 (format {a.get('format')!r})")
        weights = {name: torch.from_numpy(np.array(f[name])) for name in f if isinstance(f[name], h5py.Dataset)}
    width = int(a["width"])
    model = VisionTransformer(
        img_size=int(a["image_size"]), patch_size=int(a["patch_size"]), in_chans=int(a["channels"]),
        num_classes=int(a["num_classes"]), embed_dim=width, depth=int(a["depth"]), num_heads=int(a["heads"]),
        mlp_ratio=int(a["mlp_dim"]) / width, pre_norm=bool(a["pre_norm"]),
        act_layer="quick_gelu" if a["activation"] == "quick_gelu" else "gelu",
        norm_layer=partial(torch.nn.LayerNorm, eps=float(a["layer_norm_eps"])))
    state = model.state_dict()
    if "patch_embed.proj.bias" in state and "patch_embed.proj.bias" not in weights:
        weights["patch_embed.proj.bias"] = torch.zeros_like(state["patch_embed.proj.bias"])  # CLIP: no conv bias
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise SystemExit(f"{path}: tensors missing {missing}, not in timm's ViT {unexpected}")
    if a["head"] == "l2_linear":
        model.head = L2Head(model.head, float(a.get("head_scale", 1.0)))
    model.peftlab = {k: json.loads(a[k]) for k in ("normalization_mean", "normalization_std", "class_names") if k in a}
    return model.eval()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--images", help="HDF5 file with /images (N, C, H, W) float32, already normalised")
    p.add_argument("--out", help="write the logits to this HDF5 file as /logits")
    args = p.parse_args()
    model = load(args.model)
    print(f"{args.model}: timm VisionTransformer, {sum(t.numel() for t in model.parameters())} parameters, "
          f"head {type(model.head).__name__}, {model.peftlab}")
    if args.images:
        with h5py.File(args.images, "r") as f:
            x = torch.from_numpy(np.array(f["images"]))
        with torch.no_grad():
            logits = model(x).numpy().astype(np.float32)
        if args.out:
            with h5py.File(args.out, "w") as f:
                f["logits"] = logits
        else:
            print(logits)

#!/usr/bin/env python3
"""Generate the PyTorch reference fixtures that peftlab's tests compare against.

Run once by a developer (needs torch, timm, open_clip_torch, h5py, safetensors,
scikit-learn); the outputs are committed under Tests/Fixtures so CI needs none
of these packages:

    pip install torch timm open_clip_torch h5py safetensors scikit-learn
    python3 scripts/make_fixtures.py            # writes Tests/Fixtures/*

Fixtures:
  timm_micro.h5 / clip_micro.h5  peftlab checkpoint layout (timm names + config
      attributes) plus /batch (images, labels), /expected (logits, loss,
      grads/<name>), /sgd and /adamw (10 batches and the 10 losses PyTorch gets).
  timm_micro.safetensors         timm state_dict of the same timm model.
  clip_micro.safetensors         open_clip visual tower ('visual.' prefix, with proj).
  metrics.h5                     scikit-learn accuracy / macro F1 / AUC cases.
  posembed.h5                    timm resample_abs_pos_embed cases.
"""
import math
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import timm
from timm.layers import resample_abs_pos_embed
import open_clip.transformer as oct

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures")
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

IMG, PATCH, WIDTH, DEPTH, HEADS, CLASSES, BATCH = 16, 4, 32, 2, 2, 4, 4


def randomise(module, gen, std=0.2):
    """Weights far from init so every path matters (LayerNorm weights near 1)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=gen) * std
            is_ln_weight = p.ndim == 1 and ("norm" in name or "ln_" in name) and name.endswith("weight")
            p.copy_(noise + (1.0 if is_ln_weight else 0.0))


class TimmL2Head(torch.nn.Module):
    """timm ViT with SH-PEFT's head: logits = head(normalize(norm(x)[:, 0]))."""

    def __init__(self):
        super().__init__()
        self.vit = timm.models.vision_transformer.VisionTransformer(
            img_size=IMG, patch_size=PATCH, in_chans=3, num_classes=CLASSES, embed_dim=WIDTH,
            depth=DEPTH, num_heads=HEADS, mlp_ratio=4.0, qkv_bias=True, global_pool="token")

    def forward(self, x):
        f = self.vit.forward_head(self.vit.forward_features(x), pre_logits=True)
        return self.vit.head(F.normalize(f, dim=-1))

    def named(self):
        return {n[len("vit."):]: p for n, p in self.named_parameters()}


class ClipLinearHead(torch.nn.Module):
    """open_clip VisionTransformer (QuickGELU, ln_pre, no conv bias) + a linear head."""

    def __init__(self):
        super().__init__()
        act = getattr(oct, "QuickGELU", None)
        if act is None:
            from open_clip.model import QuickGELU as act
        self.visual = oct.VisionTransformer(
            image_size=IMG, patch_size=PATCH, width=WIDTH, layers=DEPTH, heads=HEADS, mlp_ratio=4.0,
            output_dim=24, act_layer=act)
        self.head = torch.nn.Linear(WIDTH, CLASSES)

    def forward(self, x):
        proj = self.visual.proj
        self.visual.proj = None
        try:
            pooled = self.visual(x)
        finally:
            self.visual.proj = proj
        return self.head(pooled)

    def named(self):
        m = {}
        for n, p in self.visual.named_parameters():
            t = clip_to_timm(n)
            if t is not None:
                m[t] = p
        m["head.weight"] = self.head.weight
        m["head.bias"] = self.head.bias
        return m


def clip_to_timm(n):
    fixed = {"conv1.weight": "patch_embed.proj.weight", "class_embedding": "cls_token",
             "positional_embedding": "pos_embed", "ln_pre.weight": "norm_pre.weight",
             "ln_pre.bias": "norm_pre.bias", "ln_post.weight": "norm.weight", "ln_post.bias": "norm.bias"}
    if n in fixed:
        return fixed[n]
    if not n.startswith("transformer.resblocks."):
        return None
    i, tail = n[len("transformer.resblocks."):].split(".", 1)
    tails = {"ln_1.weight": "norm1.weight", "ln_1.bias": "norm1.bias",
             "attn.in_proj_weight": "attn.qkv.weight", "attn.in_proj_bias": "attn.qkv.bias",
             "attn.out_proj.weight": "attn.proj.weight", "attn.out_proj.bias": "attn.proj.bias",
             "ln_2.weight": "norm2.weight", "ln_2.bias": "norm2.bias",
             "mlp.c_fc.weight": "mlp.fc1.weight", "mlp.c_fc.bias": "mlp.fc1.bias",
             "mlp.c_proj.weight": "mlp.fc2.weight", "mlp.c_proj.bias": "mlp.fc2.bias"}
    return f"blocks.{i}.{tails[tail]}"


TIMM_SHAPES = {"cls_token": (1, 1, WIDTH), "pos_embed": (1, (IMG // PATCH) ** 2 + 1, WIDTH)}


def uses_decay(name, p):
    # timm param_groups_weight_decay: no decay for 1-D params, pos_embed, cls_token
    return p.ndim > 1 and name not in ("pos_embed", "cls_token") and p.numel() != p.shape[-1]


def cosine_lr(base, warmup, total, step):
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * base * (1 + math.cos(math.pi * progress))


def train_losses(model, kind, batches, labels):
    named = model.named()
    decay = [p for n, p in named.items() if uses_decay(n, p)]
    no_decay = [p for n, p in named.items() if not uses_decay(n, p)]
    if kind == "sgd":
        hp = dict(lr=0.05, momentum=0.9, weight_decay=1e-3, warmup=2, clip=1.0)
        opt = torch.optim.SGD([{"params": decay, "weight_decay": hp["weight_decay"]},
                               {"params": no_decay, "weight_decay": 0.0}], lr=hp["lr"], momentum=hp["momentum"])
    else:
        hp = dict(lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.05, warmup=2, clip=0.0)
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=hp["lr"],
                                betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"])
    losses = []
    for step in range(len(batches)):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(hp["lr"], hp["warmup"], len(batches), step)
        opt.zero_grad()
        loss = F.cross_entropy(model(batches[step]), labels[step])
        loss.backward()
        if hp["clip"] > 0:
            torch.nn.utils.clip_grad_norm_(list(named.values()), hp["clip"])
        opt.step()
        losses.append(loss.item())
    return hp, losses


def write_model_fixture(path, model, config):
    gen = torch.Generator().manual_seed(1234)
    images = torch.randn(BATCH, 3, IMG, IMG, generator=gen)
    labels = torch.randint(0, CLASSES, (BATCH,), generator=gen)
    model.zero_grad()
    logits = model(images)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    named = model.named()
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "peftlab-vit-1"
        for k, v in config.items():
            f.attrs[k] = v
        for n, p in named.items():
            f.create_dataset(n, data=p.detach().reshape(TIMM_SHAPES.get(n, p.shape)).numpy().astype(np.float32))
        f.create_dataset("batch/images", data=images.numpy())
        f.create_dataset("batch/labels", data=labels.numpy().astype(np.int64))
        f.create_dataset("expected/logits", data=logits.detach().numpy())
        f.create_dataset("expected/loss", data=np.float32(loss.item()))
        for n, p in named.items():
            f.create_dataset(f"expected/grads/{n}", data=p.grad.reshape(TIMM_SHAPES.get(n, p.shape)).numpy())
        state = {n: p.detach().clone() for n, p in named.items()}
        for kind in ("sgd", "adamw"):
            with torch.no_grad():
                for n, p in named.items():
                    p.copy_(state[n])
            steps_images = torch.randn(10, BATCH, 3, IMG, IMG, generator=gen)
            steps_labels = torch.randint(0, CLASSES, (10, BATCH), generator=gen)
            hp, losses = train_losses(model, kind, steps_images, steps_labels)
            g = f.create_group(kind)
            g.create_dataset("images", data=steps_images.numpy())
            g.create_dataset("labels", data=steps_labels.numpy().astype(np.int64))
            g.create_dataset("losses", data=np.array(losses, dtype=np.float64))
            for k, v in hp.items():
                g.attrs[k] = float(v)
        with torch.no_grad():
            for n, p in named.items():
                p.copy_(state[n])


def base_config(**kw):
    c = dict(image_size=IMG, channels=3, patch_size=PATCH, width=WIDTH, depth=DEPTH, heads=HEADS,
             mlp_dim=4 * WIDTH, num_classes=CLASSES, pre_norm=0, patch_bias=1,
             activation="gelu", head="l2_linear", layer_norm_eps=1e-6)
    c.update(kw)
    return c


def model_fixtures():
    torch.manual_seed(0)
    timm_model = TimmL2Head()
    randomise(timm_model, torch.Generator().manual_seed(1))
    save_file({k: v.detach().contiguous() for k, v in timm_model.vit.state_dict().items()},
              os.path.join(OUT, "timm_micro.safetensors"))
    write_model_fixture(os.path.join(OUT, "timm_micro.h5"), timm_model, base_config())

    clip_model = ClipLinearHead()
    randomise(clip_model, torch.Generator().manual_seed(2))
    sd = {"visual." + k: v.detach().contiguous() for k, v in clip_model.visual.state_dict().items()}
    save_file(sd, os.path.join(OUT, "clip_micro.safetensors"))
    write_model_fixture(os.path.join(OUT, "clip_micro.h5"), clip_model, base_config(
        pre_norm=1, patch_bias=0, activation="quick_gelu", head="linear", layer_norm_eps=1e-5))


def metrics_fixture():
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
    rng = np.random.default_rng(7)
    with h5py.File(os.path.join(OUT, "metrics.h5"), "w") as f:
        cases = [("binary", 2, 60), ("multiclass", 4, 80), ("ties", 3, 50), ("missing_class", 5, 40)]
        for name, k, n in cases:
            y = rng.integers(0, k, n)
            if name == "missing_class":
                y[y == 4] = 0  # class 4 never true, but may be predicted
            scores = rng.random((n, k)).astype(np.float32)
            scores[np.arange(n), y] += 0.4  # informative but imperfect
            if name == "ties":
                scores = np.round(scores * 4) / 4
            scores = scores / scores.sum(1, keepdims=True)
            pred = scores.argmax(1)
            g = f.create_group(name)
            g.create_dataset("scores", data=scores.astype(np.float32))
            g.create_dataset("labels", data=y.astype(np.int64))
            g.attrs["accuracy"] = accuracy_score(y, pred)
            g.attrs["macro_f1"] = f1_score(y, pred, average="macro", zero_division=0)
            if k == 2:
                auc = roc_auc_score(y, scores[:, 1])
            else:
                present = np.unique(y)
                auc = np.mean([roc_auc_score(y == c, scores[:, c]) for c in present])
                if len(present) == k:
                    assert abs(auc - roc_auc_score(y, scores, multi_class="ovr", average="macro")) < 1e-12
            g.attrs["macro_auc"] = auc


def posembed_fixture():
    gen = torch.Generator().manual_seed(3)
    with h5py.File(os.path.join(OUT, "posembed.h5"), "w") as f:
        for old, new in [(4, 6), (6, 4), (4, 3), (3, 7)]:
            pos = torch.randn(1, 1 + old * old, 5, generator=gen)
            out = resample_abs_pos_embed(pos, new_size=[new, new], old_size=[old, old], num_prefix_tokens=1)
            g = f.create_group(f"{old}to{new}")
            g.create_dataset("input", data=pos[0].numpy())
            g.create_dataset("output", data=out[0].numpy())


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    model_fixtures()
    metrics_fixture()
    posembed_fixture()
    data_fixtures()
    for n in sorted(os.listdir(OUT)):
        print(f"{n:28s} {os.path.getsize(os.path.join(OUT, n)):8d} bytes")


def data_fixtures():
    """Small MedMNIST-style npz files (stored and compressed) for the loader tests."""
    d = os.path.join(OUT, "data")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(11)
    def split(n, shape, k):
        return rng.integers(0, 256, (n,) + shape, dtype=np.uint8), rng.integers(0, k, (n, 1))
    arrays = {}
    for s, n in [("train", 12), ("val", 4), ("test", 6)]:
        arrays[f"{s}_images"], arrays[f"{s}_labels"] = split(n, (8, 8), 3)
    np.savez(os.path.join(d, "tinymnist.npz"), **arrays)
    np.savez_compressed(os.path.join(d, "tinymnist_compressed.npz"), **arrays)
    multi = {}
    for s, n in [("train", 10), ("val", 3), ("test", 5)]:
        multi[f"{s}_images"] = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
        multi[f"{s}_labels"] = rng.integers(0, 2, (n, 4))
    np.savez_compressed(os.path.join(d, "tinymulti.npz"), **multi)
    import hashlib
    for f in sorted(os.listdir(d)):
        print(f, hashlib.md5(open(os.path.join(d, f), "rb").read()).hexdigest())

"""Checkpoints for Pipelines/byo-example.yaml: W_ori and, per task and seed, a W_ft, as timm-layout safetensors.

    peftlab dataset export busi-synth --to data/byo/busi-synth      # (make byo-example does all three)
    python3 scripts/byo_checkpoints.py --data data/byo --out checkpoints/byo
    peftlab run --pipeline Pipelines/byo-example.yaml

--backend torch (the default where torch, timm and Pillow import): W_ori is timm's VisionTransformer at its
own random initialisation; each W_ft is W_ori plus a new head fine-tuned fully with SGD (momentum 0.9, cosine,
batch 32) on the task's train/ image folder, normalised by the train split's per-channel mean/std (as peftlab
does). This is the path a GPU user takes with a real foundation model.
--backend plain (no dependency; CI): the same tensor names, shapes and file format, but W_ft = W_ori + a random
change (every weight a little, a tenth of them ten times more) - it exercises import and the studies, and its
numbers mean nothing.
"""
import argparse
import json
import math
import os
import random
import struct
from array import array

CONFIG = dict(img_size=32, patch_size=4, embed_dim=64, depth=4, num_heads=2, mlp_ratio=4.0)
SPLITS = ("train", "val", "test")


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: (shape, array('f'))}; the format of safetensors.torch.save_file, atomically."""
    header, offset = {}, 0
    for name in sorted(tensors):
        shape, data = tensors[name]
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + 4 * len(data)]}
        offset += 4 * len(data)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name in sorted(tensors):
            data = tensors[name][1]
            if data.itemsize != 4 or array("f", [1.0]).tobytes() != struct.pack("<f", 1.0):
                raise SystemExit("needs little-endian float32")
            f.write(data.tobytes())
    os.replace(tmp, path)


def classes_of(task_dir):
    return sorted(d for d in os.listdir(os.path.join(task_dir, "train")) if not d.startswith("."))


def timm_shapes(classes):
    d, p, depth = CONFIG["embed_dim"], CONFIG["patch_size"], CONFIG["depth"]
    m, t = int(d * CONFIG["mlp_ratio"]), (CONFIG["img_size"] // p) ** 2 + 1
    s = {"cls_token": (1, 1, d), "pos_embed": (1, t, d), "patch_embed.proj.weight": (d, 3, p, p),
         "patch_embed.proj.bias": (d,), "norm.weight": (d,), "norm.bias": (d,)}
    for i in range(depth):
        b = f"blocks.{i}."
        s.update({b + "norm1.weight": (d,), b + "norm1.bias": (d,), b + "attn.qkv.weight": (3 * d, d),
                  b + "attn.qkv.bias": (3 * d,), b + "attn.proj.weight": (d, d), b + "attn.proj.bias": (d,),
                  b + "norm2.weight": (d,), b + "norm2.bias": (d,), b + "mlp.fc1.weight": (m, d),
                  b + "mlp.fc1.bias": (m,), b + "mlp.fc2.weight": (d, m), b + "mlp.fc2.bias": (d,)})
    if classes:
        s.update({"head.weight": (classes, d), "head.bias": (classes,)})
    return s


def plain(tasks, seeds, out):
    rng = random.Random(0)
    ori = {}
    for name, shape in timm_shapes(0).items():
        n = math.prod(shape)
        if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
            ori[name] = (shape, array("f", [1.0] * n))
        else:
            ori[name] = (shape, array("f", [rng.gauss(0, 0.02) for _ in range(n)]))
    for task, classes in tasks:
        for seed in seeds:
            r = random.Random(1000 * seed + len(task))
            ft = {k: (s, array("f", [x + r.gauss(0, 0.002) * (10 if r.random() < 0.1 else 1) for x in v]))
                  for k, (s, v) in ori.items()}
            for name, shape in timm_shapes(len(classes)).items():
                if name.startswith("head."):
                    ft[name] = (shape, array("f", [r.gauss(0, 0.1) for _ in range(math.prod(shape))]))
            write_safetensors(os.path.join(out, f"ft-{os.path.basename(task)}-s{seed}.safetensors"), ft,
                              {"backend": "plain", "seed": str(seed)})
    write_safetensors(os.path.join(out, "ori.safetensors"), ori, {"backend": "plain"})  # last: `make` checks it


def torch_backend(tasks, seeds, out, steps, lr):
    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from timm.models.vision_transformer import VisionTransformer

    def tensors(model):
        return {k: (tuple(v.shape), array("f", v.detach().float().contiguous().numpy().ravel().tobytes()))
                for k, v in model.state_dict().items()}

    def load_split(task, split, classes):
        xs, ys = [], []
        for y, c in enumerate(classes):
            folder = os.path.join(task, split, c)
            for f in sorted(os.listdir(folder)):
                img = Image.open(os.path.join(folder, f)).convert("RGB")
                xs.append(np.asarray(img, dtype=np.float32) / 255)
                ys.append(y)
        return torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous(), torch.tensor(ys)

    torch.manual_seed(0)
    ori = VisionTransformer(num_classes=0, **CONFIG)
    for task, classes in tasks:
        x, y = load_split(task, "train", classes)
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), keepdim=True, unbiased=False).clamp_min(1e-3)
        x = (x - mean) / std
        tx, ty = load_split(task, "test", classes)
        tx = (tx - mean) / std
        for seed in seeds:
            torch.manual_seed(seed)
            model = VisionTransformer(num_classes=len(classes), **CONFIG)
            model.load_state_dict(ori.state_dict(), strict=False)  # the backbone; the head is new
            opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
            g = torch.Generator().manual_seed(seed)
            model.train()
            for step in range(steps):
                idx = torch.randint(len(y), (32,), generator=g)
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
            model.eval()
            with torch.no_grad():
                acc = (model(tx).argmax(1) == ty).float().mean().item()
            name = f"ft-{os.path.basename(task)}-s{seed}.safetensors"
            print(f"{name}: {steps} SGD steps, last loss {loss.item():.3f}, test accuracy {acc:.3f}"
                  " (peftlab's sparsity stage at k = 100 % must agree)")
            write_safetensors(os.path.join(out, name), tensors(model), {"backend": "torch", "seed": str(seed)})
    write_safetensors(os.path.join(out, "ori.safetensors"), tensors(ori), {"backend": "torch"})  # last: `make` checks it


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="data/byo", help="folder of task folders (<task>/{train,val,test}/<class>/)")
    p.add_argument("--out", default="checkpoints/byo")
    p.add_argument("--seeds", default="1,2")
    p.add_argument("--backend", choices=["auto", "torch", "plain"], default="auto")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=0.01)
    a = p.parse_args()
    tasks = [(os.path.join(a.data, t), classes_of(os.path.join(a.data, t))) for t in sorted(os.listdir(a.data))
             if all(os.path.isdir(os.path.join(a.data, t, s)) for s in SPLITS)]
    if not tasks:
        raise SystemExit(f"{a.data}: no task folder with train/, val/, test/ (run `peftlab dataset export`)")
    backend = a.backend
    if backend == "auto":
        try:
            import PIL  # noqa: F401
            import timm  # noqa: F401
            import torch  # noqa: F401
            backend = "torch"
        except Exception:
            backend = "plain"
    os.makedirs(a.out, exist_ok=True)
    seeds = [int(s) for s in a.seeds.split(",")]
    print(f"backend {backend}: {len(tasks)} tasks x seeds {seeds} -> {a.out}")
    if backend == "torch":
        torch_backend(tasks, seeds, a.out, a.steps, a.lr)
    else:
        plain(tasks, seeds, a.out)


if __name__ == "__main__":
    main()

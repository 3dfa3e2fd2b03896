"""Fine-tune only the weights peftlab's SH-PEFT selection chose, in PyTorch (timm names).

    python3 scripts/train_masked.py .peftlab/objects/<importance stage>/mask.safetensors \
        --model vit_base_patch16_clip_224.openai --classes 3
    python3 scripts/train_masked.py <mask.safetensors> --model <a peftlab model.h5, e.g. the W_ori import's>

mask.safetensors (written by every `importance` stage) holds one uint8 0/1 tensor per backbone
parameter; the task head is not in it and trains fully, as in SH-PEFT. Gradients outside the mask
are zeroed by hooks, and weight decay is off, so unselected weights never move. Replace the random
batch below with your DataLoader.
"""
import argparse
import os
import sys

import timm
import torch
from safetensors.torch import load_file, safe_open

p = argparse.ArgumentParser()
p.add_argument("mask"); p.add_argument("--model", default="vit_base_patch16_224", help="timm name or model.h5"); p.add_argument("--classes", type=int, default=3)
p.add_argument("--lr", type=float, default=1e-3); p.add_argument("--steps", type=int, default=10)
a = p.parse_args()

masks = load_file(a.mask)
with safe_open(a.mask, "pt") as f:
    print({k: v for k, v in f.metadata().items()})
if a.model.endswith(".h5"):                          # a peftlab checkpoint, rebuilt as timm's ViT
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from load_timm import load
    model = load(a.model).train()
    model.reset_classifier(a.classes)
else:
    model = timm.create_model(a.model, pretrained=False, num_classes=a.classes)
before = {k: v.detach().clone() for k, v in model.named_parameters()}
trainable = []
for name, w in model.named_parameters():
    if name in masks:
        m = masks[name].to(w.dtype)
        w.register_hook(lambda g, m=m: g * m)       # only the selected elements learn
        trainable.append(w)
    elif name.startswith("head."):
        trainable.append(w)                          # the task head trains fully
    else:
        w.requires_grad_(False)
print(f"selected {int(sum(m.sum() for m in masks.values()))} backbone elements")
opt = torch.optim.SGD(trainable, lr=a.lr, momentum=0.9, weight_decay=0.0)
size = model.patch_embed.img_size
for step in range(a.steps):
    x, y = torch.randn(8, 3, *size), torch.randint(0, a.classes, (8,))   # your data here
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
    print(step, float(loss))
moved = {k: int((w.detach() != before[k]).sum()) for k, w in model.named_parameters() if k in masks}
outside = sum(int(((w.detach() != before[k]) & (masks[k] == 0)).sum()) for k, w in model.named_parameters() if k in masks)
print(f"backbone elements changed: {sum(moved.values())}, outside the mask: {outside}")
if outside:
    raise SystemExit("a weight outside the mask moved")

"""Fine-tune only the weights peftlab's SH-PEFT selection chose, in PyTorch (timm names).

    python3 scripts/train_masked.py .peftlab/objects/<importance stage>/mask.safetensors \
        --model vit_base_patch16_clip_224.openai --classes 3

mask.safetensors (written by every `importance` stage) holds one uint8 0/1 tensor per backbone
parameter; the task head is not in it and trains fully, as in SH-PEFT. Gradients outside the mask
are zeroed by hooks, and weight decay is off, so unselected weights never move. Replace the random
batch below with your DataLoader.
"""
import argparse

import timm
import torch
from safetensors.torch import load_file, safe_open

p = argparse.ArgumentParser()
p.add_argument("mask"); p.add_argument("--model", default="vit_base_patch16_224"); p.add_argument("--classes", type=int, default=3)
p.add_argument("--lr", type=float, default=1e-3); p.add_argument("--steps", type=int, default=10)
a = p.parse_args()

masks = load_file(a.mask)
with safe_open(a.mask, "pt") as f:
    print({k: v for k, v in f.metadata().items()})
model = timm.create_model(a.model, pretrained=False, num_classes=a.classes)
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
size = model.default_cfg["input_size"][1:]
for step in range(a.steps):
    x, y = torch.randn(8, 3, *size), torch.randint(0, a.classes, (8,))   # your data here
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
    print(step, float(loss))

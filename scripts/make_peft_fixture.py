#!/usr/bin/env python3
"""Tests/Fixtures/peft_lora/: a Hugging Face peft LoRA adapter on a timm ViT, and what merging it gives.

    pip install torch timm peft h5py safetensors
    python3 scripts/make_peft_fixture.py

base.safetensors            the timm ViT's state_dict (the base model, with its 3-class head)
adapter_model.safetensors   peft's save_pretrained: LoRA A/B on attn.qkv (r 4) and mlp.fc1 (r 2 by rank_pattern),
adapter_config.json         lora_alpha 16, the head in modules_to_save (trained fully)
expected.h5                 /images (N, C, H, W) and /logits of peft's merge_and_unload() model
"""
import os

import h5py
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from timm.models.vision_transformer import VisionTransformer

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "peft_lora")
torch.manual_seed(0)
base = VisionTransformer(img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2, num_classes=3)
with torch.no_grad():
    for p in base.parameters():
        p.add_(0.2 * torch.randn_like(p))   # far from initialisation
os.makedirs(OUT, exist_ok=True)
save_file({k: v.contiguous() for k, v in base.state_dict().items()}, os.path.join(OUT, "base.safetensors"))
cfg = LoraConfig(r=4, lora_alpha=16, target_modules=["qkv", "fc1"], rank_pattern={"fc1": 2},
                 modules_to_save=["head"])
model = get_peft_model(base, cfg)
with torch.no_grad():
    for n, p in model.named_parameters():
        if "lora_" in n or "modules_to_save" in n:
            p.normal_(0, 0.3)                # as if trained
model.save_pretrained(OUT)
merged = model.merge_and_unload().eval()
x = torch.randn(4, 3, 16, 16)
with torch.no_grad():
    logits = merged(x)
with h5py.File(os.path.join(OUT, "expected.h5"), "w") as f:
    f["images"] = x.numpy()
    f["logits"] = logits.numpy()
for n in sorted(os.listdir(OUT)):
    print(f"{n:28s} {os.path.getsize(os.path.join(OUT, n)):8d} bytes")

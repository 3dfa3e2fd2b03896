#!/usr/bin/env python3
"""Inputs of the `paper-smoke` profile: the `paper` pipelines unchanged in shape, on stand-ins that fit CI.

    python3 scripts/make_paper_smoke.py        # make paper-figures PROFILE=paper-smoke runs it first

- data-smoke/papers/<name>/{train,val,test}/<class>/*.png: each dataset of the paper profile (groups.yaml's
  sh-peft-real) stood in for by its embedded twin (<name>-synth) rendered at 224 px, a few images per split,
  under the real manifest's class names (`peftlab dataset export --as`). The profile reads data-smoke/, never
  data/, so real data there is untouched.
- checkpoints/paper-smoke/clip-narrow-p16.safetensors: a whole open_clip/CLIP file (visual tower with proj,
  plus text-tower tensors the import must ignore) of the CLIP ViT-B/16 layout at width 64, depth 2, patch 16,
  random weights - what `paper` imports from checkpoints/clip-vit-b16.safetensors.
Dependency-free (no numpy); existing outputs are kept.
"""
import argparse
import os
import random
import subprocess
import sys
from array import array

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from byo_checkpoints import write_safetensors  # noqa: E402

TASKS = ["chaoyang", "covid19-ct", "busi", "cxr3", "oct", "limuc"]   # groups.yaml: sh-peft-real
WIDTH, DEPTH, PATCH, SIZE, EMBED = 64, 2, 16, 224, 32


def clip_narrow(path):
    rng = random.Random(0)
    d, t = WIDTH, (SIZE // PATCH) ** 2 + 1
    shapes = {"visual.conv1.weight": (d, 3, PATCH, PATCH), "visual.class_embedding": (d,),
              "visual.positional_embedding": (t, d), "visual.ln_pre.weight": (d,), "visual.ln_pre.bias": (d,),
              "visual.ln_post.weight": (d,), "visual.ln_post.bias": (d,), "visual.proj": (d, EMBED),
              # text tower (a whole CLIP file): ignored by the import
              "token_embedding.weight": (16, d), "transformer.resblocks.0.ln_1.weight": (d,),
              "ln_final.weight": (d,), "text_projection": (d, EMBED)}
    for i in range(DEPTH):
        b = f"visual.transformer.resblocks.{i}."
        shapes.update({b + "ln_1.weight": (d,), b + "ln_1.bias": (d,), b + "attn.in_proj_weight": (3 * d, d),
                       b + "attn.in_proj_bias": (3 * d,), b + "attn.out_proj.weight": (d, d),
                       b + "attn.out_proj.bias": (d,), b + "ln_2.weight": (d,), b + "ln_2.bias": (d,),
                       b + "mlp.c_fc.weight": (4 * d, d), b + "mlp.c_fc.bias": (4 * d,),
                       b + "mlp.c_proj.weight": (d, 4 * d), b + "mlp.c_proj.bias": (d,)})
    tensors = {}
    for name, shape in sorted(shapes.items()):
        n = 1
        for s in shape:
            n *= s
        one = name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith(("_pre.weight",
                                                                                              "_post.weight", "final.weight"))
        tensors[name] = (shape, array("f", [1.0] * n if one else [rng.gauss(0, 0.02) for _ in range(n)]))
    write_safetensors(path, tensors, {"layout": "open_clip", "note": "peftlab paper-smoke stand-in, random weights"})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--peftlab", default=".build/release/peftlab")
    p.add_argument("--limit", type=int, default=24, help="images per split")
    a = p.parse_args()
    for t in TASKS:
        dest = f"data-smoke/papers/{t}"
        if os.path.isdir(dest):
            continue
        subprocess.run([a.peftlab, "dataset", "export", f"{t}-synth", "--as", t, "--size", str(SIZE),
                        "--limit", str(a.limit), "--data-root", "data-smoke"], check=True)
    ckpt = "checkpoints/paper-smoke/clip-narrow-p16.safetensors"
    if not os.path.exists(ckpt):
        os.makedirs(os.path.dirname(ckpt), exist_ok=True)
        clip_narrow(ckpt)
        print(f"wrote {ckpt}")


if __name__ == "__main__":
    main()

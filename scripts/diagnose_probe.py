#!/usr/bin/env python3
"""Diagnose what limits the recipe's linear probe (CALIBRATION.md round 17).

A numpy re-implementation of peftlab's ViT forward (checked: the pretrained model's upstream test
accuracy comes out identical to its metrics.json), the class-token features after the final
LayerNorm of a pretrained model.h5 on the six decoded embedded tasks, then
  (1) converged logistic regressions (sklearn L-BFGS, C = 1) on the raw, L2-normalised, centred +
      L2-normalised and standardised features, and the features' mean pairwise cosine;
  (2) the recipe's probe on fixed features without augmentation: SGD (momentum 0.9, cosine,
      batch 64, 200 steps) on the L2 head with logit scale 16, raw / centred / standardised.
Needs: pip install numpy scipy h5py scikit-learn.
  python3 scripts/diagnose_probe.py .peftlab/objects/<pretrain output>/model.h5 [.peftlab/datasets]
"""
import glob, json, sys
import h5py
import numpy as np
from scipy.special import erf
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

TASKS = ['busi', 'chaoyang', 'covid19-ct', 'cxr3', 'limuc', 'oct']


def load(path):
    f = h5py.File(path)
    W = {}
    def walk(g, pre=''):
        for k, v in g.items():
            if hasattr(v, 'shape'): W[pre + k] = np.array(v)
            else: walk(v, pre + k + '.')
    walk(f)
    return W, dict(f.attrs)


def ln(x, w, b, eps=1e-6):
    m = x.mean(-1, keepdims=True); v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


def features(W, A, imgs):
    """Class-token features (N, D) after the final LayerNorm; imgs (N, S, S, C) uint8."""
    N = imgs.shape[0]; x = imgs.astype(np.float32) / 255
    if x.shape[-1] == 1: x = np.repeat(x, 3, -1)
    x = (x - np.array(json.loads(A['normalization_mean']))) / np.array(json.loads(A['normalization_std']))
    P, D, H, S = int(A['patch_size']), int(A['width']), int(A['heads']), x.shape[1]
    g = S // P
    x = x.reshape(N, g, P, g, P, 3).transpose(0, 1, 3, 5, 2, 4).reshape(N, g * g, 3 * P * P)
    t = x @ W['patch_embed.proj.weight'].reshape(D, -1).T + W['patch_embed.proj.bias']
    t = np.concatenate([np.broadcast_to(W['cls_token'].reshape(1, 1, D), (N, 1, D)), t], 1) + W['pos_embed']
    for b in range(int(A['depth'])):
        p = f'blocks.{b}.'
        h = ln(t, W[p + 'norm1.weight'], W[p + 'norm1.bias'])
        T, hd = t.shape[1], D // H
        q, k, v = (h @ W[p + 'attn.qkv.weight'].T + W[p + 'attn.qkv.bias']).reshape(N, T, 3, H, hd).transpose(2, 0, 3, 1, 4)
        a = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd); a = np.exp(a - a.max(-1, keepdims=True)); a /= a.sum(-1, keepdims=True)
        t = t + (a @ v).transpose(0, 2, 1, 3).reshape(N, T, D) @ W[p + 'attn.proj.weight'].T + W[p + 'attn.proj.bias']
        h = ln(t, W[p + 'norm2.weight'], W[p + 'norm2.bias'])
        h = h @ W[p + 'mlp.fc1.weight'].T + W[p + 'mlp.fc1.bias']
        t = t + (0.5 * h * (1 + erf(h / np.sqrt(2)))) @ W[p + 'mlp.fc2.weight'].T + W[p + 'mlp.fc2.bias']
    return ln(t, W['norm.weight'], W['norm.bias'])[:, 0]


def l2(x): return x / np.linalg.norm(x, axis=1, keepdims=True)


def sgd_probe(Xtr, ytr, Xte, yte, lr, steps=200, s=16, seed=1):
    rng = np.random.default_rng(seed); K = ytr.max() + 1
    Wt = rng.normal(0, 0.02, (K, Xtr.shape[1])); b = np.zeros(K); vW = np.zeros_like(Wt); vb = np.zeros_like(b)
    perm, p = rng.permutation(len(ytr)), 0
    for t in range(steps):
        if p + 64 > len(ytr): perm, p = rng.permutation(len(ytr)), 0
        idx = perm[p:p + 64]; p += 64
        z = s * l2(Xtr[idx]); lo = z @ Wt.T + b; lo -= lo.max(1, keepdims=True)
        P = np.exp(lo); P /= P.sum(1, keepdims=True); P[np.arange(64), ytr[idx]] -= 1; P /= 64
        cur = lr * 0.5 * (1 + np.cos(np.pi * t / steps))
        vW = 0.9 * vW + P.T @ z; vb = 0.9 * vb + P.sum(0); Wt -= cur * vW; b -= cur * vb
    return f1_score(yte, (s * l2(Xte) @ Wt.T + b).argmax(1), average='macro')


def main():
    W, A = load(sys.argv[1]); root = sys.argv[2] if len(sys.argv) > 2 else '.peftlab/datasets'
    conv, sgd = [], []
    for t in TASKS:
        f = h5py.File(glob.glob(f'{root}/{t}-synth-*-{int(A["image_size"])}.h5')[0])
        (Xtr, ytr), (Xte, yte) = [(features(W, A, np.array(f[s + '/images'])), np.array(f[s + '/labels']))
                                  for s in ('train', 'test')]
        mu, sd = Xtr.mean(0), Xtr.std(0)
        variants = [(Xtr, Xte), (16 * l2(Xtr), 16 * l2(Xte)), (16 * l2(Xtr - mu), 16 * l2(Xte - mu)),
                    ((Xtr - mu) / sd, (Xte - mu) / sd)]
        row = [f1_score(yte, LogisticRegression(C=1.0, max_iter=3000).fit(a, ytr).predict(b), average='macro')
               for a, b in variants]
        cos = (l2(Xtr) @ l2(Xtr).T).mean()
        srow = [sgd_probe(a, ytr, b, yte, 1.0) for a, b in [(Xtr, Xte), (Xtr - mu, Xte - mu), ((Xtr - mu) / sd, (Xte - mu) / sd)]]
        conv.append(row); sgd.append(srow)
        print(f'{t:11s} converged raw/l2/centred-l2/std ' + ' '.join(f'{v:.3f}' for v in row)
              + f' | mean cosine {cos:.3f} | SGD 200 steps raw/centred/std ' + ' '.join(f'{v:.3f}' for v in srow), flush=True)
    print('mean        converged ' + ' '.join(f'{v:.3f}' for v in np.mean(conv, 0))
          + ' | SGD ' + ' '.join(f'{v:.3f}' for v in np.mean(sgd, 0)))


if __name__ == '__main__':
    main()

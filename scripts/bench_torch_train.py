"""Same-machine PyTorch reference for `gauntlet train` epoch time and accuracy (dev tool).

Trains the default architecture (scripts/make_default_model.py's Net, the same graph as
assets/default/model.onnx) on the shipped 10k training slice with the recipe given on the command
line (defaults: AdamW lr 2e-3 weight_decay 0.01, batch 128, 1 epoch, shuffled, 2 threads), from
torch's default initialisation (--init reinit) or from the default model's weights (--init keep),
and prints per-epoch seconds and the accuracy on the 2,000-image test slice as one JSON line.

    /usr/bin/python3 scripts/bench_torch_train.py [--epochs 1] [--batch-size 128] [--lr 2e-3]
        [--optimizer adamw|sgd] [--threads 2] [--seed 0] [--init reinit|keep]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from make_default_model import Net  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def load(name):
    d = np.load(os.path.join(ROOT, 'assets', 'default', name))
    x = d['x']
    x = x.astype(np.float32) / np.float32(255) if x.dtype == np.uint8 else x.astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(d['y'].astype(np.int64))


def keep_weights(model):
    import onnx
    from onnx import numpy_helper
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(os.path.join(ROOT, 'assets', 'default', 'model.onnx')).graph.initializer}
    sd = model.state_dict()
    for k in sd:
        if k in inits:
            sd[k] = torch.from_numpy(inits[k].copy())
    model.load_state_dict(sd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--epochs', type=int, default=1)
    ap.add_argument('--batch-size', type=int, default=128)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--optimizer', default='adamw')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--init', default='reinit')
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    xt, yt = load('fashion-mnist-train-10k.npz')
    xv, yv = load('fashion-mnist-test-2000.npz')
    model = Net()
    if a.init == 'keep':
        keep_weights(model)
    opt = (torch.optim.AdamW(model.parameters(), lr=a.lr) if a.optimizer == 'adamw'
           else torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9))
    gen = torch.Generator().manual_seed(a.seed)
    epochs = []
    for _ in range(a.epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), a.batch_size):
            idx = perm[i:i + a.batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        epochs.append(time.perf_counter() - t0)
    model.eval()
    with torch.no_grad():
        acc = (model(xv).argmax(1) == yv).float().mean().item()
    print(json.dumps({'torch': torch.__version__, 'threads': a.threads, 'batch_size': a.batch_size, 'epoch_seconds': epochs, 'test_accuracy': acc}))


if __name__ == '__main__':
    main()

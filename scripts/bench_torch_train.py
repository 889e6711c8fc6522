"""Same-machine PyTorch reference for `gauntlet train` epoch time and accuracy (dev tool).

Trains the default architecture (scripts/make_default_model.py's Net, the same graph as
assets/default/model.onnx) on the shipped 10k training slice with the recipe given on the command
line (defaults: AdamW lr 2e-3 weight_decay 0.01, batch 128, 1 epoch, shuffled, 2 threads), from
torch's default initialisation (--init reinit) or from the default model's weights (--init keep)
or from any ONNX file of this architecture (--init-from M.onnx: its initializers, named as the
state_dict keys), and prints per-epoch seconds and the accuracy on the 2,000-image test slice as
one JSON line. --save OUT.onnx writes the trained weights (and BatchNorm statistics) into a copy of
assets/default/model.onnx, for `gauntlet eval`.

--save-init OUT.onnx only writes torch's default initialisation for --seed (torch.manual_seed(seed);
Net()) into a copy of assets/default/model.onnx and exits: the same initial weights for
`gauntlet train --model OUT.onnx --init keep` and for `--init-from OUT.onnx` here
(scripts/compare_train_torch.py does both for several seeds).

    /usr/bin/python3 scripts/bench_torch_train.py [--epochs 1] [--batch-size 128] [--lr 2e-3]
        [--optimizer adamw|sgd] [--threads 2] [--seed 0] [--init reinit|keep]
        [--init-from M.onnx] [--save OUT.onnx] [--save-init OUT.onnx] [--no-shuffle] [--order O.json]
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


DEFAULT_MODEL = os.path.join(ROOT, 'assets', 'default', 'model.onnx')


def keep_weights(model, path=DEFAULT_MODEL):
    """Loads the ONNX file's initializers into the model (names are state_dict keys); every float
    parameter and BatchNorm statistic must be there."""
    import onnx
    from onnx import numpy_helper
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    sd = model.state_dict()
    missing = [k for k in sd if k not in inits and not k.endswith('num_batches_tracked')]
    if missing:
        raise SystemExit(f'{path}: no initializer for {", ".join(missing)}')
    for k in sd:
        if k in inits:
            if tuple(inits[k].shape) != tuple(sd[k].shape):
                raise SystemExit(f'{path}: {k} has shape {inits[k].shape}, the model {tuple(sd[k].shape)}')
            sd[k] = torch.from_numpy(inits[k].copy())
    model.load_state_dict(sd)


def save_weights(model, path):
    """Writes the model's state_dict into a copy of assets/default/model.onnx (same graph, names)."""
    import onnx
    from onnx import numpy_helper
    proto = onnx.load(DEFAULT_MODEL)
    sd = model.state_dict()
    for i, t in enumerate(proto.graph.initializer):
        if t.name in sd:
            proto.graph.initializer[i].CopyFrom(numpy_helper.from_array(sd[t.name].detach().numpy().astype(np.float32), t.name))
    del proto.metadata_props[:]
    onnx.checker.check_model(proto)
    onnx.save(proto, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--epochs', type=int, default=1)
    ap.add_argument('--batch-size', type=int, default=128)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--optimizer', default='adamw')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--init', default='reinit')
    ap.add_argument('--no-shuffle', action='store_true', help='data order every epoch (gauntlet train --no-shuffle)')
    ap.add_argument('--order', help='JSON file: one list of item indices per epoch (e.g. the permutations gauntlet train draws)')
    ap.add_argument('--init-from', help='start from this ONNX file\'s weights (this architecture)')
    ap.add_argument('--save', help='write the trained weights into a copy of the default model')
    ap.add_argument('--save-init', help='write the default initialisation for --seed and exit')
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    model = Net()
    if a.save_init:
        save_weights(model, a.save_init)
        print(json.dumps({'torch': torch.__version__, 'seed': a.seed, 'init': a.save_init}))
        return
    xt, yt = load('fashion-mnist-train-10k.npz')
    xv, yv = load('fashion-mnist-test-2000.npz')
    if a.init_from:
        keep_weights(model, a.init_from)
    elif a.init == 'keep':
        keep_weights(model)
    opt = (torch.optim.AdamW(model.parameters(), lr=a.lr) if a.optimizer == 'adamw'
           else torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9))
    gen = torch.Generator().manual_seed(a.seed)
    orders = None
    if a.order:
        with open(a.order) as f:
            orders = json.load(f)
        if len(orders) < a.epochs or any(sorted(o) != list(range(len(xt))) for o in orders):
            raise SystemExit(f'{a.order}: needs {a.epochs} permutations of 0..{len(xt) - 1}')
    epochs = []
    for epoch in range(a.epochs):
        model.train()
        t0 = time.perf_counter()
        if orders is not None:
            perm = torch.tensor(orders[epoch], dtype=torch.int64)
        else:
            perm = torch.arange(len(xt)) if a.no_shuffle else torch.randperm(len(xt), generator=gen)
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
    if a.save:
        save_weights(model, a.save)
    print(json.dumps({'torch': torch.__version__, 'threads': a.threads, 'batch_size': a.batch_size, 'seed': a.seed, 'epoch_seconds': epochs, 'test_accuracy': acc, 'saved': a.save}))


if __name__ == '__main__':
    main()

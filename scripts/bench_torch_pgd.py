"""Same-machine PyTorch reference for `gauntlet bench --attack pgd` (dev-time tool, not shipped code).

Runs PGD-20 L-inf (eps 0.1, alpha 2.5*eps/20, uniform random start, clip to [0,1]) -- the loop
torchattacks' PGD runs -- on the bundled default model and image slice, with PyTorch on 2 threads,
and prints seconds per 1,000 images. The weights are read from assets/default/model.onnx (its
initializer names are the PyTorch state-dict keys), so both tools attack the very same network.

    /usr/bin/python3 scripts/bench_torch_pgd.py [--images 1000] [--batch-size 256] [--repeats 3]

Needs torch (Debian's python3-torch 1.13), onnx and numpy. Like torchattacks, every point runs
all 20 steps (no early stop); Gauntlet's PGD skips points the model already gets wrong, so compare
its `attacked` count (the JSON line of `gauntlet bench --attack pgd --json`) when reading ratios.
"""

import argparse
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_default_model import MODEL_PATH, NPZ_PATH, THREADS, Net  # noqa: E402


def load_net():
    net = Net()
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in onnx.load(MODEL_PATH).graph.initializer}
    state = net.state_dict()
    missing = [k for k in state if k not in weights and not k.endswith('num_batches_tracked')]
    if missing:
        sys.exit(f'model.onnx lacks initializers for {missing}')
    net.load_state_dict({k: weights.get(k, v) for k, v in state.items()})
    return net.eval()


def pgd(net, x0, y, eps=0.1, steps=20, seed=0):
    alpha = 2.5 * eps / steps
    g = torch.Generator().manual_seed(seed)
    x = (x0 + (torch.rand(x0.shape, generator=g) * 2 - 1) * eps).clamp(0, 1)
    for _ in range(steps):
        x.requires_grad_(True)
        loss = F.cross_entropy(net(x), y)
        (grad,) = torch.autograd.grad(loss, x)
        x = x.detach() + alpha * grad.sign()
        x = torch.min(torch.max(x, x0 - eps), x0 + eps).clamp(0, 1)
    return x.detach()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--images', type=int, default=1000)
    ap.add_argument('--batch-size', type=int, default=256)
    ap.add_argument('--repeats', type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    data = np.load(NPZ_PATH)
    x = torch.from_numpy(data['x'][: args.images])
    y = torch.from_numpy(data['y'][: args.images])
    net = load_net()
    for p in net.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        clean = (net(x).argmax(1) == y).float().mean().item()
    pgd(net, x[: args.batch_size], y[: args.batch_size], steps=2)  # warm-up
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        advs = [pgd(net, x[s:s + args.batch_size], y[s:s + args.batch_size]) for s in range(0, len(x), args.batch_size)]
        times.append(time.perf_counter() - t0)
    adv = torch.cat(advs)
    with torch.no_grad():
        robust = (net(adv).argmax(1) == y).float().mean().item()
    per1000 = [t * 1000 / len(x) for t in times]
    print(f'PyTorch {torch.__version__}, {THREADS} threads, PGD-20 L-inf eps 0.1 on {len(x)} images, batch {args.batch_size}')
    print(f'clean accuracy {clean:.4f}, robust accuracy {robust:.4f}')
    print('seconds per 1,000 images: ' + ', '.join(f'{t:.2f}' for t in per1000) + f' (median {sorted(per1000)[len(per1000) // 2]:.2f})')


if __name__ == '__main__':
    main()

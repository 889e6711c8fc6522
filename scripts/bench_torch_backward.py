"""Same-machine PyTorch reference for `gauntlet bench` on real-size CNNs (dev-time tool, not shipped code).

Exports torchvision architectures (10 classes, random weights from a fixed seed, eval mode, so the
exporter folds BatchNorm into the convolutions) to ONNX, then times, with PyTorch on 2 threads, a
forward pass and a forward + input-gradient pass (cross-entropy, mean) of one seeded batch — the
quantities `gauntlet bench --model M.onnx --batch-size B --json` prints as forward_ms and
forward_grad_ms. With --pgd N it also times PGD-10 L-inf (eps 8/255, alpha 2/255, uniform start,
no early stop) over N items, the loop `gauntlet bench --attack pgd` runs.

    /usr/bin/python3 scripts/bench_torch_backward.py --out /tmp/cnn --arch resnet18 --size 32 --batch-size 128
    node dist/src/cli/bin.js bench --model /tmp/cnn/resnet18_32.onnx --batch-size 128 --threads 2 --json

Prints one JSON line per architecture. Needs torch and torchvision (Debian's python3-torch 1.13,
python3-torchvision) and onnx. The exported files are not committed (ResNet-18 is 45 MB).
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch_pgd import pgd  # noqa: E402  (step 2.5·ε/steps: 2/255 for ε 8/255 and 10 steps)

ARCHS = {
    'resnet18': lambda: torchvision.models.resnet18(num_classes=10),
    'googlenet': lambda: torchvision.models.googlenet(num_classes=10, aux_logits=False, init_weights=True),
    'mobilenet_v3_small': lambda: torchvision.models.mobilenet_v3_small(num_classes=10),
    'efficientnet_b0': lambda: torchvision.models.efficientnet_b0(num_classes=10),
}


def timed(fn, repeats):
    for _ in range(3):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True, help='folder for the exported .onnx files')
    ap.add_argument('--arch', action='append', choices=sorted(ARCHS), help='repeatable (default: all)')
    ap.add_argument('--size', type=int, default=32)
    ap.add_argument('--batch-size', type=int, default=128)
    ap.add_argument('--repeats', type=int, default=10)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--pgd', type=int, default=0, help='also time PGD-10 over this many items')
    ap.add_argument('--no-export', action='store_true')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    for arch in args.arch or sorted(ARCHS):
        torch.manual_seed(0)
        net = ARCHS[arch]().eval()
        for p in net.parameters():
            p.requires_grad_(False)
        x = torch.rand(args.batch_size, 3, args.size, args.size, generator=torch.Generator().manual_seed(1))
        y = torch.randint(0, 10, (args.batch_size,), generator=torch.Generator().manual_seed(2))
        path = os.path.join(args.out, f'{arch}_{args.size}.onnx')
        if not args.no_export:
            torch.onnx.export(net, x[:1], path, input_names=['input'], output_names=['logits'],
                              dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}}, opset_version=13,
                              do_constant_folding=True)
            np.savez(os.path.join(args.out, f'data_{args.size}.npz'),
                     x=torch.rand(max(args.pgd, args.batch_size), 3, args.size, args.size,
                                  generator=torch.Generator().manual_seed(3)).numpy(),
                     y=torch.randint(0, 10, (max(args.pgd, args.batch_size),),
                                     generator=torch.Generator().manual_seed(4)).numpy().astype(np.int64))

        def fwd():
            with torch.no_grad():
                net(x)

        def fwd_grad():
            xx = x.clone().requires_grad_(True)
            loss = F.cross_entropy(net(xx), y)
            torch.autograd.grad(loss, xx)

        row = {'arch': arch, 'size': args.size, 'batch_size': args.batch_size, 'threads': args.threads}
        f = timed(fwd, args.repeats)
        fg = timed(fwd_grad, args.repeats)
        row.update(forward_ms=round(f, 2), forward_grad_ms=round(fg, 2), ratio=round(fg / f, 2))
        if args.pgd:
            data = np.load(os.path.join(args.out, f'data_{args.size}.npz'))
            xs, ys = torch.from_numpy(data['x'][:args.pgd]), torch.from_numpy(data['y'][:args.pgd])
            t = time.perf_counter()
            for i in range(0, args.pgd, args.batch_size):
                pgd(net, xs[i:i + args.batch_size], ys[i:i + args.batch_size], eps=8 / 255, steps=10)
            row['pgd10_seconds'] = round(time.perf_counter() - t, 2)
        print(json.dumps(row), flush=True)


if __name__ == '__main__':
    main()

"""Same-machine PyTorch reference for `gauntlet train` with `adversarial: { method: pgd }` (dev tool).

Runs PGD adversarial training (Madry et al. 2018) of the default architecture
(scripts/make_default_model.py's Net, the graph of assets/default/model.onnx) with the semantics of
src/train/adversarial.ts, starting from the weights of an ONNX file, and writes the trained weights
into a copy of that ONNX file, so that the Gauntlet-trained and the PyTorch-trained model are
evaluated by the same `gauntlet eval` / `gauntlet attack` commands.

Each step (batch of `--batch-size` from a seeded shuffle, last smaller batch kept):
  1. model.eval() (BatchNorm on running statistics): x' = clip(x + U(-eps, eps), [x-eps, x+eps] ∩ [0, 1])
     (`--no-random-start`: x' = x), then `--steps` times
     x' = clip(x' + step_size · sign(∇_x' CE_mean(model(x'), y)), [x-eps, x+eps] ∩ [0, 1]);
     step_size defaults to 2.5·eps/steps;
  2. model.train(); one optimizer step on batch-mean CE of the final iterate x' only (BatchNorm
     batch statistics, running statistics updated with momentum 0.1 and the unbiased variance).
`--clean` skips step 1 (a clean epoch, for the cost ratio). `--eps-ramp A,B,E` is the recipe's
`curriculum: { eps: [A, B], epochs: E }`: ε of epoch e (0-based) is A + (B − A)·min(1, e/(E − 1)),
the step size scaled with it (2.5·ε_e/steps, or --step-size·ε_e/--eps), as src/train/adversarial.ts.
AdamW with torch's defaults (betas 0.9/0.999, eps 1e-8, weight_decay 0.01) or SGD (momentum 0.9,
weight_decay 0).

Initial weights: `--init-from M.onnx` (ONNX initializer names = Net's state_dict keys, BatchNorm
running statistics included). `--reinit-seed S` instead draws torch's default initialisation
after torch.manual_seed(S) (running stats 0/1) and, with `--save-init INIT.onnx`, writes those
starting weights into a copy of `--init-from`'s graph, so `gauntlet train --model INIT.onnx
--init keep` starts from the very same numbers. `--epochs 0 --save-init` only writes the file.

Noisy labels: `--labels OUT.labels.jsonl` (what `gauntlet train` wrote for a recipe with `labels:`:
one line per item, `label` trained on, `true_label`) makes PyTorch train — and attack — on the very
labels Gauntlet trained on; train accuracy is then reported against the true labels (as Gauntlet's
`train_accuracy`) and against the labels trained on (`train_accuracy_observed`). `--order O.json`
takes one permutation of the items per epoch (the ones `gauntlet train` draws: see
compare_train_torch.py), so both see the same batches. `--steps-log FILE` writes epoch, step, batch
loss per line (tab-separated).

Prints one line per epoch (seconds, attack seconds, train-step seconds, loss, train accuracy on the
trained-on inputs) and a final JSON line; writes `--out` (the input graph, new initializers).

    /usr/bin/python3 scripts/bench_torch_harden.py --init-from assets/default/model.onnx \\
        --out /tmp/torch_pgd.onnx [--eps 0.1] [--steps 7] [--step-size 2.5*eps/steps] \\
        [--no-random-start] [--clean] [--epochs 2] [--batch-size 128] [--optimizer adamw|sgd] \\
        [--lr 1e-3] [--weight-decay W] [--seed 0] [--threads 2] [--reinit-seed S --save-init I.onnx] \\
        [--no-shuffle | --order O.json] [--limit N] [--labels L.labels.jsonl] [--eps-ramp A,B,E]
        [--steps-log FILE]

`--no-shuffle --no-random-start --limit N` makes a run deterministic up to float rounding, so it
can be compared step by step with `gauntlet train --no-shuffle --limit N` and a recipe with
`random_start: false` (the weights should agree to float32 rounding, except where a sign step
flips on a near-zero input gradient).

Needs torch (1.13), onnx and numpy: Debian's /usr/bin/python3 here.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from make_default_model import Net  # noqa: E402
from bench_torch_train import keep_weights  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def load_npz(path):
    d = np.load(path)
    x = d['x']
    x = x.astype(np.float32) / np.float32(255) if x.dtype == np.uint8 else x.astype(np.float32)
    if x.ndim == 3:
        x = x[:, None]
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(d['y'].astype(np.int64))


def write_onnx(model, src, dst):
    """`src`'s graph with every initializer named like a state_dict entry replaced (float32)."""
    m = onnx.load(src)
    sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    done = set()
    for i, t in enumerate(m.graph.initializer):
        if t.name in sd:
            new = numpy_helper.from_array(sd[t.name].reshape(tuple(t.dims)), t.name)
            m.graph.initializer[i].CopyFrom(new)
            done.add(t.name)
    left = [k for k in sd if k not in done and not k.endswith('num_batches_tracked')]
    if left:
        raise SystemExit(f'{src}: no initializer for {left}')
    onnx.checker.check_model(m)
    tmp = dst + '.tmp'
    onnx.save(m, tmp)
    os.replace(tmp, dst)


def pgd(model, x, y, eps, steps, step_size, random_start, gen):
    """Final PGD iterate in inference mode (model.eval()); `x` is not changed."""
    model.eval()
    lo = torch.clamp(x - eps, min=0.0)
    hi = torch.clamp(x + eps, max=1.0)
    if random_start:
        u = torch.rand(x.shape, generator=gen)
        xa = torch.min(torch.max(x + eps * (2 * u - 1), lo), hi)
    else:
        xa = x.clone()
    for _ in range(steps):
        xa.requires_grad_(True)
        loss = F.cross_entropy(model(xa), y)
        (g,) = torch.autograd.grad(loss, xa)
        with torch.no_grad():
            xa = torch.min(torch.max(xa + step_size * torch.sign(g), lo), hi)
    return xa.detach()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--init-from', default=os.path.join(ROOT, 'assets', 'default', 'model.onnx'))
    ap.add_argument('--out', default=None, help='trained model: --init-from\'s graph, new initializers')
    ap.add_argument('--data', default=os.path.join(ROOT, 'assets', 'default', 'fashion-mnist-train-10k.npz'))
    ap.add_argument('--eps', type=float, default=0.1)
    ap.add_argument('--steps', type=int, default=7)
    ap.add_argument('--step-size', type=float, default=None, help='default 2.5*eps/steps')
    ap.add_argument('--no-random-start', action='store_true')
    ap.add_argument('--clean', action='store_true', help='no attack: a clean epoch')
    ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--batch-size', type=int, default=128)
    ap.add_argument('--optimizer', choices=['adamw', 'sgd'], default='adamw')
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--weight-decay', type=float, default=None, help='default 0.01 (adamw), 0 (sgd)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--no-shuffle', action='store_true', help='data order (for step-by-step checks)')
    ap.add_argument('--limit', type=int, default=None, help='train on the first N items only')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--labels', default=None, help='train on these labels: the OUT.labels.jsonl of gauntlet train')
    ap.add_argument('--order', default=None, help='JSON: one permutation of the items per epoch')
    ap.add_argument('--eps-ramp', default=None, help='A,B,E: curriculum eps [A, B] over E epochs')
    ap.add_argument('--steps-log', default=None, help='write epoch, step, batch loss per line here')
    ap.add_argument('--reinit-seed', type=int, default=None, help="torch's default initialisation from this seed")
    ap.add_argument('--save-init', default=None, help='write the starting weights (ONNX) here')
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    model = Net()
    if a.reinit_seed is not None:
        torch.manual_seed(a.reinit_seed)
        model = Net()
    else:
        keep_weights(model, a.init_from)
    if a.save_init:
        write_onnx(model, a.init_from, a.save_init)
        print(f'starting weights written to {a.save_init}', flush=True)
    if a.epochs == 0:
        return
    if not a.out:
        ap.error('--out is required when --epochs > 0')

    torch.manual_seed(a.seed)
    xt, yt = load_npz(a.data)
    if a.limit is not None:
        xt, yt = xt[:a.limit], yt[:a.limit]
    n = len(xt)
    y_true = yt
    if a.labels:
        with open(a.labels) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        if len(rows) != n:
            raise SystemExit(f'{a.labels}: {len(rows)} labels for {n} items')
        if any(int(r['item']) != i for i, r in enumerate(rows)):
            raise SystemExit(f'{a.labels}: items are not 0..{n - 1} in order')
        if any(r['true_label'] != int(yt[i]) for i, r in enumerate(rows)):
            raise SystemExit(f'{a.labels}: true labels differ from {a.data}')
        yt = torch.tensor([r['label'] for r in rows], dtype=torch.int64)
        print(f'training labels from {a.labels}: {int((yt != y_true).sum())} of {n} differ from the true labels', flush=True)
    orders = None
    if a.order:
        with open(a.order) as f:
            orders = json.load(f)
        if len(orders) < a.epochs or any(sorted(o) != list(range(n)) for o in orders[:a.epochs]):
            raise SystemExit(f'{a.order}: needs {a.epochs} permutations of 0..{n - 1}')
    ramp = None
    if a.eps_ramp:
        r0, r1, re = a.eps_ramp.split(',')
        ramp = (float(r0), float(r1), int(re))

    def epoch_attack(epoch):
        eps = a.eps
        if ramp:
            f = 1.0 if ramp[2] <= 1 else min(1.0, epoch / (ramp[2] - 1))
            eps = ramp[0] + (ramp[1] - ramp[0]) * f
        size = a.step_size * eps / a.eps if a.step_size is not None else 2.5 * eps / a.steps
        return eps, size
    step_size = epoch_attack(0)[1]
    steps_log = open(a.steps_log, 'w', buffering=1) if a.steps_log else None
    if a.optimizer == 'adamw':
        wd = 0.01 if a.weight_decay is None else a.weight_decay
        opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=wd)
    else:
        wd = 0.0 if a.weight_decay is None else a.weight_decay
        opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=wd)
    shuffle_gen = torch.Generator().manual_seed(a.seed)
    attack_gen = torch.Generator().manual_seed(a.seed + 1_000_003)

    history = []
    for epoch in range(a.epochs):
        t0 = time.perf_counter()
        t_attack = 0.0
        t_train = 0.0
        perm = torch.tensor(orders[epoch]) if orders is not None else torch.arange(n) if a.no_shuffle else torch.randperm(n, generator=shuffle_gen)
        eps, step_size = epoch_attack(epoch)
        loss_sum = 0.0
        correct = 0
        correct_true = 0
        for i in range(0, n, a.batch_size):
            idx = perm[i:i + a.batch_size]
            x, y = xt[idx], yt[idx]
            ta = time.perf_counter()
            xa = x if a.clean else pgd(model, x, y, eps, a.steps, step_size, not a.no_random_start, attack_gen)
            tb = time.perf_counter()
            model.train()
            opt.zero_grad()
            logits = model(xa)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            opt.step()
            tc = time.perf_counter()
            t_attack += tb - ta
            t_train += tc - tb
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            correct_true += int((logits.argmax(1) == y_true[idx]).sum())
            if steps_log:
                steps_log.write(f'{epoch + 1}\t{i // a.batch_size + 1}\t{loss.item()}\n')
        rec = {'epoch': epoch + 1, 'seconds': time.perf_counter() - t0, 'attack_seconds': t_attack,
               'train_step_seconds': t_train, 'loss': loss_sum / n, 'eps': None if a.clean else eps,
               'train_accuracy': correct_true / n, 'train_accuracy_observed': correct / n if a.labels else None}
        history.append(rec)
        print(f"epoch {epoch + 1}/{a.epochs}: {rec['seconds']:.1f} s (attack {t_attack:.1f} s, "
              f"train steps {t_train:.1f} s), eps {eps if not a.clean else 0:.4g}, loss {rec['loss']:.4f}, "
              f"train acc {rec['train_accuracy']:.4f}"
              + (f" (on the labels trained on {rec['train_accuracy_observed']:.4f})" if a.labels else ''),
              flush=True)
    if steps_log:
        steps_log.close()
    write_onnx(model, a.init_from, a.out)
    print(json.dumps({'torch': torch.__version__, 'threads': a.threads, 'mode': 'clean' if a.clean else 'pgd',
                      'eps': a.eps, 'steps': a.steps, 'step_size': step_size, 'optimizer': a.optimizer,
                      'eps_ramp': a.eps_ramp, 'labels': a.labels, 'order': a.order, 'lr': a.lr, 'weight_decay': wd, 'batch_size': a.batch_size, 'seed': a.seed,
                      'epochs': history, 'epoch_seconds': [h['seconds'] for h in history], 'out': a.out}))


if __name__ == '__main__':
    main()

"""Same-initial-weights comparison of `gauntlet train` with PyTorch (dev tool, not shipped code).

For each seed: torch's default initialisation of the default architecture for that seed is written
to INIT.onnx (`bench_torch_train.py --save-init`); Gauntlet trains it (`gauntlet train --model
INIT.onnx --init keep`) and PyTorch trains it (`bench_torch_train.py --init-from INIT.onnx`) with
the same recipe (AdamW, lr, batch size, epochs, threads) on the shipped 10k training slice; both
trained models are evaluated by `gauntlet eval` on the same test set: the full 10,000-image
Fashion-MNIST test set when Debian's dataset-fashion-mnist is installed, else the shipped
2,000-image slice. Prints one line per seed, the means and the mean difference, then one JSON line.

Shuffling orders differ (Gauntlet's seeded permutation, torch.randperm), so single seeds differ by
training noise; the mean over seeds is the figure to compare. With --no-shuffle both take the
same batches in data order (the slice is in Fashion-MNIST's own order, classes mixed); with
--same-order PyTorch takes the permutations Gauntlet draws for the seed (written by node from
dist/src/rng.js) — either way only the arithmetic differs.

Run from the repository root after `npx tsc -p tsconfig.json` (about 2 minutes per seed and epoch
on 2 shared cores):

    /usr/bin/python3 scripts/compare_train_torch.py [--seeds 0,1,2] [--epochs 2] [--lr 2e-3]
        [--batch-size 128] [--threads 2] [--test PATH] [--workdir DIR] [--no-shuffle | --same-order]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
FULL_TEST = os.path.join(os.environ.get('FASHION_MNIST_DIR', '/usr/share/datasets/fashion-mnist'), 't10k-images-idx3-ubyte.gz')
SLICE_TEST = os.path.join(ROOT, 'assets', 'default', 'fashion-mnist-test-2000.npz')
GAUNTLET = [os.environ.get('NODE', 'node'), os.path.join(ROOT, 'dist', 'src', 'cli', 'bin.js')]
TORCH = [sys.executable, os.path.join(ROOT, 'scripts', 'bench_torch_train.py')]
TRAIN_SLICE = os.path.join(ROOT, 'assets', 'default', 'fashion-mnist-train-10k.npz')
# The permutations `gauntlet train` draws for a seed (src/train/trainer.ts: Rng(seed).fork('shuffle:<epoch>')).
ORDERS = '''
import fs from 'node:fs';
import { Rng } from './dist/src/rng.js';
import { loadNpz } from './dist/src/data/npz.js';
const [seed, epochs, data, out] = process.argv.slice(1);
const n = (await loadNpz(data)).size;
const root = new Rng(Number(seed));
fs.writeFileSync(out, JSON.stringify(Array.from({ length: Number(epochs) }, (_, e) => Array.from(root.fork(`shuffle:${e}`).permutation(n)))));
'''


def run_json(cmd):
    """Runs a command, returns its last stdout line as JSON; stops with its stderr on failure."""
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f'{" ".join(cmd)} failed ({r.returncode}):\n{r.stderr}')
    return json.loads(r.stdout.strip().split('\n')[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seeds', default='0,1,2')
    ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--batch-size', type=int, default=128)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--test', default=FULL_TEST if os.path.exists(FULL_TEST) else SLICE_TEST)
    ap.add_argument('--workdir', default=None)
    ap.add_argument('--no-shuffle', action='store_true',
                    help='both train in data order: the same batches, so only arithmetic differs')
    ap.add_argument('--same-order', action='store_true',
                    help='PyTorch takes the permutations Gauntlet draws for the seed: the same batches, shuffled')
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(',')]
    work = a.workdir or tempfile.mkdtemp(prefix='gauntlet-compare-')
    os.makedirs(work, exist_ok=True)
    recipe = ['--epochs', str(a.epochs), '--batch-size', str(a.batch_size), '--lr', str(a.lr)] + (['--no-shuffle'] if a.no_shuffle else [])
    print(f'test set {a.test}; AdamW lr {a.lr}, batch {a.batch_size}, {a.epochs} epoch(s) of the 10k slice'
          f'{" in data order" if a.no_shuffle else ", shuffled (the same permutations)" if a.same_order else ", shuffled (own permutations)"}, '
          f'{a.threads} threads; files in {work}', flush=True)
    rows = []
    for seed in seeds:
        init = os.path.join(work, f'init-{seed}.onnx')
        g_out = os.path.join(work, f'gauntlet-{seed}.onnx')
        t_out = os.path.join(work, f'torch-{seed}.onnx')
        run_json(TORCH + ['--seed', str(seed), '--save-init', init])
        order = []
        if a.same_order:
            order = ['--order', os.path.join(work, f'order-{seed}.json')]
            subprocess.run(GAUNTLET[:1] + ['--input-type=module', '-e', ORDERS, str(seed), str(a.epochs), TRAIN_SLICE, order[1]], cwd=ROOT, check=True)
        g = run_json(GAUNTLET + ['train', '--model', init, '--init', 'keep', '--optimizer', 'adamw', *recipe,
                                 '--seed', str(seed), '--threads', str(a.threads), '--out', g_out, '--json'])
        t = run_json(TORCH + ['--init-from', init, '--optimizer', 'adamw', *recipe, *order, '--seed', str(seed),
                              '--threads', str(a.threads), '--save', t_out])
        ge = run_json(GAUNTLET + ['eval', '--model', g_out, '--data', a.test, '--json'])
        te = run_json(GAUNTLET + ['eval', '--model', t_out, '--data', a.test, '--json'])
        row = {'seed': seed, 'gauntlet_accuracy': ge['accuracy'], 'torch_accuracy': te['accuracy'],
               'gauntlet_nll': ge['nll'], 'torch_nll': te['nll'],
               'gauntlet_train_seconds': g['seconds'], 'torch_train_seconds': sum(t['epoch_seconds']),
               'gauntlet_final_loss': g['final_loss']}
        rows.append(row)
        print(f'seed {seed}: gauntlet {100 * row["gauntlet_accuracy"]:.2f} %, torch {100 * row["torch_accuracy"]:.2f} % '
              f'(difference {100 * (row["gauntlet_accuracy"] - row["torch_accuracy"]):+.2f} points); '
              f'training {row["gauntlet_train_seconds"]:.1f} s vs {row["torch_train_seconds"]:.1f} s', flush=True)
    mean = lambda k: sum(r[k] for r in rows) / len(rows)  # noqa: E731
    summary = {'test': a.test, 'test_samples': ge['samples'], 'epochs': a.epochs, 'shuffle': not a.no_shuffle, 'same_order': a.same_order or a.no_shuffle, 'lr': a.lr, 'batch_size': a.batch_size,
               'threads': a.threads, 'seeds': rows, 'gauntlet_mean_accuracy': mean('gauntlet_accuracy'),
               'torch_mean_accuracy': mean('torch_accuracy'),
               'mean_difference_points': 100 * (mean('gauntlet_accuracy') - mean('torch_accuracy'))}
    print(f'mean over seeds {a.seeds}: gauntlet {100 * summary["gauntlet_mean_accuracy"]:.2f} %, '
          f'torch {100 * summary["torch_mean_accuracy"]:.2f} %, difference {summary["mean_difference_points"]:+.2f} points')
    print(json.dumps(summary))


if __name__ == '__main__':
    main()

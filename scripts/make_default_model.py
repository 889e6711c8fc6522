"""Make Gauntlet's bundled default model and data slice (dev-time tool, not shipped code).

Trains a small CNN on Fashion-MNIST (CPU, seeded, deterministic data order) and writes:

  assets/default/model.onnx                   opset 13, input `input` float32 [N,1,28,28] in [0,1],
                                              output `logits` float32 [N,10] (raw logits), dynamic N
  assets/default/fashion-mnist-test-2000.npz  stratified 2,000-image slice of the TEST set (200 per
                                              class, seeded, sorted by original index):
                                              x float32 [2000,1,28,28] (= uint8/255), y int64 [2000],
                                              index int64 [2000] (original test-set index)
  assets/default/meta.json                    class names, training recipe, full-test accuracy,
                                              reference metrics on the slice (accuracy, ECE, NLL,
                                              Brier; float64 numpy from the PyTorch logits), sha256s
  test/fixtures/default-logits-head.json      PyTorch float32 logits of the first 8 slice items

Run from the repository root (takes about 6 minutes on 2 CPU cores):

    /usr/bin/python3 scripts/make_default_model.py

Needs torch (1.13), onnx and numpy, and Fashion-MNIST at /usr/share/datasets/fashion-mnist/
(override with the FASHION_MNIST_DIR environment variable). Same machine, same thread count, same
library versions -> same bytes.
"""

import gzip
import hashlib
import json
import os
import random
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 0
EPOCHS = 4
BATCH_SIZE = 128
MAX_LR = 2e-3
THREADS = 2
SLICE_PER_CLASS = 200
HEAD_ITEMS = 8
ECE_BINS = 15

CLASS_NAMES = [
    'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
    'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
]

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
DATA_DIR = os.environ.get('FASHION_MNIST_DIR', '/usr/share/datasets/fashion-mnist')
OUT_DIR = os.path.join(ROOT, 'assets', 'default')
MODEL_PATH = os.path.join(OUT_DIR, 'model.onnx')
NPZ_PATH = os.path.join(OUT_DIR, 'fashion-mnist-test-2000.npz')
META_PATH = os.path.join(OUT_DIR, 'meta.json')
HEAD_PATH = os.path.join(ROOT, 'test', 'fixtures', 'default-logits-head.json')


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)


def read_idx(path):
    """Read a gzipped IDX file (ubyte images or labels) into a uint8 numpy array."""
    with gzip.open(path, 'rb') as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], 'big')
    if magic >> 8 != 0x08:  # 0x08 = unsigned byte
        raise ValueError(f'{path}: not a ubyte IDX file (magic {magic:#x})')
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def load_split(kind):
    images = read_idx(os.path.join(DATA_DIR, f'{kind}-images-idx3-ubyte.gz'))
    labels = read_idx(os.path.join(DATA_DIR, f'{kind}-labels-idx1-ubyte.gz'))
    return images, labels.astype(np.int64)


def to_input(images_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28] in [0,1]: the model's data domain."""
    return (images_u8.astype(np.float32) / np.float32(255.0))[:, None, :, :]


class Net(nn.Module):
    """Conv-ReLU-MaxPool-BN-Conv-ReLU-MaxPool-Flatten-Linear-ReLU-Linear; input in [0,1]."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)
        self.flatten = nn.Flatten()

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = self.bn1(x)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.flatten(x)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


ARCHITECTURE = ('Conv(1->32,k3,p1)-ReLU-MaxPool(2)-BatchNorm(32)-Conv(32->64,k3,p1)-ReLU-MaxPool(2)'
                '-Flatten-Linear(3136->128)-ReLU-Linear(128->10); input float32 [N,1,28,28] in [0,1], '
                'no mean/std normalisation; output raw logits')


@torch.no_grad()
def predict_logits(model, x, batch=1000):
    model.eval()
    out = [model(torch.from_numpy(x[i:i + batch])) for i in range(0, len(x), batch)]
    return torch.cat(out).numpy()


def train(model, x_train, y_train):
    opt = torch.optim.Adam(model.parameters(), lr=MAX_LR)
    steps_per_epoch = (len(x_train) + BATCH_SIZE - 1) // BATCH_SIZE
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=MAX_LR, epochs=EPOCHS,
                                                steps_per_epoch=steps_per_epoch)
    gen = torch.Generator().manual_seed(SEED)
    xt = torch.from_numpy(x_train)
    yt = torch.from_numpy(y_train)
    for epoch in range(EPOCHS):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]
            opt.zero_grad()
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f'epoch {epoch + 1}/{EPOCHS}: train loss {total / len(xt):.4f} '
              f'({time.time() - t0:.0f} s)', flush=True)


def stratified_slice(labels, per_class, seed):
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        chosen.append(rng.choice(idx, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def reference_metrics(logits32, y, n_bins=ECE_BINS):
    """Accuracy, ECE, NLL and Brier in float64 from float32 logits."""
    z = logits32.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    n = len(y)
    pred = p.argmax(axis=1)
    correct = (pred == y).astype(np.float64)
    conf = p.max(axis=1)
    # bin b holds confidences in (b/n_bins, (b+1)/n_bins]; confidence 0 goes to bin 0.
    inner_edges = np.arange(1, n_bins, dtype=np.float64) / n_bins
    bins = np.searchsorted(inner_edges, conf, side='left')
    ece = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            ece += m.sum() / n * abs(correct[m].mean() - conf[m].mean())
    onehot = np.eye(p.shape[1], dtype=np.float64)[y]
    return {
        'accuracy': float(correct.mean()),
        'ece': float(ece),
        'nll': float(-logp[np.arange(n), y].mean()),
        'brier': float(((p - onehot) ** 2).sum(axis=1).mean()),
    }


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        h.update(f.read())
    return h.hexdigest()


def export_onnx(model, path):
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(model, dummy, path, opset_version=13, input_names=['input'],
                      output_names=['logits'],
                      dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}},
                      do_constant_folding=True)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    return sorted({node.op_type for node in proto.graph.node})


def main():
    seed_everything(SEED)
    os.makedirs(OUT_DIR, exist_ok=True)
    os.makedirs(os.path.dirname(HEAD_PATH), exist_ok=True)
    t_start = time.time()

    train_u8, y_train = load_split('train')
    test_u8, y_test = load_split('t10k')
    x_train, x_test = to_input(train_u8), to_input(test_u8)

    model = Net()
    train(model, x_train, y_train)
    model.eval()

    test_logits = predict_logits(model, x_test)
    test_acc = float((test_logits.argmax(axis=1) == y_test).mean())
    print(f'test accuracy (10k): {test_acc:.4f}', flush=True)
    if test_acc < 0.905:
        print('WARNING: test accuracy below the 0.905 target', file=sys.stderr)

    op_types = export_onnx(model, MODEL_PATH)

    idx = stratified_slice(y_test, SLICE_PER_CLASS, SEED)
    x_slice, y_slice = x_test[idx], y_test[idx]
    np.savez_compressed(NPZ_PATH, x=x_slice, y=y_slice, index=idx)

    slice_logits = predict_logits(model, x_slice)
    # The slice logits must be the full-test logits at the same indices (batching-independent).
    np.testing.assert_allclose(slice_logits, test_logits[idx], rtol=0, atol=1e-4)
    metrics = reference_metrics(slice_logits, y_slice)

    head = [[float(v) for v in row] for row in slice_logits[:HEAD_ITEMS]]
    with open(HEAD_PATH, 'w') as f:
        json.dump({
            'description': 'PyTorch float32 logits of the first items of '
                           'assets/default/fashion-mnist-test-2000.npz through assets/default/model.onnx',
            'generator': 'scripts/make_default_model.py',
            'index': [int(i) for i in idx[:HEAD_ITEMS]],
            'y': [int(v) for v in y_slice[:HEAD_ITEMS]],
            'logits': head,
        }, f, indent=2)
        f.write('\n')

    meta = {
        'name': 'fashion-mnist-cnn',
        'generator': 'scripts/make_default_model.py',
        'class_names': CLASS_NAMES,
        'input': {'name': 'input', 'dtype': 'float32', 'shape': ['N', 1, 28, 28],
                  'range': [0, 1], 'preprocessing': 'uint8 / 255, no mean/std normalisation'},
        'output': {'name': 'logits', 'dtype': 'float32', 'shape': ['N', 10], 'kind': 'logits'},
        'onnx': {'opset': 13, 'op_types': op_types, 'file': 'model.onnx',
                 'bytes': os.path.getsize(MODEL_PATH), 'sha256': sha256(MODEL_PATH)},
        'recipe': {
            'architecture': ARCHITECTURE,
            'dataset': 'Fashion-MNIST train (60,000 images)',
            'epochs': EPOCHS,
            'optimizer': 'Adam (betas 0.9/0.999, no weight decay)',
            'lr': MAX_LR,
            'lr_schedule': 'OneCycleLR (cosine, max_lr as lr, per step)',
            'batch_size': BATCH_SIZE,
            'loss': 'cross-entropy',
            'augmentation': 'none',
            'seed': SEED,
            'threads': THREADS,
            'torch_version': torch.__version__,
            'onnx_version': onnx.__version__,
            'numpy_version': np.__version__,
        },
        'test_accuracy': test_acc,
        'test_size': int(len(y_test)),
        'slice': {
            'file': 'fashion-mnist-test-2000.npz',
            'bytes': os.path.getsize(NPZ_PATH),
            'sha256': sha256(NPZ_PATH),
            'source': 'Fashion-MNIST test set (t10k)',
            'selection': f'{SLICE_PER_CLASS} per class, numpy default_rng({SEED}).choice without '
                         'replacement per class 0..9, sorted by original index',
            'keys': {'x': 'float32 [2000,1,28,28] = uint8/255', 'y': 'int64 [2000]',
                     'index': 'int64 [2000], original test-set index'},
        },
        'reference_metrics': {
            'computed': 'float64 numpy from the PyTorch float32 logits on the 2,000 slice',
            'ece_binning': f'{ECE_BINS} equal-width bins over top-label confidence; bin b holds '
                           f'(b/{ECE_BINS}, (b+1)/{ECE_BINS}], confidence 0 in bin 0',
            **metrics,
        },
    }
    with open(META_PATH, 'w') as f:
        json.dump(meta, f, indent=2)
        f.write('\n')

    print(json.dumps({'test_accuracy': test_acc, 'metrics': metrics, 'op_types': op_types,
                      'model_bytes': os.path.getsize(MODEL_PATH),
                      'npz_bytes': os.path.getsize(NPZ_PATH)}, indent=2))
    if os.path.getsize(MODEL_PATH) > 2_000_000:
        print('WARNING: model.onnx larger than 2 MB', file=sys.stderr)
    if os.path.getsize(NPZ_PATH) > 3_000_000:
        print('WARNING: npz larger than 3 MB', file=sys.stderr)
    print(f'done in {time.time() - t_start:.0f} s')


if __name__ == '__main__':
    main()

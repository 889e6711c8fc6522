"""Make the shipped Fashion-MNIST TRAINING slice (dev-time tool, not shipped code).

Writes assets/default/fashion-mnist-train-10k.npz: a stratified 10,000-image slice of the
Fashion-MNIST training set (1,000 per class; numpy default_rng(1).choice without replacement per
class 0..9, sorted by original index), compressed, with

  x      uint8 [10000,1,28,28]  (Gauntlet's npz loader reads uint8 x as v / 255 in [0,1])
  y      int64 [10000]
  index  int64 [10000]          original training-set index
  class_names

so that `gauntlet train` works on a fresh machine. Run from the repository root:

    /usr/bin/python3 scripts/make_train_slice.py

Needs numpy and Fashion-MNIST at /usr/share/datasets/fashion-mnist/ (FASHION_MNIST_DIR overrides).
Same inputs -> same bytes (zip timestamps are numpy's fixed ones).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from make_default_model import CLASS_NAMES, load_split  # noqa: E402

PER_CLASS = 1000
SEED = 1
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
OUT = os.path.join(ROOT, 'assets', 'default', 'fashion-mnist-train-10k.npz')


def main():
    images, labels = load_split('train')
    rng = np.random.default_rng(SEED)
    picked = []
    for c in range(10):
        where = np.flatnonzero(labels == c)
        picked.append(rng.choice(where, size=PER_CLASS, replace=False))
    index = np.sort(np.concatenate(picked)).astype(np.int64)
    x = images[index][:, None, :, :].astype(np.uint8)
    y = labels[index].astype(np.int64)
    np.savez_compressed(OUT, x=x, y=y, index=index, class_names=np.array(CLASS_NAMES))
    print(f'wrote {OUT} ({os.path.getsize(OUT)} bytes): x {x.shape} uint8, y {np.bincount(y).tolist()}')


if __name__ == '__main__':
    main()

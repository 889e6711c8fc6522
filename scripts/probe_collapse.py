"""Is a trained default-architecture model collapsed to a constant prediction? (dev tool)

For each ONNX file of the default architecture (scripts/make_default_model.py's Net: its
initializer names are Net's state_dict keys), on the first --limit items of the test slice: accuracy,
the spread of the logits across items (0 for a constant output), how many of fc1's 128 ReLU units
are active on at least one item (0: every input gives fc2's bias; no gradient reaches any weight
but fc2's bias again, and an attack's input gradient is zero), and the predicted-class histogram.
Used for the collapse of PGD-AT on 40 % noisy labels (README, "PGD-AT on 40 % noisy labels").

    /usr/bin/python3 scripts/probe_collapse.py M.onnx [M2.onnx ...] [--data D.npz] [--limit 1000]

Needs torch (1.13), onnx and numpy: Debian's /usr/bin/python3 here.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from make_default_model import Net  # noqa: E402
from bench_torch_train import keep_weights  # noqa: E402
from bench_torch_harden import load_npz  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('models', nargs='+')
    ap.add_argument('--data', default=os.path.join(ROOT, 'assets', 'default', 'fashion-mnist-test-2000.npz'))
    ap.add_argument('--limit', type=int, default=1000)
    a = ap.parse_args()
    x, y = load_npz(a.data)
    x, y = x[:a.limit], y[:a.limit]
    for f in a.models:
        m = Net()
        keep_weights(m, f)
        m.eval()
        with torch.no_grad():
            h = F.max_pool2d(F.relu(m.conv1(x)), 2)
            h = F.max_pool2d(F.relu(m.conv2(m.bn1(h))), 2)
            h = F.relu(m.fc1(m.flatten(h)))
            logits = m.fc2(h)
        pred = logits.argmax(1)
        print(json.dumps({'model': f, 'items': len(y), 'accuracy': float((pred == y).float().mean()),
                          'logit_std_across_items': float(logits.std(0).mean()),
                          'fc1_units_active': int((h > 0).any(0).sum()), 'fc1_units': h.shape[1],
                          'predicted_classes': np.bincount(pred.numpy(), minlength=logits.shape[1]).tolist()}))


if __name__ == '__main__':
    main()

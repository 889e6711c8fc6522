"""Make the text-classifier fixtures: tiny token-id classifiers trained on a synthetic task, as ONNX,
with PyTorch reference gradients at the embedding output.

The task: sequences of T = 12 token ids over a vocabulary of V = 32. Ids 0..5 are keywords, two
per class (class c: ids 2c and 2c+1); ids 6..31 are filler. Each sequence holds 3 keywords of its
class and filler elsewhere (ids uniform, positions uniform), so the class is read from which
keywords occur.

For each model NAME this writes, under test/fixtures/text/:

  NAME.onnx   the trained model (eval mode), input `ids` int64 [N, T] (dynamic batch axis),
              output `logits` [N, 3]; its first op on the ids is the embedding lookup (a Gather on
              the [V, D] embedding table)
  NAME.npz    x         int64    token ids [N, T] of held-out sequences
              y         int64    their classes
              logits    float32  the float32 PyTorch model's logits on x
              y_grad    int64    seeded random labels for the gradient check (on the true labels
                                 the trained model's softmax saturates, and the float32 gradient is
                                 rounding noise)
              grad_emb  float32  d(sum_i CE(logits_i, y_grad_i)) / d(embedding output) [N, T, D] by
                                 torch autograd in float64 (the ids looked up, then all in float64)

Models:
  text_conv  Embedding(32, 8) -> Conv1d(8, 16, 3, pad 1) -> ReLU -> mean over time -> Linear(16, 3)
  text_lstm  Embedding(32, 8) -> LSTM(8, 12, batch_first) -> last step -> Linear(12, 3)
  text_cast  ids.float() / 32 -> Linear(12, 3): no embedding lookup (for the error case)

Run from the repository root (a few seconds):

    /usr/bin/python3 scripts/make_text_fixtures.py

Needs torch (1.13), onnx and numpy. Same library versions -> same bytes.
"""

import io
import os
import random

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'text')
V, T, D, K = 32, 12, 8, 3
N_TRAIN, N_TEST = 600, 48
README_LINES = []


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)


def make_task(n, rng):
    x = rng.integers(6, V, size=(n, T))
    y = rng.integers(0, K, size=n)
    for i in range(n):
        pos = rng.choice(T, size=3, replace=False)
        x[i, pos] = 2 * y[i] + rng.integers(0, 2, size=3)
    return torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y.astype(np.int64))


class TextConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, D)
        self.conv = nn.Conv1d(D, 16, 3, padding=1)
        self.fc = nn.Linear(16, K)

    def tail(self, e):
        h = F.relu(self.conv(e.transpose(1, 2)))
        return self.fc(h.mean(dim=2))

    def forward(self, ids):
        return self.tail(self.emb(ids))


class TextLstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, D)
        self.lstm = nn.LSTM(D, 12, batch_first=True)
        self.fc = nn.Linear(12, K)

    def tail(self, e):
        out, _ = self.lstm(e)
        return self.fc(out[:, -1, :])

    def forward(self, ids):
        return self.tail(self.emb(ids))


class TextCast(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(T, K)

    def forward(self, ids):
        return self.fc(ids.float() / V)


def train(model, x, y, steps=300):
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    return model


def export(name, model, xt, yt, desc):
    buf = io.BytesIO()
    torch.onnx.export(model, (xt,), buf, input_names=['ids'], output_names=['logits'],
                      dynamic_axes={'ids': {0: 'batch'}, 'logits': {0: 'batch'}}, opset_version=13, do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    path = os.path.join(OUT_DIR, f'{name}.onnx')
    onnx.save(proto, path)
    with torch.no_grad():
        logits = model(xt)
    acc = float((logits.argmax(1) == yt).float().mean())
    arrays = dict(x=xt.numpy(), y=yt.numpy(), logits=logits.numpy().astype(np.float32))
    if hasattr(model, 'emb'):
        m64 = model.double()
        e = m64.emb(xt).detach().requires_grad_(True)
        y_grad = torch.from_numpy(np.random.default_rng(7).integers(0, K, size=len(yt)).astype(np.int64))
        arrays['y_grad'] = y_grad.numpy()
        loss = F.cross_entropy(m64.tail(e), y_grad, reduction='sum')
        loss.backward()
        arrays['grad_emb'] = e.grad.float().numpy()
        model.float()
    np.savez(os.path.join(OUT_DIR, f'{name}.npz'), **arrays)
    ops = sorted({n.op_type for n in proto.graph.node})
    README_LINES.append(f'- `{name}.onnx` — {os.path.getsize(path)} bytes, ops: {", ".join(ops)}; {desc}; held-out accuracy {acc:.3f} on {len(yt)} items')


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    rng = np.random.default_rng(19)
    xtr, ytr = make_task(N_TRAIN, rng)
    xte, yte = make_task(N_TEST, rng)
    for i, (name, cls, desc) in enumerate([
        ('text_conv', TextConv, 'embedding -> Conv1d -> ReLU -> mean -> Linear'),
        ('text_lstm', TextLstm, 'embedding -> LSTM -> last step -> Linear'),
        ('text_cast', TextCast, 'ids cast to float -> Linear (no embedding lookup)'),
    ]):
        seed_everything(100 + i)
        model = train(cls(), xtr, ytr)
        export(name, model, xte, yte, desc)
    with open(os.path.join(OUT_DIR, 'README.md'), 'w') as f:
        f.write('# Text classifiers (fixtures)\n\nMade by `/usr/bin/python3 scripts/make_text_fixtures.py` (torch '
                + torch.__version__.split('+')[0] + ', onnx ' + onnx.__version__
                + '); see the script for the task and what each `.npz` holds.\n\n' + '\n'.join(README_LINES) + '\n')


if __name__ == '__main__':
    main()

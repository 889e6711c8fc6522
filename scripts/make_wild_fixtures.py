"""Make the "models from the wild" fixtures: tiny PyTorch models with control flow, recurrent
layers, 1-D pooling, odd outputs and an old opset, as ONNX, with their autograd input gradients.

For each model NAME this writes, under test/fixtures/wild/:

  NAME.onnx   the model (eval mode, seeded random weights), input `input`, dynamic batch axis
  NAME.npz    x       float32  the input batch
              y       int64    seeded random labels
              logits  float32  the float32 PyTorch model's (chosen) output on x
              grad    float32  d(sum_i loss_i) / dx by torch autograd in float64, where loss_i is
                               cross-entropy on the logits (on log [1 - p, p] for the sigmoid model)

Models:
  if_data        scripted `if x.mean() > 0.5` whose branches read x from the outer scope (an ONNX If
                 with captures)
  loop_for       scripted `for _ in range(x.size(1) // 2)` (3 steps) whose body reads x from the outer scope (an ONNX Loop)
  lstm_bi        2-layer bidirectional LSTM, batch_first, classifier on the last step
  gru_h0         GRU (PyTorch's linear_before_reset = 1) with a learned initial state
  rnn_relu_bi    bidirectional Elman RNN with ReLU
  conv1d_pool    Conv1d -> MaxPool1d(3, stride 2, pad 1) -> amax over time (ReduceMax) -> Linear
  conv3d         Conv3d -> ReLU -> MaxPool3d(3, stride 1, pad 1) -> AvgPool3d -> Linear
  sigmoid_binary Linear -> Sigmoid: an [N, 1] probability of class 1
  two_outputs    outputs (aux, logits): the classifier's output is the second
  cnn_opset9     a small CNN exported at opset 9 (BatchNorm, MaxPool, Upsample-free)
  cnn_symbolic   a small CNN exported with symbolic batch, H and W

Run from the repository root (a few seconds):

    /usr/bin/python3 scripts/make_wild_fixtures.py

Needs torch (1.13), onnx and numpy. Same library versions -> same bytes.
"""

import io
import os
import random
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'wild')
BATCH = 4
README_LINES = []


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)


class IfData(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 3)
        self.b = nn.Linear(6, 3)

    def forward(self, x):
        if bool(x.mean() > 0.5):
            y = self.a(x * 2.0)
        else:
            y = self.b(torch.tanh(x))
        return y


class LoopFor(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 6)
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        h = torch.zeros_like(x)
        for _ in range(x.size(1) // 2):
            h = torch.tanh(self.lin(h) + x)
        return self.out(h)


class Recurrent(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        if kind == 'lstm_bi':
            self.rnn = nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)
            self.out = nn.Linear(8, 3)
        elif kind == 'gru_h0':
            self.rnn = nn.GRU(3, 5, batch_first=True)
            self.h0 = nn.Parameter(torch.randn(1, 1, 5) * 0.5)
            self.out = nn.Linear(5, 3)
        else:
            self.rnn = nn.RNN(3, 4, nonlinearity='relu', batch_first=True, bidirectional=True)
            self.out = nn.Linear(8, 3)

    def forward(self, x):
        if self.kind == 'gru_h0':
            y, _ = self.rnn(x, self.h0.expand(1, x.shape[0], 5).contiguous())
        else:
            y, _ = self.rnn(x)
        return self.out(y[:, -1])


class Conv1dPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3, padding=1)
        self.pool = nn.MaxPool1d(3, stride=2, padding=1)
        self.out = nn.Linear(4, 3)

    def forward(self, x):
        h = self.pool(torch.relu(self.conv(x)))
        return self.out(torch.amax(h, dim=2))


class Conv3d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(1, 2, 3, padding=1)
        self.out = nn.Linear(2 * 2 * 2 * 2, 3)

    def forward(self, x):
        h = F.avg_pool3d(F.max_pool3d(torch.relu(self.conv(x)), 3, stride=1, padding=1), 2)
        return self.out(h.flatten(1))


class SigmoidBinary(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(5, 1)

    def forward(self, x):
        return torch.sigmoid(self.lin(x))


class TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.aux = nn.Linear(5, 2)
        self.lin = nn.Linear(5, 3)

    def forward(self, x):
        return self.aux(x), self.lin(torch.relu(x))


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.out = nn.Linear(4, 3)

    def forward(self, x):
        h = F.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return self.out(F.adaptive_avg_pool2d(h, 1).flatten(1))


def export(name, model, x, opset=13, scripted=False, dynamic=None, outputs=('logits',), pick=0, sigmoid=False):
    model.eval()
    path = os.path.join(OUT_DIR, f'{name}.onnx')
    m = torch.jit.script(model) if scripted else model
    axes = dynamic or {'input': {0: 'batch'}}
    for o in outputs:
        axes.setdefault(o, {0: 'batch'})
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(m, (x,), buf, input_names=['input'], output_names=list(outputs), dynamic_axes=axes, opset_version=opset, do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    with open(path, 'wb') as f:
        f.write(proto.SerializeToString())
    with torch.no_grad():
        out = model(x)
    scores = (out[pick] if isinstance(out, tuple) else out).float()
    y = torch.randint(0, 2 if sigmoid else scores.shape[1], (x.shape[0],))
    m64 = model.double()
    x64 = x.double().requires_grad_(True)
    out64 = m64(x64)
    s64 = out64[pick] if isinstance(out64, tuple) else out64
    if sigmoid:
        p = s64[:, 0].clamp(1e-12, 1)
        logp = torch.stack([torch.log((1 - p).clamp_min(1e-12)), torch.log(p)], dim=1)
        loss = F.nll_loss(logp, y, reduction='sum')
    else:
        loss = F.cross_entropy(s64, y, reduction='sum')
    (g,) = torch.autograd.grad(loss, x64)
    np.savez(os.path.join(OUT_DIR, f'{name}.npz'), x=x.numpy().astype(np.float32), y=y.numpy().astype(np.int64), logits=scores.numpy(), grad=g.float().numpy())
    ops = sorted({n.op_type for n in proto.graph.node})
    line = f'{name}: {os.path.getsize(path)} bytes, opset {opset}, ops {" ".join(ops)}'
    print(line)
    README_LINES.append(f'- `{name}.onnx` — {os.path.getsize(path)} bytes, opset {opset}, ops: {", ".join(ops)}')


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    seed_everything(0)
    # Half the items above 0.5 on average, half below (the If's condition is on the batch mean).
    x = torch.rand(BATCH, 6)
    x[:2] += 0.3
    x[2:] -= 0.3
    x = x.clamp(0, 1)
    export('if_data', IfData(), x, scripted=True)
    seed_everything(1)
    export('loop_for', LoopFor(), torch.rand(BATCH, 6), scripted=True)
    for i, kind in enumerate(['lstm_bi', 'gru_h0', 'rnn_relu_bi']):
        seed_everything(2 + i)
        export(kind, Recurrent(kind), torch.rand(BATCH, 5, 3))
    seed_everything(5)
    export('conv1d_pool', Conv1dPool(), torch.rand(BATCH, 2, 9))
    seed_everything(6)
    export('conv3d', Conv3d(), torch.rand(BATCH, 1, 4, 4, 4))
    seed_everything(7)
    export('sigmoid_binary', SigmoidBinary(), torch.rand(BATCH, 5), outputs=('prob',), sigmoid=True)
    seed_everything(8)
    export('two_outputs', TwoOutputs(), torch.rand(BATCH, 5), outputs=('aux', 'logits'), pick=1)
    seed_everything(9)
    cnn = SmallCnn()
    cnn.train()
    with torch.no_grad():
        for _ in range(3):
            cnn(torch.rand(8, 1, 8, 8))
    export('cnn_opset9', cnn, torch.rand(BATCH, 1, 8, 8), opset=9)
    seed_everything(10)
    cnn = SmallCnn()
    export('cnn_symbolic', cnn, torch.rand(BATCH, 1, 8, 8), dynamic={'input': {0: 'batch', 2: 'height', 3: 'width'}})
    with open(os.path.join(OUT_DIR, 'README.md'), 'w') as f:
        f.write('# Models from the wild (fixtures)\n\nMade by `/usr/bin/python3 scripts/make_wild_fixtures.py` (torch ' + torch.__version__.split('+')[0] + ', onnx ' + onnx.__version__ + '); see the script for what each model is and what its `.npz` holds.\n\n' + '\n'.join(README_LINES) + '\n')


if __name__ == '__main__':
    main()

"""Make the autodiff fixtures: tiny PyTorch models as ONNX, with their autograd input and weight gradients.

For each model NAME this writes, under test/fixtures/autodiff/:

  NAME.onnx   the model (eval mode, seeded random weights), input `input`, output `logits`,
              dynamic batch axis on both
  NAME.npz    x       float32  the input batch
              y       int64    seeded random labels
              logits  float32  the float32 PyTorch model's output on x
              grad    float32  d(sum_i cross_entropy(logits_i, y_i)) / dx, by torch autograd in
                               float64 (model and x cast to double), then cast to float32
              loss    float64  scalar, that summed cross-entropy (float64 model)

  NAME.wgrad.npz  infer.INIT / train.INIT  float32  d(summed cross-entropy)/d(initializer INIT)
              for every initializer that is a parameter, eval mode and train mode (float64
              autograd); running.INIT the BatchNorm running stats after the train-mode pass;
              loss_infer, loss_train

and README.md listing the models, their opsets and the ONNX op types each contains.

Models: resnet_bn, mobilenet_v2, vit_op17, vit_op13 (same model and weights as vit_op17, opset 13),
mlp, resize_pad_pool, lenet. BatchNorm layers are kept as BatchNormalization nodes (exported with
TrainingMode.PRESERVE on an eval-mode model, so they are not fused into Conv) and carry non-trivial
running statistics from a few train-mode forward passes on random data.

Run from the repository root (a few seconds):

    /usr/bin/python3 scripts/make_grad_fixtures.py

Needs torch (1.13), onnx and numpy; onnxruntime for Python is optional (used, when installed, to
check each ONNX model's logits against PyTorch). Same library versions -> same bytes.
"""

import copy
import hashlib
import os
import random
import warnings

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'autodiff')
MAX_ONNX_BYTES = 150 * 1024
BATCH = 4


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)


# ----------------------------------------------------------------------------------------------
# Models


def init_bn(module, gen, relu6_gain=False):
    """Non-trivial BN affine parameters (running stats come from warm-up passes). With relu6_gain,
    a BN that feeds a ReLU6 gets gamma in [1, 3] so that some activations clip at 6."""
    feeds_relu6 = set()
    for m in module.modules():
        if isinstance(m, nn.Sequential):
            kids = list(m.children())
            for a, b in zip(kids, kids[1:]):
                if isinstance(a, nn.BatchNorm2d) and isinstance(b, nn.ReLU6):
                    feeds_relu6.add(id(a))
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                if relu6_gain and id(m) in feeds_relu6:
                    m.weight.copy_(torch.rand(m.num_features, generator=gen) * 2 + 1)
                    m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.5 + 0.5)
                else:
                    m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                    m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.2)


def init_convs(module, gen):
    """He-normal Conv weights (torch's default init shrinks the signal layer by layer)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)


def warm_up_bn(model, shape, gen, passes=4):
    """A few train-mode forward passes on random data, so BN running mean/var are not 0/1."""
    model.train()
    with torch.no_grad():
        for _ in range(passes):
            model(torch.randn(*shape, generator=gen) * 0.8 + 0.3)
    model.eval()


def scale_head(model, weight, bias, in_shape, gen, target_std=2.0):
    """Rescale the last layer so logits on a random probe batch have std target_std: softmax is
    then far from uniform and the fixture's gradients are not tiny."""
    probe = torch.rand(16, *in_shape, generator=gen)
    if len(in_shape) == 1:
        probe = probe * 4 - 2
    with torch.no_grad():
        factor = target_std / model(probe).std().item()
        weight.mul_(factor)
        bias.mul_(factor)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + identity)


class ResNetBN(nn.Module):
    """[N,3,16,16] -> stem conv/BN/ReLU -> MaxPool(3,2,1) -> block -> stride-2 block -> GAP -> FC."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                                  nn.ReLU())
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = BasicBlock(8, 8, 1)
        self.layer2 = BasicBlock(8, 16, 2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.pool(self.stem(x))
        x = self.layer2(self.layer1(x))
        return self.fc(self.flatten(self.gap(x)))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.block = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )

    def forward(self, x):
        out = self.block(x)
        return x + out if self.use_res else out


class MobileNetV2(nn.Module):
    """[N,3,16,16] -> stem (s2) -> inverted residuals (depthwise, ReLU6) -> 1x1 -> GAP -> FC."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
            InvertedResidual(8, 8, 1, 3),
            InvertedResidual(8, 16, 2, 3),
            InvertedResidual(16, 16, 1, 3),
            nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6(),
        )
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.gap(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        _, t, c = x.shape
        qkv = self.qkv(x).reshape(-1, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.matmul(q, k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(-1, t, c)
        return self.proj(out)


class TransformerBlock(nn.Module):
    def __init__(self, dim, heads, mlp_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """[N,3,16,16] -> 4x4 patches (16 tokens) + class token + pos-emb -> 2 blocks -> LN -> head."""

    def __init__(self, num_classes=10, dim=32, heads=2, depth=2, mlp_dim=64, patch=4, size=16):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
        n_tokens = (size // patch) ** 2 + 1
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.5)
        self.pos_embed = nn.Parameter(torch.randn(1, n_tokens, dim) * 0.5)
        self.blocks = nn.Sequential(*[TransformerBlock(dim, heads, mlp_dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # [N, 16, dim]
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def init_layernorm(module, gen):
    for m in module.modules():
        if isinstance(m, nn.LayerNorm):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.normalized_shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.normalized_shape, generator=gen) * 0.2)


class MLP(nn.Module):
    """[N,8] -> Gemm/Tanh -> Gemm/LeakyRelu (+ Sigmoid skip, Add) -> MatMul+Add -> [N,5]."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 16)
        self.w3 = nn.Parameter(torch.randn(16, 5) * 0.4)
        self.b3 = nn.Parameter(torch.randn(5) * 0.1)

    def forward(self, x):
        h1 = torch.tanh(self.fc1(x))
        h2 = F.leaky_relu(self.fc2(h1), negative_slope=0.1) + torch.sigmoid(h1)
        return torch.matmul(h2, self.w3) + self.b3


class ResizePadPool(nn.Module):
    """Nearest and bilinear upsampling, reflect and constant pads, AvgPool with both
    count_include_pad settings, Conv, ReLU, Flatten, Linear. [N,3,16,16] -> [N,10]."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.pool_incl = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=True)
        self.conv2 = nn.Conv2d(4, 6, 3)
        self.pool_excl = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.conv3 = nn.Conv2d(6, 4, 3, stride=2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4 * 8 * 9, num_classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))                                   # [N,4,16,16]
        x = F.interpolate(x, scale_factor=2, mode='nearest')        # [N,4,32,32]
        x = self.pool_incl(x)                                       # [N,4,16,16]
        x = F.pad(x, (1, 1, 1, 1), mode='reflect')                  # [N,4,18,18]
        x = F.relu(self.conv2(x))                                   # [N,6,16,16]
        x = self.pool_excl(x)                                       # [N,6,8,8]
        x = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)  # [N,6,16,16]
        x = F.pad(x, (1, 2, 0, 1), mode='constant', value=0.25)     # [N,6,17,19]
        x = F.relu(self.conv3(x))                                   # [N,4,8,9]
        return self.fc(self.flatten(x))


class LeNet(nn.Module):
    """[N,1,16,16] -> Conv(1->8, 3, pad 1)/ReLU/MaxPool(2) -> Conv(8->16, 3, pad 1)/ReLU/MaxPool(2)
    -> Flatten -> Linear: the default model's shape in small (its first block is a one-channel stem)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 4 * 4, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


# ----------------------------------------------------------------------------------------------
# Fixture writing


def make_resnet_bn(gen):
    model = ResNetBN()
    init_convs(model, gen)
    init_bn(model, gen)
    warm_up_bn(model, (16, 3, 16, 16), gen)
    scale_head(model, model.fc.weight, model.fc.bias, (3, 16, 16), gen)
    return model, (3, 16, 16), 10


def make_mobilenet_v2(gen):
    model = MobileNetV2()
    init_convs(model, gen)
    init_bn(model, gen, relu6_gain=True)
    warm_up_bn(model, (16, 3, 16, 16), gen)
    scale_head(model, model.classifier.weight, model.classifier.bias, (3, 16, 16), gen)
    return model, (3, 16, 16), 10


def make_vit(gen):
    model = TinyViT()
    init_layernorm(model, gen)
    scale_head(model, model.head.weight, model.head.bias, (3, 16, 16), gen)
    return model, (3, 16, 16), 10


def make_mlp(gen):
    model = MLP()
    scale_head(model, model.w3, model.b3, (8,), gen)
    return model, (8,), 5


def make_resize_pad_pool(gen):
    model = ResizePadPool()
    init_convs(model, gen)
    scale_head(model, model.fc.weight, model.fc.bias, (3, 16, 16), gen)
    return model, (3, 16, 16), 10


def make_lenet(gen):
    model = LeNet()
    init_convs(model, gen)
    scale_head(model, model.fc.weight, model.fc.bias, (1, 16, 16), gen)
    return model, (1, 16, 16), 10


def input_gradient(model, x, y):
    """Summed cross-entropy and its gradient w.r.t. x, in float64."""
    md = copy.deepcopy(model).double().eval()
    xd = torch.from_numpy(x).double().requires_grad_(True)
    loss = F.cross_entropy(md(xd), torch.from_numpy(y), reduction='sum')
    loss.backward()
    return float(loss.item()), xd.grad.numpy().astype(np.float32)


def initializer_params(model, proto):
    """Each float initializer of the export -> (torch parameter name, transposed?), matched by value:
    torch names most initializers after their parameter, but exports a Linear on 3-D input as
    MatMul with the transposed weight under a generated name (`onnx::MatMul_N`)."""
    params = dict(model.named_parameters())
    out = {}
    for t in proto.graph.initializer:
        if t.data_type != onnx.TensorProto.FLOAT:
            continue
        value = onnx.numpy_helper.to_array(t)
        hits = []
        for pname, p in params.items():
            pv = p.detach().numpy()
            if pv.shape == value.shape and np.array_equal(pv, value):
                hits.append((pname, False))
            elif pv.ndim == 2 and pv.T.shape == value.shape and np.array_equal(pv.T, value):
                hits.append((pname, True))
        if len(hits) > 1:
            raise AssertionError(f'initializer {t.name} matches several parameters: {hits}')
        if hits:
            out[t.name] = hits[0]
    missing = set(params) - {h[0] for h in out.values()}
    if missing:
        raise AssertionError(f'parameters without an initializer: {sorted(missing)}')
    return out


def weight_gradients(model, x, y, proto, train):
    """d(sum_i CE_i)/d(initializer) for every initializer that is a parameter, by torch autograd in
    float64, keyed by initializer name (transposed back for `onnx::MatMul_N` weights); in train
    mode also the running mean/var of every BatchNorm after that one train-mode forward pass, keyed
    by the running-stat initializer names."""
    mapping = initializer_params(model, proto)
    md = copy.deepcopy(model).double()
    md.train(train)
    loss = F.cross_entropy(md(torch.from_numpy(x).double()), torch.from_numpy(y), reduction='sum')
    loss.backward()
    params = dict(md.named_parameters())
    grads = {}
    for init, (pname, transposed) in mapping.items():
        g = params[pname].grad.numpy()
        grads[init] = (g.T if transposed else g).astype(np.float32)
    running = {}
    if train:
        buffers = dict(md.named_buffers())
        init_names = {t.name for t in proto.graph.initializer}
        for bname, buf in buffers.items():
            if bname.endswith('running_mean') or bname.endswith('running_var'):
                if bname not in init_names:
                    raise AssertionError(f'BatchNorm buffer {bname} is not an initializer of the export')
                running[bname] = buf.numpy().astype(np.float32)
    return float(loss.item()), grads, running


def export(model, x, path, opset):
    torch.onnx.export(model, torch.from_numpy(x), path, opset_version=opset,
                      input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}},
                      do_constant_folding=True,
                      # PRESERVE on an eval-mode model: inference export, but BatchNorm is kept as
                      # BatchNormalization rather than fused into the preceding Conv.
                      training=torch.onnx.TrainingMode.PRESERVE)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def op_types(proto):
    counts = {}
    for node in proto.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def check_with_ort(path, x, logits):
    try:
        import onnxruntime as ort  # noqa: F401
    except ImportError:
        return 'skipped (onnxruntime not installed for Python)'
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    out = sess.run(['logits'], {'input': x})[0]
    err = float(np.abs(out - logits).max())
    if err > 1e-4:
        raise AssertionError(f'{path}: ORT vs PyTorch max abs diff {err}')
    return f'ok (max abs diff {err:.2e})'


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


# name, factory, opset, seed, shared-model key (vit_op13 reuses vit_op17's model and data)
SPECS = [
    ('resnet_bn', make_resnet_bn, 13, 1, None),
    ('mobilenet_v2', make_mobilenet_v2, 13, 2, None),
    ('vit_op17', make_vit, 17, 3, 'vit'),
    ('vit_op13', make_vit, 13, 3, 'vit'),
    ('mlp', make_mlp, 13, 4, None),
    ('resize_pad_pool', make_resize_pad_pool, 13, 5, None),
    ('lenet', make_lenet, 13, 6, None),
]

DESCRIPTIONS = {
    'resnet_bn': 'ResNet-style CNN: Conv/BatchNorm/ReLU stem, overlapping MaxPool(3,2,1), a basic '
                 'residual block, a stride-2 residual block with 1x1 projection shortcut, global '
                 'average pool, Flatten, Linear. BN has non-trivial running stats and affine params.',
    'mobilenet_v2': 'MobileNetV2-style: stride-2 stem, inverted residual blocks (1x1 expand, 3x3 '
                    'depthwise conv with groups=channels, 1x1 project), BatchNorm, ReLU6 (Clip), '
                    'residual adds, global average pool, Linear. BN gains before ReLU6 are raised so '
                    'that some activations clip at 6 (both Clip bounds are active on x).',
    'vit_op17': 'Tiny ViT: 4x4 patch-embedding Conv, flatten/transpose to 16 tokens, class token '
                '(Expand + Concat), position embedding (Add), 2 pre-norm transformer blocks (LayerNorm, '
                'hand-written 2-head self-attention: Linear qkv, Reshape, Transpose, MatMul, scale, '
                'Softmax, MatMul; MLP with exact GELU), final LayerNorm, head on the class token.',
    'vit_op13': 'Same model, weights and data as vit_op17, exported at opset 13: LayerNorm decomposes '
                'into ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add and GELU into Erf/Mul/Add.',
    'mlp': '3-layer MLP on 8-dim input, 5 classes: Gemm+Tanh, Gemm+LeakyRelu(0.1) plus a Sigmoid '
           'skip (Add), then MatMul+Add.',
    'resize_pad_pool': 'CNN with nearest (x2) and bilinear (x2, align_corners=False) Resize, reflect '
                       'and constant (value 0.25, asymmetric) Pad, AvgPool(3,2,1) with '
                       'count_include_pad=True and with False, Conv, ReLU, Flatten, Linear. torch '
                       'exports AvgPool(count_include_pad=True, padding=1) as Pad (constant 0) + '
                       'AveragePool(pads 0), and F.pad\'s pads input as a small integer subgraph '
                       '(ConstantOfShape, Concat, Reshape, Slice, Transpose, Cast) that constant '
                       'folding leaves in place; Resize nearest is asymmetric/floor, bilinear is '
                       'linear/half_pixel.',
    'lenet': 'LeNet-style CNN like the default model: Conv(1->8, 3x3, pad 1), ReLU, MaxPool(2); '
             'Conv(8->16, 3x3, pad 1), ReLU, MaxPool(2); Flatten, Linear. Its first block is the '
             'one-channel Conv -> Relu -> MaxPool stem that the MaxPool rule differentiates in '
             'phase space (src/autodiff/rules/maxpool/stem.ts).',
}


def main():
    # Raised for every PRESERVE export, but it concerns models in *training* mode; ours are in eval.
    warnings.filterwarnings('ignore', message='It is recommended that constant folding be turned off')
    os.makedirs(OUT_DIR, exist_ok=True)
    shared = {}
    rows = []
    for name, factory, opset, seed, share_key in SPECS:
        if share_key is not None and share_key in shared:
            model, x, y = shared[share_key]
        else:
            seed_everything(seed)
            gen = torch.Generator().manual_seed(seed)
            model, in_shape, n_classes = factory(gen)
            model.eval()
            x = torch.rand(BATCH, *in_shape, generator=gen)
            if len(in_shape) == 1:
                x = x * 4 - 2  # vectors: spread over [-2, 2]
            x = x.numpy().astype(np.float32)
            y = torch.randint(0, n_classes, (BATCH,), generator=gen).numpy().astype(np.int64)
            if share_key is not None:
                shared[share_key] = (model, x, y)

        with torch.no_grad():
            logits = model(torch.from_numpy(x)).numpy().astype(np.float32)
        loss, grad = input_gradient(model, x, y)

        onnx_path = os.path.join(OUT_DIR, f'{name}.onnx')
        npz_path = os.path.join(OUT_DIR, f'{name}.npz')
        proto = export(model, x, onnx_path, opset)
        size = os.path.getsize(onnx_path)
        if size > MAX_ONNX_BYTES:
            raise AssertionError(f'{name}.onnx is {size} bytes (> {MAX_ONNX_BYTES})')
        np.savez_compressed(npz_path, x=x, y=y, logits=logits, grad=grad, loss=np.float64(loss))
        loss_infer, g_infer, _ = weight_gradients(model, x, y, proto, train=False)
        loss_train, g_train, running = weight_gradients(model, x, y, proto, train=True)
        wgrad_path = os.path.join(OUT_DIR, f'{name}.wgrad.npz')
        arrays = {f'infer.{k}': v for k, v in g_infer.items()}
        arrays.update({f'train.{k}': v for k, v in g_train.items()})
        arrays.update({f'running.{k}': v for k, v in running.items()})
        arrays['loss_infer'] = np.float64(loss_infer)
        arrays['loss_train'] = np.float64(loss_train)
        np.savez_compressed(wgrad_path, **arrays)
        print(f'  weight gradients: {len(g_infer)} parameters, train-mode loss {loss_train:.6f}, '
              f'{len(running)} running stats, {os.path.getsize(wgrad_path)} bytes')
        ort_check = check_with_ort(onnx_path, x, logits)
        ops = op_types(proto)
        rows.append((name, opset, ops, size, x.shape, ort_check))
        print(f'{name}: opset {opset}, {size} bytes, x {list(x.shape)}, loss {loss:.6f}, '
              f'|grad|max {np.abs(grad).max():.3e}, ORT {ort_check}')
        print(f'  ops: {ops}')
        print(f'  sha256 onnx {sha256(onnx_path)} npz {sha256(npz_path)}')

    write_readme(rows)


def write_readme(rows):
    lines = [
        '# Autodiff fixtures',
        '',
        'Tiny PyTorch models exported to ONNX together with their PyTorch autograd input gradients,',
        'used to check the ONNX autodiff engine end to end. Generated by',
        '`scripts/make_grad_fixtures.py`; do not edit by hand. Regenerate from the repository root with',
        '',
        '```',
        '/usr/bin/python3 scripts/make_grad_fixtures.py',
        '```',
        '',
        '(torch 1.13, onnx 1.12, numpy; seeded, so the same versions give the same bytes).',
        '',
        'Each `NAME.onnx` has one input `input` (float32, dynamic batch axis) and one output `logits`',
        '(float32 raw logits, dynamic batch axis); weights are seeded random, models are in eval mode.',
        'Each `NAME.npz` holds:',
        '',
        '| key | dtype | meaning |',
        '| --- | --- | --- |',
        '| `x` | float32 | the input batch |',
        '| `y` | int64 | seeded random labels |',
        '| `logits` | float32 | the float32 PyTorch model\'s output on `x` |',
        '| `grad` | float32 | d(sum over samples of cross_entropy(logits, y)) / dx, torch autograd in '
        'float64, cast to float32 |',
        '| `loss` | float64 | scalar: that summed cross-entropy (float64 model) |',
        '',
        'Note `logits` come from the float32 model and `loss`/`grad` from the float64 copy; compare',
        'gradients with a relative tolerance (the engine runs in float32).',
        '',
        'Each `NAME.wgrad.npz` holds the weight gradients, by torch autograd on a float64 copy:',
        '',
        '| key | dtype | meaning |',
        '| --- | --- | --- |',
        '| `infer.INIT` | float32 | d(summed cross-entropy on `x`, `y`) / d(initializer INIT), eval mode, one per '
        'initializer that is a PyTorch parameter (matched by value; `onnx::MatMul_N` initializers hold a '
        'transposed Linear weight, and their gradient is transposed the same way) |',
        '| `train.INIT` | float32 | the same in train mode (`model.train()`: BatchNorm on the batch\'s '
        'statistics; no model here has Dropout) |',
        '| `running.INIT` | float32 | train mode: each BatchNorm running mean/var after that one forward '
        'pass (PyTorch momentum 0.1, unbiased batch variance), keyed by the running-stat initializer |',
        '| `loss_infer`, `loss_train` | float64 | the summed cross-entropy in each mode |',
        '',
        'BatchNorm is exported as `BatchNormalization` nodes (TrainingMode.PRESERVE on an eval-mode',
        'model, so torch does not fold BN into the preceding Conv); its running statistics come from a',
        'few train-mode passes on random data and its affine parameters are random, so BN is not an',
        'identity.',
        '',
        'Weights: Conv layers He-normal, other layers torch defaults; the last layer of every model',
        'is rescaled so that logits on a random probe batch have std 2 (softmax far from uniform).',
        'The ViT exports carry integer shape subgraphs (Shape, Gather, Unsqueeze, Concat, Equal,',
        'Where, ConstantOfShape) from the dynamic batch size: they are not on the x -> loss gradient',
        'path and must be skipped, not differentiated.',
        '',
        '| model | opset | input | bytes | op types (count) |',
        '| --- | --- | --- | --- | --- |',
    ]
    for name, opset, ops, size, shape, _ in rows:
        op_str = ', '.join(f'{k} ({v})' for k, v in ops.items())
        lines.append(f'| `{name}` | {opset} | {list(shape)} | {size} | {op_str} |')
    lines += ['', '## Models', '']
    for name, *_ in rows:
        lines.append(f'- `{name}`: {DESCRIPTIONS[name]}')
    lines += ['', '## Checked against ONNX Runtime', '']
    checks = {r[5] for r in rows}
    if all(c.startswith('skipped') for c in checks):
        lines.append('The generator compares each model\'s ONNX Runtime logits with PyTorch when '
                     '`onnxruntime` is installed for Python; it was not when these files were made, so '
                     'that check was skipped by the generator. When the fixtures were first made '
                     '(torch 1.13.0, onnx 1.12.0) they were checked by hand in onnxruntime-node '
                     '1.30.0 instead: ONNX Runtime logits matched `logits` to within 1.5e-6 (max '
                     'abs) for every model, at batch 4 and at batch 1 (dynamic batch axis). '
                     '`test/autodiff-models.test.ts` repeats that check at batch 4 on every run '
                     '(relative L2 below 1e-4), which covers `lenet`, added later.')
    else:
        for name, *_, check in rows:
            lines.append(f'- `{name}`: {check}')
    lines.append('')
    with open(os.path.join(OUT_DIR, 'README.md'), 'w') as f:
        f.write('\n'.join(lines))


if __name__ == '__main__':
    main()

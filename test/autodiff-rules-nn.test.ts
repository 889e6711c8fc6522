import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { gradcheck } from '../src/autodiff/gradcheck.js';
import { MAXPOOL_TIES, type MaxpoolTies } from '../src/autodiff/options.js';
import type { Feed } from '../src/autodiff/probe.js';
import { attrInt, float, type AttrValue } from '../src/onnx/graph.js';
import { makeModel, node } from '../src/onnx/make.js';
import { DataType, type ModelP, type NodeP, type TensorP } from '../src/onnx/proto.js';
import { int64Tensor, makeTensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';
import { drawValues, gradOfSumOf, gradOfSumWithGraph, unsupportedNode, type RuleCase, type RuleInput } from './autodiff-helpers.js';

/*
 * Central finite-difference checks of the layer rules: Conv, MaxPool, Gemm, MatMul, Add, Sub, Mul,
 * Div, Neg, Relu, GlobalAveragePool, BatchNormalization, Flatten, Reshape, Identity and Dropout
 * (which uses the Identity rule).
 *
 * Float64 (tolerance 1e-5, h = 1e-6) wherever ONNX Runtime's CPU provider has a double kernel for
 * the forward op and for every op the rule emits. Conv and GlobalAveragePool have float32 kernels
 * only, and MaxPool's float32 routes use ops without double kernels (see the MaxPool section); those
 * checks run in float32. Every float32 check here is linear in X (Conv, GlobalAveragePool,
 * inference BatchNormalization) or piecewise linear with no piece boundary within reach of ±h
 * (MaxPool on tie-free inputs, below), so a central difference has no truncation error at any step
 * and a large step is used, as in the shape tests: h = 0.05. The only error left is float32
 * rounding of the outputs, about √n·ε₃₂·|y| / (2h) ≈ 10·6e-8·3 / 0.1 ≈ 2e-5 on derivatives of order
 * 1 (n: the terms summed into one output; observed: ≤ 8e-6). A tolerance of 1e-4 is above that and
 * far below what a misplaced tap, a wrong pad or phase, or a wrong divisor gives (≥ 1e-2).
 *
 * MaxPool's float32 inputs are a shuffled grid of distinct multiples of 1/16 spaced 1/8 apart, so
 * with h = 1/32 no window's argmax moves under ±h and no input crosses 0 (the Relu kink). The grid
 * spans ±n/16, where float32's spacing reaches 1e-5 and rounding x ± 0.05 alone would be a 1e-4
 * error; h = 1/32 keeps x ± h exact, and MaxPool copies inputs to outputs, so the difference
 * quotient is exact (observed: ≤ 2e-7, the rounding of the weighted sum).
 *
 * Exact values at kinks and ties (Relu at 0, MaxPool ties, the Relu → MaxPool fold) are checked on
 * the backward graph's gradient of Σ y directly, not by finite differences.
 */

const F64_TOL = 1e-5;
const F32_TOL = 1e-4;
const F32_H = 0.05;
const GRID_H = 1 / 32;

type Dtype = 'float32' | 'float64';
type In = RuleInput;
type Case = RuleCase;

/** Worst relError and number of checks per op and dtype, printed at the end (for the record, not asserted). */
const worst = new Map<string, { err: number; checks: number }>();
after(() => {
  const rows = [...worst.entries()].sort(([a], [b]) => a.localeCompare(b));
  console.log(rows.map(([key, { err, checks }]) => `${key.padEnd(28)} ${String(checks).padStart(3)} checks, worst relError ${err.toExponential(2)}`).join('\n'));
});


function feedsFor(c: Case, rng: Rng): Record<string, Feed> {
  const dtype = c.dtype ?? 'float64';
  const feeds: Record<string, Feed> = {};
  for (const spec of c.inputs) {
    const vals = drawValues(rng, spec, spec.shape.reduce((a, b) => a * b, 1));
    feeds[spec.name] = { data: dtype === 'float64' ? Float64Array.from(vals) : Float32Array.from(vals), dims: spec.shape };
  }
  return feeds;
}

function modelOf(c: Case): ModelP {
  const dtype = c.dtype ?? 'float64';
  return makeModel({
    inputs: c.inputs.map((i) => ({ name: i.name, dtype, shape: i.shape })),
    outputs: (c.outputs ?? ['y']).map((name) => ({ name, dtype })),
    nodes: c.nodes,
    initializers: c.initializers ?? [],
    opset: c.opset ?? 13,
  });
}

const seedOf = (c: Case) => `nn:${c.op}:${c.nodes.map((n) => n.op_type).join(',')}:${c.inputs.map((i) => `${i.name}${i.shape.join('x')}`).join(',')}:${c.opset ?? 13}`;

/** Runs the finite-difference check and asserts every relError is within the dtype's tolerance. */
async function check(c: Case): Promise<void> {
  const dtype = c.dtype ?? 'float64';
  const rng = new Rng(seedOf(c));
  const wrt = c.wrt ?? c.inputs.map((i) => i.name);
  const h = dtype === 'float64' ? undefined : c.inputs.some((i) => i.grid) ? GRID_H : F32_H;
  const res = await gradcheck(modelOf(c), feedsFor(c, rng), wrt, rng.fork('weights'), { h, gradient: c.gradient });
  const tol = dtype === 'float64' ? F64_TOL : F32_TOL;
  for (const r of res) {
    assert.equal(r.dtype, dtype);
    // Guards against a vacuous check (an identically zero gradient); GlobalAveragePool's
    // derivative is only |w|/area, hence the low bar.
    assert.ok(r.maxAbsNumeric > 1e-4, `${c.op}: d/d${r.input} is numerically zero — the check would be vacuous`);
    assert.ok(r.relError < tol, `${c.op}: d/d${r.input} relError ${r.relError} ≥ ${tol} (${dtype})`);
    const key = `${c.op} ${dtype}`;
    const seen = worst.get(key) ?? { err: 0, checks: 0 };
    worst.set(key, { err: Math.max(seen.err, r.relError), checks: seen.checks + 1 });
  }
}

async function rejects(c: Case, message: RegExp | ((e: unknown) => true)): Promise<void> {
  const rng = new Rng('reject');
  await assert.rejects(gradcheck(modelOf(c), feedsFor(c, rng), c.wrt ?? c.inputs.map((i) => i.name), rng.fork('w')), message);
}

/** The backward graph's exact gradient of Σ y with respect to `wrt` (kinks and ties). */
function gradOfSum(c: Case, wrt = 'x'): Promise<number[]> {
  return gradOfSumOf(modelOf(c), feedsFor(c, new Rng(0)), wrt, c.dtype ?? 'float64', c.gradient);
}

const f64 = (name: string, values: number[], dims: number[] = [values.length]) => makeTensor(name, dims, Float64Array.from(values));
const f32 = (name: string, values: number[], dims: number[] = [values.length]) => makeTensor(name, dims, Float32Array.from(values));
const fTensor = (dtype: Dtype, name: string, values: number[], dims: number[] = [values.length]) => (dtype === 'float64' ? f64 : f32)(name, values, dims);
const X = (shape: number[], extra: Partial<In> = {}): In => ({ name: 'x', shape, ...extra });
const unary = (op: string, attrs: Record<string, AttrValue | undefined> = {}) => [node(op, ['x'], ['y'], attrs)];
/** Seeded weights in [−1, 1) (a constant initializer). */
const randomTensor = (dtype: Dtype, name: string, dims: number[], seed: string, lo = -1, hi = 1): TensorP => {
  const rng = new Rng(seed);
  return fTensor(dtype, name, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.range(lo, hi)), dims);
};

// ─── Conv (float32: ORT has no double Conv) ───────────────────────────────────────────────────

interface ConvSpec {
  x: number[];
  w: number[];
  attrs?: Record<string, AttrValue>;
  /** A bias input, differentiated too. */
  bias?: boolean;
  opset?: number;
}
const conv = ({ x, w, attrs = {}, bias = false, opset = 13 }: ConvSpec): Case => ({
  op: 'Conv',
  dtype: 'float32',
  opset,
  nodes: [node('Conv', bias ? ['x', 'w', 'b'] : ['x', 'w'], ['y'], attrs)],
  inputs: [X(x), ...(bias ? [{ name: 'b', shape: [w[0]!] }] : [])],
  initializers: [randomTensor('float32', 'w', w, `conv-w/${w.join('x')}`)],
});

test('Conv: 2-D, strides 2 with asymmetric pads, and a differentiated bias', async () => {
  await check(conv({ x: [2, 3, 7, 6], w: [4, 3, 3, 3], attrs: { strides: [2, 2], pads: [1, 0, 2, 1] }, bias: true }));
  await check(conv({ x: [1, 2, 6, 7], w: [3, 2, 2, 3], attrs: { strides: [3, 2], pads: [0, 2, 1, 0] }, opset: 11 }));
});

test('Conv: auto_pad SAME_UPPER (stride 2, odd total padding) and VALID', async () => {
  await check(conv({ x: [1, 2, 6, 5], w: [3, 2, 3, 2], attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] } }));
  await check(conv({ x: [2, 2, 6, 5], w: [3, 2, 3, 3], attrs: { auto_pad: 'VALID', strides: [2, 1] } }));
});

test('Conv: dilations 2 (stride 1 and stride 2)', async () => {
  await check(conv({ x: [1, 2, 7, 7], w: [3, 2, 3, 3], attrs: { dilations: [2, 2], pads: [1, 2, 2, 1] } }));
  await check(conv({ x: [1, 3, 8, 7], w: [2, 3, 2, 3], attrs: { dilations: [2, 2], strides: [2, 2], pads: [1, 1, 0, 0] } }));
});

test('Conv: groups (4 in, 4 out, group 2) and depthwise (group = channels, multiplier 2)', async () => {
  await check(conv({ x: [2, 4, 5, 5], w: [4, 2, 3, 3], attrs: { group: 2, strides: [2, 2], pads: [1, 1, 1, 1] }, bias: true }));
  await check(conv({ x: [1, 3, 6, 6], w: [6, 1, 3, 3], attrs: { group: 3, pads: [1, 1, 1, 1] } }));
  await check(conv({ x: [1, 4, 6, 6], w: [4, 1, 3, 3], attrs: { group: 4, strides: [2, 2], pads: [0, 1, 0, 1] } }));
});

test('Conv: 1-D (stride 2, pads) and 3-D', async () => {
  await check(conv({ x: [2, 3, 9], w: [4, 3, 3], attrs: { strides: [2], pads: [1, 2] }, bias: true }));
  await check(conv({ x: [1, 2, 9], w: [2, 2, 4], attrs: { pads: [1, 2] } }));
  await check(conv({ x: [1, 2, 3, 4, 4], w: [2, 2, 2, 3, 2], attrs: { pads: [1, 0, 1, 0, 1, 1] } }));
});

// Stride 1, a constant W and a channel count that is a multiple of 8: dX is a plain Conv with
// flipped, channel-swapped weights (when every flipped pad d·(k−1) − p is ≥ 0).
test('Conv: 8 and 16 input channels, stride 1 (flipped-Conv path), with groups, depthwise and dilation', async () => {
  await check(conv({ x: [2, 8, 5, 5], w: [4, 8, 3, 3], attrs: { pads: [1, 1, 1, 1] }, bias: true }));
  await check(conv({ x: [1, 8, 5, 6], w: [6, 4, 3, 3], attrs: { group: 2, pads: [0, 1, 2, 1] } }));
  await check(conv({ x: [1, 16, 5, 5], w: [16, 1, 3, 3], attrs: { group: 16, dilations: [2, 2], pads: [2, 2, 2, 2] } }));
  await check(conv({ x: [1, 8, 9], w: [3, 8, 3], attrs: { pads: [0, 2] } }));
});

test('Conv: 8+ channels but not the flipped path (pads beyond the kernel, 12 channels, stride 2)', async () => {
  // pad 3 > d·(k−1) = 2: a negative flipped pad, so ConvTranspose.
  await check(conv({ x: [1, 8, 4, 4], w: [2, 8, 3, 3], attrs: { pads: [3, 0, 0, 3] } }));
  await check(conv({ x: [1, 12, 4, 5], w: [3, 12, 3, 3], attrs: { pads: [1, 1, 1, 1] } }));
  await check(conv({ x: [1, 8, 6, 6], w: [4, 8, 3, 3], attrs: { strides: [2, 2], pads: [1, 1, 1, 1] } }));
});

// Strided, undilated, ungrouped 2-D Conv with a constant W: dX is a stride-1 Conv over gy with one output
// channel per (input channel, phase), then DepthToSpace (every phase has taps, or one phase at
// stride 2 among zero ones) or a zero Pad that places the one phase (1×1 and k < s kernels at
// other strides). Odd sizes leave rows no window reaches (zero).
const SUBPIXEL: [string, ConvSpec, 'shuffle' | 'place'][] = [
  ['3×3 stride 2 pads 1, 8 → 4 channels', { x: [2, 8, 8, 8], w: [4, 8, 3, 3], attrs: { strides: [2, 2], pads: [1, 1, 1, 1] } }, 'shuffle'],
  ['3×3 stride 2 pads 1 on 7×9 (odd)', { x: [1, 3, 7, 9], w: [5, 3, 3, 3], attrs: { strides: [2, 2], pads: [1, 1, 1, 1] } }, 'shuffle'],
  ['7×7 stride 2 pads 3 (a ResNet stem)', { x: [1, 3, 12, 10], w: [4, 3, 7, 7], attrs: { strides: [2, 2], pads: [3, 3, 3, 3] } }, 'shuffle'],
  ['2×2 stride 2, asymmetric pads', { x: [1, 4, 7, 6], w: [3, 4, 2, 2], attrs: { strides: [2, 2], pads: [1, 0, 0, 1] } }, 'shuffle'],
  ['5×5 stride 3 pads 2', { x: [1, 2, 11, 10], w: [3, 2, 5, 5], attrs: { strides: [3, 3], pads: [2, 2, 2, 2] } }, 'shuffle'],
  ['1×1 stride 2 (a ResNet shortcut)', { x: [2, 8, 7, 8], w: [6, 8, 1, 1], attrs: { strides: [2, 2] } }, 'shuffle'],
  ['1×1 stride 2 pads 1 (the phase is not the first)', { x: [1, 3, 8, 9], w: [2, 3, 1, 1], attrs: { strides: [2, 2], pads: [1, 1, 1, 1] } }, 'shuffle'],
  ['1×1 stride 3 pads 1 (the phase is not the first)', { x: [1, 3, 8, 9], w: [2, 3, 1, 1], attrs: { strides: [3, 3], pads: [1, 1, 1, 1] } }, 'place'],
  ['SAME_UPPER stride 2 (odd total padding)', { x: [1, 2, 6, 5], w: [3, 2, 3, 2], attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] } }, 'shuffle'],
];

test('Conv: strided dX as a sub-pixel Conv (phases shuffled or placed), matching finite differences', async () => {
  for (const [label, spec, how] of SUBPIXEL) {
    await check(conv(spec));
    const c = conv(spec);
    const { backward } = await gradOfSumWithGraph(modelOf(c), feedsFor(c, new Rng(0)), 'x', 'float32');
    assert.ok(backward.some((n) => (n.name ?? '').includes('conv_dx_sub')), `${label}: sub-pixel Conv`);
    assert.ok(!backward.some((n) => n.op_type === 'ConvTranspose'), `${label}: no ConvTranspose`);
    assert.equal(backward.some((n) => n.op_type === 'DepthToSpace'), how === 'shuffle', `${label}: ${how}`);
  }
  // Depthwise (group = channels, multiplier 1): a grouped sub-pixel Conv, P outputs per group.
  for (const spec of [
    { x: [2, 8, 9, 8], w: [8, 1, 3, 3], attrs: { group: 8, strides: [2, 2], pads: [1, 1, 1, 1] } },
    { x: [1, 16, 8, 8], w: [16, 1, 5, 5], attrs: { group: 16, strides: [2, 2], pads: [2, 2, 2, 2] } },
    { x: [1, 3, 7, 6], w: [3, 1, 2, 2], attrs: { group: 3, strides: [2, 2] } },
  ] as ConvSpec[]) {
    await check(conv(spec));
    const c = conv(spec);
    const { backward } = await gradOfSumWithGraph(modelOf(c), feedsFor(c, new Rng(0)), 'x', 'float32');
    const sub = backward.find((n) => (n.name ?? '').includes('conv_dx_sub'));
    assert.equal(sub && attrInt(sub, 'group', 1), spec.x[1], `${JSON.stringify(spec.attrs)}: grouped sub-pixel Conv`);
    assert.ok(!backward.some((n) => n.op_type === 'ConvTranspose'), `${JSON.stringify(spec.attrs)}: no ConvTranspose`);
  }
  // Unequal strides with every phase used, some but not all phases used (2×2 stride 3), dilation,
  // and other groups (a depthwise multiplier of 2, two groups of two) keep ConvTranspose.
  for (const spec of [
    { x: [1, 8, 9, 8], w: [16, 1, 3, 3], attrs: { group: 8, strides: [2, 2], pads: [1, 1, 1, 1] } },
    { x: [1, 4, 9, 9], w: [4, 2, 3, 3], attrs: { group: 2, strides: [2, 2] } },
    { x: [1, 3, 8, 9], w: [2, 3, 2, 2], attrs: { strides: [3, 3] } },
    { x: [1, 2, 6, 7], w: [3, 2, 3, 3], attrs: { strides: [2, 3], pads: [1, 1, 1, 1] } },
    { x: [1, 3, 8, 7], w: [2, 3, 2, 3], attrs: { dilations: [2, 2], strides: [2, 2], pads: [1, 1, 0, 0] } },
  ] as ConvSpec[]) {
    await check(conv(spec));
    const c = conv(spec);
    const { backward } = await gradOfSumWithGraph(modelOf(c), feedsFor(c, new Rng(0)), 'x', 'float32');
    assert.ok(backward.some((n) => n.op_type === 'ConvTranspose'), JSON.stringify(spec.attrs));
  }
});

// A ResNet downsampling block's input gets the dX of its 3×3 stride-2 conv and of its 1×1 stride-2
// shortcut: both are phase tensors, summed before one DepthToSpace (backward.ts sumShuffled). On
// odd sizes each is cropped after its shuffle, and they are summed after.
test('Conv: a 3×3 stride-2 conv beside a 1×1 stride-2 shortcut: their phases summed before one DepthToSpace, matching finite differences', async () => {
  for (const x of [[2, 8, 8, 8], [1, 4, 7, 9]]) {
    const c: Case = {
      op: 'Conv',
      dtype: 'float32',
      nodes: [
        node('Conv', ['x', 'w'], ['main'], { strides: [2, 2], pads: [1, 1, 1, 1] }),
        node('Conv', ['x', 'ws'], ['short'], { strides: [2, 2] }),
        node('Add', ['main', 'short'], ['y']),
      ],
      inputs: [X(x)],
      initializers: [randomTensor('float32', 'w', [6, x[1]!, 3, 3], 'block-w'), randomTensor('float32', 'ws', [6, x[1]!, 1, 1], 'block-ws')],
    };
    await check(c);
    const { backward } = await gradOfSumWithGraph(modelOf(c), feedsFor(c, new Rng(0)), 'x', 'float32');
    const even = x[2]! % 2 === 0 && x[3]! % 2 === 0;
    assert.equal(backward.filter((n) => n.op_type === 'DepthToSpace').length, even ? 1 : 2, `${x}: DepthToSpace nodes`);
    assert.equal(backward.some((n) => (n.name ?? '').includes('fanin_phases')), even, `${x}: phases summed`);
  }
});

// Stride 1, undilated, ungrouped 2-D with 1–4 input channels: dX is a stride-f Conv of gy then
// DepthToSpace(f), with f = 4 for one channel and 2 for two to four, lowered until f divides H and W.
test('Conv: 1 input channel, stride 1, H and W divisible by 4 (polyphase f = 4)', async () => {
  await check(conv({ x: [2, 1, 8, 8], w: [4, 1, 3, 3], attrs: { pads: [1, 1, 1, 1] }, bias: true }));
  await check(conv({ x: [1, 1, 8, 12], w: [3, 1, 3, 2], attrs: { pads: [1, 0, 2, 1] } }));
  await check(conv({ x: [1, 1, 4, 8], w: [2, 1, 5, 5], attrs: { pads: [2, 2, 2, 2] } }));
  await check(conv({ x: [1, 1, 8, 8], w: [2, 1, 3, 3] }));
});

test('Conv: 1 input channel, stride 1, H/W divisible by 3 or only by 2 (polyphase f = 3, 2)', async () => {
  await check(conv({ x: [1, 1, 9, 6], w: [3, 1, 3, 3], attrs: { pads: [1, 1, 1, 1] } }));
  await check(conv({ x: [1, 1, 6, 10], w: [3, 1, 3, 3], attrs: { auto_pad: 'SAME_UPPER' } }));
});

test('Conv: 2–4 input channels, stride 1, H and W divisible by 2 (polyphase f = 2)', async () => {
  await check(conv({ x: [2, 3, 8, 6], w: [5, 3, 3, 2], attrs: { pads: [1, 0, 2, 1] }, bias: true }));
  await check(conv({ x: [1, 3, 4, 4], w: [4, 3, 1, 1] }));
  await check(conv({ x: [1, 3, 6, 6], w: [2, 3, 2, 2], attrs: { auto_pad: 'SAME_UPPER' } }));
  await check(conv({ x: [1, 2, 4, 6], w: [3, 2, 3, 3], attrs: { auto_pad: 'VALID' } }));
  await check(conv({ x: [1, 4, 4, 4], w: [3, 4, 3, 3], attrs: { pads: [1, 1, 1, 1] } }));
});

test('Conv: few channels, stride 1, but no polyphase (H/W not divisible, pad > k − 1, dilated, grouped, 5 channels)', async () => {
  await check(conv({ x: [1, 1, 5, 7], w: [3, 1, 3, 3], attrs: { pads: [1, 1, 1, 1] } }));
  await check(conv({ x: [1, 3, 5, 6], w: [2, 3, 3, 3], attrs: { pads: [1, 1, 1, 1] } }));
  await check(conv({ x: [1, 1, 4, 4], w: [2, 1, 3, 3], attrs: { pads: [3, 1, 0, 1] } }));
  await check(conv({ x: [1, 3, 8, 8], w: [2, 3, 3, 3], attrs: { dilations: [2, 2], pads: [2, 2, 2, 2] } }));
  await check(conv({ x: [1, 2, 4, 4], w: [2, 1, 3, 3], attrs: { group: 2, pads: [1, 1, 1, 1] } }));
  await check(conv({ x: [1, 5, 4, 4], w: [2, 5, 3, 3], attrs: { pads: [1, 1, 1, 1] } }));
});

test('Conv: a weight fed as a graph input (not constant, not differentiated) takes the ConvTranspose path', async () => {
  for (const xs of [[1, 8, 4, 4], [1, 1, 8, 8]]) {
    await check({
      op: 'Conv',
      dtype: 'float32',
      nodes: [node('Conv', ['x', 'w'], ['y'], { pads: [1, 1, 1, 1] })],
      inputs: [X(xs), { name: 'w', shape: [2, xs[1]!, 3, 3], lo: -1, hi: 1 }],
      wrt: ['x'],
    });
  }
});

test('Conv: a computed weight (the input convolved with itself) gets dX and dW, summed', async () => {
  await check({ op: 'Conv', dtype: 'float32', nodes: [node('Conv', ['x', 'x'], ['y'])], inputs: [X([1, 1, 2, 2])] });
});

// ─── MaxPool (float32) ────────────────────────────────────────────────────────────────────────
//
// ORT has no double Resize, AveragePool, MaxUnpool or Conv kernels, so in float64 models the rule
// supports only tiling windows, through Reshape and broadcasting; those get float64 checks at the
// end of this section. The float32 routes are covered with 1–3 channels and with a multiple of 8
// channels (where ORT's blocked NCHWc kernels apply and the rule uses a different formulation).
// Both tie rules (maxpool_ties: first, the default, and share) take their own routes, so every
// finite-difference check runs under each; exact ties on every route, against a reference
// implementation, are in autodiff-maxpool-ties.test.ts.

interface PoolSpec {
  x: number[];
  attrs: Record<string, AttrValue>;
  opset?: number;
  /** Relu → MaxPool (the rule folds the Relu's mask into the pooling gradient). */
  relu?: boolean;
  /** Hand-picked input values (default: the tie-free grid). */
  values?: number[];
  dtype?: Dtype;
  /** The tie rule (default: the declared default, first). */
  ties?: MaxpoolTies;
}
const pool = ({ x, attrs, opset = 13, relu = false, values, dtype = 'float32', ties }: PoolSpec): Case => ({
  op: 'MaxPool',
  dtype,
  opset,
  nodes: relu ? [node('Relu', ['x'], ['r']), node('MaxPool', ['r'], ['y'], attrs)] : [node('MaxPool', ['x'], ['y'], attrs)],
  inputs: [X(x, values ? { values } : { grid: true })],
  ...(ties ? { gradient: { maxpoolTies: ties } } : {}),
});
const TILE_2x2 = { kernel_shape: [2, 2], strides: [2, 2] };
// Four 2×2 windows of a 4×4 input: a 4-way tie at 1.5, a 2-way tie at 3, a 3-way tie at 7 (with a
// 2 below it) and a 4-way tie at −2.
const TIES = [
  1.5, 1.5, 3, -1,
  1.5, 1.5, 0, 3,
  7, 7, -2, -2,
  7, 2, -2, -2,
];
// For Relu → MaxPool: a window all ≤ 0 (the Relu makes it a 4-way tie at 0, but no gradient may
// flow); a unique positive maximum; four equal positives; two equal positives beside a negative and a 0.
const RELU_TIES = [
  -1, 0, 3, -1,
  -2, -0.5, 2, 0.5,
  1.25, 1.25, 2, 2,
  1.25, 1.25, -1, 0,
];
/** One 4×4 channel's values repeated over `c` channels (and the same for the expected gradient). */
const channels = (c: number, plane: number[]) => Array.from({ length: c }, () => plane).flat();

// Route (a): windows that tile the input (kernel = stride, divisible sizes, opset ≥ 13).
test('MaxPool: tiling windows (2×2 stride 2), [2,16,8,8] and [2,3,8,8], both tie rules', async () => {
  for (const ties of MAXPOOL_TIES) {
    await check(pool({ x: [2, 16, 8, 8], attrs: TILE_2x2, ties }));
    await check(pool({ x: [2, 3, 8, 8], attrs: TILE_2x2, ties }));
  }
});

test('MaxPool: tiling windows with 3, 8 and 12 channels, 3×3, 2×3 and 1×1 windows, opset 18, both tie rules', async () => {
  for (const ties of MAXPOOL_TIES) {
    await check(pool({ x: [1, 8, 6, 6], attrs: { kernel_shape: [3, 3], strides: [3, 3] }, ties }));
    await check(pool({ x: [2, 8, 4, 6], attrs: { kernel_shape: [2, 3], strides: [2, 3] }, opset: 18, ties }));
    await check(pool({ x: [1, 12, 4, 4], attrs: TILE_2x2, ties }));
    await check(pool({ x: [1, 3, 4, 6], attrs: { kernel_shape: [2, 3], strides: [2, 3] }, ties }));
    await check(pool({ x: [1, 8, 3, 3], attrs: { kernel_shape: [1, 1], strides: [1, 1] }, ties }));
  }
});

// Route (b): other non-overlapping windows → the forward's Indices output and MaxUnpool.
test('MaxPool: non-overlapping, non-tiling windows (kernel 2 stride 3; sizes not divisible; opset 12), both tie rules', async () => {
  for (const ties of MAXPOOL_TIES) {
    await check(pool({ x: [1, 3, 8, 8], attrs: { kernel_shape: [2, 2], strides: [3, 3] }, ties }));
    await check(pool({ x: [2, 2, 5, 7], attrs: TILE_2x2, ties }));
    await check(pool({ x: [2, 4, 6, 6], attrs: TILE_2x2, opset: 12, ties }));
    await check(pool({ x: [1, 8, 8, 8], attrs: { kernel_shape: [2, 3], strides: [3, 3] }, ties }));
  }
});

// Route (c): overlapping, padded, dilated or ceil_mode windows → im2col / col2im.
test('MaxPool: overlapping, padded, dilated, ceil_mode (overlapping or not) and SAME_UPPER windows (im2col route), both tie rules', async () => {
  for (const ties of MAXPOOL_TIES) {
    await check(pool({ x: [2, 3, 6, 6], attrs: { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }, ties }));
    await check(pool({ x: [1, 2, 7, 6], attrs: { kernel_shape: [3, 2], strides: [2, 1], pads: [1, 0, 0, 1] }, ties }));
    await check(pool({ x: [1, 2, 7, 7], attrs: { kernel_shape: [2, 2], strides: [1, 1], dilations: [2, 2] }, ties }));
    await check(pool({ x: [1, 2, 8, 8], attrs: { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }, ties }));
    await check(pool({ x: [1, 3, 5, 7], attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }, ties }));
    await check(pool({ x: [1, 2, 5, 5], attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1] }, ties }));
    await check(pool({ x: [1, 8, 5, 5], attrs: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' }, ties }));
  }
});

test('MaxPool: Relu → MaxPool (Relu mask folded) on each route, both tie rules', async () => {
  for (const ties of MAXPOOL_TIES) {
    await check(pool({ x: [2, 8, 4, 4], attrs: TILE_2x2, relu: true, ties }));
    await check(pool({ x: [2, 3, 4, 4], attrs: TILE_2x2, relu: true, ties }));
    await check(pool({ x: [1, 3, 7, 7], attrs: { kernel_shape: [2, 2], strides: [3, 3] }, relu: true, ties }));
    await check(pool({ x: [1, 3, 6, 6], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, relu: true, ties }));
  }
});

test('MaxPool: tiling windows: the first maximum of a 4-, 2- or 3-way tie gets the whole gradient (default rule)', async () => {
  const firstMax = [
    1, 0, 1, 0,
    0, 0, 0, 0,
    1, 0, 1, 0,
    0, 0, 0, 0,
  ];
  for (const c of [1, 8]) assert.deepEqual(await gradOfSum(pool({ x: [1, c, 4, 4], attrs: TILE_2x2, values: channels(c, TIES) })), channels(c, firstMax), `${c} channels`);
});

test('MaxPool share: tiling windows: an exact 4-way tie gives 0.25 to each tied element, 2-way 0.5, 3-way 1/3', async () => {
  const third = Math.fround(1 / 3);
  const expected = [
    0.25, 0.25, 0.5, 0,
    0.25, 0.25, 0, 0.5,
    third, third, 0.25, 0.25,
    third, 0, 0.25, 0.25,
  ];
  for (const c of [1, 8]) {
    const g = await gradOfSum(pool({ x: [1, c, 4, 4], attrs: TILE_2x2, values: channels(c, TIES), ties: 'share' }));
    assert.equal(g.length, 16 * c);
    g.forEach((v, i) => assert.ok(Math.abs(v - expected[i % 16]!) <= 1e-7, `${c} channels, element ${i}: ${v} ≠ ${expected[i % 16]}`));
  }
});

test('MaxPool: tiling windows: near-ties one float32 ulp apart still give the whole gradient to the maximum, under both tie rules', async () => {
  // The float32 value one ulp further from 0 than v (the next bit pattern).
  const away = (v: number) => {
    const f = new Float32Array([v]);
    new Int32Array(f.buffer)[0]! += 1;
    return f[0]!;
  };
  const [a, b, c, d] = [1, Math.fround(1e-6), -3, 40000];
  // Windows: 1 and its successor; 1e-6 and its successor; −3 above three copies of −3 − ulp;
  // 40 000 and its successor.
  const x = [
    a, a, b, b,
    a, away(a), away(b), b,
    c, away(c), d, away(d),
    away(c), away(c), d, d,
  ];
  const expected = [
    0, 0, 0, 0,
    0, 1, 1, 0,
    1, 0, 0, 1,
    0, 0, 0, 0,
  ];
  for (const ch of [1, 8]) {
    const xs = channels(ch, x);
    assert.ok(xs.every((v) => Math.fround(v) === v), 'the inputs are exact float32 values');
    for (const ties of MAXPOOL_TIES) assert.deepEqual(await gradOfSum(pool({ x: [1, ch, 4, 4], attrs: TILE_2x2, values: xs, ties })), channels(ch, expected), `${ch} channels, ${ties}`);
  }
});

test('MaxPool: Relu → MaxPool, tiling windows: 0 for a window ≤ 0, all to the first positive maximum (default rule)', async () => {
  const expected = [
    0, 0, 1, 0,
    0, 0, 0, 0,
    1, 0, 1, 0,
    0, 0, 0, 0,
  ];
  for (const c of [1, 8]) {
    assert.deepEqual(await gradOfSum(pool({ x: [1, c, 4, 4], attrs: TILE_2x2, relu: true, values: channels(c, RELU_TIES) })), channels(c, expected), `${c} channels`);
  }
});

test('MaxPool share: Relu → MaxPool, tiling windows: 0 for a window ≤ 0, all to a positive max, ties at a positive value share', async () => {
  const expected = [
    0, 0, 1, 0,
    0, 0, 0, 0,
    0.25, 0.25, 0.5, 0.5,
    0.25, 0.25, 0, 0,
  ];
  for (const c of [1, 8]) {
    assert.deepEqual(await gradOfSum(pool({ x: [1, c, 4, 4], attrs: TILE_2x2, relu: true, values: channels(c, RELU_TIES), ties: 'share' })), channels(c, expected), `${c} channels`);
  }
});

test('MaxPool: non-tiling non-overlapping windows give the whole gradient to the first maximum (PyTorch rule)', async () => {
  // Kernel 2 stride 3 on 5×5: row 2 and column 2 are in no window.
  const x = [
    1, 1, 9, 4, 4,
    1, 1, 9, 4, 5,
    9, 9, 9, 9, 9,
    0, 2, 9, 3, 3,
    2, 0, 9, 3, 3,
  ];
  assert.deepEqual(await gradOfSum(pool({ x: [1, 1, 5, 5], attrs: { kernel_shape: [2, 2], strides: [3, 3] }, values: x })), [
    1, 0, 0, 0, 0,
    0, 0, 0, 0, 1,
    0, 0, 0, 0, 0,
    0, 1, 0, 1, 0,
    0, 0, 0, 0, 0,
  ]);
  // Tiling windows at opset 12 take the same route.
  assert.deepEqual(await gradOfSum(pool({ x: [1, 1, 4, 4], attrs: TILE_2x2, opset: 12, values: TIES })), [
    1, 0, 1, 0,
    0, 0, 0, 0,
    1, 0, 1, 0,
    0, 0, 0, 0,
  ]);
  // Sharing ties, they take the im2col route instead (MaxUnpool gives only the first maximum).
  assert.deepEqual(await gradOfSum(pool({ x: [1, 1, 5, 5], attrs: { kernel_shape: [2, 2], strides: [3, 3] }, values: x, ties: 'share' })), [
    0.25, 0.25, 0, 0, 0,
    0.25, 0.25, 0, 0, 1,
    0, 0, 0, 0, 0,
    0, 0.5, 0, 0.25, 0.25,
    0.5, 0, 0, 0.25, 0.25,
  ]);
  const third = Math.fround(1 / 3);
  const shared = [
    0.25, 0.25, 0.5, 0,
    0.25, 0.25, 0, 0.5,
    third, third, 0.25, 0.25,
    third, 0, 0.25, 0.25,
  ];
  const g = await gradOfSum(pool({ x: [1, 1, 4, 4], attrs: TILE_2x2, opset: 12, values: TIES, ties: 'share' }));
  g.forEach((v, i) => assert.ok(Math.abs(v - shared[i]!) <= 1e-7, `opset 12, element ${i}: ${v} ≠ ${shared[i]}`));
});

test('MaxPool: Relu → MaxPool on the MaxUnpool route: 0 for a window ≤ 0, the first positive maximum gets all', async () => {
  assert.deepEqual(await gradOfSum(pool({ x: [1, 1, 4, 4], attrs: TILE_2x2, opset: 12, relu: true, values: RELU_TIES })), [
    0, 0, 1, 0,
    0, 0, 0, 0,
    1, 0, 1, 0,
    0, 0, 0, 0,
  ]);
});

test('MaxPool: overlapping windows (im2col route) sum over windows: the first maximum by default, equal shares with share', async () => {
  // 2×2 windows, stride 1, on 3×3: the top-left window ties 5 and 5; (0,1) is the max of two windows.
  const x = [5, 5, 1, 2, 3, 4, 0, 1, 2];
  const attrs = { kernel_shape: [2, 2], strides: [1, 1] };
  assert.deepEqual(await gradOfSum(pool({ x: [1, 1, 3, 3], attrs, values: x })), [1, 1, 0, 0, 1, 1, 0, 0, 0]);
  assert.deepEqual(await gradOfSum(pool({ x: [1, 1, 3, 3], attrs, values: x, ties: 'share' })), [0.5, 1.5, 0, 0, 1, 1, 0, 0, 0]);
});

test('MaxPool: float64 tiling windows (Reshape route), with and without a folded Relu, opsets 11 and 13, both tie rules', async () => {
  for (const ties of MAXPOOL_TIES) {
    await check(pool({ x: [2, 3, 4, 6], attrs: TILE_2x2, dtype: 'float64', ties }));
    await check(pool({ x: [1, 2, 6, 6], attrs: { kernel_shape: [3, 2], strides: [3, 2] }, opset: 11, dtype: 'float64', ties }));
    await check(pool({ x: [2, 8, 4, 4], attrs: TILE_2x2, relu: true, dtype: 'float64', ties }));
  }
});

test('MaxPool: float64 tiling windows: the first maximum gets the gradient (default rule); Relu → MaxPool gives 0 to a window ≤ 0', async () => {
  const firstMax = [1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0];
  assert.deepEqual(await gradOfSum(pool({ x: [1, 2, 4, 4], attrs: TILE_2x2, values: channels(2, TIES), dtype: 'float64' })), channels(2, firstMax));
  const reluFirstMax = [0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0];
  assert.deepEqual(await gradOfSum(pool({ x: [1, 1, 4, 4], attrs: TILE_2x2, relu: true, values: RELU_TIES, dtype: 'float64' })), reluFirstMax);
});

test('MaxPool share: float64 tiling windows: ties share; Relu → MaxPool gives 0 to a window ≤ 0', async () => {
  const third = 1 / 3;
  const expected = [
    0.25, 0.25, 0.5, 0,
    0.25, 0.25, 0, 0.5,
    third, third, 0.25, 0.25,
    third, 0, 0.25, 0.25,
  ];
  const g = await gradOfSum(pool({ x: [1, 2, 4, 4], attrs: TILE_2x2, values: channels(2, TIES), dtype: 'float64', ties: 'share' }));
  g.forEach((v, i) => assert.ok(Math.abs(v - expected[i % 16]!) <= 1e-15, `element ${i}: ${v} ≠ ${expected[i % 16]}`));
  const reluExpected = [0, 0, 1, 0, 0, 0, 0, 0, 0.25, 0.25, 0.5, 0.5, 0.25, 0.25, 0, 0];
  assert.deepEqual(await gradOfSum(pool({ x: [1, 1, 4, 4], attrs: TILE_2x2, relu: true, values: RELU_TIES, dtype: 'float64', ties: 'share' })), reluExpected);
});

test('MaxPool: float64 windows that do not tile the input are an UnsupportedOpError naming the node and what keeps them from tiling', async () => {
  await rejects(pool({ x: [1, 1, 5, 5], attrs: TILE_2x2, dtype: 'float64' }), unsupportedNode('MaxPool', 'y', /^float64 MaxPool with input 5×5 not divisible by the kernel 2×2: in a float64 model only windows that tile the input/));
  await rejects(pool({ x: [1, 1, 6, 6], attrs: { kernel_shape: [3, 3], strides: [1, 1] }, dtype: 'float64' }), unsupportedNode('MaxPool', 'y', /^float64 MaxPool with overlapping windows \(kernel 3×3, strides 1×1\): in a float64 model only windows that tile/));
  await rejects(
    pool({ x: [1, 1, 8, 8], attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], dilations: [2, 2], ceil_mode: 1 }, dtype: 'float64' }),
    unsupportedNode('MaxPool', 'y', /^float64 MaxPool with pads \[1, 1, 1, 1\], dilations 2×2: /),
  );
});

test('3-D MaxPool with its Indices output used is an UnsupportedOpError naming the node and the reason, not an internal error; so is storage_order=1', async () => {
  await rejects(
    { op: 'MaxPool', dtype: 'float32', nodes: [node('MaxPool', ['x'], ['y', 'idx'], { kernel_shape: [2, 2, 2], strides: [2, 2, 2] })], inputs: [X([1, 2, 4, 4, 4])] },
    unsupportedNode('MaxPool', 'y', /^3-D MaxPool \(input rank 5\) with its Indices output used: only 2-D MaxPool has a rule/),
  );
  await rejects(
    { op: 'MaxPool', dtype: 'float32', nodes: unary('MaxPool', { kernel_shape: [2, 2], strides: [2, 2], storage_order: 1 }), inputs: [X([1, 1, 4, 4])] },
    unsupportedNode('MaxPool', 'y', /^storage_order=1 has no gradient rule$/),
  );
});

// ─── Conv → [Relu] → MaxPool stems: the phase route (maxpool/stem.ts) ─────────────────────
//
// A Conv with 1–4 input channels, stride 1, feeding (through a Relu or not) a MaxPool whose square
// windows tile its output, is differentiated in phase space, where the first maximum of a window
// in row-major order takes the whole gradient (PyTorch's rule). The reference is the same model at
// opset 12, where the MaxPool rule routes through the forward's Indices and MaxUnpool, which
// follow the same rule. The inputs have a block of zeros, where every Conv output is exactly its
// bias: 4- or 9-way ties where the bias is positive, windows the Relu flattens where it is
// negative. Both routes must agree up to float32 summation order.

interface StemSpec {
  x: number[];
  /** Conv output channels, kernel size, pads (ONNX order), pool window = stride. */
  m: number;
  k: number;
  pads: number[];
  pool: number;
  relu: boolean;
}

function stemModel({ x, m, k, pads, pool: s, relu }: StemSpec, reference: boolean): { model: ModelP; feeds: Record<string, Feed> } {
  const c = x[1]!;
  const rng = new Rng(`stem:${x.join('x')}:${m}:${k}:${pads.join(',')}:${s}:${relu}`);
  const nodes = [node('Conv', ['x', 'w', 'b'], ['c'], { kernel_shape: [k, k], pads })];
  if (relu) nodes.push(node('Relu', ['c'], ['r']));
  nodes.push(node('MaxPool', [relu ? 'r' : 'c'], ['p'], { kernel_shape: [s, s], strides: [s, s] }));
  // A weighted sum downstream, so each pooled position gets its own gradient.
  nodes.push(node('Mul', ['p', 'g'], ['y']));
  const hz = x[2]! + pads[0]! + pads[2]! - k + 1;
  const wz = x[3]! + pads[1]! + pads[3]! - k + 1;
  const size = x.reduce((a, b) => a * b, 1);
  // Zeros in the top third of every image, uniform in [−1, 1) elsewhere.
  const values = Array.from({ length: size }, (_, i) => (Math.floor(i / x[3]!) % x[2]! < x[2]! / 3 ? 0 : rng.range(-1, 1)));
  const model = makeModel({
    inputs: [{ name: 'x', dtype: 'float32', shape: x }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    nodes,
    initializers: [
      randomTensor('float32', 'w', [m, c, k, k], `stem-w/${rng.int(1e9)}`),
      randomTensor('float32', 'b', [m], `stem-b/${rng.int(1e9)}`, -0.5, 0.5),
      randomTensor('float32', 'g', [x[0]!, m, hz / s, wz / s], `stem-g/${rng.int(1e9)}`),
    ],
    opset: reference ? 12 : 13,
  });
  return { model, feeds: { x: { data: Float32Array.from(values), dims: x } } };
}

/** Whether a backward graph ends in the phase route's DepthToSpace. */
const onPhaseRoute = (nodes: NodeP[]) => nodes.some((n) => n.op_type === 'DepthToSpace' && (n.name ?? '').includes('stem_dx'));

async function stemRoutes(spec: StemSpec): Promise<{ phase: number[]; reference: number[]; phaseRoute: boolean; referenceRoute: boolean }> {
  const a = stemModel(spec, false);
  const r = stemModel(spec, true);
  const ga = await gradOfSumWithGraph(a.model, a.feeds, 'x', 'float32');
  const gr = await gradOfSumWithGraph(r.model, r.feeds, 'x', 'float32');
  return { phase: ga.grad, reference: gr.grad, phaseRoute: onPhaseRoute(ga.backward), referenceRoute: onPhaseRoute(gr.backward) };
}

const STEMS: [string, StemSpec][] = [
  ['1 → 8 channels, 3×3 pad 1, Relu, 2×2 pool (dX in 4×4 phases)', { x: [2, 1, 8, 8], m: 8, k: 3, pads: [1, 1, 1, 1], pool: 2, relu: true }],
  ['3 → 16 channels, 3×3 pad 1, Relu, 2×2 pool (2×2 phases)', { x: [2, 3, 8, 8], m: 16, k: 3, pads: [1, 1, 1, 1], pool: 2, relu: true }],
  ['1 → 8 channels, 5×5 pad 2, Relu, 3×3 pool', { x: [1, 1, 12, 12], m: 8, k: 5, pads: [2, 2, 2, 2], pool: 3, relu: true }],
  ['2 → 8 channels, 3×3 no pads (output 2 smaller), no Relu, 2×2 pool', { x: [2, 2, 10, 10], m: 8, k: 3, pads: [0, 0, 0, 0], pool: 2, relu: false }],
  ['1 → 8 channels, 3×3 asymmetric pads, Relu, 2×2 pool', { x: [1, 1, 8, 8], m: 8, k: 3, pads: [2, 0, 0, 2], pool: 2, relu: true }],
];

for (const [label, spec] of STEMS) {
  test(`MaxPool stem phase route: ${label}, matches the MaxUnpool route (first maximum) with ties and flat windows`, async () => {
    const { phase, reference, phaseRoute, referenceRoute } = await stemRoutes(spec);
    assert.ok(phaseRoute, 'the stem should take the phase route');
    assert.ok(!referenceRoute, 'the reference (opset 12: MaxUnpool) should not');
    assert.equal(phase.length, reference.length);
    const scale = Math.max(...reference.map(Math.abs));
    assert.ok(scale > 0.1, 'the gradient is not vacuous');
    phase.forEach((v, i) => assert.ok(Math.abs(v - reference[i]!) <= 1e-5 * scale, `element ${i}: ${v} vs ${reference[i]}`));
  });
}

test('MaxPool stem phase route: exact ties give everything to the first maximum; a window the Relu flattens gets 0', async () => {
  // A 1×1 Conv copying the one input channel into 8 identical channels: dX = 8 × the pooling's own gradient.
  const c = (relu: boolean, values: number[]): Case => ({
    op: 'MaxPool',
    dtype: 'float32',
    nodes: [node('Conv', ['x', 'w'], ['c'], { kernel_shape: [1, 1] }), ...(relu ? [node('Relu', ['c'], ['r'])] : []), node('MaxPool', [relu ? 'r' : 'c'], ['y'], TILE_2x2)],
    inputs: [X([1, 1, 4, 4], { values })],
    initializers: [f32('w', new Array(8).fill(1), [8, 1, 1, 1])],
  });
  const firstMax = [
    8, 0, 8, 0,
    0, 0, 0, 0,
    8, 0, 8, 0,
    0, 0, 0, 0,
  ];
  const reluFirstMax = [
    0, 0, 8, 0,
    0, 0, 0, 0,
    8, 0, 8, 0,
    0, 0, 0, 0,
  ];
  for (const [relu, values, expected] of [[false, TIES, firstMax], [true, RELU_TIES, reluFirstMax]] as const) {
    const m = c(relu, [...values]);
    const { grad, backward } = await gradOfSumWithGraph(modelOf(m), feedsFor(m, new Rng(0)), 'x', 'float32');
    assert.ok(onPhaseRoute(backward), 'phase route');
    assert.deepEqual(grad, expected, relu ? 'Relu → MaxPool' : 'MaxPool');
  }
  // Sharing ties, the stem is not bypassed (the phase route gives only the first maximum): the
  // blocked route shares, and the Conv's rule sums the 8 channels.
  const third = Math.fround(8 / 3);
  const shared = [
    2, 2, 4, 0,
    2, 2, 0, 4,
    third, third, 2, 2,
    third, 0, 2, 2,
  ];
  const m = c(false, [...TIES]);
  const { grad, backward } = await gradOfSumWithGraph(modelOf(m), feedsFor(m, new Rng(0)), 'x', 'float32', { maxpoolTies: 'share' });
  assert.ok(!onPhaseRoute(backward), 'no phase route when sharing ties');
  grad.forEach((v, i) => assert.ok(Math.abs(v - shared[i]!) <= 1e-6, `share, element ${i}: ${v} ≠ ${shared[i]}`));
});

test('MaxPool stem phase route: not taken for 5 input channels, a stride-2 Conv or 2×3 windows', async () => {
  const five = { x: [1, 5, 8, 8], m: 8, k: 3, pads: [1, 1, 1, 1], pool: 2, relu: true };
  assert.ok(!(await stemRoutes(five)).phaseRoute);
  const strided = {
    op: 'MaxPool',
    dtype: 'float32' as const,
    nodes: [node('Conv', ['x', 'w'], ['c'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] }), node('Relu', ['c'], ['r']), node('MaxPool', ['r'], ['y'], TILE_2x2)],
    inputs: [X([1, 1, 16, 16])],
    initializers: [randomTensor('float32', 'w', [8, 1, 3, 3], 'stem-strided')],
  };
  const wide = { ...strided, nodes: [node('Conv', ['x', 'w'], ['c'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }), node('MaxPool', ['c'], ['y'], { kernel_shape: [2, 3], strides: [2, 3] })], inputs: [X([1, 1, 8, 12])] };
  for (const c of [strided, wide]) {
    const { backward } = await gradOfSumWithGraph(modelOf(c), feedsFor(c, new Rng(0)), 'x', 'float32');
    assert.ok(!backward.some((n) => (n.name ?? '').includes('stem_')), `${c.nodes[0]!.op_type} chain took the phase route`);
  }
});

// ─── Gemm, MatMul (float64) ───────────────────────────────────────────────────────────────────

for (const [label, attrs, as, bs, cs] of [
  ['C [N]', {}, [3, 4], [4, 5], [5]],
  ['transA, C [1, N]', { transA: 1 }, [4, 3], [4, 5], [1, 5]],
  ['transB, alpha 0.7, beta −1.3, C [M, N]', { transB: 1, alpha: float(0.7), beta: float(-1.3) }, [3, 4], [5, 4], [3, 5]],
  ['transA and transB, beta 0.5, scalar C', { transA: 1, transB: 1, beta: float(0.5) }, [4, 3], [5, 4], []],
  ['alpha 2, C [M, 1]', { alpha: float(2) }, [3, 4], [4, 5], [3, 1]],
  ['no C', { transB: 1 }, [2, 4], [3, 4], null],
] as [string, Record<string, AttrValue>, number[], number[], number[] | null][]) {
  test(`Gemm: ${label}, gradients for A, B${cs ? ' and C' : ''}, float64`, async () => {
    const ins = [{ name: 'a', shape: as }, { name: 'b', shape: bs }, ...(cs ? [{ name: 'c', shape: cs }] : [])];
    await check({ op: 'Gemm', nodes: [node('Gemm', ins.map((i) => i.name), ['y'], attrs)], inputs: ins });
  });
}

const gemmOldOpset = (opset: number): Case => ({
  op: 'Gemm',
  opset,
  nodes: [node('Gemm', ['a', 'b', 'c'], ['y'], { transA: 1, alpha: float(1.5) })],
  inputs: [{ name: 'a', shape: [4, 2] }, { name: 'b', shape: [4, 3] }],
  initializers: [f64('c', [1, 2, 3])],
});

test('Gemm: opset 11 with a constant C, gradients for A and B', async () => {
  await check(gemmOldOpset(11));
});

// Before opset 11 Gemm's C input is required, so the rule's dA / dB Gemms carry a zero C there.
test('Gemm: opsets 7, 9 and 10 (C required) with a constant C, gradients for A and B', async () => {
  for (const opset of [7, 9, 10]) await check(gemmOldOpset(opset));
});

for (const [as, bs] of [
  [[3, 4], [4, 5]],
  [[2, 3, 4], [2, 4, 5]],
  [[2, 1, 3, 4], [5, 4, 2]],
  [[4], [4, 3]],
  [[3, 4], [4]],
  [[4], [2, 4, 3]],
  [[4], [4]],
]) {
  test(`MatMul: ${JSON.stringify(as)} × ${JSON.stringify(bs)}, gradients for both, float64`, async () => {
    await check({ op: 'MatMul', nodes: [node('MatMul', ['a', 'b'], ['y'])], inputs: [{ name: 'a', shape: as! }, { name: 'b', shape: bs! }] });
  });
}

test('MatMul: the same input on both sides (x·x), float64', async () => {
  await check({ op: 'MatMul', nodes: [node('MatMul', ['x', 'x'], ['y'])], inputs: [X([2, 3, 3])] });
});

// ─── Add, Sub, Mul, Div (float64, broadcasting both ways) ─────────────────────────────────────

const BROADCAST_PAIRS: [number[], number[]][] = [
  [[2, 3, 4], [2, 3, 4]],
  [[2, 3, 4], [4]],
  [[4], [2, 3, 4]],
  [[2, 3, 4], [3, 1]],
  [[3, 1], [2, 3, 4]],
  [[2, 3, 4], [1]],
  [[], [2, 3, 4]],
  [[2, 1, 4], [3, 1]],
];
for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
  for (const [as, bs] of BROADCAST_PAIRS) {
    test(`${op}: ${JSON.stringify(as)} with ${JSON.stringify(bs)}, gradients for both, float64`, async () => {
      // Div's denominators stay at least 0.5 away from 0 (|A/B²| ≤ 8).
      const den = op === 'Div' ? { avoid: [0], margin: 0.5 } : {};
      await check({ op, nodes: [node(op, ['a', 'b'], ['y'])], inputs: [{ name: 'a', shape: as }, { name: 'b', shape: bs, ...den }] });
    });
  }
}

test('Add, Mul with the same input on both sides (fan-in sums); Div, Sub with a constant operand; opsets 7 and 14, float64', async () => {
  for (const opset of [7, 14]) {
    await check({ op: 'Add', opset, nodes: [node('Add', ['x', 'x'], ['y'])], inputs: [X([2, 3])] });
    await check({ op: 'Mul', opset, nodes: [node('Mul', ['x', 'x'], ['y'])], inputs: [X([2, 3])] });
    await check({ op: 'Div', opset, nodes: [node('Div', ['x', 'c'], ['y'])], inputs: [X([2, 3])], initializers: [f64('c', [0.5, -2, 3])] });
    await check({ op: 'Sub', opset, nodes: [node('Sub', ['c', 'x'], ['y'])], inputs: [X([2, 3])], initializers: [f64('c', [1, 2, 3])] });
  }
});

// ─── Neg, Identity, Dropout, Flatten, Reshape (float64) ───────────────────────────────────────

test('Neg and Identity: float64', async () => {
  await check({ op: 'Neg', nodes: unary('Neg'), inputs: [X([2, 3, 4])] });
  await check({ op: 'Identity', nodes: unary('Identity'), inputs: [X([2, 3, 4])] });
  await check({ op: 'Identity', opset: 16, nodes: [node('Identity', ['x'], ['i']), node('Mul', ['i', 'x'], ['y'])], inputs: [X([3, 2])] });
});

const boolFalse = (name: string): TensorP => ({ name, dims: [], data_type: DataType.BOOL, raw_data: new Uint8Array([0]) });
test('Dropout (inference): no training_mode input, training_mode false, opset 10 ratio attribute, float64', async () => {
  await check({ op: 'Dropout', nodes: unary('Dropout'), inputs: [X([2, 3, 4])] });
  await check({ op: 'Dropout', nodes: [node('Dropout', ['x', 'ratio'], ['y'])], inputs: [X([2, 3, 4])], initializers: [f64('ratio', [0.5], [])] });
  await check({ op: 'Dropout', nodes: [node('Dropout', ['x', 'ratio', 'tm'], ['y', 'mask'])], inputs: [X([2, 3, 4])], initializers: [f64('ratio', [0.3], []), boolFalse('tm')] });
  await check({ op: 'Dropout', opset: 10, nodes: unary('Dropout', { ratio: float(0.4) }), inputs: [X([2, 3, 4])] });
});

for (const axis of [0, 1, 2, 3, -1, -3]) {
  test(`Flatten: axis ${axis} on [2,3,4], float64`, async () => {
    await check({ op: 'Flatten', nodes: unary('Flatten', { axis }), inputs: [X([2, 3, 4])] });
  });
}

test('Flatten: default axis on a rank-4 input, opset 9, float64', async () => {
  await check({ op: 'Flatten', opset: 9, nodes: unary('Flatten'), inputs: [X([2, 3, 2, 2])] });
});

for (const [shape, opset] of [
  [[0, -1], 13],
  [[4, 0, -1], 13],
  [[-1], 5],
  [[2, 0, 1, 2, 2], 14],
  [[-1, 2, 0], 14],
] as [number[], number][]) {
  test(`Reshape: [2,3,4] to ${JSON.stringify(shape)}, opset ${opset}, float64`, async () => {
    await check({ op: 'Reshape', opset, nodes: [node('Reshape', ['x', 'shape'], ['y'])], inputs: [X([2, 3, 4])], initializers: [int64Tensor('shape', shape)] });
  });
}

// ─── Relu (float64) ───────────────────────────────────────────────────────────────────────────

for (const opset of [13, 14]) {
  test(`Relu: opset ${opset}, away from 0, float64`, async () => {
    await check({ op: 'Relu', opset, nodes: unary('Relu'), inputs: [X([2, 3, 4], { avoid: [0] })] });
  });
}

test('Relu: gradient at 0 is 0 (PyTorch convention)', async () => {
  assert.deepEqual(await gradOfSum({ op: 'Relu', nodes: unary('Relu'), inputs: [X([5], { values: [-1, -0, 0, 1e-300, 2] })] }), [0, 0, 0, 1, 1]);
  assert.deepEqual(await gradOfSum({ op: 'Relu', dtype: 'float32', nodes: unary('Relu'), inputs: [X([3], { values: [-1, 0, 2] })] }), [0, 0, 1]);
});

// ─── GlobalAveragePool (float32: ORT has no double kernel; linear) ────────────────────────────

test('GlobalAveragePool: [2,3,4,5], 1-D [2,3,7] and 3-D [1,2,2,3,2], float32', async () => {
  await check({ op: 'GlobalAveragePool', dtype: 'float32', nodes: unary('GlobalAveragePool'), inputs: [X([2, 3, 4, 5])] });
  await check({ op: 'GlobalAveragePool', dtype: 'float32', nodes: unary('GlobalAveragePool'), inputs: [X([2, 3, 7])] });
  await check({ op: 'GlobalAveragePool', dtype: 'float32', nodes: unary('GlobalAveragePool'), inputs: [X([1, 2, 2, 3, 2])] });
});

// A squeeze-excitation gate: x feeds GlobalAveragePool and the Mul by the gate. The pool's
// gradient is not spread with an Expand: the Sum of x's two contributions broadcasts it.
test('GlobalAveragePool in a squeeze-excitation block: its gradient summed by broadcasting, no Expand, matching finite differences', async () => {
  const c: Case = {
    op: 'GlobalAveragePool',
    dtype: 'float32',
    nodes: [node('GlobalAveragePool', ['x'], ['p']), node('Sigmoid', ['p'], ['g']), node('Mul', ['x', 'g'], ['y'])],
    inputs: [X([2, 3, 4, 5])],
  };
  await check(c);
  const { backward } = await gradOfSumWithGraph(modelOf(c), feedsFor(c, new Rng(0)), 'x', 'float32');
  assert.ok(!backward.some((n) => n.op_type === 'Expand'), backward.map((n) => n.op_type).join(' '));
  // Alone, the pool's gradient is still spread to x's shape.
  const alone: Case = { op: 'GlobalAveragePool', dtype: 'float32', nodes: unary('GlobalAveragePool'), inputs: [X([2, 3, 4, 5])] };
  const g = await gradOfSumWithGraph(modelOf(alone), feedsFor(alone, new Rng(0)), 'x', 'float32');
  assert.equal(g.grad.length, 120);
  assert.ok(g.grad.every((v) => Math.abs(v - 1 / 20) < 1e-7));
});

// ─── BatchNormalization (inference form) ──────────────────────────────────────────────────────

const bnParams = (dtype: Dtype, c: number): TensorP[] => [
  randomTensor(dtype, 'scale', [c], `bn-scale/${c}`, -1.5, 1.5),
  randomTensor(dtype, 'bias', [c], `bn-bias/${c}`),
  randomTensor(dtype, 'mean', [c], `bn-mean/${c}`),
  randomTensor(dtype, 'var', [c], `bn-var/${c}`, 0.05, 2),
];
const BN_INS = ['x', 'scale', 'bias', 'mean', 'var'];

for (const opset of [9, 14, 15]) {
  test(`BatchNormalization: opset ${opset}, constant parameters, epsilon 1e-2, [2,3,4,5] and [4,3], float64`, async () => {
    for (const xs of [[2, 3, 4, 5], [4, 3]]) {
      await check({ op: 'BatchNormalization', opset, nodes: [node('BatchNormalization', BN_INS, ['y'], { epsilon: float(1e-2) })], inputs: [X(xs)], initializers: bnParams('float64', 3) });
    }
  });
}

test('BatchNormalization: default epsilon, float32', async () => {
  await check({ op: 'BatchNormalization', dtype: 'float32', opset: 15, nodes: [node('BatchNormalization', BN_INS, ['y'])], inputs: [X([2, 4, 3, 3])], initializers: bnParams('float32', 4) });
});

test('BatchNormalization: scale and var fed as graph inputs (factor computed in the graph), gradient for X only, float64', async () => {
  await check({
    op: 'BatchNormalization',
    opset: 15,
    nodes: [node('BatchNormalization', BN_INS, ['y'], { epsilon: float(1e-3) })],
    inputs: [X([2, 3, 2, 2]), { name: 'scale', shape: [3], lo: 0.5, hi: 1.5 }, { name: 'var', shape: [3], lo: 0.1, hi: 2 }],
    initializers: bnParams('float64', 3).filter((t) => t.name === 'bias' || t.name === 'mean'),
    wrt: ['x'],
  });
});

test('BatchNormalization: a gradient for a computed scale (a graph input)', async () => {
  await check({
    op: 'BatchNormalization',
    opset: 15,
    nodes: [node('BatchNormalization', BN_INS, ['y'])],
    inputs: [X([2, 3, 2, 2]), { name: 'scale', shape: [3], lo: 0.5, hi: 1.5 }],
    initializers: bnParams('float64', 3).filter((t) => t.name !== 'scale'),
  });
});

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { gradcheck } from '../src/autodiff/gradcheck.js';
import type { Feed } from '../src/autodiff/probe.js';
import { float, type AttrValue } from '../src/onnx/graph.js';
import { makeModel, node } from '../src/onnx/make.js';
import type { NodeP, TensorP } from '../src/onnx/proto.js';
import { makeTensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';
import { drawValues, type RuleInput } from './autodiff-helpers.js';

/*
 * Central finite-difference checks of the weight gradients: every rule's gradient with respect to
 * each input that can be a parameter (Conv and ConvTranspose W and B, Gemm B and C, MatMul either
 * side, the element-wise ops' broadcast operands, BatchNormalization / LayerNormalization /
 * InstanceNormalization scale and bias, PRelu's slope, Gather's table), plus a parameter shared by
 * two nodes (the walk sums fan-in). The parameters are graph inputs here — as in the training
 * graph, which feeds each step's values — and are perturbed element by element like X.
 *
 * Tolerances and steps as in autodiff-rules-nn.test.ts: float64 (h = 1e-6, tolerance 1e-5) where
 * ONNX Runtime has double kernels; Conv, ConvTranspose and InstanceNormalization have float32
 * kernels only. Conv and ConvTranspose are bilinear in (X, W), so a central difference in W alone
 * is exact and a large step (h = 0.05) leaves only float32 rounding (tolerance 1e-4).
 */

const F64_TOL = 1e-5;
const F32_TOL = 1e-4;
type Dtype = 'float32' | 'float64';

interface In extends RuleInput {
  int64?: boolean;
}
interface Case {
  op: string;
  nodes: NodeP[];
  inputs: In[];
  wrt: string[];
  dtype?: Dtype;
  opset?: number;
  initializers?: TensorP[];
  /** float32 step (default 0.05: bilinear ops). */
  h?: number;
  tol?: number;
}

const worst = new Map<string, { err: number; checks: number }>();
after(() => {
  const rows = [...worst.entries()].sort(([a], [b]) => a.localeCompare(b));
  console.log(rows.map(([key, { err, checks }]) => `${key.padEnd(34)} ${String(checks).padStart(3)} checks, worst relError ${err.toExponential(2)}`).join('\n'));
});

async function check(c: Case): Promise<void> {
  const dtype = c.dtype ?? 'float64';
  const rng = new Rng(`weights:${c.op}:${c.nodes.map((n) => JSON.stringify(n.attribute)).join()}:${c.inputs.map((i) => `${i.name}${i.shape.join('x')}`).join()}`);
  const feeds: Record<string, Feed> = {};
  for (const spec of c.inputs) {
    const vals = drawValues(rng, spec, spec.shape.reduce((a, b) => a * b, 1));
    feeds[spec.name] = spec.int64
      ? { data: BigInt64Array.from(vals.map((v) => BigInt(v))), dims: spec.shape }
      : { data: dtype === 'float64' ? Float64Array.from(vals) : Float32Array.from(vals), dims: spec.shape };
  }
  const model = makeModel({
    inputs: c.inputs.map((i) => ({ name: i.name, dtype: i.int64 ? 'int64' : dtype, shape: i.shape })),
    outputs: [{ name: 'y', dtype }],
    nodes: c.nodes,
    initializers: c.initializers ?? [],
    opset: c.opset ?? 13,
  });
  const h = dtype === 'float64' ? undefined : (c.h ?? 0.05);
  // gradcheck reads the dtype from the first wrt's feed: list a float input first.
  const res = await gradcheck(model, feeds, c.wrt, rng.fork('weights'), { h });
  const tol = c.tol ?? (dtype === 'float64' ? F64_TOL : F32_TOL);
  for (const r of res) {
    assert.ok(r.maxAbsNumeric > 1e-4, `${c.op}: d/d${r.input} is numerically zero — the check would be vacuous`);
    assert.ok(r.relError < tol, `${c.op}: d/d${r.input} relError ${r.relError} ≥ ${tol} (${dtype})`);
    const key = `${c.op} d/d${r.input} ${dtype}`;
    const seen = worst.get(key) ?? { err: 0, checks: 0 };
    worst.set(key, { err: Math.max(seen.err, r.relError), checks: seen.checks + 1 });
  }
}

const X = (shape: number[], extra: Partial<In> = {}): In => ({ name: 'x', shape, ...extra });
const P = (name: string, shape: number[], extra: Partial<In> = {}): In => ({ name, shape, lo: -1, hi: 1, ...extra });

// ─── Conv / ConvTranspose (float32) ──────────────────────────────────────────────────────────

const conv = (x: number[], w: number[], attrs: Record<string, AttrValue> = {}, bias = true): Case => ({
  op: 'Conv',
  dtype: 'float32',
  nodes: [node('Conv', bias ? ['x', 'w', 'b'] : ['x', 'w'], ['y'], attrs)],
  inputs: [X(x), P('w', w), ...(bias ? [P('b', [w[0]!])] : [])],
  wrt: bias ? ['w', 'b'] : ['w'],
});

test('Conv dW, dB: 2-D, strides 2 with asymmetric pads; stride 1; 1×1', async () => {
  await check(conv([2, 3, 7, 6], [4, 3, 3, 3], { strides: [2, 2], pads: [1, 0, 2, 1] }));
  await check(conv([2, 3, 5, 5], [4, 3, 3, 3], { pads: [1, 1, 1, 1] }));
  await check(conv([3, 4, 4, 4], [2, 4, 1, 1], {}, false));
});

test('Conv dW: floor-mode leftovers (stride 3 leaves rows no window reads), dilations, auto_pad', async () => {
  await check(conv([1, 2, 8, 7], [3, 2, 2, 3], { strides: [3, 2] }));
  await check(conv([1, 2, 7, 7], [3, 2, 3, 3], { dilations: [2, 2], pads: [1, 2, 2, 1] }));
  await check(conv([1, 3, 8, 7], [2, 3, 2, 3], { dilations: [2, 2], strides: [2, 2], pads: [1, 1, 0, 0] }));
  await check(conv([1, 2, 6, 5], [3, 2, 3, 2], { auto_pad: 'SAME_UPPER', strides: [2, 2] }, false));
  await check(conv([2, 2, 6, 5], [3, 2, 3, 3], { auto_pad: 'VALID', strides: [2, 1] }));
});

test('Conv dW: groups, depthwise (multiplier 1 and 2), 1-D and 3-D', async () => {
  await check(conv([2, 4, 5, 5], [4, 2, 3, 3], { group: 2, strides: [2, 2], pads: [1, 1, 1, 1] }));
  await check(conv([2, 3, 6, 6], [6, 1, 3, 3], { group: 3, pads: [1, 1, 1, 1] }));
  await check(conv([2, 4, 6, 6], [4, 1, 3, 3], { group: 4, strides: [2, 2], pads: [0, 1, 0, 1] }));
  await check(conv([2, 3, 9], [4, 3, 3], { strides: [2], pads: [1, 2] }));
  await check(conv([1, 2, 3, 4, 4], [2, 2, 2, 3, 2], { pads: [1, 0, 1, 0, 1, 1] }, false));
});

test('Conv dX with a trained W and 8k input channels (the flip done in the graph): dW of the conv before it, pads, dilations', async () => {
  for (const attrs of [{ pads: [1, 1, 1, 1] }, { pads: [1, 0, 2, 1], dilations: [2, 1] }] as Record<string, AttrValue>[]) {
    await check({
      op: 'Conv→Conv (trained W2)',
      dtype: 'float32',
      h: 0.01,
      tol: 2e-3,
      nodes: [node('Conv', ['x', 'w1'], ['h'], { pads: [1, 1, 1, 1] }), node('Conv', ['h', 'w2', 'b2'], ['y'], attrs)],
      inputs: [X([2, 3, 5, 5]), P('w1', [8, 3, 3, 3], { lo: -0.5, hi: 0.5 }), P('w2', [4, 8, 3, 3], { lo: -0.5, hi: 0.5 }), P('b2', [4])],
      wrt: ['w1', 'w2'],
    });
  }
});

const convT = (x: number[], w: number[], attrs: Record<string, AttrValue> = {}, bias = true): Case => ({
  op: 'ConvTranspose',
  dtype: 'float32',
  nodes: [node('ConvTranspose', bias ? ['x', 'w', 'b'] : ['x', 'w'], ['y'], attrs)],
  inputs: [X(x), P('w', w), ...(bias ? [P('b', [w[1]! * ((attrs.group as number | undefined) ?? 1)])] : [])],
  wrt: bias ? ['w', 'b'] : ['w'],
});

test('ConvTranspose dW, dB: strides, pads, output_padding, dilations, groups, output_shape', async () => {
  await check(convT([2, 3, 3, 4], [3, 2, 3, 3], { strides: [2, 2], pads: [1, 0, 1, 1] }));
  await check(convT([1, 2, 3, 3], [2, 3, 3, 2], { strides: [2, 3], output_padding: [1, 2] }));
  await check(convT([1, 2, 4, 3], [2, 2, 2, 3], { dilations: [2, 1], pads: [0, 1, 1, 0] }, false));
  await check(convT([2, 4, 3, 3], [4, 1, 3, 3], { group: 2, strides: [2, 2], pads: [1, 1, 1, 1] }));
  await check(convT([1, 2, 3, 3], [2, 2, 3, 3], { strides: [2, 2], output_shape: [6, 6] }, false));
  await check(convT([2, 3, 5], [3, 2, 3], { strides: [2], pads: [1, 0] }));
});

// ─── Gemm / MatMul (float64) ─────────────────────────────────────────────────────────────────

test('Gemm dB, dC: transA/transB, alpha/beta, C of shape [N], [1, N], [M, 1] and [M, N]', async () => {
  for (const [tA, tB] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
    const a = tA ? [4, 3] : [3, 4];
    const bw = tB ? [5, 4] : [4, 5];
    await check({ op: 'Gemm', nodes: [node('Gemm', ['x', 'w', 'c'], ['y'], { transA: tA, transB: tB, alpha: float(0.7), beta: float(1.3) })], inputs: [X(a), P('w', bw), P('c', [5])], wrt: ['x', 'w', 'c'] });
  }
  await check({ op: 'Gemm', nodes: [node('Gemm', ['x', 'w', 'c'], ['y'], { transB: 1 })], inputs: [X([3, 4]), P('w', [5, 4]), P('c', [1, 5])], wrt: ['w', 'c'] });
  await check({ op: 'Gemm', nodes: [node('Gemm', ['x', 'w', 'c'], ['y'], { beta: float(0.5) })], inputs: [X([3, 4]), P('w', [4, 5]), P('c', [3, 1])], wrt: ['w', 'c'] });
  await check({ op: 'Gemm', nodes: [node('Gemm', ['x', 'w', 'c'], ['y'], {})], inputs: [X([3, 4]), P('w', [4, 5]), P('c', [3, 5])], wrt: ['w', 'c'], opset: 11 });
});

test('MatMul: a weight on either side, batched with broadcast, 1-D weight', async () => {
  await check({ op: 'MatMul', nodes: [node('MatMul', ['x', 'w'], ['y'])], inputs: [X([2, 3, 4]), P('w', [4, 5])], wrt: ['x', 'w'] });
  await check({ op: 'MatMul', nodes: [node('MatMul', ['w', 'x'], ['y'])], inputs: [X([2, 4, 3]), P('w', [5, 4])], wrt: ['x', 'w'] });
  await check({ op: 'MatMul', nodes: [node('MatMul', ['x', 'w'], ['y'])], inputs: [X([2, 1, 3, 4]), P('w', [3, 4, 2])], wrt: ['x', 'w'] });
  await check({ op: 'MatMul', nodes: [node('MatMul', ['x', 'w'], ['y'])], inputs: [X([3, 4]), P('w', [4])], wrt: ['x', 'w'] });
});

// ─── Element-wise with broadcast parameters (float64) ────────────────────────────────────────

for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
  test(`${op}: a broadcast parameter on either side ([C,1,1], [W], [1,C,1,1]) gets its gradient summed back`, async () => {
    const away = op === 'Div' ? { lo: 0.5, hi: 2 } : {};
    await check({ op, nodes: [node(op, ['x', 'p'], ['y'])], inputs: [X([2, 3, 2, 2]), P('p', [3, 1, 1], away)], wrt: ['x', 'p'] });
    await check({ op, nodes: [node(op, ['p', 'x'], ['y'])], inputs: [X([2, 3, 2, 4], away), P('p', [4])], wrt: ['x', 'p'] });
    await check({ op, nodes: [node(op, ['x', 'p'], ['y'])], inputs: [X([2, 3, 2, 2]), P('p', [1, 3, 1, 1], away)], wrt: ['p'] });
  });
}

// ─── Normalisations, PRelu ───────────────────────────────────────────────────────────────────

const f64 = (name: string, values: number[]) => makeTensor(name, [values.length], Float64Array.from(values));

test('BatchNormalization (inference) dScale, dB with constant and with fed statistics', async () => {
  const stats = [f64('mean', [0.1, -0.3, 0.5]), f64('var', [0.8, 1.5, 0.6])];
  await check({
    op: 'BatchNormalization',
    opset: 15,
    nodes: [node('BatchNormalization', ['x', 'scale', 'bias', 'mean', 'var'], ['y'], { epsilon: float(1e-3) })],
    inputs: [X([2, 3, 2, 2]), P('scale', [3], { lo: 0.5, hi: 1.5 }), P('bias', [3])],
    initializers: stats,
    wrt: ['x', 'scale', 'bias'],
  });
  await check({
    op: 'BatchNormalization',
    opset: 15,
    nodes: [node('BatchNormalization', ['x', 'scale', 'bias', 'mean', 'var'], ['y'])],
    inputs: [X([4, 3]), P('scale', [3], { lo: 0.5, hi: 1.5 }), P('bias', [3]), P('mean', [3]), P('var', [3], { lo: 0.5, hi: 2 })],
    wrt: ['scale', 'bias'],
  });
});

test('LayerNormalization dScale, dB over one and two axes', async () => {
  await check({ op: 'LayerNormalization', opset: 17, nodes: [node('LayerNormalization', ['x', 's', 'b'], ['y'])], inputs: [X([2, 3, 4]), P('s', [4], { lo: 0.5, hi: 1.5 }), P('b', [4])], wrt: ['x', 's', 'b'], dtype: 'float32', h: 1e-2, tol: 5e-3 });
  await check({ op: 'LayerNormalization', opset: 17, nodes: [node('LayerNormalization', ['x', 's', 'b'], ['y'], { axis: 1 })], inputs: [X([2, 3, 4]), P('s', [3, 4], { lo: 0.5, hi: 1.5 }), P('b', [3, 4])], wrt: ['s', 'b'], dtype: 'float32', h: 1e-2, tol: 5e-3 });
});

test('InstanceNormalization dScale, dB', async () => {
  await check({ op: 'InstanceNormalization', nodes: [node('InstanceNormalization', ['x', 's', 'b'], ['y'])], inputs: [X([2, 3, 3, 3]), P('s', [3], { lo: 0.5, hi: 1.5 }), P('b', [3])], wrt: ['x', 's', 'b'], dtype: 'float32', h: 1e-2, tol: 5e-3 });
});

test('PRelu dSlope: per-channel [C,1,1] and a full-shape slope', async () => {
  // float32 (no double PRelu kernel): linear in the slope, and in X away from the kink at 0.
  await check({ op: 'PRelu', dtype: 'float32', nodes: [node('PRelu', ['x', 's'], ['y'])], inputs: [X([2, 3, 2, 2], { avoid: [0], margin: 0.1 }), P('s', [3, 1, 1])], wrt: ['x', 's'] });
  await check({ op: 'PRelu', dtype: 'float32', nodes: [node('PRelu', ['x', 's'], ['y'])], inputs: [X([2, 4], { avoid: [0], margin: 0.1 }), P('s', [2, 4])], wrt: ['s'] });
});

// ─── Gather (embeddings) ─────────────────────────────────────────────────────────────────────

test('Gather from a table: token ids fed with the data (repeats, negative ids), axis 0 and 1', async () => {
  await check({
    op: 'Gather',
    nodes: [node('Gather', ['table', 'ids'], ['y'])],
    inputs: [P('table', [6, 3]), { name: 'ids', shape: [2, 4], int64: true, values: [0, 5, 2, 2, -1, 3, 0, 0] }],
    wrt: ['table'],
  });
  await check({
    op: 'Gather',
    nodes: [node('Gather', ['table', 'ids'], ['y'], { axis: 1 })],
    inputs: [P('table', [2, 5, 3]), { name: 'ids', shape: [3], int64: true, values: [4, 1, 4] }],
    wrt: ['table'],
  });
});

// ─── Shared parameters ───────────────────────────────────────────────────────────────────────

test('A parameter used by two nodes gets the sum of both gradients (MatMul twice, Conv twice)', async () => {
  await check({
    op: 'shared MatMul',
    nodes: [node('MatMul', ['x', 'w'], ['h']), node('Tanh', ['h'], ['t']), node('MatMul', ['t', 'w'], ['y'])],
    inputs: [X([3, 4]), P('w', [4, 4])],
    wrt: ['x', 'w'],
  });
  await check({
    op: 'shared Conv',
    dtype: 'float32',
    h: 0.01,
    tol: 2e-3,
    nodes: [node('Conv', ['x', 'w'], ['h'], { pads: [1, 1, 1, 1] }), node('Conv', ['h', 'w'], ['y'], { pads: [1, 1, 1, 1] })],
    inputs: [X([1, 2, 4, 4]), P('w', [2, 2, 3, 3], { lo: -0.5, hi: 0.5 })],
    wrt: ['w'],
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradcheck } from '../src/autodiff/gradcheck.js';
import type { Feed } from '../src/autodiff/probe.js';
import { UnsupportedOpError } from '../src/errors.js';
import type { AttrValue } from '../src/onnx/graph.js';
import { makeModel, node } from '../src/onnx/make.js';
import { AttrType, type NodeP, type TensorP } from '../src/onnx/proto.js';
import { makeTensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';
import { gradOfSumOf } from './autodiff-helpers.js';

/*
 * LSTM, GRU and RNN (lowered to their unrolled cell equations), ReduceMax / ReduceMin and 1-D and
 * 3-D MaxPool (rewritten as 2-D ones): central finite differences of the backward graph against ONNX Runtime's own forward
 * of the original op, with respect to the input X and (for the recurrent ops) the initial states
 * and the weights W, R, B. ONNX Runtime runs LSTM, GRU and RNN in float32 only, so these checks are
 * float32 with h = 1e-2: the cells are smooth (sigmoid, tanh) and their second derivatives are
 * O(1), so the truncation error is O(h²) ≈ 1e-4, and float32 rounding of the summed outputs is
 * ≈ 1e-5; the tolerance 2e-3 (relative to the largest derivative) is far below what a swapped
 * gate, a missing bias or a wrong direction gives (≥ 1e-1). ReduceMax/Min run in float64.
 * (ONNX Runtime's CPU kernels refuse layout = 1, so batch-first recurrent ops cannot be run, and
 * are not checked, here; the lowering transposes them.)
 */

const TOL32 = 2e-3;
const H32 = 1e-2;

const randF32 = (name: string, dims: number[], seed: string, scale = 1): TensorP => {
  const rng = new Rng(seed);
  return makeTensor(name, dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.range(-scale, scale)));
};
const feed32 = (dims: number[], seed: string, scale = 1): Feed => {
  const rng = new Rng(seed);
  return { data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.range(-scale, scale)), dims };
};
function withStrings(n: NodeP, strings: Record<string, string[]>): NodeP {
  for (const [name, v] of Object.entries(strings)) n.attribute.push({ name, type: AttrType.STRINGS, strings: v.map((s) => new TextEncoder().encode(s)) });
  return n;
}

interface RnnCase {
  op: 'LSTM' | 'GRU' | 'RNN';
  direction?: 'forward' | 'reverse' | 'bidirectional';
  layout?: 0 | 1;
  /** Differentiated graph inputs besides x (initial_h, initial_c, W, R, B, P). */
  states?: boolean;
  bias?: boolean;
  peepholes?: boolean;
  lens?: number[];
  attrs?: Record<string, AttrValue>;
  activations?: string[];
  /** Also differentiate W, R and B (fed as graph inputs). */
  weights?: boolean;
  /** Finite-difference step (default H32). */
  h?: number;
}

async function checkRnn(c: RnnCase): Promise<void> {
  const [T, B, I, H] = [4, 3, 2, 3];
  const dirs = c.direction === 'bidirectional' ? 2 : 1;
  const g = c.op === 'LSTM' ? 4 : c.op === 'GRU' ? 3 : 1;
  const seed = `rnn:${JSON.stringify(c)}`;
  const xDims = c.layout === 1 ? [B, T, I] : [T, B, I];
  const stDims = c.layout === 1 ? [B, dirs, H] : [dirs, B, H];
  const feeds: Record<string, Feed> = { x: feed32(xDims, `${seed}:x`) };
  const wrt = ['x'];
  const inputs = [{ name: 'x', shape: xDims }];
  const inits: TensorP[] = [];
  const param = (name: string, dims: number[], scale = 0.8) => {
    if (c.weights || ((name === 'h0' || name === 'c0') && c.states)) {
      feeds[name] = feed32(dims, `${seed}:${name}`, scale);
      inputs.push({ name, shape: dims });
      wrt.push(name);
    } else inits.push(randF32(name, dims, `${seed}:${name}`, scale));
    return name;
  };
  const ins = ['x', param('W', [dirs, g * H, I]), param('R', [dirs, g * H, H])];
  ins.push(c.bias ? param('B', [dirs, 2 * g * H], 0.5) : '');
  if (c.lens) {
    inits.push(makeTensor('lens', [B], Int32Array.from(c.lens)));
    ins.push('lens');
  } else ins.push('');
  ins.push(c.states ? param('h0', stDims, 0.5) : '');
  if (c.op === 'LSTM') {
    ins.push(c.states ? param('c0', stDims, 0.5) : '');
    if (c.peepholes) ins.push(param('P', [dirs, 3 * H], 0.5));
  }
  while (ins[ins.length - 1] === '') ins.pop();
  const outs = c.op === 'LSTM' ? ['y', 'yh', 'yc'] : ['y', 'yh'];
  let n = node(c.op, ins, outs, { hidden_size: H, direction: c.direction ?? 'forward', ...(c.layout ? { layout: c.layout } : {}), ...c.attrs });
  if (c.activations) n = withStrings(n, { activations: c.activations });
  const model = makeModel({ inputs, outputs: outs, nodes: [n], initializers: inits, opset: 14 });
  const res = await gradcheck(model, feeds, wrt, new Rng(`${seed}:w`), { h: c.h ?? H32 });
  for (const r of res) {
    assert.ok(r.maxAbsNumeric > 1e-3, `${c.op}: d/d${r.input} numerically zero`);
    assert.ok(r.relError < TOL32, `${c.op} ${JSON.stringify(c)}: d/d${r.input} relError ${r.relError}`);
  }
}

test('LSTM: forward, reverse and bidirectional, with biases', async () => {
  await checkRnn({ op: 'LSTM', bias: true });
  await checkRnn({ op: 'LSTM', direction: 'reverse', bias: true });
  await checkRnn({ op: 'LSTM', direction: 'bidirectional', bias: true });
});

test('LSTM: initial states, peepholes and weights differentiated; input_forget; clip', async () => {
  await checkRnn({ op: 'LSTM', direction: 'bidirectional', bias: true, states: true, peepholes: true, weights: true });
  await checkRnn({ op: 'LSTM', bias: true, attrs: { input_forget: 1 } });
  await checkRnn({ op: 'LSTM', bias: true, attrs: { clip: { float: 0.7 } as never } });
});

test('LSTM: sequence lengths, forward and bidirectional (a reverse direction reads each item\'s own steps)', async () => {
  await checkRnn({ op: 'LSTM', bias: true, lens: [4, 2, 3], states: true });
  await checkRnn({ op: 'LSTM', direction: 'bidirectional', bias: true, lens: [1, 4, 3] });
});

test('GRU: linear_before_reset 0 and 1, reverse and bidirectional, initial state, weights, sequence lengths', async () => {
  await checkRnn({ op: 'GRU', bias: true });
  await checkRnn({ op: 'GRU', bias: true, attrs: { linear_before_reset: 1 }, direction: 'reverse', states: true });
  await checkRnn({ op: 'GRU', bias: true, attrs: { linear_before_reset: 1 }, direction: 'bidirectional', weights: true });
  await checkRnn({ op: 'GRU', bias: true, direction: 'bidirectional', lens: [3, 4, 2] });
});

test('RNN: Tanh and Relu activations, bidirectional, initial state, sequence lengths', async () => {
  await checkRnn({ op: 'RNN', bias: true, states: true });
  // Relu's kink: a smaller step keeps the pre-activations from crossing 0 under ±h.
  await checkRnn({ op: 'RNN', bias: true, direction: 'bidirectional', activations: ['Relu', 'Tanh'], weights: true, h: 1e-3 });
  await checkRnn({ op: 'RNN', direction: 'reverse', lens: [2, 4, 1] });
});

test('LSTM with an activation outside Sigmoid/Tanh/Relu: UnsupportedOpError naming the node and the activation', async () => {
  const n = withStrings(node('LSTM', ['x', 'W', 'R'], ['y'], { hidden_size: 2 }), { activations: ['HardSigmoid', 'Tanh', 'Tanh'] });
  n.name = 'lstm0';
  const model = makeModel({ inputs: [{ name: 'x', shape: [3, 1, 2] }], outputs: ['y'], nodes: [n], initializers: [randF32('W', [1, 8, 2], 'w'), randF32('R', [1, 8, 2], 'r')], opset: 14 });
  await assert.rejects(gradcheck(model, { x: feed32([3, 1, 2], 'x') }, ['x'], new Rng(0)), (e) => {
    assert.ok(e instanceof UnsupportedOpError);
    assert.deepEqual(e.ops.map((o) => [o.opType, o.nodeName]), [['LSTM', 'lstm0']]);
    assert.match(e.ops[0]!.reason, /activation HardSigmoid: only Sigmoid, Tanh and Relu are supported/);
    return true;
  });
});

// ─── ReduceMax / ReduceMin (float64) ──────────────────────────────────────────────────────────

async function checkReduce(op: string, attrs: Record<string, AttrValue>, opset = 13, axesInput?: number[]): Promise<void> {
  const dims = [2, 3, 4];
  const rng = new Rng(`reduce:${op}:${JSON.stringify(attrs)}:${opset}`);
  // Distinct values spaced ≥ 0.05 apart: no argmax moves under ±h.
  const vals = Array.from({ length: 24 }, (_, i) => (i - 12) * 0.07);
  for (let i = vals.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [vals[i], vals[j]] = [vals[j]!, vals[i]!];
  }
  const ins = axesInput ? ['x', 'axes'] : ['x'];
  const model = makeModel({
    inputs: [{ name: 'x', dtype: 'float64', shape: dims }],
    outputs: [{ name: 'y', dtype: 'float64' }],
    nodes: [node(op, ins, ['y'], attrs)],
    initializers: axesInput ? [makeTensor('axes', [axesInput.length], BigInt64Array.from(axesInput.map(BigInt)))] : [],
    opset,
  });
  const [r] = await gradcheck(model, { x: { data: Float64Array.from(vals), dims } }, ['x'], rng.fork('w'));
  assert.ok(r!.maxAbsNumeric > 1e-3);
  assert.ok(r!.relError < 1e-5, `${op} ${JSON.stringify(attrs)}: relError ${r!.relError}`);
}

test('ReduceMax / ReduceMin: axes attribute (keepdims 0 and 1, negative axes, all axes) and opset 18 axes input', async () => {
  for (const op of ['ReduceMax', 'ReduceMin']) {
    await checkReduce(op, { axes: [1], keepdims: 0 });
    await checkReduce(op, { axes: [-1, 0], keepdims: 1 });
    await checkReduce(op, {});
    await checkReduce(op, { keepdims: 0 }, 18, [2]);
  }
});

test('ReduceMax: exact ties share the gradient equally (1/k each)', async () => {
  const model = makeModel({ inputs: [{ name: 'x', dtype: 'float64', shape: [2, 3] }], outputs: [{ name: 'y', dtype: 'float64' }], nodes: [node('ReduceMax', ['x'], ['y'], { axes: [1], keepdims: 0 })] });
  const g = await gradOfSumOf(model, { x: { data: Float64Array.from([1, 1, 0, 2, 2, 2]), dims: [2, 3] } }, 'x', 'float64');
  assert.deepEqual(g.map((v) => +v.toFixed(12)), [0.5, 0.5, 0, 1 / 3, 1 / 3, 1 / 3].map((v) => +v.toFixed(12)));
});

// ─── 1-D MaxPool (float32 on a tie-free grid, h = 1/32: exact) ─────────────────────────────────

test('MaxPool 1-D: overlapping, padded, strided, dilated and ceil_mode windows (lowered to 2-D), both outputs used', async () => {
  const geos: Record<string, AttrValue>[] = [
    { kernel_shape: [2], strides: [2] },
    { kernel_shape: [3], strides: [2], pads: [1, 1] },
    { kernel_shape: [3], strides: [1], dilations: [2] },
    { kernel_shape: [2], strides: [3], ceil_mode: 1 },
  ];
  for (const attrs of geos) {
    const dims = [2, 3, 9];
    const size = 54;
    const rng = new Rng(`mp1d:${JSON.stringify(attrs)}`);
    const k = Array.from({ length: size }, (_, i) => i);
    for (let i = size - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [k[i], k[j]] = [k[j]!, k[i]!];
    }
    const model = makeModel({ inputs: [{ name: 'x', shape: dims }], outputs: ['y'], nodes: [node('MaxPool', ['x'], ['y'], attrs)] });
    const [r] = await gradcheck(model, { x: { data: Float32Array.from(k, (v) => (v - size / 2 + 0.5) / 8), dims } }, ['x'], rng.fork('w'), { h: 1 / 32 });
    assert.ok(r!.maxAbsNumeric > 1e-2);
    assert.ok(r!.relError < 1e-4, `MaxPool 1-D ${JSON.stringify(attrs)}: relError ${r!.relError}`);
  }
});

test('MaxPool 3-D: tiling, overlapping with pads, dilated and ceil_mode boxes (a 2-D pool over H×W, then over D)', async () => {
  const geos: Record<string, AttrValue>[] = [
    { kernel_shape: [2, 2, 2], strides: [2, 2, 2] },
    { kernel_shape: [3, 3, 2], strides: [2, 1, 2], pads: [1, 1, 0, 1, 1, 0] },
    { kernel_shape: [2, 2, 2], strides: [1, 1, 1], dilations: [2, 1, 2] },
    { kernel_shape: [2, 3, 2], strides: [3, 2, 2], ceil_mode: 1 },
  ];
  for (const attrs of geos) {
    const dims = [1, 2, 5, 4, 5];
    const size = 200;
    const rng = new Rng(`mp3d:${JSON.stringify(attrs)}`);
    const k = Array.from({ length: size }, (_, i) => i);
    for (let i = size - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [k[i], k[j]] = [k[j]!, k[i]!];
    }
    const model = makeModel({ inputs: [{ name: 'x', shape: dims }], outputs: ['y'], nodes: [node('MaxPool', ['x'], ['y'], attrs)] });
    const [r] = await gradcheck(model, { x: { data: Float32Array.from(k, (v) => (v - size / 2 + 0.5) / 8), dims } }, ['x'], rng.fork('w'), { h: 1 / 32 });
    assert.ok(r!.maxAbsNumeric > 1e-2);
    assert.ok(r!.relError < 1e-4, `MaxPool 3-D ${JSON.stringify(attrs)}: relError ${r!.relError}`);
  }
});

test('MaxPool 3-D: an exact tie over a whole 2×2×2 box gives the box\'s first element (d, h, w order) the whole gradient', async () => {
  const model = makeModel({ inputs: [{ name: 'x', shape: [1, 1, 2, 2, 2] }], outputs: ['y'], nodes: [node('MaxPool', ['x'], ['y'], { kernel_shape: [2, 2, 2], strides: [2, 2, 2] })] });
  const g = await gradOfSumOf(model, { x: { data: new Float32Array(8).fill(0.5), dims: [1, 1, 2, 2, 2] } }, 'x', 'float32');
  assert.deepEqual(g, [1, 0, 0, 0, 0, 0, 0, 0]);
  // Ties only in the second depth plane: the first maximum is there, at (1, 0, 0).
  const g2 = await gradOfSumOf(model, { x: { data: Float32Array.from([0, 0.1, 0.2, 0.3, 0.9, 0.9, 0.9, 0.9]), dims: [1, 1, 2, 2, 2] } }, 'x', 'float32');
  assert.deepEqual(g2, [0, 0, 0, 0, 1, 0, 0, 0]);
});

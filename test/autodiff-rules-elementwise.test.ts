import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBackward } from '../src/autodiff/backward.js';
import { gradcheck } from '../src/autodiff/gradcheck.js';
import { probe, type Feed } from '../src/autodiff/probe.js';
import { GraphBuilder } from '../src/onnx/builder.js';
import { defaultOpset, float } from '../src/onnx/graph.js';
import { makeModel, node } from '../src/onnx/make.js';
import { DataType, type ModelP, type NodeP, type TensorP } from '../src/onnx/proto.js';
import { int64Tensor, makeTensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';
import { drawValues, gradOfSumOf, unsupportedNode, type RuleCase, type RuleInput } from './autodiff-helpers.js';

/*
 * Central finite-difference checks of the elementwise, activation, normalisation and reduction
 * rules. Float64 wherever ONNX Runtime's CPU provider has a double kernel for the forward op
 * (tolerance 1e-5). Where it has none (LeakyRelu and PRelu before opset 16, Clip-6/11, Erf, Gelu, HardSigmoid,
 * HardSwish, InstanceNormalization, Elu, Softplus, Mean) the check runs in float32 with h = 1e-3:
 * the central difference then carries a rounding error of about ε₃₂·|L|/h ≈ 1e-7·|L|/1e-3 where
 * L is the weighted sum of a few dozen outputs (|L| of order 1–10), i.e. ~1e-4–1e-3 absolute on
 * derivatives of order 1, and a truncation error h²·f‴/6 ≈ 1e-7. A tolerance of 5e-3 is a few
 * times that bound and still catches any wrong factor or sign (those show up as errors ≥ 0.1).
 * Inputs of piecewise ops are drawn away from their kinks by 0.05, much more than h.
 */

const F64_TOL = 1e-5;
const F32_TOL = 5e-3;

type Dtype = 'float32' | 'float64';
type In = RuleInput;
type Case = RuleCase;

/** Worst relError per op and dtype, printed at the end (for the record, not asserted). */
const worst = new Map<string, number>();
after(() => {
  const rows = [...worst.entries()].sort(([a], [b]) => a.localeCompare(b));
  console.log(rows.map(([key, err]) => `${key.padEnd(32)} worst relError ${err.toExponential(2)}`).join('\n'));
});


function feedsFor(c: Case, rng: Rng): Record<string, Feed> {
  const dtype = c.dtype ?? 'float64';
  const feeds: Record<string, Feed> = {};
  for (const spec of c.inputs) {
    const vals = drawValues(rng, spec, spec.shape.reduce((a, b) => a * b, 1));
    feeds[spec.name] = {
      data: spec.int64 ? BigInt64Array.from(vals, (v) => BigInt(v)) : dtype === 'float64' ? Float64Array.from(vals) : Float32Array.from(vals),
      dims: spec.shape,
    };
  }
  return feeds;
}

function modelOf(c: Case): ModelP {
  const dtype = c.dtype ?? 'float64';
  return makeModel({
    inputs: c.inputs.map((i) => ({ name: i.name, dtype: i.int64 ? 'int64' : dtype, shape: i.shape })),
    outputs: (c.outputs ?? ['y']).map((name) => ({ name, dtype })),
    nodes: c.nodes,
    initializers: c.initializers ?? [],
    opset: c.opset ?? 13,
  });
}

/** Runs the finite-difference check and asserts every relError is within the dtype's tolerance. */
async function check(c: Case): Promise<void> {
  const dtype = c.dtype ?? 'float64';
  const rng = new Rng(`elementwise:${c.op}:${c.nodes.map((n) => n.op_type).join(',')}:${c.opset ?? 13}`);
  const wrt = c.wrt ?? c.inputs.filter((i) => !i.int64).map((i) => i.name);
  const res = await gradcheck(modelOf(c), feedsFor(c, rng), wrt, rng.fork('weights'));
  const tol = dtype === 'float64' ? F64_TOL : F32_TOL;
  for (const r of res) {
    assert.equal(r.dtype, dtype);
    // Guards against a vacuous check (an identically zero gradient); a full reduction's
    // derivative is only |w|/count, hence the low bar.
    assert.ok(r.maxAbsNumeric > 1e-4, `${c.op}: d/d${r.input} is numerically zero — the check would be vacuous`);
    assert.ok(r.relError < tol, `${c.op}: d/d${r.input} relError ${r.relError} ≥ ${tol}`);
    const key = `${c.op} ${dtype}`;
    worst.set(key, Math.max(worst.get(key) ?? 0, r.relError));
  }
}

/** The backward graph's exact gradient of Σ y with respect to `wrt` (kinks and ties). */
function gradOfSum(c: Case, wrt: string): Promise<number[]> {
  return gradOfSumOf(modelOf(c), feedsFor(c, new Rng(0)), wrt, c.dtype ?? 'float64');
}

/**
 * Builds (does not run) the backward graph of a one-output model from hand-written shapes, for
 * rule errors on nodes ONNX Runtime itself would refuse to load.
 */
/** Builds the backward graph without running it; returns the nodes the rules emitted. */
function buildOnly(model: ModelP, shapes: Record<string, number[]>): NodeP[] {
  const types = new Map(Object.keys(shapes).map((k) => [k, 'float32']));
  const b = new GraphBuilder(model.graph, 't_');
  const pr = { shapes: new Map(Object.entries(shapes)), types, ints: new Map<string, number[]>() };
  buildBackward({ graph: model.graph, probe: pr, b, opset: defaultOpset(model), wrt: ['x'], seeds: new Map([['y', 'seed']]) });
  return b.nodes;
}

const f64 = (name: string, values: number[], dims: number[] = [values.length]) => makeTensor(name, dims, Float64Array.from(values));
const f32 = (name: string, values: number[], dims: number[] = [values.length]) => makeTensor(name, dims, Float32Array.from(values));
const X = (shape: number[] = [2, 3, 4], extra: Partial<In> = {}): In => ({ name: 'x', shape, ...extra });
const unary = (op: string, attrs: Parameters<typeof node>[3] = {}) => [node(op, ['x'], ['y'], attrs)];

// ─── smooth unary ops (float64) ────────────────────────────────────────────────────────────────

for (const [op, range] of [
  ['Sigmoid', [-4, 4]],
  ['Tanh', [-2, 2]],
  ['Exp', [-2, 2]],
  ['Log', [0.2, 3]],
  ['Sqrt', [0.2, 3]],
  ['Reciprocal', [0.3, 3]],
  ['Sin', [-3, 3]],
  ['Cos', [-3, 3]],
] as const) {
  test(`${op}: float64 finite differences`, async () => {
    await check({ op, nodes: unary(op), inputs: [X([2, 3, 4], { lo: range[0], hi: range[1] })] });
  });
}

test('Reciprocal: negative inputs', async () => {
  await check({ op: 'Reciprocal', nodes: unary('Reciprocal'), inputs: [X([3, 4], { lo: -3, hi: -0.3 })] });
});

test('Abs: float64, away from 0', async () => {
  await check({ op: 'Abs', nodes: unary('Abs'), inputs: [X([2, 3, 4], { avoid: [0] })] });
});

test('Abs: gradient at 0 is 0 (sign convention)', async () => {
  const g = await gradOfSum({ op: 'Abs', nodes: unary('Abs'), inputs: [X([3], { values: [-1, 0, 2] })] }, 'x');
  assert.deepEqual(g, [-1, 0, 1]);
});

// ─── float32-only activations (ORT has no double kernel) ──────────────────────────────────────

test('Erf: float32 finite differences', async () => {
  await check({ op: 'Erf', dtype: 'float32', nodes: unary('Erf'), inputs: [X()] });
});

test('Softplus: float32 finite differences', async () => {
  await check({ op: 'Softplus', dtype: 'float32', nodes: unary('Softplus'), inputs: [X([2, 3, 4], { lo: -3, hi: 3 })] });
});

for (const alpha of [undefined, 0.1, -0.3]) {
  test(`LeakyRelu: alpha ${alpha ?? 'default'}, float32`, async () => {
    await check({ op: 'LeakyRelu', dtype: 'float32', nodes: unary('LeakyRelu', { alpha: alpha === undefined ? undefined : float(alpha) }), inputs: [X([2, 3, 4], { avoid: [0] })] });
  });
}

test('LeakyRelu: opset 16 (double kernel), alpha 0.2, float64', async () => {
  await check({ op: 'LeakyRelu', opset: 16, nodes: unary('LeakyRelu', { alpha: float(0.2) }), inputs: [X([2, 3, 4], { avoid: [0] })] });
});

test('LeakyRelu: gradient at 0 is alpha·gy (PyTorch convention)', async () => {
  const g = await gradOfSum({ op: 'LeakyRelu', opset: 16, nodes: unary('LeakyRelu', { alpha: float(0.25) }), inputs: [X([3], { values: [-1, 0, 1] })] }, 'x');
  assert.deepEqual(g, [0.25, 0.25, 1]);
});

for (const alpha of [undefined, 0.7]) {
  test(`Elu: alpha ${alpha ?? 'default'}, float32`, async () => {
    await check({ op: 'Elu', dtype: 'float32', nodes: unary('Elu', { alpha: alpha === undefined ? undefined : float(alpha) }), inputs: [X([2, 3, 4], { avoid: [0] })] });
  });
}

for (const [alpha, beta] of [[undefined, undefined], [0.4, 0.3]] as const) {
  test(`HardSigmoid: alpha ${alpha ?? 0.2}, beta ${beta ?? 0.5}, float32`, async () => {
    const a = alpha ?? 0.2;
    const bb = beta ?? 0.5;
    await check({
      op: 'HardSigmoid',
      dtype: 'float32',
      nodes: unary('HardSigmoid', { alpha: alpha === undefined ? undefined : float(alpha), beta: beta === undefined ? undefined : float(beta) }),
      inputs: [X([2, 3, 4], { lo: -4, hi: 4, avoid: [-bb / a, (1 - bb) / a] })],
    });
  });
}

test('HardSwish: opset 14, float32', async () => {
  await check({ op: 'HardSwish', dtype: 'float32', opset: 14, nodes: unary('HardSwish'), inputs: [X([2, 3, 4], { lo: -5, hi: 5, avoid: [-3, 3] })] });
});

test('HardSwish: PyTorch boundary convention (x/3 + ½ at ±3)', async () => {
  const g = await gradOfSum({ op: 'HardSwish', dtype: 'float32', opset: 14, nodes: unary('HardSwish'), inputs: [X([5], { values: [-4, -3, 0, 3, 4] })] }, 'x');
  assert.deepEqual(g, [0, -0.5, 0.5, 1.5, 1]);
});

// Exporters write SiLU as x·Sigmoid(x) and, before opset 14, HardSwish as x·HardSigmoid(x) with
// α = 1/6: the Mul rule takes each pair in PyTorch's backward formula (fewer nodes, no Sum of two
// contributions to x); with the gate's output used elsewhere too, the two rules apply separately.
test('x·Sigmoid(x) (SiLU) and x·HardSigmoid(x) (HardSwish before opset 14): one rule for the pair, matching finite differences, either operand order', async () => {
  for (const order of [['x', 's'], ['s', 'x']]) {
    const silu: Case = { op: 'Mul', dtype: 'float32', nodes: [node('Sigmoid', ['x'], ['s']), node('Mul', order, ['y'])], inputs: [X([2, 3, 4], { lo: -4, hi: 4 })] };
    await check(silu);
    const hswish: Case = {
      op: 'Mul',
      dtype: 'float32',
      nodes: [node('HardSigmoid', ['x'], ['s'], { alpha: float(1 / 6), beta: float(0.5) }), node('Mul', order, ['y'])],
      inputs: [X([2, 3, 4], { lo: -5, hi: 5, avoid: [-3, 3] })],
    };
    await check(hswish);
  }
  const nodesOf = async (nodes: ReturnType<typeof node>[]) => {
    const model = modelOf({ op: 'Mul', dtype: 'float32', nodes, inputs: [X([2, 3])] });
    return buildOnly(model, { x: [2, 3], s: [2, 3], y: [2, 3] }).map((n) => n.op_type);
  };
  const pair = await nodesOf([node('Sigmoid', ['x'], ['s']), node('Mul', ['x', 's'], ['y'])]);
  assert.ok(!pair.includes('Sum'), `SiLU: one contribution to x (${pair.join(' ')})`);
  assert.equal(pair.length, 5, `SiLU: five nodes (${pair.join(' ')})`);
  // A HardSigmoid with other constants is not HardSwish's gate: the two rules apply and sum.
  const other = await nodesOf([node('HardSigmoid', ['x'], ['s'], { alpha: float(0.2) }), node('Mul', ['x', 's'], ['y'])]);
  assert.ok(other.includes('Sum'), `HardSigmoid α 0.2: separate rules (${other.join(' ')})`);
});

test('x·HardSigmoid(x): PyTorch\'s hardswish boundary convention (x/3 + ½ at ±3), as the HardSwish op', async () => {
  const g = await gradOfSum({
    op: 'Mul',
    dtype: 'float32',
    nodes: [node('HardSigmoid', ['x'], ['s'], { alpha: float(1 / 6), beta: float(0.5) }), node('Mul', ['x', 's'], ['y'])],
    inputs: [X([5], { values: [-4, -3, 0, 3, 4] })],
  }, 'x');
  assert.deepEqual(g, [0, -0.5, 0.5, 1.5, 1]);
});

for (const approximate of ['none', 'tanh']) {
  test(`Gelu: opset 20, approximate='${approximate}', float32`, async () => {
    await check({ op: 'Gelu', dtype: 'float32', opset: 20, nodes: unary('Gelu', { approximate }), inputs: [X([2, 3, 4], { lo: -3, hi: 3 })] });
  });
}

test('Gelu: an unknown approximate mode is an UnsupportedOpError naming the node and the mode', () => {
  const model = modelOf({ op: 'Gelu', dtype: 'float32', opset: 20, nodes: unary('Gelu', { approximate: 'sigmoid' }), inputs: [X([2])] });
  assert.throws(() => buildOnly(model, { x: [2], y: [2] }), unsupportedNode('Gelu', 'y', /^approximate='sigmoid' has no gradient rule \(only 'none' and 'tanh'\)$/));
});

// ─── PRelu ────────────────────────────────────────────────────────────────────────────────────

for (const slopeShape of [[4], [3, 1], [1]]) {
  test(`PRelu: X [2,3,4], slope ${JSON.stringify(slopeShape)} (gradients for X and slope), float32`, async () => {
    await check({
      op: 'PRelu',
      dtype: 'float32',
      nodes: [node('PRelu', ['x', 's'], ['y'])],
      inputs: [X([2, 3, 4], { avoid: [0] }), { name: 's', shape: slopeShape, lo: 0.05, hi: 0.5 }],
    });
  });
}

test('PRelu: opset 16 (double kernel), X [2,3,4], slope [2,1,4], float64', async () => {
  await check({ op: 'PRelu', opset: 16, nodes: [node('PRelu', ['x', 's'], ['y'])], inputs: [X([2, 3, 4], { avoid: [0] }), { name: 's', shape: [2, 1, 4], lo: 0.05, hi: 0.5 }] });
});

test('PRelu: constant slope, gradient for X only', async () => {
  await check({
    op: 'PRelu',
    dtype: 'float32',
    nodes: [node('PRelu', ['x', 's'], ['y'])],
    inputs: [X([2, 3, 2, 2], { avoid: [0] })],
    initializers: [f32('s', [0.1, 0.2, 0.3], [3, 1, 1])],
  });
});

// ─── Clip ─────────────────────────────────────────────────────────────────────────────────────

for (const opset of [11, 12, 13, 21]) {
  // ORT registers Clip-11 for float32 only.
  const dtype: Dtype = opset === 11 ? 'float32' : 'float64';
  const c = (name: string, v: number) => (dtype === 'float64' ? f64(name, [v], []) : f32(name, [v], []));
  test(`Clip: opset ${opset}, constant min/max inputs, ${dtype}`, async () => {
    await check({
      op: 'Clip',
      opset,
      dtype,
      nodes: [node('Clip', ['x', 'lo', 'hi'], ['y'])],
      inputs: [X([2, 3, 4], { avoid: [-0.5, 1] })],
      initializers: [c('lo', -0.5), c('hi', 1)],
    });
  });
}

test('Clip: only max (min input empty), only min, and no bounds', async () => {
  const cases: [string[], TensorP[]][] = [
    [['x', '', 'hi'], [f64('hi', [0.5], [])]],
    [['x', 'lo'], [f64('lo', [0], [])]],
    [['x'], []],
  ];
  for (const [ins, inits] of cases) {
    await check({ op: 'Clip', nodes: [node('Clip', ins, ['y'])], inputs: [X([2, 3, 4], { avoid: [0, 0.5] })], initializers: inits });
  }
});

test('Clip: opset 10 attribute form (min/max attributes), float32', async () => {
  await check({
    op: 'Clip',
    dtype: 'float32',
    opset: 10,
    nodes: unary('Clip', { min: float(0), max: float(6) }),
    inputs: [X([2, 3, 4], { lo: -2, hi: 8, avoid: [0, 6] })],
  });
  await check({ op: 'Clip', dtype: 'float32', opset: 10, nodes: unary('Clip', { max: float(0.5) }), inputs: [X([2, 3, 4], { avoid: [0.5] })] });
});

test('Clip: data-dependent bounds get gradients (min, max differentiated), float64', async () => {
  await check({
    op: 'Clip',
    nodes: [node('Clip', ['x', 'lo', 'hi'], ['y'])],
    inputs: [X([2, 3, 4], { avoid: [-0.5, 1] }), { name: 'lo', shape: [], values: [-0.5] }, { name: 'hi', shape: [], values: [1] }],
  });
});

test('Clip: ReLU6 boundary convention — no gradient at the bounds (PyTorch hardtanh)', async () => {
  const c: Case = { op: 'Clip', nodes: [node('Clip', ['x', 'lo', 'hi'], ['y'])], inputs: [X([5], { values: [-1, 0, 3, 6, 7] })], initializers: [f64('lo', [0], []), f64('hi', [6], [])] };
  assert.deepEqual(await gradOfSum(c, 'x'), [0, 0, 1, 0, 0]);
});

// ─── Pow ──────────────────────────────────────────────────────────────────────────────────────

for (const [p, lo] of [[3, -2], [2, -2], [0.5, 0.2], [-1.5, 0.3], [1, -2]] as const) {
  test(`Pow: constant scalar exponent ${p}, float64`, async () => {
    await check({ op: 'Pow', nodes: [node('Pow', ['x', 'p'], ['y'])], inputs: [X([2, 3, 4], { lo, hi: 2 })], initializers: [f64('p', [p], [])] });
  });
}

test('Pow: exponent 0 gives a zero gradient', async () => {
  const c: Case = { op: 'Pow', nodes: [node('Pow', ['x', 'p'], ['y'])], inputs: [X([3], { values: [0.5, 1, 2] })], initializers: [f64('p', [0], [])] };
  assert.deepEqual(await gradOfSum(c, 'x'), [0, 0, 0]);
});

test('Pow: int64 constant exponent (staticInts), float64', async () => {
  await check({ op: 'Pow', nodes: [node('Pow', ['x', 'p'], ['y'])], inputs: [X()], initializers: [int64Tensor('p', [3], [])] });
});

test('Pow: broadcast constant exponent [4] and exponent [2,3,4] against X [4], float64', async () => {
  await check({ op: 'Pow', nodes: [node('Pow', ['x', 'p'], ['y'])], inputs: [X([2, 3, 4], { lo: 0.2, hi: 2 })], initializers: [f64('p', [0.5, 2, 3, -1])] });
  await check({ op: 'Pow', nodes: [node('Pow', ['x', 'p'], ['y'])], inputs: [X([4], { lo: 0.2, hi: 2 }), { name: 'p', shape: [2, 3, 4], lo: -2, hi: 3 }], wrt: ['x'] });
});

test('Pow: an exponent on the differentiated path is an UnsupportedOpError naming the node and input', async () => {
  const model = modelOf({ op: 'Pow', nodes: [node('Pow', ['x', 'x'], ['y'])], inputs: [X([2, 2])] });
  const feeds = { x: { data: new Float64Array([0.5, 1, 1.5, 2]), dims: [2, 2] } };
  await assert.rejects(gradcheck(model, feeds, ['x'], new Rng(1)), unsupportedNode('Pow', 'y', /^a data-dependent exponent \('x' depends on the differentiated input\)/, 'x'));
});

// ─── Softmax / LogSoftmax ─────────────────────────────────────────────────────────────────────

for (const op of ['Softmax', 'LogSoftmax']) {
  for (const [opset, axis] of [[13, undefined], [13, 1], [13, 0], [18, -2], [21, 2], [11, undefined], [11, 1], [11, 2], [11, -3], [12, 0]] as const) {
    test(`${op}: opset ${opset}, axis ${axis ?? 'default'}, [2,3,4], float64`, async () => {
      await check({ op, opset, nodes: unary(op, { axis }), inputs: [X()] });
    });
  }
}

// ─── ReduceSum / ReduceMean ───────────────────────────────────────────────────────────────────

const reduceForms = (op: 'ReduceSum' | 'ReduceMean') => {
  const inputFrom = op === 'ReduceSum' ? 13 : 18;
  const forms: { label: string; opset: number; axes?: number[]; attrs: Record<string, number | number[]> }[] = [];
  for (const opset of [11, inputFrom - 1 > 11 ? inputFrom - 1 : 12]) {
    forms.push({ label: `opset ${opset} axes attr [1], keepdims 1`, opset, attrs: { axes: [1] } });
    forms.push({ label: `opset ${opset} axes attr [0,-1], keepdims 0`, opset, attrs: { axes: [0, -1], keepdims: 0 } });
    forms.push({ label: `opset ${opset} no axes (all), keepdims 0`, opset, attrs: { keepdims: 0 } });
  }
  for (const opset of [inputFrom, 21]) {
    forms.push({ label: `opset ${opset} axes input [2], keepdims 0`, opset, axes: [2], attrs: { keepdims: 0 } });
    forms.push({ label: `opset ${opset} axes input [-3, 1], keepdims 1`, opset, axes: [-3, 1], attrs: {} });
    forms.push({ label: `opset ${opset} no axes input (all), keepdims 1`, opset, attrs: {} });
    forms.push({ label: `opset ${opset} empty axes, noop_with_empty_axes 1`, opset, axes: [], attrs: { noop_with_empty_axes: 1 } });
    forms.push({ label: `opset ${opset} no axes input, noop_with_empty_axes 1`, opset, attrs: { noop_with_empty_axes: 1, keepdims: 0 } });
  }
  return forms;
};

for (const op of ['ReduceSum', 'ReduceMean'] as const) {
  for (const f of reduceForms(op)) {
    test(`${op}: ${f.label}, float64`, async () => {
      const ins = f.axes ? ['x', 'axes'] : ['x'];
      await check({ op, opset: f.opset, nodes: [node(op, ins, ['y'], f.attrs)], inputs: [X()], initializers: f.axes ? [int64Tensor('axes', f.axes)] : [] });
    });
  }
  test(`${op}: a data-dependent axes input is an UnsupportedOpError naming the node`, async () => {
    const opset = op === 'ReduceSum' ? 13 : 18;
    const model = modelOf({ op, opset, nodes: [node(op, ['x', 'axes'], ['y'])], inputs: [X([2, 3]), { name: 'axes', shape: [1], int64: true }] });
    const feeds = { x: { data: new Float64Array(6).fill(1), dims: [2, 3] }, axes: { data: new BigInt64Array([1n]), dims: [1] } };
    await assert.rejects(gradcheck(model, feeds, ['x'], new Rng(1)), unsupportedNode(op, 'y', /^its axes input 'axes' depends on the data; only constant axes are supported$/));
  });
}

// ─── LayerNormalization / InstanceNormalization ───────────────────────────────────────────────

test('LayerNormalization: opset 17, axis −1, X/Scale/B all differentiated, float64', async () => {
  await check({
    op: 'LayerNormalization',
    opset: 17,
    nodes: [node('LayerNormalization', ['x', 'scale', 'bias'], ['y'], { epsilon: float(1e-3) })],
    inputs: [X(), { name: 'scale', shape: [4], lo: 0.5, hi: 1.5 }, { name: 'bias', shape: [4] }],
  });
});

test('LayerNormalization: axis 1 over [3,4], constant Scale, no B, float64', async () => {
  await check({
    op: 'LayerNormalization',
    opset: 17,
    nodes: [node('LayerNormalization', ['x', 'scale'], ['y'], { axis: 1 })],
    inputs: [X()],
    initializers: [f64('scale', Array.from({ length: 12 }, (_, i) => 0.5 + i / 12), [3, 4])],
  });
});

test('LayerNormalization: axis 0 (whole tensor), opset 18 (ReduceMean with axes input), float64', async () => {
  await check({ op: 'LayerNormalization', opset: 18, nodes: [node('LayerNormalization', ['x', 'scale', 'bias'], ['y'], { axis: -3 })], inputs: [X([2, 3, 2]), { name: 'scale', shape: [2, 3, 2], lo: 0.5, hi: 1.5 }, { name: 'bias', shape: [2, 3, 2] }] });
});

// ORT's LayerNormalization kernel with double statistics (stash_type 11) is missing, and with the
// default float statistics a float64 model's Mean/InvStdDev outputs are float32: check in float32.
test('LayerNormalization: gradients through the Mean and InvStdDev outputs, float32', async () => {
  await check({
    op: 'LayerNormalization',
    opset: 17,
    dtype: 'float32',
    nodes: [node('LayerNormalization', ['x', 'scale', 'bias'], ['y', 'mean', 'inv'])],
    inputs: [X([3, 5]), { name: 'scale', shape: [5], lo: 0.5, hi: 1.5 }, { name: 'bias', shape: [5] }],
    outputs: ['y', 'mean', 'inv'],
  });
});

for (const shape of [[2, 3, 5], [2, 2, 3, 3]]) {
  test(`InstanceNormalization: X ${JSON.stringify(shape)}, X/scale/B differentiated, float32`, async () => {
    await check({
      op: 'InstanceNormalization',
      dtype: 'float32',
      nodes: [node('InstanceNormalization', ['x', 'scale', 'bias'], ['y'], { epsilon: float(1e-2) })],
      inputs: [X(shape), { name: 'scale', shape: [shape[1]!], lo: 0.5, hi: 1.5 }, { name: 'bias', shape: [shape[1]!] }],
    });
  });
}

test('InstanceNormalization: a rank-2 input (no spatial axes) is an UnsupportedOpError naming the node', () => {
  const model = modelOf({ op: 'InstanceNormalization', dtype: 'float32', nodes: [node('InstanceNormalization', ['x', 's', 'b'], ['y'])], inputs: [X([2, 3]), { name: 's', shape: [3] }, { name: 'b', shape: [3] }] });
  assert.throws(() => buildOnly(model, { x: [2, 3], s: [3], b: [3], y: [2, 3] }), unsupportedNode('InstanceNormalization', 'y', /^input rank 2 has no spatial axes$/));
});

// ─── Where, Cast ──────────────────────────────────────────────────────────────────────────────

test('Where: X [2,3,4], Y [4], cond [2,1,4] (from a comparison), float64', async () => {
  await check({
    op: 'Where',
    nodes: [node('Greater', ['c', 'zero'], ['cond']), node('Where', ['cond', 'x', 'w'], ['y'])],
    inputs: [X(), { name: 'w', shape: [4] }, { name: 'c', shape: [2, 1, 4], avoid: [0] }],
    initializers: [f64('zero', [0], [])],
    wrt: ['x', 'w'],
  });
});

test('Where: X scalar-like [1], Y [2,3,4], float64', async () => {
  await check({
    op: 'Where',
    nodes: [node('Greater', ['c', 'zero'], ['cond']), node('Where', ['cond', 'x', 'w'], ['y'])],
    inputs: [X([1]), { name: 'w', shape: [2, 3, 4] }, { name: 'c', shape: [3, 4], avoid: [0] }],
    initializers: [f64('zero', [0], [])],
    wrt: ['x', 'w'],
  });
});

for (const opset of [13, 15]) {
  test(`Cast: float32 → double → float32 round trip, opset ${opset} (${opset >= 15 ? 'CastLike' : 'traced type'})`, async () => {
    await check({
      op: 'Cast',
      dtype: 'float32',
      opset,
      nodes: [node('Cast', ['x'], ['xd'], { to: DataType.DOUBLE }), node('Mul', ['xd', 'xd'], ['sq']), node('Cast', ['sq'], ['y'], { to: DataType.FLOAT })],
      inputs: [X()],
    });
  });
}

test('Cast: double → double (identity cast) and float64 model, opset 13', async () => {
  await check({ op: 'Cast', nodes: [node('Cast', ['x'], ['xc'], { to: DataType.DOUBLE }), node('Sin', ['xc'], ['y'])], inputs: [X()] });
});

// ─── Max / Min / Sum / Mean (variadic, broadcasting) ──────────────────────────────────────────

for (const op of ['Max', 'Min']) {
  test(`${op}: three inputs [2,3,4], [4], [2,1,4], float64`, async () => {
    await check({ op, nodes: [node(op, ['a', 'b', 'c'], ['y'])], inputs: [{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [4] }, { name: 'c', shape: [2, 1, 4] }] });
  });
  test(`${op}: single input, and ${op}(x, x) (a tie on every element: shares sum to gy)`, async () => {
    await check({ op, nodes: [node(op, ['x'], ['y'])], inputs: [X()] });
    await check({ op, nodes: [node(op, ['x', 'x'], ['y'])], inputs: [X()] });
  });
  test(`${op}: ties share the gradient equally`, async () => {
    const c: Case = { op, nodes: [node(op, ['x', 'k'], ['y'])], inputs: [X([3], { values: [1, 2, 3] })], initializers: [f64('k', [2])] };
    assert.deepEqual(await gradOfSum(c, 'x'), op === 'Max' ? [0, 0.5, 1] : [1, 0.5, 0]);
  });
}

test('Sum: three inputs [2,3,4], [4], [2,1,4], and a single input, float64', async () => {
  await check({ op: 'Sum', nodes: [node('Sum', ['a', 'b', 'c'], ['y'])], inputs: [{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [4] }, { name: 'c', shape: [2, 1, 4] }] });
  await check({ op: 'Sum', nodes: [node('Sum', ['x'], ['y'])], inputs: [X()] });
});

test('Mean: three inputs [2,3,4], [4], [2,1,4], float32', async () => {
  await check({ op: 'Mean', dtype: 'float32', nodes: [node('Mean', ['a', 'b', 'c'], ['y'])], inputs: [{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [4] }, { name: 'c', shape: [2, 1, 4] }] });
});

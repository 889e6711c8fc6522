import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradcheck } from '../src/autodiff/gradcheck.js';
import { lowerForGradient } from '../src/autodiff/lower.js';
import type { Feed } from '../src/autodiff/probe.js';
import { UnsupportedOpError } from '../src/errors.js';
import { makeValueInfo } from '../src/onnx/graph.js';
import { makeModel, node } from '../src/onnx/make.js';
import { AttrType, cloneModel, DataType, type GraphP, type ModelP, type NodeP, type TensorP } from '../src/onnx/proto.js';
import { int64Tensor, makeTensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';

/*
 * Control flow: If, Loop and Scan, whose bodies read the differentiated input from the outer
 * scope (captures) as exported models do. Central finite differences in float64 (h = 1e-6,
 * tolerance 1e-5) of the lowered graph's backward pass against the original model's forward;
 * and the cases that cannot be lowered: an UnsupportedOpError naming the node and why, never a
 * silent zero gradient.
 */

const TOL = 1e-5;
const D = DataType.DOUBLE;

/** A body graph; the iteration number and condition inputs of a Loop body are scalars. */
function body(name: string, nodes: NodeP[], inputs: { name: string; elem: number }[], outputs: { name: string; elem: number }[], initializer: TensorP[] = []): GraphP {
  return {
    name,
    node: nodes,
    initializer,
    input: inputs.map((i) => makeValueInfo(i.name, i.elem, i.elem === DataType.DOUBLE ? null : [])),
    output: outputs.map((o) => makeValueInfo(o.name, o.elem, null)),
    value_info: [],
  };
}
const withGraphs = (n: NodeP, graphs: Record<string, GraphP>, ints: Record<string, number[] | number> = {}): NodeP => {
  for (const [name, g] of Object.entries(graphs)) n.attribute.push({ name, type: AttrType.GRAPH, g });
  for (const [name, v] of Object.entries(ints)) n.attribute.push(Array.isArray(v) ? { name, type: AttrType.INTS, ints: v } : { name, type: AttrType.INT, i: v });
  return n;
};
const f64 = (name: string, dims: number[], seed: string) => {
  const rng = new Rng(seed);
  return makeTensor(name, dims, Float64Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.range(-1, 1)));
};
const feedX = (dims: number[], lo: number, hi: number, seed = 'x'): Record<string, Feed> => {
  const rng = new Rng(seed);
  return { x: { data: Float64Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.range(lo, hi)), dims } };
};

async function check(model: ModelP, feeds: Record<string, Feed>, label: string): Promise<void> {
  const res = await gradcheck(model, feeds, ['x'], new Rng(`w:${label}`));
  for (const r of res) {
    assert.ok(r.maxAbsNumeric > 1e-4, `${label}: numerically zero derivative, the check would be vacuous`);
    assert.ok(r.relError < TOL, `${label}: relError ${r.relError}`);
  }
}

/** Notes of the lowering (what was inlined or unrolled). */
async function notesOf(model: ModelP, feeds: Record<string, Feed>): Promise<string[]> {
  return (await lowerForGradient(cloneModel(model), feeds, 'test')).notes;
}

// y = If(cond) { x·x·w } else { sin(x) + w }: both branches read x and w from the outer scope.
function ifModel(cond: NodeP[]): ModelP {
  const thenB = body('then', [node('Mul', ['x', 'x'], ['t1']), node('Mul', ['t1', 'w'], ['t2'])], [], [{ name: 't2', elem: D }]);
  const elseB = body('else', [node('Sin', ['x'], ['e1']), node('Add', ['e1', 'w'], ['e2'])], [], [{ name: 'e2', elem: D }]);
  return makeModel({
    inputs: [{ name: 'x', dtype: 'float64', shape: [2, 3] }],
    outputs: [{ name: 'y', dtype: 'float64' }],
    nodes: [...cond, withGraphs(node('If', ['c'], ['y']), { then_branch: thenB, else_branch: elseB })],
    initializers: [f64('w', [3], 'if-w'), makeTensor('zero', [], Float64Array.from([0])), int64Tensor('three', [3], [])],
  });
}
const dataCond = [node('ReduceSum', ['x'], ['s'], { keepdims: 0 }), node('Greater', ['s', 'zero'], ['c'])];
const shapeCond = [node('Shape', ['x'], ['sh']), node('Gather', ['sh', 'one'], ['d1'], { axis: 0 }), node('Equal', ['d1', 'three'], ['c'])];

test('If whose condition depends on the data: both branches merged with Where; the gradient of each taken branch, captures included', async () => {
  const m = ifModel(dataCond);
  await check(m, feedX([2, 3], 0.2, 1), 'If then');
  await check(m, feedX([2, 3], -1, -0.2), 'If else');
  assert.match((await notesOf(m, feedX([2, 3], 0.2, 1))).join('\n'), /If \(.*\): both branches inlined and merged with Where/);
});

test('If whose condition depends only on shapes: only the branch taken is inlined', async () => {
  const m = ifModel(shapeCond);
  m.graph.initializer.push(int64Tensor('one', [1], []));
  await check(m, feedX([2, 3], -1, 1), 'If static');
  assert.match((await notesOf(m, feedX([2, 3], -1, 1))).join('\n'), /then branch inlined \(the condition does not depend on the data\)/);
});

test('If with data-dependent condition whose branches give different shapes: UnsupportedOpError naming the If', async () => {
  const thenB = body('then', [node('Mul', ['x', 'x'], ['t1'])], [], [{ name: 't1', elem: D }]);
  const elseB = body('else', [node('ReduceSum', ['x'], ['e1'], { keepdims: 1 })], [], [{ name: 'e1', elem: D }]);
  const m = makeModel({
    inputs: [{ name: 'x', dtype: 'float64', shape: [2, 3] }],
    outputs: [{ name: 'y', dtype: 'float64' }],
    nodes: [...dataCond, withGraphs(node('If', ['c'], ['y']), { then_branch: thenB, else_branch: elseB })],
    initializers: [makeTensor('zero', [], Float64Array.from([0]))],
  });
  await assert.rejects(gradcheck(m, feedX([2, 3], 0.2, 1), ['x'], new Rng(0)), (e) => {
    assert.ok(e instanceof UnsupportedOpError);
    assert.deepEqual(e.ops.map((o) => o.opType), ['If']);
    assert.match(e.ops[0]!.reason, /different shapes \(\[2, 3\] and \[1, 1\]\)/);
    return true;
  });
});

// h₀ = 0; for i in 0..2: h = tanh(h·W + x) (x captured), scan output i·h; y = [h, stack].
function loopModel(condOut: NodeP[], m: string, extra: NodeP[] = [], inits: TensorP[] = []): ModelP {
  const b = body(
    'body',
    [node('MatMul', ['h', 'W'], ['hw']), node('Add', ['hw', 'x'], ['pre']), node('Tanh', ['pre'], ['h2']), node('Cast', ['i'], ['fi'], { to: D }), node('Mul', ['h2', 'fi'], ['sc']), ...condOut],
    [{ name: 'i', elem: DataType.INT64 }, { name: 'cin', elem: DataType.BOOL }, { name: 'h', elem: D }],
    [{ name: 'cout', elem: DataType.BOOL }, { name: 'h2', elem: D }, { name: 'sc', elem: D }],
  );
  return makeModel({
    inputs: [{ name: 'x', dtype: 'float64', shape: [2, 3] }],
    outputs: [{ name: 'hT', dtype: 'float64' }, { name: 'stack', dtype: 'float64' }],
    nodes: [...extra, node('Shape', ['x'], ['sh']), node('ConstantOfShape', ['sh'], ['h0'], { value: makeTensor('v', [1], Float64Array.from([0])) }), withGraphs(node('Loop', [m, 'true', 'h0'], ['hT', 'stack']), { body: b })],
    initializers: [f64('W', [3, 3], 'loop-W'), int64Tensor('M', [3], []), { name: 'true', dims: [], data_type: DataType.BOOL, raw_data: new Uint8Array([1]) }, ...inits],
  });
}

test('Loop with a fixed trip count (condition passed through): unrolled; carried value and scan outputs, x read from the outer scope', async () => {
  const m = loopModel([node('Identity', ['cin'], ['cout'])], 'M');
  await check(m, feedX([2, 3], -1, 1), 'Loop');
  assert.match((await notesOf(m, feedX([2, 3], -1, 1))).join('\n'), /Loop \(.*\): unrolled for its 3 iterations/);
});

test('Loop whose condition is computed in the body (a while loop): UnsupportedOpError naming the Loop and why, not a zero gradient', async () => {
  const m = loopModel([node('ReduceSum', ['h2'], ['hs'], { keepdims: 0 }), node('Less', ['hs', 'big'], ['cout'])], 'M', [], [makeTensor('big', [], Float64Array.from([100]))]);
  await assert.rejects(gradcheck(m, feedX([2, 3], -1, 1), ['x'], new Rng(0)), (e) => {
    assert.ok(e instanceof UnsupportedOpError);
    assert.deepEqual(e.ops.map((o) => o.opType), ['Loop']);
    assert.match(e.ops[0]!.reason, /its condition is computed in the body \(a while loop\)/);
    return true;
  });
});

test('Loop whose trip count depends on the data, reached only through a capture: UnsupportedOpError, not a zero gradient', async () => {
  // The trip count is computed from x, and x reaches the loop's outputs only inside the body.
  const trip = [node('ReduceSum', ['x'], ['xs'], { keepdims: 0 }), node('Abs', ['xs'], ['xa']), node('Cast', ['xa'], ['Mx'], { to: DataType.INT64 })];
  const m = loopModel([node('Identity', ['cin'], ['cout'])], 'Mx', trip);
  await assert.rejects(gradcheck(m, feedX([2, 3], -1, 1), ['x'], new Rng(0)), (e) => {
    assert.ok(e instanceof UnsupportedOpError);
    assert.deepEqual(e.ops.map((o) => o.opType), ['Loop']);
    assert.match(e.ops[0]!.reason, /trip count 'Mx' depends on the data/);
    return true;
  });
});

test('An op with a subgraph and no lowering, reading x only through a capture: UnsupportedOpError naming the capture', async () => {
  // A custom-domain node with a body (no rule, no lowering) and no explicit inputs: x reaches its
  // output only inside the body, which the walk must see (the walk alone: ORT cannot run it).
  const inner = body('inner', [node('Mul', ['x', 'x'], ['q'])], [], [{ name: 'q', elem: D }]);
  const custom = withGraphs({ op_type: 'Wrap', domain: 'example.custom', input: [], output: ['y'], attribute: [], name: 'wrap0' }, { body: inner });
  const m = makeModel({ inputs: [{ name: 'x', dtype: 'float64', shape: [2, 3] }], outputs: [{ name: 'y', dtype: 'float64' }], nodes: [custom] });
  m.opset_import.push({ domain: 'example.custom', version: 1 });
  const { buildBackward } = await import('../src/autodiff/backward.js');
  const { GraphBuilder } = await import('../src/onnx/builder.js');
  const probe = { shapes: new Map([['x', [2, 3]], ['y', [2, 3]]]), types: new Map([['x', 'float64'], ['y', 'float64']]), ints: new Map() };
  assert.throws(() => buildBackward({ graph: m.graph, probe, b: new GraphBuilder(m.graph), opset: 13, wrt: ['x'], seeds: new Map([['y', 'gy']]) }), (e) => {
    assert.ok(e instanceof UnsupportedOpError);
    assert.deepEqual(e.ops.map((o) => [o.opType, o.nodeName]), [['example.custom.Wrap', 'wrap0']]);
    assert.match(e.ops[0]!.reason, /its subgraph reads 'x' from the outer scope/);
    return true;
  });
});

test('Scan: reverse scan input along axis 1, a carried state and a scan output, x read inside the body and as scan input', async () => {
  // s' = tanh(s ⊙ xt + xt + w), out = s' · 2; scanning x [3, 4] along axis 1 in reverse.
  const b = body(
    'scan',
    [node('Mul', ['s', 'xt'], ['p']), node('Add', ['p', 'xt'], ['q']), node('Add', ['q', 'w'], ['r']), node('Tanh', ['r'], ['s2']), node('Mul', ['s2', 'two'], ['o'])],
    [{ name: 's', elem: D }, { name: 'xt', elem: D }],
    [{ name: 's2', elem: D }, { name: 'o', elem: D }],
  );
  const m = makeModel({
    inputs: [{ name: 'x', dtype: 'float64', shape: [3, 4] }],
    outputs: [{ name: 'sT', dtype: 'float64' }, { name: 'outs', dtype: 'float64' }],
    nodes: [node('Mul', ['x', 'half'], ['x2']), withGraphs(node('Scan', ['s0', 'x2'], ['sT', 'outs']), { body: b }, { num_scan_inputs: 1, scan_input_axes: [1], scan_input_directions: [1], scan_output_axes: [1] })],
    initializers: [f64('s0', [3], 'scan-s0'), f64('w', [3], 'scan-w'), makeTensor('two', [], Float64Array.from([2])), makeTensor('half', [], Float64Array.from([0.5]))],
  });
  await check(m, feedX([3, 4], -1, 1), 'Scan');
  assert.match((await notesOf(m, feedX([3, 4], -1, 1))).join('\n'), /Scan \(.*\): unrolled over its 4 steps/);
});

test('If nested in a Loop body, reading the body\'s carried value and the outer x: lowered in two rounds', async () => {
  const thenB = body('then', [node('Mul', ['h', 'x'], ['t1'])], [], [{ name: 't1', elem: D }]);
  const elseB = body('else', [node('Sub', ['h', 'x'], ['e1'])], [], [{ name: 'e1', elem: D }]);
  const b = body(
    'body',
    [node('ReduceSum', ['h'], ['hs'], { keepdims: 0 }), node('Greater', ['hs', 'zero'], ['c']), withGraphs(node('If', ['c'], ['hi']), { then_branch: thenB, else_branch: elseB }), node('Sin', ['hi'], ['h2']), node('Identity', ['cin'], ['cout'])],
    [{ name: 'i', elem: DataType.INT64 }, { name: 'cin', elem: DataType.BOOL }, { name: 'h', elem: D }],
    [{ name: 'cout', elem: DataType.BOOL }, { name: 'h2', elem: D }],
  );
  const m = makeModel({
    inputs: [{ name: 'x', dtype: 'float64', shape: [2, 3] }],
    outputs: [{ name: 'hT', dtype: 'float64' }],
    nodes: [node('Add', ['x', 'x'], ['h0']), withGraphs(node('Loop', ['M', 'true', 'h0'], ['hT']), { body: b })],
    initializers: [int64Tensor('M', [3], []), { name: 'true', dims: [], data_type: DataType.BOOL, raw_data: new Uint8Array([1]) }, makeTensor('zero', [], Float64Array.from([0]))],
  });
  await check(m, feedX([2, 3], -1, 1, 'nested'), 'Loop∘If');
  const notes = await notesOf(m, feedX([2, 3], -1, 1, 'nested'));
  assert.equal(notes.filter((n) => n.startsWith('If')).length, 3, notes.join('\n'));
});

// y = If(Σx > 0) { √x · w + exp(−k·x) } else { sin(x) + exp(k·x) }, k = 10⁴: the branch not taken
// overflows (exp of a large value) or is NaN (√ of a negative value), and so is its backward
// (0·∞, 0/0). The Where merge must keep that out of the gradient of the captured x: exact for
// the branch taken, never NaN.
function poisonIfModel(dtype: 'float32' | 'float64'): ModelP {
  const el = dtype === 'float64' ? D : DataType.FLOAT;
  const num = (name: string, v: number) => makeTensor(name, [], dtype === 'float64' ? Float64Array.from([v]) : Float32Array.from([v]));
  const rng = new Rng('poison-w');
  const wv = Array.from({ length: 3 }, () => rng.range(-1, 1));
  const wt = makeTensor('w', [3], dtype === 'float64' ? Float64Array.from(wv) : Float32Array.from(wv));
  const thenB = body('then', [node('Sqrt', ['x'], ['t1']), node('Mul', ['t1', 'w'], ['t2']), node('Mul', ['x', 'negk'], ['t3']), node('Exp', ['t3'], ['t4']), node('Add', ['t2', 't4'], ['t5'])], [], [{ name: 't5', elem: el }]);
  const elseB = body('else', [node('Sin', ['x'], ['e1']), node('Mul', ['x', 'k'], ['e2']), node('Exp', ['e2'], ['e3']), node('Add', ['e1', 'e3'], ['e4'])], [], [{ name: 'e4', elem: el }]);
  return makeModel({
    inputs: [{ name: 'x', dtype, shape: [2, 3] }],
    outputs: [{ name: 'y', dtype }],
    nodes: [node('ReduceSum', ['x'], ['s'], { keepdims: 0 }), node('Greater', ['s', 'zero'], ['c']), withGraphs(node('If', ['c'], ['y']), { then_branch: thenB, else_branch: elseB })],
    initializers: [wt, num('zero', 0), num('k', 1e4), num('negk', -1e4)],
  });
}

test('If merged with Where whose branch not taken overflows (exp) or is NaN (√ of a negative): the gradient is that of the branch taken, finite', async () => {
  const m = poisonIfModel('float64');
  await check(m, feedX([2, 3], 0.2, 1, 'poison'), 'If then, else overflows');
  await check(m, feedX([2, 3], -1, -0.2, 'poison'), 'If else, then is NaN');
  const f = poisonIfModel('float32');
  const f32 = (lo: number, hi: number): Record<string, Feed> => ({ x: { data: Float32Array.from(feedX([2, 3], lo, hi, 'poison32').x!.data as Float64Array), dims: [2, 3] } });
  for (const [lo, hi] of [[0.2, 1], [-1, -0.2]] as const) {
    const [r] = await gradcheck(f, f32(lo, hi), ['x'], new Rng('poison32'));
    assert.ok(Number.isFinite(r!.relError) && r!.relError < 1e-2, `float32 [${lo}, ${hi}]: relError ${r!.relError}`);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GradientEngine } from '../src/autodiff/gradient.js';
import { writeNpy } from '../src/data/npy.js';
import { writeNpz } from '../src/data/npz.js';
import { Model } from '../src/engine/model.js';
import { UsageError } from '../src/errors.js';
import { makeValueInfo } from '../src/onnx/graph.js';
import { makeModel, node } from '../src/onnx/make.js';
import { AttrType, DataType, encodeModel, type GraphP, type ModelP } from '../src/onnx/proto.js';
import { floatTensor, int64Tensor } from '../src/onnx/tensor.js';
import { assertBadInput, runCli, scratchDirs } from './helpers.js';

/*
 * Extra graph inputs (a recurrent state, a sample rate) declared in the model declaration and fed
 * on every batch — `inputs: { state: zeros | FILE.npy, sr: 16000 }`, `--inputs state=zeros,sr=16000`.
 * The model: y = If(sr == 16000) { x·W + state·V } else { x·W2 }, a Silero-style branch on a
 * declared sample rate, with a state of shape [N, 2] whose batch dim is the data's.
 */

const dirs = scratchDirs('gauntlet-extra-inputs-');
const W = [0.5, -1, 0.25, 2, -0.5, 1, 0.3, 0.1, -0.7];
const V = [1, -2, 0.5, 0.25, 3, -1];

function branchModel(): ModelP {
  const g = (name: string, nodes: ReturnType<typeof node>[], out: string): GraphP => ({ name, node: nodes, initializer: [], input: [], output: [makeValueInfo(out, DataType.FLOAT, null)], value_info: [] });
  const thenB = g('then', [node('MatMul', ['x', 'W'], ['a']), node('MatMul', ['state', 'V'], ['b']), node('Add', ['a', 'b'], ['t'])], 't');
  const elseB = g('else', [node('MatMul', ['x', 'W2'], ['e'])], 'e');
  const iff = node('If', ['c'], ['y']);
  iff.attribute.push({ name: 'then_branch', type: AttrType.GRAPH, g: thenB }, { name: 'else_branch', type: AttrType.GRAPH, g: elseB });
  const m = makeModel({
    inputs: [{ name: 'x', shape: ['N', 3] }, { name: 'state', shape: ['N', 2] }, { name: 'sr', dtype: 'int64', shape: [] }],
    outputs: ['y'],
    nodes: [node('Equal', ['sr', 'sr16k'], ['c']), iff],
    initializers: [floatTensor('W', W, [3, 3]), floatTensor('V', V, [2, 3]), floatTensor('W2', W.map((w) => -w), [3, 3]), int64Tensor('sr16k', [16000], [])],
  });
  return m;
}

const x = Float32Array.from([0.1, 0.2, 0.3, 0.9, 0.1, 0.4]);
const xw = (i: number, w: number[]) => [0, 1, 2].map((j) => [0, 1, 2].reduce((s, k) => s + x[i * 3 + k]! * w[k * 3 + j]!, 0));

test('inputs: zeros and a sample rate are folded in as constants; the If on the declared rate takes one branch, gradients flow', async () => {
  const model = await Model.fromProto(branchModel(), 'vad', 'vad', { extraInputs: { state: 'zeros', sr: 16000 }, output: 'logits' });
  const engine = new GradientEngine(model, { kind: 'logit' });
  try {
    const r = await model.predictBatch(x, 2);
    const want = [0, 1].flatMap((i) => xw(i, W));
    assert.deepEqual(Array.from(r.scores, (v) => +v.toFixed(5)), want.map((v) => +v.toFixed(5)));
    const g = await engine.run(x, 2, [0, 2]);
    // d y[label] / dx = W[:, label]
    assert.deepEqual(Array.from(g.grad, (v) => +v.toFixed(6)), [0, 2].flatMap((l) => [0, 1, 2].map((k) => W[k * 3 + l]!)));
    assert.ok(engine.notes.some((n) => /^If \(y\): then branch inlined \(the condition does not depend on the data\)/.test(n)), engine.notes.join(' | '));
  } finally {
    await engine.close();
    await model.close();
  }
});

test('inputs: a state from a .npy file; a file of the wrong shape or an unknown input name is a UsageError naming it', async () => {
  const dir = dirs();
  const file = path.join(dir, 'state.npy');
  fs.writeFileSync(file, writeNpy({ dtype: '<f4', shape: [2, 2], data: [1, 0, 0, 1] }));
  const model = await Model.fromProto(branchModel(), 'vad', 'vad', { extraInputs: { state: { npy: file }, sr: 8000 }, output: 'logits' });
  try {
    // sr = 8000: the else branch, x·(−W); the state is unused there.
    const r = await model.predictBatch(x, 2);
    assert.deepEqual(Array.from(r.scores, (v) => +v.toFixed(5)), [0, 1].flatMap((i) => xw(i, W).map((v) => +(-v).toFixed(5))));
  } finally {
    await model.close();
  }
  const bad = path.join(dir, 'bad.npy');
  fs.writeFileSync(bad, writeNpy({ dtype: '<f4', shape: [2, 3], data: [1, 0, 0, 1, 0, 0] }));
  await assert.rejects(Model.fromProto(branchModel(), 'vad', 'vad', { extraInputs: { state: { npy: bad } } }), (e) => e instanceof UsageError && /'inputs.state': .*bad.npy has shape \[2, 3\] but input state is \[N, 2\]/.test(e.message));
  await assert.rejects(Model.fromProto(branchModel(), 'vad', 'vad', { extraInputs: { nope: 1 } }), (e) => e instanceof UsageError && /'inputs.nope': vad has no graph input named 'nope' \(inputs: x, state, sr\)/.test(e.message));
});

test('CLI: --inputs state=zeros,sr=16000 on eval and grad; a bad value is one line, exit 2', () => {
  const dir = dirs();
  const model = path.join(dir, 'vad.onnx');
  const data = path.join(dir, 'd.npz');
  fs.writeFileSync(model, encodeModel(branchModel()));
  fs.writeFileSync(data, writeNpz({ x: { dtype: '<f4', shape: [2, 3], data: x }, y: { dtype: '<i4', shape: [2], data: Int32Array.from([0, 2]) } }));
  const ev = runCli(['eval', '--model', model, '--data', data, '--inputs', 'state=zeros,sr=16000', '--output-kind', 'logits', '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  const out = path.join(dir, 'g.npy');
  const gr = runCli(['grad', '--model', model, '--data', data, '--inputs', 'state=zeros,sr=16000', '--output-kind', 'logits', '--loss', 'logit', '--out', out]);
  assert.equal(gr.code, 0, gr.stderr);
  assert.match(gr.stderr, /note: gradient graph: If \(y\): then branch inlined/);
  assertBadInput(runCli(['eval', '--model', model, '--data', data, '--inputs', 'state=ones']), /inputs\.state.*zeros, a number or a \.npy file/);
  // Undeclared: one line naming the inputs and how to feed them.
  const none = runCli(['eval', '--model', model, '--data', data, '--inputs', 'sr=8000']);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /has inputs state besides the data input x; give them values: inputs: \{state: zeros \| NUMBER \| FILE\.npy\} \(--inputs state=V\)/);
});

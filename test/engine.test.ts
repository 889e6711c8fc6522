import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { makeDataset } from '../src/data/dataset.js';
import { loadDataset } from '../src/data/load.js';
import { defaultAssets } from '../src/defaults.js';
import { Model } from '../src/engine/model.js';
import { DataError, ModelError, UsageError } from '../src/errors.js';
import { makeModel, node } from '../src/onnx/make.js';
import { encodeModel } from '../src/onnx/proto.js';
import { makeTensor } from '../src/onnx/tensor.js';
import { fixture, tmpDir } from './helpers.js';

/** A linear classifier on [N, C, H, W] inputs: logits = flatten(x) · Wᵀ + b, with W fixed. */
function linearModel(shape: number[], classes: number, opts: { softmax?: boolean; batch?: number | string } = {}) {
  const d = shape.reduce((a, b) => a * b, 1);
  const w = Float32Array.from({ length: classes * d }, (_, i) => Math.sin(i * 1.7) * 0.5);
  const bias = Float32Array.from({ length: classes }, (_, i) => 0.1 * i);
  const nodes = [node('Flatten', ['x'], ['f']), node('Gemm', ['f', 'W', 'B'], [opts.softmax ? 'z' : 'y'], { transB: 1 })];
  if (opts.softmax) nodes.push(node('Softmax', ['z'], ['y'], { axis: 1 }));
  const proto = makeModel({
    inputs: [{ name: 'x', shape: [opts.batch ?? 'N', ...shape] }],
    outputs: ['y'],
    nodes,
    initializers: [makeTensor('W', [classes, d], w), makeTensor('B', [classes], bias)],
    opset: 13,
  });
  const manual = (x: Float32Array, n: number) => {
    const out = new Float64Array(n * classes);
    for (let i = 0; i < n; i++) for (let k = 0; k < classes; k++) {
      let s = bias[k]!;
      for (let j = 0; j < d; j++) s += w[k * d + j]! * x[i * d + j]!;
      out[i * classes + k] = s;
    }
    return out;
  };
  return { proto, manual, d };
}

function save(dir: string, name: string, proto: ReturnType<typeof makeModel>): string {
  const p = `${dir}/${name}.onnx`;
  fs.writeFileSync(p, encodeModel(proto));
  return p;
}

test('the default model in ORT reproduces the PyTorch logits recorded at export', async () => {
  const ref = JSON.parse(fs.readFileSync(fixture('default-logits-head.json'), 'utf8')) as { logits?: number[][] } | number[][];
  const rows = Array.isArray(ref) ? ref : ref.logits!;
  const ds = await loadDataset({ path: defaultAssets.data, limit: rows.length });
  const model = await Model.open(defaultAssets.model);
  try {
    const { scores } = await model.predictBatch(ds.x, ds.size);
    rows.flat().forEach((v, i) => assert.ok(Math.abs(scores[i]! - v) < 1e-4, `logit ${i}: ${scores[i]} vs ${v}`));
    assert.equal(model.outputKind, 'logits');
  } finally {
    await model.close();
  }
});

test('declared preprocessing is folded into the graph: callers feed data-domain values', async () => {
  const dir = tmpDir();
  const { proto, manual } = linearModel([3, 2, 2], 4);
  const mean = [0.5, 0.4, 0.3];
  const std = [0.2, 0.25, 0.3];
  const model = await Model.open(save(dir, 'pre', proto), { preprocess: { scale: 2, mean, std } });
  const x = Float32Array.from({ length: 2 * 12 }, (_, i) => (i % 7) / 7);
  const expectedIn = x.map((v, i) => {
    const c = Math.floor((i % 12) / 4);
    return (v * 2 - mean[c]!) / std[c]!;
  });
  const { scores } = await model.predictBatch(x, 2);
  manual(expectedIn, 2).forEach((v, i) => assert.ok(Math.abs(scores[i]! - v) < 1e-4));
  await model.close();
});

test('an NHWC model is fed NCHW data-domain inputs; the transpose is in the graph', async () => {
  const dir = tmpDir();
  const { proto, manual } = linearModel([2, 2, 3], 3); // model sees [N, H=2, W=2, C=3]
  const model = await Model.open(save(dir, 'nhwc', proto), { layout: 'NHWC' });
  assert.deepEqual(model.itemShape, [3, 2, 2]);
  const nchw = Float32Array.from({ length: 12 }, (_, i) => i / 12);
  const nhwc = new Float32Array(12);
  for (let c = 0; c < 3; c++) for (let h = 0; h < 2; h++) for (let w = 0; w < 2; w++) nhwc[(h * 2 + w) * 3 + c] = nchw[(c * 2 + h) * 2 + w]!;
  const { scores } = await model.predictBatch(nchw, 1);
  manual(nhwc, 1).forEach((v, i) => assert.ok(Math.abs(scores[i]! - v) < 1e-4));
  await model.close();
});

test('output kind: probabilities detected from softmax rows, logits otherwise, declaration wins', async () => {
  const dir = tmpDir();
  const probs = await Model.open(save(dir, 'p', linearModel([1, 2, 2], 3, { softmax: true }).proto));
  await probs.predictBatch(new Float32Array(8).fill(0.5), 2);
  assert.equal(probs.outputKind, 'probabilities');
  assert.match(probs.outputKindReason, /sums to 1/);
  const logits = await Model.open(save(dir, 'l', linearModel([1, 2, 2], 3).proto));
  await logits.predictBatch(new Float32Array(8).fill(0.5), 2);
  assert.equal(logits.outputKind, 'logits');
  const declared = await Model.open(save(dir, 'd', linearModel([1, 2, 2], 3, { softmax: true }).proto), { output: 'logits' });
  assert.equal(declared.outputKind, 'logits');
  assert.equal(declared.outputKindReason, 'declared');
  await Promise.all([probs.close(), logits.close(), declared.close()]);
});

test('a model with a fixed batch size predicts any number of items (last batch padded)', async () => {
  const dir = tmpDir();
  const { proto, manual, d } = linearModel([1, 2, 2], 3, { batch: 4 });
  const model = await Model.open(save(dir, 'fixed', proto));
  assert.equal(model.fixedBatch, 4);
  const x = Float32Array.from({ length: 10 * d }, (_, i) => (i % 5) / 5);
  const ds = makeDataset({ name: 't', itemShape: [1, 2, 2], x, labels: new Int32Array(10) });
  const p = await model.predict(ds, { batchSize: 3 });
  assert.equal(p.scores.length, 30);
  manual(x, 10).forEach((v, i) => assert.ok(Math.abs(p.scores[i]! - v) < 1e-4));
  assert.equal(p.batchMs.length, 4);
  await model.close();
});

test('intermediate tensors are fetched by node output name', async () => {
  const model = await Model.open(defaultAssets.model);
  const names = model.valueNames();
  assert.ok(names.includes('/conv1/Conv_output_0'), names.join(','));
  const ds = await loadDataset({ path: defaultAssets.data, limit: 3 });
  const r = await model.intermediates(ds.x, 3, ['/conv1/Conv_output_0', '/Relu_output_0']);
  assert.deepEqual(r['/conv1/Conv_output_0']!.dims, [3, 32, 28, 28]);
  const conv = r['/conv1/Conv_output_0']!.data;
  const relu = r['/Relu_output_0']!.data;
  conv.forEach((v, i) => assert.equal(relu[i], Math.max(0, v)));
  await assert.rejects(model.intermediates(ds.x, 3, ['nope']), (e: unknown) => e instanceof ModelError && /no value named 'nope'/.test((e as Error).message));
  await model.close();
});

test('data that does not fit the model is rejected with a DataError naming both shapes', async () => {
  const model = await Model.open(defaultAssets.model);
  const ds = makeDataset({ name: 'small.npz', itemShape: [1, 5, 5], x: new Float32Array(50), labels: new Int32Array(2) });
  assert.throws(() => model.checkData(ds), (e: unknown) => e instanceof DataError && /\[1, 5, 5\].*\[1, 28, 28\]/.test((e as Error).message));
  const bad = makeDataset({ name: 'labels.npz', itemShape: [1, 28, 28], x: new Float32Array(784), labels: Int32Array.from([12]) });
  assert.throws(() => model.checkData(bad, 10), /label 12 of item 0 is outside the model's 10 classes/);
  await model.close();
});

test('bad declarations are usage errors naming the key', async () => {
  await assert.rejects(Model.open(defaultAssets.model, { bounds: [1, 0] }), (e: unknown) => e instanceof UsageError && /'bounds'/.test((e as Error).message));
  await assert.rejects(Model.open(defaultAssets.model, { preprocess: { std: [0] } }), /'preprocess.std'/);
  await assert.rejects(Model.open(defaultAssets.model, { inputName: 'zzz' }), /'input' must be one of the graph inputs input/);
});

test('missing and non-ONNX model files are one-line ModelErrors', async () => {
  const dir = tmpDir();
  await assert.rejects(Model.open(`${dir}/missing.onnx`), (e: unknown) => e instanceof ModelError && /missing.onnx: no such file/.test((e as Error).message));
  fs.writeFileSync(`${dir}/junk.onnx`, 'this is not a model');
  await assert.rejects(Model.open(`${dir}/junk.onnx`), (e: unknown) => e instanceof ModelError && /junk.onnx: not an ONNX model/.test((e as Error).message));
});

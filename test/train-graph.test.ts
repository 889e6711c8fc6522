import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createSession } from '../src/engine/session.js';
import { ModelError, UnsupportedOpError, UsageError } from '../src/errors.js';
import { float } from '../src/onnx/graph.js';
import { parseModelBytes } from '../src/onnx/load.js';
import { makeModel, node } from '../src/onnx/make.js';
import { encodeModel, type ModelP } from '../src/onnx/proto.js';
import { floatTensor, int64Tensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';
import { buildTrainingGraph, dropoutMask, initialParams, matchParams, runTrainingGraph, trainableParams, type TrainingGraphOptions } from '../src/train/graph.js';
import { fixture } from './helpers.js';

const rand = (rng: Rng, n: number, lo = -1, hi = 1) => Float32Array.from({ length: n }, () => rng.range(lo, hi));

/** x [N, 4] → Gemm(W [3, 4] transB, b [3]) → logits [N, 3] (optionally → Softmax). */
function linear(softmax = false): ModelP {
  const rng = new Rng('linear');
  return makeModel({
    inputs: [{ name: 'x', shape: ['N', 4] }],
    outputs: [softmax ? 'p' : 'z'],
    nodes: [node('Gemm', ['x', 'W', 'b'], ['z'], { transB: 1 }), ...(softmax ? [node('Softmax', ['z'], ['p'], { axis: 1 })] : [])],
    initializers: [floatTensor('W', rand(rng, 12), [3, 4]), floatTensor('b', rand(rng, 3), [3])],
    opset: 13,
  });
}

const opts = (o: Partial<TrainingGraphOptions> = {}): TrainingGraphOptions => ({ input: 'x', output: 'z', outputKind: 'logits', params: ['W', 'b'], trainMode: false, batch: 3, itemShape: [4], ...o });

async function run(model: ModelP, o: TrainingGraphOptions, x: Float32Array, targets: Float32Array, weights?: Float32Array, masks?: Float32Array[]) {
  const tg = await buildTrainingGraph(model, o);
  const s = await createSession(tg.model, 'test');
  try {
    return { tg, r: await runTrainingGraph(s, tg, { x, targets, weights, params: initialParams(model, o.params), dropoutMasks: masks }) };
  } finally {
    await s.release();
  }
}

test('soft-target, weighted cross-entropy: loss, per-item loss and dW, db in closed form', async () => {
  const model = linear();
  const rng = new Rng('ce');
  const x = rand(rng, 12);
  const t = Float32Array.from([1, 0, 0, 0.1, 0.8, 0.1, 0, 0.5, 0.5]);
  const w = Float32Array.from([1, 2, 0.5]);
  const { r } = await run(model, opts(), x, t, w);
  const W = initialParams(model, ['W']).get('W')!;
  const bias = initialParams(model, ['b']).get('b')!;
  const wSum = 3.5;
  let loss = 0;
  const dW = new Float64Array(12);
  const db = new Float64Array(3);
  for (let i = 0; i < 3; i++) {
    const z = [0, 1, 2].map((k) => bias[k]! + [0, 1, 2, 3].reduce((s, j) => s + W[k * 4 + j]! * x[i * 4 + j]!, 0));
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
    const ce = -[0, 1, 2].reduce((s, k) => s + t[i * 3 + k]! * (z[k]! - lse), 0);
    assert.ok(Math.abs(r.perItemLoss[i]! - ce) < 1e-5);
    loss += (w[i]! * ce) / wSum;
    for (let k = 0; k < 3; k++) {
      const d = (w[i]! / wSum) * (Math.exp(z[k]! - lse) - t[i * 3 + k]!);
      db[k]! += d;
      for (let j = 0; j < 4; j++) dW[k * 4 + j]! += d * x[i * 4 + j]!;
    }
  }
  assert.ok(Math.abs(r.loss - loss) < 1e-5, `${r.loss} vs ${loss}`);
  r.grads.get('W')!.forEach((v, i) => assert.ok(Math.abs(v - dW[i]!) < 1e-5));
  r.grads.get('b')!.forEach((v, i) => assert.ok(Math.abs(v - db[i]!) < 1e-5));
});

test('a probabilities output gives the gradients of the same model\'s logits', async () => {
  const rng = new Rng('probs');
  const x = rand(rng, 12);
  const t = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const a = (await run(linear(), opts(), x, t)).r;
  const b = (await run(linear(true), opts({ output: 'p', outputKind: 'probabilities' }), x, t)).r;
  assert.ok(Math.abs(a.loss - b.loss) < 1e-5);
  for (const p of ['W', 'b']) a.grads.get(p)!.forEach((v, i) => assert.ok(Math.abs(v - b.grads.get(p)![i]!) < 1e-5, p));
});

test('parameters become graph inputs; the graph is the same bytes for the same model and options', async () => {
  const model = linear();
  const a = await buildTrainingGraph(model, opts());
  const b = await buildTrainingGraph(model, opts());
  assert.deepEqual(encodeModel(a.model), encodeModel(b.model));
  assert.deepEqual([...a.feeds.params], [['W', 'W'], ['b', 'b']]);
  assert.ok(!a.model.graph.initializer.some((t) => t.name === 'W' || t.name === 'b'));
  assert.ok(a.model.graph.input.some((i) => i.name === 'W'));
  assert.equal(model.graph.initializer.length, 2, 'input model not mutated');
});

/** x [N, 2, 3, 3] → Conv(3×3 pad 1) → BatchNorm → Relu → Dropout → GlobalAveragePool → Flatten → Gemm. */
function convBnDropout(ratio = 0.5): ModelP {
  const rng = new Rng('cbd');
  return makeModel({
    inputs: [{ name: 'x', shape: ['N', 2, 3, 3] }],
    outputs: ['z'],
    nodes: [
      node('Conv', ['x', 'cw', 'cb'], ['c'], { pads: [1, 1, 1, 1] }),
      node('BatchNormalization', ['c', 'bn_s', 'bn_b', 'bn_m', 'bn_v'], ['n'], { momentum: float(0.9), epsilon: float(1e-5) }),
      node('Relu', ['n'], ['r']),
      node('Dropout', ['r', 'ratio'], ['d']),
      node('GlobalAveragePool', ['d'], ['g']),
      node('Flatten', ['g'], ['f']),
      node('Gemm', ['f', 'fw', 'fb'], ['z'], { transB: 1 }),
    ],
    initializers: [
      floatTensor('cw', rand(rng, 72), [4, 2, 3, 3]), floatTensor('cb', rand(rng, 4), [4]),
      floatTensor('bn_s', rand(rng, 4, 0.5, 1.5), [4]), floatTensor('bn_b', rand(rng, 4), [4]),
      floatTensor('bn_m', rand(rng, 4, -0.2, 0.2), [4]), floatTensor('bn_v', rand(rng, 4, 0.5, 2), [4]),
      floatTensor('ratio', [ratio], []),
      floatTensor('fw', rand(rng, 12), [3, 4]), floatTensor('fb', rand(rng, 3), [3]),
    ],
    opset: 13,
  });
}

test('trainableParams: weights only — never running statistics, a dropout ratio, or values off the path', () => {
  const m = convBnDropout();
  m.graph.initializer.push(floatTensor('unused', [1, 2], [2]));
  m.graph.node.push(node('Add', ['x', 'unused'], ['dead']));
  assert.deepEqual(trainableParams(m), ['cw', 'cb', 'bn_s', 'bn_b', 'fw', 'fb']);
});

test('trainableParams: folded preprocessing, one-number constants, clip bounds, resize scales and shapes are not weights', () => {
  const m = makeModel({
    inputs: [{ name: 'x', shape: [1, 1, 2, 2] }],
    outputs: ['y'],
    nodes: [
      node('Sub', ['x', 'gauntlet_pre_mean'], ['a']),
      node('Mul', ['a', 'scale1'], ['b']),
      node('Clip', ['b', 'lo', 'hi'], ['c']),
      node('Resize', ['c', '', 'scales'], ['d'], { mode: 'nearest' }),
      node('Mul', ['d', 'gamma'], ['e']),
      node('Reshape', ['e', 'shape'], ['y']),
    ],
    initializers: [
      floatTensor('gauntlet_pre_mean', [0.5], [1]), floatTensor('scale1', [0.125], []), floatTensor('lo', [0], []), floatTensor('hi', [6], []),
      floatTensor('scales', [1, 1, 2, 2], [4]), floatTensor('gamma', [1, 2, 3, 4], [1, 1, 1, 4]), int64Tensor('shape', [1, 16]),
    ],
  });
  assert.deepEqual(trainableParams(m), ['gamma']);
});

test('matchParams: globs for freeze and train_only; a pattern that matches nothing is a UsageError', () => {
  const names = ['conv1.weight', 'conv1.bias', 'bn1.weight', 'bn1.bias', 'fc.weight', 'fc.bias'];
  assert.deepEqual(matchParams(names), names);
  assert.deepEqual(matchParams(names, { freeze: ['conv1.*', 'bn?.*'] }), ['fc.weight', 'fc.bias']);
  assert.deepEqual(matchParams(names, { trainOnly: ['*.bias'] }), ['conv1.bias', 'bn1.bias', 'fc.bias']);
  assert.deepEqual(matchParams(names, { trainOnly: ['fc.*', 'bn1.*'], freeze: ['*.bias'] }), ['bn1.weight', 'fc.weight']);
  assert.throws(() => matchParams(names, { freeze: ['conv2.*'] }), (e: unknown) => e instanceof UsageError && /'freeze' pattern 'conv2\.\*' matches no trainable parameter/.test(e.message));
  assert.throws(() => matchParams(names, { freeze: ['*'] }), /no parameter left to train/);
});

test('train mode: BatchNorm on batch statistics with PyTorch running-stat updates; Dropout masks fed as inputs', async () => {
  const model = convBnDropout();
  const rng = new Rng('train-mode');
  const n = 4;
  const x = rand(rng, n * 18);
  const t = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) t[i * 3 + (i % 3)] = 1;
  const o = opts({ params: trainableParams(model), trainMode: true, batch: n, itemShape: [2, 3, 3] });
  const ones = new Float32Array(n * 4 * 9).fill(1);
  const { tg, r } = await run(model, o, x, t, undefined, [ones]);
  assert.deepEqual(tg.feeds.dropout.map((d) => [d.shape, d.p]), [[[n, 4, 3, 3], 0.5]]);
  assert.equal(tg.outputs.bnRunning.length, 1);
  assert.equal(tg.outputs.bnRunning[0]!.meanInit, 'bn_m');
  assert.equal(tg.outputs.bnRunning[0]!.varInit, 'bn_v');
  // The conv output, computed by hand, gives the batch statistics.
  const cw = initialParams(model, ['cw']).get('cw')!;
  const cb = initialParams(model, ['cb']).get('cb')!;
  const m0 = initialParams(model, ['bn_m']).get('bn_m')!;
  const v0 = initialParams(model, ['bn_v']).get('bn_v')!;
  for (let c = 0; c < 4; c++) {
    const vals: number[] = [];
    for (let i = 0; i < n; i++) for (let h = 0; h < 3; h++) for (let w = 0; w < 3; w++) {
      let s = cb[c]!;
      for (let ci = 0; ci < 2; ci++) for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) {
        const hh = h + a - 1;
        const ww = w + b - 1;
        if (hh >= 0 && hh < 3 && ww >= 0 && ww < 3) s += cw[((c * 2 + ci) * 3 + a) * 3 + b]! * x[((i * 2 + ci) * 3 + hh) * 3 + ww]!;
      }
      vals.push(s);
    }
    const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
    const unbiased = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / (vals.length - 1);
    // PyTorch momentum 0.1 (ONNX 0.9): running = 0.9·running + 0.1·batch, unbiased variance.
    assert.ok(Math.abs(r.bnRunning[0]!.mean[c]! - (0.9 * m0[c]! + 0.1 * mean)) < 1e-5);
    assert.ok(Math.abs(r.bnRunning[0]!.var[c]! - (0.9 * v0[c]! + 0.1 * unbiased)) < 1e-4);
  }
  // A mask that drops everything leaves only the head's bias.
  const { r: dropped } = await run(model, o, x, t, undefined, [new Float32Array(ones.length)]);
  const fb = initialParams(model, ['fb']).get('fb')!;
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) assert.ok(Math.abs(dropped.scores[i * 3 + k]! - fb[k]!) < 1e-6);
  assert.ok(dropped.grads.get('cw')!.every((v) => v === 0), 'no gradient through a fully dropped layer');
});

test('freezeBn keeps the inference statistics (and no running outputs); Dropout stays active', async () => {
  const model = convBnDropout();
  const rng = new Rng('freeze');
  const n = 2;
  const x = rand(rng, n * 18);
  const t = Float32Array.from([1, 0, 0, 0, 1, 0]);
  const ones = new Float32Array(n * 36).fill(1);
  const infer = (await run(model, opts({ params: ['fw'], batch: n, itemShape: [2, 3, 3] }), x, t)).r;
  const frozen = await run(model, opts({ params: ['fw'], trainMode: true, freezeBn: true, batch: n, itemShape: [2, 3, 3] }), x, t, undefined, [ones]);
  assert.equal(frozen.tg.outputs.bnRunning.length, 0);
  assert.equal(frozen.tg.feeds.dropout.length, 1);
  assert.deepEqual(Array.from(frozen.r.scores), Array.from(infer.scores));
});

test('dropoutMask: 0 with probability p, else 1/(1 − p); same seed, same bytes', () => {
  const a = dropoutMask(new Rng(7), [100, 100], 0.3);
  const b = dropoutMask(new Rng(7), [100, 100], 0.3);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, dropoutMask(new Rng(8), [100, 100], 0.3));
  const zeros = a.filter((v) => v === 0).length;
  assert.ok(Math.abs(zeros / 1e4 - 0.3) < 0.02, `${zeros}`);
  assert.ok(a.every((v) => v === 0 || v === Math.fround(1 / 0.7)));
});

test('train mode at PyTorch\'s BatchNorm: 1 value per channel is a UsageError', async () => {
  const m = makeModel({
    inputs: [{ name: 'x', shape: ['N', 4] }],
    outputs: ['z'],
    nodes: [node('BatchNormalization', ['x', 's', 'b', 'm', 'v'], ['z'])],
    initializers: [floatTensor('s', [1, 1, 1, 1]), floatTensor('b', [0, 0, 0, 0]), floatTensor('m', [0, 0, 0, 0]), floatTensor('v', [1, 1, 1, 1])],
  });
  await assert.rejects(buildTrainingGraph(m, { input: 'x', output: 'z', outputKind: 'logits', params: ['s'], trainMode: true, batch: 1, itemShape: [4] }), /needs more than 1 value per channel/);
});

test('bad input: no parameter, a parameter that is not a float initializer, an op with no weight rule', async () => {
  await assert.rejects(buildTrainingGraph(linear(), opts({ params: [] })), (e: unknown) => e instanceof ModelError && /no parameter to train/.test(e.message));
  await assert.rejects(buildTrainingGraph(linear(), opts({ params: ['nope'] })), /no initializer named 'nope'/);
  const noWeights = makeModel({ inputs: [{ name: 'x', shape: ['N', 3] }], outputs: ['z'], nodes: [node('Relu', ['x'], ['z'])] });
  assert.deepEqual(trainableParams(noWeights), []);
  const einsum = makeModel({
    inputs: [{ name: 'x', shape: ['N', 4] }],
    outputs: ['z'],
    nodes: [node('Einsum', ['x', 'W'], ['z'], { equation: 'ij,kj->ik' })],
    initializers: [floatTensor('W', rand(new Rng(1), 12), [3, 4])],
    opset: 13,
  });
  assert.deepEqual(trainableParams(einsum), ['W']);
  await assert.rejects(buildTrainingGraph(einsum, opts({ params: ['W'] })), (e: unknown) => e instanceof UnsupportedOpError && /no gradient rule for op Einsum at node Einsum \(z\).*cannot be trained through it/.test(e.message));
  const pow = makeModel({
    inputs: [{ name: 'x', shape: ['N', 3] }],
    outputs: ['z'],
    nodes: [node('Pow', ['x', 'e'], ['z'])],
    initializers: [floatTensor('e', [2, 2, 2], [3])],
    opset: 13,
  });
  await assert.rejects(
    buildTrainingGraph(pow, { ...opts({ params: ['e'] }), itemShape: [3] }),
    (e: unknown) => e instanceof UnsupportedOpError && /no gradient rule for op Pow at node Pow \(z, input 'e'\)/.test(e.message),
  );
});

test('the resnet_bn fixture with BatchNorm frozen in train mode gives the inference-mode gradients', async () => {
  const model = parseModelBytes(fs.readFileSync(fixture('autodiff', 'resnet_bn.onnx')), 'resnet_bn');
  const params = trainableParams(model);
  const rng = new Rng('resnet-freeze');
  const x = rand(rng, 2 * 3 * 16 * 16, 0, 1);
  const t = new Float32Array(20);
  t[3] = 1;
  t[17] = 1;
  const o = { input: 'input', output: 'logits', outputKind: 'logits' as const, params, batch: 2, itemShape: [3, 16, 16] };
  const a = (await run(model, { ...o, trainMode: false }, x, t)).r;
  const b = (await run(model, { ...o, trainMode: true, freezeBn: true }, x, t)).r;
  assert.equal(a.loss, b.loss);
  for (const p of params) assert.deepEqual(a.grads.get(p), b.grads.get(p), p);
});

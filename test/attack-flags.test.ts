import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rules } from '../src/autodiff/registry.js';
import { Model } from '../src/engine/model.js';
import { UnsupportedOpError } from '../src/errors.js';
import { float } from '../src/onnx/graph.js';
import { makeModel, node } from '../src/onnx/make.js';
import type { NodeP } from '../src/onnx/proto.js';
import { makeTensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';
import { runAttack, type AttackResult, type AttackSpec } from '../src/stress/adversarial/index.js';
import { argmaxRow } from '../src/stress/adversarial/scores.js';

const D = 16;
const K = 4;

/** A flat 16-feature, 4-class model: `pre` nodes map x → 'h' [N, 16], then logits = h·W + b. */
async function flatModel(label: string, pre: NodeP[], w: number[], b: number[], extra: NodeP[] = [], out = 'y'): Promise<Model> {
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', D] }],
    outputs: [out],
    nodes: [...pre, node('MatMul', ['h', 'W'], ['hw']), node('Add', ['hw', 'B'], ['y']), ...extra],
    initializers: [makeTensor('W', [D, K], Float32Array.from(w)), makeTensor('B', [K], Float32Array.from(b)), makeTensor('half', [], Float32Array.from([0.5])), makeTensor('k', [], Float32Array.from([1000])), makeTensor('lo', [], Float32Array.from([-1])), makeTensor('hi', [], Float32Array.from([1]))],
    opset: 13,
  });
  return Model.fromProto(proto, label, label);
}

const seededW = (seed: string) => {
  const rng = new Rng(seed);
  return Array.from({ length: D * K }, () => rng.normal());
};

function inputs(n: number, f: (rng: Rng) => number): Float32Array {
  const rng = new Rng('flag-inputs');
  return Float32Array.from({ length: n * D }, () => f(rng));
}

async function ownLabels(model: Model, x: Float32Array, n: number): Promise<Int32Array> {
  const { scores, numClasses } = await model.predictBatch(x, n);
  return Int32Array.from({ length: n }, (_, i) => argmaxRow(scores, i, numClasses));
}

const codes = (r: AttackResult) => r.flags.map((f) => f.split(':')[0]);

test('a healthy linear model raises no flags', async () => {
  const model = await flatModel('linear', [node('Identity', ['x'], ['h'])], seededW('lin'), [0, 0, 0, 0]);
  try {
    const x = inputs(16, (r) => r.uniform());
    const r = await runAttack(model, x, 16, await ownLabels(model, x, 16), { attack: 'autoattack', norm: 'linf', eps: 0.2, preset: 'quick', steps: 10, queries: 50 }, new Rng(0));
    assert.deepEqual(r.flags, []);
    assert.ok(r.aggregate.attackSuccessRate > 0);
  } finally {
    await model.close();
  }
});

test('zero gradients: a model whose output ignores its input is flagged, with the count', async () => {
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', D] }],
    outputs: ['y'],
    nodes: [node('Gemm', ['x', 'W', 'B'], ['y'], { transB: 1 })],
    initializers: [makeTensor('W', [K, D], new Float32Array(K * D)), makeTensor('B', [K], Float32Array.from([2, 0, 0, 0]))],
    opset: 13,
  });
  const constant = await Model.fromProto(proto, 'constant', 'constant');
  try {
    const x = inputs(8, (r) => r.uniform());
    const r = await runAttack(constant, x, 8, new Int32Array(8), { attack: 'pgd', norm: 'linf', eps: 0.1, steps: 3 }, new Rng(0));
    assert.equal(r.aggregate.robustAccuracy, 1);
    const flag = r.flags.find((f) => f.startsWith('zero-or-nan-gradients:'));
    assert.ok(flag, `flags: ${r.flags.join(' | ')}`);
    assert.match(flag!, /8 of 8 attacked points had an all-zero input gradient/);
  } finally {
    await constant.close();
  }
});

test('probability outputs fed to the DLR loss are flagged; cross-entropy on them is not', async () => {
  const model = await flatModel('softmax', [node('Identity', ['x'], ['h'])], seededW('sm'), [0, 0, 0, 0], [node('Softmax', ['y'], ['p'], { axis: 1 })], 'p');
  try {
    const x = inputs(8, (r) => r.uniform());
    const labels = await ownLabels(model, x, 8);
    const dlr = await runAttack(model, x, 8, labels, { attack: 'apgd-dlr', norm: 'linf', eps: 0.1, steps: 5 }, new Rng(0));
    assert.equal(model.outputKind, 'probabilities');
    assert.ok(codes(dlr).includes('probability-outputs'), `flags: ${dlr.flags.join(' | ')}`);
    const ce = await runAttack(model, x, 8, labels, { attack: 'apgd-ce', norm: 'linf', eps: 0.1, steps: 5 }, new Rng(0));
    assert.ok(!codes(ce).includes('probability-outputs'));
  } finally {
    await model.close();
  }
});

test('randomised outputs: two identical forward passes that differ are flagged', async () => {
  const model = await flatModel('noisy', [node('RandomUniformLike', ['x'], ['u'], { low: float(0), high: float(0.5) }), node('Add', ['x', 'u'], ['h'])], seededW('rnd'), [0, 0, 0, 0]);
  try {
    const x = inputs(8, (r) => r.uniform());
    const r = await runAttack(model, x, 8, new Int32Array(8), { attack: 'square', norm: 'linf', eps: 0.1, queries: 5 }, new Rng(0));
    assert.ok(codes(r).includes('randomised-outputs'), `flags: ${r.flags.join(' | ')}`);
  } finally {
    await model.close();
  }
});

test('masked gradients: Square breaking what APGD could not is flagged (with zero gradients)', async () => {
  // h = clip(1000·(x − 0.5), −1, 1): a step at 0.5 whose gradient vanishes away from it.
  // Class 0 wins while more than 12 of the 16 steps are up; inputs sit at 0.59 (ε = 0.1 just reaches 0.49).
  const w = Array.from({ length: D * K }, (_, i) => (i % K === 0 ? 1 : 0));
  const steps = [node('Sub', ['x', 'half'], ['c']), node('Mul', ['c', 'k'], ['s']), node('Clip', ['s', 'lo', 'hi'], ['h'])];
  const model = await flatModel('stepwise', steps, w, [0, 8, -100, -100]);
  try {
    const n = 6;
    const x = inputs(n, () => 0.59);
    const r = await runAttack(model, x, n, new Int32Array(n), { attack: 'autoattack', norm: 'linf', eps: 0.1, epsUnits: 'raw', preset: 'quick', steps: 10, queries: 100 }, new Rng(0));
    const byName = Object.fromEntries(r.members.map((m) => [m.name, m]));
    assert.equal(byName['apgd-ce']!.broken + byName['apgd-t']!.broken, 0);
    assert.ok(byName.square!.broken > 0, JSON.stringify(r.members));
    assert.ok(codes(r).includes('black-box-beat-white-box'), `flags: ${r.flags.join(' | ')}`);
    assert.ok(codes(r).includes('zero-or-nan-gradients'));
  } finally {
    await model.close();
  }
});

test('an op without a gradient rule: Square still works, gradient attacks say why they cannot, AutoAttack falls back', async (t) => {
  const op = ['Atan', 'Asinh', 'Softsign', 'Sinh'].find((o) => !(o in rules));
  if (!op) return t.skip('every candidate op has a gradient rule now');
  const model = await flatModel('no-rule', [node(op, ['x'], ['h'])], seededW('nr'), [0, 0, 0, 0]);
  try {
    const x = inputs(12, (r) => r.uniform());
    const labels = await ownLabels(model, x, 12);
    const sq = await runAttack(model, x, 12, labels, { attack: 'square', norm: 'linf', eps: 0.3, queries: 200 }, new Rng(0));
    assert.ok(sq.aggregate.attackSuccessRate > 0);
    await assert.rejects(runAttack(model, x, 12, labels, { attack: 'pgd', norm: 'linf', eps: 0.3, steps: 2 }, new Rng(0)), UnsupportedOpError);
    const aa = await runAttack(model, x, 12, labels, { attack: 'autoattack', norm: 'linf', eps: [0.1, 0.3], preset: 'quick', queries: 200 }, new Rng(0));
    assert.ok(codes(aa).includes('square-only'), `flags: ${aa.flags.join(' | ')}`);
    assert.match(aa.flags.find((f) => f.startsWith('square-only'))!, new RegExp(`^square-only: no gradients: no gradient rule for op ${op} at node ${op} \\(h\\); ran Square only`));
    assert.equal(aa.aggregate.robustAccuracy, sq.aggregate.robustAccuracy, 'the fallback is Square with the same streams');
  } finally {
    await model.close();
  }
});

/** x [N, 16] → [N, 1, 2, 8] → MaxPool (k 1×2, storage_order 1) → [N, 8], then logits = h·W + b with W [8, 4]: a pooling geometry without a gradient rule. */
async function maxPool1d(): Promise<Model> {
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', D] }],
    outputs: ['y'],
    nodes: [
      node('Reshape', ['x', 'shape4'], ['x4']),
      node('MaxPool', ['x4'], ['p'], { kernel_shape: [1, 2], strides: [1, 2], storage_order: 1 }),
      node('Flatten', ['p'], ['h']),
      node('MatMul', ['h', 'W'], ['hw']),
      node('Add', ['hw', 'B'], ['y']),
    ],
    initializers: [makeTensor('shape4', [4], BigInt64Array.from([-1n, 1n, 2n, 8n])), makeTensor('W', [D / 2, K], Float32Array.from(seededW('pool1d').slice(0, (D / 2) * K))), makeTensor('B', [K], new Float32Array(K))],
    opset: 13,
  });
  return Model.fromProto(proto, 'pool1d', 'pool1d');
}

const POOL1D_REASON = /no gradient rule for op MaxPool at node MaxPool \(p\) \[storage_order=1 has no gradient rule\]/;

test('gradient attacks on a MaxPool of storage_order 1 throw an UnsupportedOpError naming the node, the reason and --attack square, not an internal error', async () => {
  const model = await maxPool1d();
  try {
    const x = inputs(8, (r) => r.uniform());
    const labels = await ownLabels(model, x, 8);
    for (const spec of [
      { attack: 'pgd', norm: 'linf', eps: 0.1, steps: 2 },
      { attack: 'fgsm', norm: 'linf', eps: 0.1 },
      { attack: 'apgd-ce', norm: 'linf', eps: 0.1, steps: 2 },
    ] as AttackSpec[]) {
      await assert.rejects(runAttack(model, x, 8, labels, spec, new Rng(0)), (e: unknown) => {
        assert.ok(e instanceof UnsupportedOpError, `${spec.attack}: ${String(e)}`);
        assert.deepEqual(e.ops, [{ opType: 'MaxPool', nodeName: 'p', reason: 'storage_order=1 has no gradient rule' }]);
        assert.match(e.message, POOL1D_REASON);
        assert.match(e.message, /only black-box \(score-based\) methods can run on this model \(for attacks: --attack square\)$/);
        return true;
      });
    }
  } finally {
    await model.close();
  }
});

test('autoattack on a model whose MaxPool (storage_order 1) has no gradient rule runs Square and flags the reason, instead of crashing', async () => {
  const model = await maxPool1d();
  try {
    const x = inputs(12, (r) => r.uniform());
    const labels = await ownLabels(model, x, 12);
    const sq = await runAttack(model, x, 12, labels, { attack: 'square', norm: 'linf', eps: 0.3, queries: 100 }, new Rng(0));
    const aa = await runAttack(model, x, 12, labels, { attack: 'autoattack', norm: 'linf', eps: 0.3, preset: 'quick', queries: 100 }, new Rng(0));
    const flag = aa.flags.find((f) => f.startsWith('square-only:'));
    assert.ok(flag, `flags: ${aa.flags.join(' | ')}`);
    assert.match(flag!, /^square-only: no gradients: /);
    assert.match(flag!, POOL1D_REASON);
    assert.match(flag!, /; ran Square only, so robust accuracy is an upper bound from a black-box \(score-based\) attack$/);
    assert.deepEqual(aa.members.map((m) => m.name), ['square'], 'APGD-CE, which could not run, is not listed as a member');
    assert.equal(aa.gradientBatches, 0, 'no gradient batch ran');
    assert.equal(aa.aggregate.robustAccuracy, sq.aggregate.robustAccuracy, 'the fallback is Square with the same streams');
  } finally {
    await model.close();
  }
});

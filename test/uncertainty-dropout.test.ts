/** MC dropout (Dropout switched on by graph transformation, JS-drawn masks) and deep ensembles. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Model } from '../src/engine/model.js';
import { ModelError, UsageError } from '../src/errors.js';
import { toProbabilities } from '../src/metrics/classification.js';
import { Rng } from '../src/rng.js';
import { combineMembers, mcDropoutGraph, McDropout, mcDropoutPredict, predictEnsemble, predictProbabilities } from '../src/uncertainty/index.js';
import { CLASSES, dropoutData, dropoutModel } from './fixtures/uncertainty/dropout-model.js';
import { floatTensor } from '../src/onnx/tensor.js';

const N = 64;
const data = dropoutData(N);
const open = (proto: ReturnType<typeof dropoutModel>, label = 'fixture'): Promise<Model> => Model.fromProto(proto, label, 'sha', { threads: 1 });

test('mcDropoutGraph replaces each Dropout by a mask multiplication and reads the ratio (opset 17 input, opset 11 attribute)', () => {
  for (const opset of [17, 11]) {
    const proto = dropoutModel({ opset, ratio: 0.3 });
    const before = JSON.stringify(proto.graph.node);
    const { model, sites } = mcDropoutGraph(proto);
    assert.equal(JSON.stringify(proto.graph.node), before, 'input not mutated');
    assert.equal(sites.length, 1);
    assert.ok(Math.abs(sites[0]!.ratio - 0.3) < 1e-6, `opset ${opset}: ratio ${sites[0]!.ratio}`);
    assert.equal(sites[0]!.input, 'h2');
    assert.ok(!model.graph.node.some((n) => n.op_type === 'Dropout'));
    assert.ok(model.graph.input.some((i) => i.name === sites[0]!.maskInput));
  }
});

test('mcDropoutGraph rejects a ratio that is not a constant, or out of [0, 1)', () => {
  const p = dropoutModel();
  p.graph.initializer = p.graph.initializer.filter((t) => t.name !== 'ratio');
  p.graph.input.push({ name: 'ratio', type: { tensor_type: { elem_type: 1 } } });
  assert.throws(() => mcDropoutGraph(p), (e: unknown) => e instanceof ModelError && /ratio input ratio is not a constant/.test(e.message));
  const q = dropoutModel();
  q.graph.initializer = q.graph.initializer.map((t) => (t.name === 'ratio' ? floatTensor('ratio', [1], []) : t));
  assert.throws(() => mcDropoutGraph(q), (e: unknown) => e instanceof ModelError && /ratio must be in \[0, 1\), got 1/.test(e.message));
});

test('MC dropout gives non-zero predictive variance and mutual information (both opsets)', async () => {
  for (const opset of [17, 11]) {
    const model = await open(dropoutModel({ opset }));
    const r = await mcDropoutPredict(model, data.x, N, 20, new Rng(5));
    const meanVar = r.variance.reduce((a, b) => a + b, 0) / N;
    const meanMi = r.mutualInformation.reduce((a, b) => a + b, 0) / N;
    assert.ok(meanVar > 1e-3, `opset ${opset}: mean variance ${meanVar}`);
    assert.ok(meanMi > 1e-3, `opset ${opset}: mean MI ${meanMi}`);
    assert.ok(r.variance.every((v) => v >= 0) && r.mutualInformation.every((v) => v >= 0));
    for (let i = 0; i < N; i++) {
      let s = 0;
      for (let k = 0; k < CLASSES; k++) s += r.probs[i * CLASSES + k]!;
      assert.ok(Math.abs(s - 1) < 1e-9);
    }
    await model.close();
  }
});

test('MC dropout with dropout removed (ratio 0, or no Dropout node) has zero variance and equals the plain model', async () => {
  for (const proto of [dropoutModel({ ratio: 0 }), dropoutModel({ ratio: 0, opset: 11 }), dropoutModel({ dropout: false })]) {
    const model = await open(proto);
    const plain = await predictProbabilities(model, data.x, N);
    const r = await mcDropoutPredict(model, data.x, N, 8, new Rng(5));
    assert.ok(r.variance.every((v) => v === 0), 'variance exactly 0');
    assert.ok(r.mutualInformation.every((v) => v === 0), 'mutual information exactly 0');
    assert.deepEqual(Array.from(r.probs), Array.from(plain.probs));
    await model.close();
  }
});

test('MC dropout: same seed → same bytes, whatever the batch size; another seed differs', async () => {
  const model = await open(dropoutModel());
  const mc = await McDropout.create(model);
  const a = await mc.predict(data.x, N, 10, new Rng(9), { batchSize: 64 });
  const b = await mc.predict(data.x, N, 10, new Rng(9), { batchSize: 7 });
  const c = await mc.predict(data.x, N, 10, new Rng(10));
  assert.deepEqual(Buffer.from(a.probs.buffer), Buffer.from(b.probs.buffer));
  assert.deepEqual(Buffer.from(a.variance.buffer), Buffer.from(b.variance.buffer));
  assert.notDeepEqual(Array.from(a.probs), Array.from(c.probs));
  await assert.rejects(mc.predict(data.x, N, 0, new Rng(1)), (e: unknown) => e instanceof UsageError && /'passes' must be in \[1, inf\), got 0/.test(e.message));
  await mc.close();
  await model.close();
});

test('MC dropout masks keep about 1 − ratio of the units, scaled by 1/(1 − ratio) (the mean matches the deterministic net)', async () => {
  // With many passes the MC mean of the hidden layer is unbiased; the logits are linear in it, so
  // the mean logits (recovered per pass) approach the deterministic logits. Check on the mean of
  // probabilities loosely: the arg-max agrees on most items.
  const model = await open(dropoutModel({ ratio: 0.2 }));
  const plain = await predictProbabilities(model, data.x, N);
  const r = await mcDropoutPredict(model, data.x, N, 200, new Rng(3));
  let agree = 0;
  for (let i = 0; i < N; i++) {
    const am = (p: Float64Array) => {
      let b = 0;
      for (let k = 1; k < CLASSES; k++) if (p[i * CLASSES + k]! > p[i * CLASSES + b]!) b = k;
      return b;
    };
    if (am(plain.probs) === am(r.probs)) agree++;
  }
  assert.ok(agree >= 0.85 * N, `arg-max agreement ${agree}/${N}`);
  await model.close();
});

test('an ensemble of identical models equals the single model, bit for bit, with zero mutual information', async () => {
  const a = await open(dropoutModel({ ratio: 0 }), 'a');
  const b = await open(dropoutModel({ ratio: 0 }), 'b');
  const single = await predictProbabilities(a, data.x, N);
  const e = await predictEnsemble([a, b, a], data.x, N);
  assert.equal(e.members, 3);
  assert.deepEqual(Buffer.from(e.probs.buffer), Buffer.from(single.probs.buffer));
  assert.ok(e.mutualInformation.every((v) => v === 0));
  // Different members disagree: positive mutual information, and the mean is the member average.
  const c = await open(dropoutModel({ ratio: 0, seed: 7 }), 'c');
  const other = await predictProbabilities(c, data.x, N);
  const f = await predictEnsemble([a, c], data.x, N);
  for (let j = 0; j < f.probs.length; j++) assert.ok(Math.abs(f.probs[j]! - (single.probs[j]! + other.probs[j]!) / 2) < 1e-15);
  assert.ok(f.mutualInformation.reduce((s, v) => s + v, 0) / N > 1e-3);
  for (const m of [a, b, c]) await m.close();
});

test('combineMembers rejects empty and mismatched member tables', () => {
  assert.throws(() => combineMembers([], 3), (e: unknown) => e instanceof UsageError && /'members' must hold at least one/.test(e.message));
  const p = toProbabilities([0, 1, 2, 3, 4, 5], 3, 'logits');
  assert.throws(() => combineMembers([p, p.subarray(0, 3)], 3), /ensemble member 1 has 1 rows, member 0 has 2/);
});

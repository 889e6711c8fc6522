import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Model } from '../src/engine/model.js';
import { makeModel, node } from '../src/onnx/make.js';
import { makeTensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';
import { attacks, EngineCache, parseAttackSpec, runAttack, tabularConstraints, type AttackSpec, type Norm } from '../src/stress/adversarial/index.js';
import { argmaxRow } from '../src/stress/adversarial/scores.js';

/** A seeded two-layer MLP on 1×8×8 "images" in [0, 1], 10 classes (logits). */
async function tinyImageModel(): Promise<Model> {
  const rng = new Rng('tiny-mlp');
  const w1 = Float32Array.from({ length: 16 * 64 }, () => rng.normal() * 0.6);
  const b1 = Float32Array.from({ length: 16 }, () => rng.normal() * 0.1);
  const w2 = Float32Array.from({ length: 10 * 16 }, () => rng.normal() * 0.6);
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', 1, 8, 8] }],
    outputs: ['y'],
    nodes: [node('Flatten', ['x'], ['f']), node('Gemm', ['f', 'W1', 'B1'], ['h'], { transB: 1 }), node('Relu', ['h'], ['r']), node('Gemm', ['r', 'W2'], ['y'], { transB: 1 })],
    initializers: [makeTensor('W1', [16, 64], w1), makeTensor('B1', [16], b1), makeTensor('W2', [10, 16], w2)],
    opset: 13,
  });
  return Model.fromProto(proto, 'tiny-mlp', 'tiny-mlp');
}

/** n seeded inputs; labels: the model's own predictions for the first 3/4, random for the rest. */
async function tinyData(model: Model, n: number): Promise<{ x: Float32Array; labels: Int32Array }> {
  const rng = new Rng('tiny-data');
  const x = Float32Array.from({ length: n * 64 }, () => rng.uniform());
  const { scores, numClasses } = await model.predictBatch(x, n);
  const labels = Int32Array.from({ length: n }, (_, i) => (i < (3 * n) / 4 ? argmaxRow(scores, i, numClasses) : rng.int(numClasses)));
  return { x, labels };
}

const BUDGET: Record<string, Partial<AttackSpec>> = {
  fgsm: {},
  pgd: { steps: 5 },
  'apgd-ce': { steps: 8 },
  'apgd-dlr': { steps: 8 },
  square: { queries: 40 },
  autoattack: { preset: 'quick', steps: 5, queries: 40, nTargets: 2 },
};
const EPS: Record<Norm, number[]> = { linf: [0, 0.05, 0.2], l2: [0, 0.4, 1.5] };

function bytesEqual(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

test('the registry covers every attack the issue names, each with both norms', () => {
  assert.deepEqual(
    attacks.map((a) => a.name),
    ['fgsm', 'pgd', 'apgd-ce', 'apgd-dlr', 'square', 'autoattack'],
  );
  for (const a of attacks) assert.deepEqual([...a.norms], ['linf', 'l2']);
});

for (const def of attacks) {
  for (const norm of def.norms) {
    test(`${def.name} ${norm}: same seed same bytes, input untouched, inside ball and bounds, ε = 0 is the identity, spec round-trips`, async () => {
      const model = await tinyImageModel();
      const engines = new EngineCache(model);
      try {
        const n = 12;
        const { x, labels } = await tinyData(model, n);
        const before = x.slice();
        const spec = { attack: def.name, norm, eps: EPS[norm], ...BUDGET[def.name] } as AttackSpec;
        assert.deepEqual(parseAttackSpec(JSON.parse(JSON.stringify(spec)), 'spec'), spec);
        const r1 = await runAttack(model, x, n, labels, spec, new Rng(5), { engines, batchSize: 8 });
        const r2 = await runAttack(model, x, n, labels, spec, new Rng(5), { engines, batchSize: 8 });
        assert.ok(bytesEqual(x, before), 'input mutated');
        assert.notEqual(r1.adversarial, x, 'must return a new array');
        assert.deepEqual(parseAttackSpec(JSON.parse(JSON.stringify(r1.spec)), 'spec'), r1.spec);
        assert.deepEqual(r1.eps, EPS[norm]);
        for (let e = 0; e < r1.perEps.length; e++) {
          const p1 = r1.perEps[e]!;
          const p2 = r2.perEps[e]!;
          assert.ok(bytesEqual(p1.adversarial, p2.adversarial), `ε=${p1.eps}: same seed gave different bytes`);
          assert.deepEqual(p1.samples.success, p2.samples.success);
          assert.deepEqual(p1.samples.queries, p2.samples.queries);
          const eps = p1.eps;
          for (let i = 0; i < n; i++) {
            let linf = 0;
            let l2 = 0;
            for (let j = i * 64; j < (i + 1) * 64; j++) {
              const v = p1.adversarial[j]!;
              assert.ok(v >= 0 && v <= 1, `ε=${eps}: value ${v} outside the bounds`);
              const d = Math.abs(v - x[j]!);
              linf = Math.max(linf, d);
              l2 += d * d;
            }
            if (norm === 'linf') assert.ok(linf <= eps + 1e-7, `ε=${eps}: ‖δ‖∞ = ${linf}`);
            else assert.ok(Math.sqrt(l2) <= eps * (1 + 1e-5) + 1e-7, `ε=${eps}: ‖δ‖₂ = ${Math.sqrt(l2)}`);
            assert.ok(Math.abs(p1.samples.linf[i]! - linf) < 1e-6);
          }
          assert.ok(p1.aggregate.robustAccuracy <= p1.aggregate.cleanAccuracy + 1e-12);
        }
        assert.ok(bytesEqual(r1.perEps[0]!.adversarial, x), 'ε = 0 must return the inputs unchanged');
        assert.equal(r1.perEps[0]!.aggregate.robustAccuracy, r1.perEps[0]!.aggregate.cleanAccuracy);
        // Successes are monotone in ε (a broken point stays broken in every larger ball) and minEps is the first.
        for (let i = 0; i < n; i++) {
          const s = r1.perEps.map((p) => p.samples.success[i]!);
          for (let e = 1; e < s.length; e++) assert.ok(s[e]! >= s[e - 1]!, `sample ${i}: success not monotone ${s}`);
          const first = r1.perEps.find((p) => p.samples.success[i]);
          const expect = !r1.samples.cleanCorrect[i] ? 0 : first ? first.eps : Infinity;
          assert.equal(r1.minEps[i], expect);
        }
        assert.ok(r1.aggregate.attackSuccessRate > 0, 'the attack should break some points of a random MLP at the largest ε');
        assert.deepEqual(r1.summary.flags, r1.flags);
      } finally {
        await engines.close();
        await model.close();
      }
    });
  }
}

test('batch size does not change the result (per-sample random streams; padding is invisible)', async () => {
  const model = await tinyImageModel();
  try {
    const { x, labels } = await tinyData(model, 12);
    for (const spec of [
      { attack: 'pgd', norm: 'linf', eps: 0.1, steps: 4 },
      { attack: 'apgd-ce', norm: 'l2', eps: 0.8, steps: 6 },
      { attack: 'square', norm: 'linf', eps: 0.1, queries: 30 },
    ] as AttackSpec[]) {
      const a = await runAttack(model, x, 12, labels, spec, new Rng(1), { batchSize: 16 });
      const b = await runAttack(model, x, 12, labels, spec, new Rng(1), { batchSize: 5 });
      assert.deepEqual(a.samples.success, b.samples.success, spec.attack);
      assert.deepEqual(a.samples.queries, b.samples.queries, spec.attack);
      for (let j = 0; j < a.adversarial.length; j++) assert.ok(Math.abs(a.adversarial[j]! - b.adversarial[j]!) < 1e-5, spec.attack);
    }
  } finally {
    await model.close();
  }
});

test('explicit targets make success mean "classified as the target"', async () => {
  const model = await tinyImageModel();
  try {
    const { x, labels } = await tinyData(model, 12);
    const targets = Int32Array.from(labels, (y) => (y + 1) % 10);
    const r = await runAttack(model, x, 12, labels, { attack: 'pgd', norm: 'linf', eps: 0.3, steps: 10 }, new Rng(2), { targets });
    let hits = 0;
    for (let i = 0; i < 12; i++) {
      if (r.samples.success[i]) {
        hits++;
        assert.equal(r.samples.predicted[i], targets[i]);
      }
    }
    assert.ok(hits > 0);
  } finally {
    await model.close();
  }
});

/** A flat 6-feature, 3-class linear model (tabular). */
async function tabularModel(): Promise<Model> {
  const w = Float32Array.from([1, -2, 0.5, 1.5, -1, 2, -1, 1, 2, -0.5, 1, -2, 0.3, 0.7, -1.2, 0.4, 0.9, -0.6]);
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', 6] }],
    outputs: ['y'],
    nodes: [node('Gemm', ['x', 'W'], ['y'], { transB: 1 })],
    initializers: [makeTensor('W', [3, 6], w)],
    opset: 13,
  });
  return Model.fromProto(proto, 'tabular', 'tabular', { bounds: [-10, 10] });
}

test('tabular constraints: immutable and integer features never move, per-feature bounds hold', async () => {
  const model = await tabularModel();
  try {
    const rng = new Rng('tab');
    const n = 10;
    const x = new Float32Array(n * 6);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 6; j++) x[i * 6 + j] = j === 4 ? rng.int(3) : rng.range(0, 1); // feature 4 is categorical
    }
    const { scores } = await model.predictBatch(x, n);
    const labels = Int32Array.from({ length: n }, (_, i) => argmaxRow(scores, i, 3));
    const ds = { x, size: n, itemShape: [6], featureNames: ['a', 'b', 'c', 'd', 'cat', 'f'] };
    const c = tabularConstraints(ds, { immutable: ['b'], lower: [0, 0, 0, 0, 0, 0.2], upper: [1, 1, 1, 0.9, 2, 1] });
    assert.deepEqual([...c.mask!], [1, 0, 1, 1, 0, 1]);
    for (const spec of [
      { attack: 'pgd', norm: 'linf', eps: 0.5, steps: 10 },
      { attack: 'pgd', norm: 'l2', eps: 1, steps: 10 },
      { attack: 'apgd-ce', norm: 'linf', eps: 0.5, steps: 10 },
      { attack: 'square', norm: 'linf', eps: 0.5, queries: 50 },
      { attack: 'square', norm: 'l2', eps: 1, queries: 50 },
    ] as AttackSpec[]) {
      const r = await runAttack(model, x, n, labels, spec, new Rng(3), { constraints: c });
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < 6; j++) {
          const v = r.adversarial[i * 6 + j]!;
          const x0 = x[i * 6 + j]!;
          if (c.mask![j] === 0) assert.equal(v, x0, `${spec.attack} ${spec.norm}: feature ${j} moved`);
          else assert.ok(v >= Math.min(c.lower![j]!, x0) - 1e-7 && v <= Math.max(c.upper![j]!, x0) + 1e-7, `${spec.attack}: feature ${j} = ${v} outside its bounds`);
        }
      }
      assert.ok(r.aggregate.attackSuccessRate > 0, `${spec.attack} ${spec.norm} should still break some points`);
    }
  } finally {
    await model.close();
  }
});

test('an empty input returns an empty result', async () => {
  const model = await tinyImageModel();
  try {
    const r = await runAttack(model, new Float32Array(0), 0, new Int32Array(0), { attack: 'pgd', norm: 'linf', eps: 0.1 }, new Rng(0));
    assert.equal(r.aggregate.samples, 0);
    assert.equal(r.adversarial.length, 0);
  } finally {
    await model.close();
  }
});

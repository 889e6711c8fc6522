import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset } from '../src/data/load.js';
import { defaultAssets } from '../src/defaults.js';
import { Model } from '../src/engine/model.js';
import { makeModel, node } from '../src/onnx/make.js';
import { makeTensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';
import { EngineCache, runAttack, type AttackResult, type AttackSpec } from '../src/stress/adversarial/index.js';
import { pSelection } from '../src/stress/adversarial/attacks/square.js';

// ---- Closed forms on a linear softmax regression -------------------------------------------------

const D = 6;
const W = [
  [0.8, -1.1, 0.4, 1.3, -0.7, 0.5],
  [-0.6, 0.9, -1.2, 0.2, 0.6, -0.9],
];
const B = [0.1, -0.1];
// Rows near the bounds exercise the clipping of the closed form.
const X = [
  [0.02, 0.5, 0.97, 0.3, 0.6, 0.45],
  [0.6, 0.04, 0.4, 0.99, 0.2, 0.7],
  [0.35, 0.65, 0.5, 0.45, 0.55, 0.4],
  [0.9, 0.1, 0.05, 0.5, 0.95, 0.3],
];

async function linearModel(bounds: [number, number] | null = [0, 1]): Promise<Model> {
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', D] }],
    outputs: ['y'],
    nodes: [node('Gemm', ['x', 'W', 'B'], ['y'], { transB: 1 })],
    initializers: [makeTensor('W', [2, D], Float32Array.from(W.flat())), makeTensor('B', [2], Float32Array.from(B))],
    opset: 13,
  });
  return Model.fromProto(proto, 'softmax-regression', 'softmax-regression', bounds ? { bounds } : {});
}

function data(): { x: Float32Array; labels: Int32Array; n: number } {
  const x = Float32Array.from(X.flat());
  const labels = Int32Array.from(X, (row) => {
    const z = W.map((w, k) => w.reduce((s, wj, j) => s + wj * row[j]!, B[k]!));
    return z[1]! > z[0]! ? 1 : 0;
  });
  return { x, labels, n: X.length };
}

/** The margin z_wrong − z_true is linear with gradient d = w_wrong − w_true. */
function direction(y: number): number[] {
  return W[1 - y]!.map((v, j) => v - W[y]![j]!);
}

for (const attack of ['fgsm', 'pgd', 'apgd-ce'] as const) {
  test(`${attack} L∞ finds the analytic optimum of a linear model: clip(x + ε·sign(w_wrong − w_true), bounds)`, async () => {
    const model = await linearModel();
    try {
      const { x, labels, n } = data();
      const eps = 0.1;
      const spec = { attack, norm: 'linf', eps, epsUnits: 'raw', ...(attack === 'fgsm' ? {} : { steps: 20 }) } as AttackSpec;
      const r = await runAttack(model, x, n, labels, spec, new Rng(11));
      for (let i = 0; i < n; i++) {
        const d = direction(labels[i]!);
        for (let j = 0; j < D; j++) {
          const want = Math.min(1, Math.max(0, X[i]![j]! + eps * Math.sign(d[j]!)));
          assert.ok(Math.abs(r.adversarial[i * D + j]! - want) < 1e-6, `${attack} row ${i} feature ${j}: ${r.adversarial[i * D + j]} vs ${want}`);
        }
      }
    } finally {
      await model.close();
    }
  });
}

for (const randomStart of [false, true]) {
  test(`pgd L2 (${randomStart ? 'random start' : 'from the clean point'}) finds the analytic optimum x + ε·d/‖d‖₂`, async () => {
    const model = await linearModel();
    try {
      const { x, labels } = data();
      // Interior row only, so the bounds do not bind.
      const row = 2;
      const eps = 0.2;
      const spec: AttackSpec = randomStart
        ? { attack: 'pgd', norm: 'l2', eps, epsUnits: 'raw', steps: 30, relStepSize: 1 }
        : { attack: 'pgd', norm: 'l2', eps, epsUnits: 'raw', steps: 10, relStepSize: 0.25, randomStart: false };
      const r = await runAttack(model, x.slice(row * D, (row + 1) * D), 1, labels.slice(row, row + 1), spec, new Rng(4));
      const d = direction(labels[row]!);
      const norm = Math.hypot(...d);
      for (let j = 0; j < D; j++) {
        const want = X[row]![j]! + (eps * d[j]!) / norm;
        assert.ok(Math.abs(r.adversarial[j]! - want) < 1e-4, `feature ${j}: ${r.adversarial[j]} vs ${want}`);
      }
      assert.ok(r.samples.l2[0]! <= eps * (1 + 1e-6));
    } finally {
      await model.close();
    }
  });
}

// ---- ε in standardised units on tabular data -----------------------------------------------------

/** The same regression on features of very different scales: column j is X_j · S_j, weights W / S. */
const S = [1, 50, 0.02, 3, 1, 400];

async function scaledModel(): Promise<Model> {
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', D] }],
    outputs: ['y'],
    nodes: [node('Gemm', ['x', 'W', 'B'], ['y'], { transB: 1 })],
    initializers: [makeTensor('W', [2, D], Float32Array.from(W.flatMap((w) => w.map((v, j) => v / S[j]!)))), makeTensor('B', [2], Float32Array.from(B))],
    opset: 13,
  });
  // No declared bounds: tabular rows are not held in [0, 1].
  return Model.fromProto(proto, 'scaled-regression', 'scaled-regression');
}

function scaledData(): { x: Float32Array; labels: Int32Array; n: number; std: number[] } {
  const { labels, n } = data();
  const x = Float32Array.from(X.flatMap((row) => row.map((v, j) => v * S[j]!)));
  const std = S.map((_, j) => {
    const col = Array.from({ length: n }, (_, i) => x[i * D + j]!);
    const m = col.reduce((a, b) => a + b, 0) / n;
    return Math.sqrt(col.reduce((a, b) => a + (b - m) ** 2, 0) / n);
  });
  return { x, labels, n, std };
}

for (const attack of ['fgsm', 'pgd', 'apgd-ce'] as const) {
  test(`tabular ${attack} L∞ is in std units by default: the linear optimum moves feature j by ε·std_j·sign(w_j)`, async () => {
    const model = await scaledModel();
    try {
      const { x, labels, n, std } = scaledData();
      const eps = 0.2;
      const r = await runAttack(model, x, n, labels, { attack, norm: 'linf', eps, ...(attack === 'fgsm' ? {} : { steps: 20 }) } as AttackSpec, new Rng(11));
      assert.equal(r.summary.eps_units, 'std');
      assert.equal(r.epsUnits, 'std');
      for (let i = 0; i < n; i++) {
        const d = direction(labels[i]!);
        for (let j = 0; j < D; j++) {
          const want = x[i * D + j]! + eps * std[j]! * Math.sign(d[j]!);
          assert.ok(Math.abs(r.adversarial[i * D + j]! - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${attack} row ${i} feature ${j}: ${r.adversarial[i * D + j]} vs ${want}`);
        }
        assert.ok(r.samples.linf[i]! <= eps * (1 + 1e-5), `‖δ/σ‖∞ = ${r.samples.linf[i]} is reported in std units`);
      }
    } finally {
      await model.close();
    }
  });
}

test('tabular pgd L2 in std units finds the optimum of the ellipsoid ‖δ/σ‖₂ ≤ ε: δ = ε·σ²d/‖σd‖₂', async () => {
  const model = await scaledModel();
  try {
    const { x, labels, std } = scaledData();
    const row = 2;
    const eps = 0.3;
    const r = await runAttack(model, x.slice(row * D, (row + 1) * D), 1, labels.slice(row, row + 1), { attack: 'pgd', norm: 'l2', eps, steps: 10, relStepSize: 0.25, randomStart: false }, new Rng(4), {
      featureStd: std,
    });
    // The margin's gradient in x is d / S; in z = x/σ it is σ·d/S.
    const g = direction(labels[row]!).map((v, j) => (std[j]! * v) / S[j]!);
    const norm = Math.hypot(...g);
    for (let j = 0; j < D; j++) {
      const want = x[row * D + j]! + (eps * std[j]! * g[j]!) / norm;
      assert.ok(Math.abs(r.adversarial[j]! - want) <= 1e-4 * Math.max(1, std[j]!), `feature ${j}: ${r.adversarial[j]} vs ${want}`);
    }
    assert.ok(r.samples.l2[0]! <= eps * (1 + 1e-6));
  } finally {
    await model.close();
  }
});

test('eps_units raw keeps data-domain units on tabular data: every feature moves by ε, whatever its scale', async () => {
  const model = await scaledModel();
  try {
    const { x, labels, n } = scaledData();
    const eps = 0.01;
    const r = await runAttack(model, x, n, labels, { attack: 'fgsm', norm: 'linf', eps, epsUnits: 'raw' }, new Rng(0));
    assert.equal(r.summary.eps_units, 'raw');
    for (let i = 0; i < n; i++) {
      const d = direction(labels[i]!);
      for (let j = 0; j < D; j++) {
        const want = x[i * D + j]! + eps * Math.sign(d[j]!);
        assert.ok(Math.abs(r.adversarial[i * D + j]! - want) <= 1e-5 * Math.max(1, Math.abs(want)), `row ${i} feature ${j}`);
      }
    }
  } finally {
    await model.close();
  }
});

test('a constant feature cannot move in std units, and unchanged features keep their exact bytes', async () => {
  const model = await scaledModel();
  try {
    const { x, labels, n } = scaledData();
    for (let i = 0; i < n; i++) x[i * D + 4] = 0.123456789;
    const r = await runAttack(model, x, n, labels, { attack: 'pgd', norm: 'linf', eps: 0.5, steps: 5 }, new Rng(0));
    for (let i = 0; i < n; i++) assert.equal(r.adversarial[i * D + 4], x[i * D + 4]);
  } finally {
    await model.close();
  }
});

test("Square's p schedule halves p_init at the paper's checkpoints (10,000-query scale)", () => {
  assert.equal(pSelection(0.8, 0, 10000), 0.8);
  assert.equal(pSelection(0.8, 10, 10000), 0.8);
  assert.equal(pSelection(0.8, 11, 10000), 0.4);
  assert.equal(pSelection(0.8, 51, 10000), 0.2);
  assert.equal(pSelection(0.8, 8001, 10000), 0.8 / 512);
  assert.equal(pSelection(0.8, 250, 5000), 0.8 / 8); // 250/5000 → 500 on the 10,000 scale
});

// ---- Relative strength on the default Fashion-MNIST model ---------------------------------------

const N = 32;
const EPS = [0.01, 0.03];

async function withDefault<T>(f: (model: Model, x: Float32Array, labels: Int32Array, engines: EngineCache) => Promise<T>): Promise<T> {
  const ds = await loadDataset({ path: defaultAssets.data, limit: N });
  const model = await Model.open(defaultAssets.model);
  const engines = new EngineCache(model);
  try {
    return await f(model, ds.x, ds.labels!, engines);
  } finally {
    await engines.close();
    await model.close();
  }
}

const robustCounts = (r: AttackResult) => r.perEps.map((p) => Math.round(p.aggregate.robustAccuracy * N));

test('default model: APGD-CE is at least as strong as PGD at equal iterations, and the ensemble at least as strong as each member', async () => {
  await withDefault(async (model, x, labels, engines) => {
    const run = (spec: AttackSpec) => runAttack(model, x, N, labels, { ...spec, eps: EPS } as AttackSpec, new Rng(0), { engines });
    const pgd = await run({ attack: 'pgd', norm: 'linf', eps: 0, steps: 10 });
    const apgd = await run({ attack: 'apgd-ce', norm: 'linf', eps: 0, steps: 10 });
    const apgdT = await run({ attack: 'apgd-dlr', norm: 'linf', eps: 0, steps: 10, targeted: true, nTargets: 3 });
    const sq = await run({ attack: 'square', norm: 'linf', eps: 0, queries: 200 });
    const aa = await run({ attack: 'autoattack', norm: 'linf', eps: 0, preset: 'quick', steps: 10, nTargets: 3, queries: 200 });
    const [p, a, t, s, e] = [pgd, apgd, apgdT, sq, aa].map(robustCounts);
    for (let k = 0; k < EPS.length; k++) {
      assert.ok(a![k]! <= p![k]!, `ε=${EPS[k]}: APGD-CE leaves ${a![k]} robust, PGD ${p![k]}`);
      for (const [name, m] of [['apgd-ce', a], ['apgd-t', t], ['square', s]] as const) {
        assert.ok(e![k]! <= m![k]!, `ε=${EPS[k]}: autoattack leaves ${e![k]} robust, ${name} alone ${m![k]}`);
      }
    }
    // Point by point: whatever a member broke alone, the ensemble broke too (same seed, same streams).
    const last = EPS.length - 1;
    for (const m of [apgd, apgdT, sq]) {
      for (let i = 0; i < N; i++) {
        if (m.perEps[last]!.samples.success[i]) assert.equal(aa.perEps[last]!.samples.success[i], 1, `point ${i} broken by ${m.spec.attack} but not by the ensemble`);
      }
    }
    assert.deepEqual(aa.members.map((m) => m.name), ['apgd-ce', 'apgd-t', 'square']);
    // The attack is not vacuous: some points are broken at the larger ε, and clean accuracy matches eval.
    assert.ok(e![last]! < Math.round(aa.aggregate.cleanAccuracy * N));
  });
});

test('every returned verdict is a plain forward pass of the returned input, and a padded batch on a larger graph changes no answer', async () => {
  const ds = await loadDataset({ path: defaultAssets.data, limit: 150 });
  const model = await Model.open(defaultAssets.model);
  try {
    const x = ds.x;
    const per = x.length / 150;
    // Labels = the model's own predictions, so every item is attacked and the batches are known.
    const clean = await model.predictBatch(x, 150);
    const labels = Int32Array.from({ length: 150 }, (_, i) => {
      let best = 0;
      for (let k = 1; k < clean.numClasses; k++) if (clean.scores[i * clean.numClasses + k]! > clean.scores[i * clean.numClasses + best]!) best = k;
      return best;
    });
    for (const spec of [
      { attack: 'fgsm', norm: 'linf', eps: [0.02, 0.05] },
      { attack: 'pgd', norm: 'linf', eps: [0.03], steps: 5 },
      { attack: 'pgd', norm: 'linf', eps: [0.03], steps: 60 },
    ] as AttackSpec[]) {
      const engines = new EngineCache(model);
      // 150 items at batch 64: 64, 64, then 22 rows, which pad to a graph of 24 or to the 64 built.
      const r = await runAttack(model, x, 150, labels, spec, new Rng(3), { engines, batchSize: 64 });
      const sizes = engines.builtSizes();
      await engines.close();
      // FGSM and PGD-5 pad the 22 rows onto the 64-row graph; PGD-60 builds the 24-row graph (42 padded rows × 61 runs > 4 batches).
      assert.deepEqual([...sizes].sort((a, b) => a - b), spec.steps === 60 ? [24, 64] : [64], `${spec.attack} ${spec.steps ?? ''}`);
      for (const pe of r.perEps) {
        for (let i = 0; i < 150; i++) {
          const p = await model.predictBatch(pe.adversarial.subarray(i * per, (i + 1) * per), 1);
          let best = 0;
          for (let k = 1; k < p.numClasses; k++) if (p.scores[k]! > p.scores[best]!) best = k;
          assert.equal(pe.samples.predicted[i], best, `${spec.attack} ε=${pe.eps} item ${i}`);
        }
      }
      // The same attack with a fresh graph for every size (batch 22 rows alone) gives the same bytes.
      const alone = new EngineCache(model);
      const tail = await runAttack(model, x.subarray(128 * per), 22, labels.subarray(128), spec, new Rng(3), { engines: alone, batchSize: 64, indexOffset: 128 });
      await alone.close();
      const last = r.perEps.length - 1;
      assert.deepEqual(tail.perEps[last]!.adversarial, r.perEps[last]!.adversarial.subarray(128 * per));
    }
  } finally {
    await model.close();
  }
});

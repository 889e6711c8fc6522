import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GradientEngine } from '../src/autodiff/gradient.js';
import { loadDataset } from '../src/data/load.js';
import { defaultAssets } from '../src/defaults.js';
import { Model } from '../src/engine/model.js';
import { UsageError } from '../src/errors.js';
import {
  getMethod,
  gradientTimesInput,
  integratedGradientsReport,
  kernelShap,
  methods,
  occlusion,
  resolveTargets,
  saliency,
  shapPlayers,
  smoothGrad,
} from '../src/explain/index.js';
import { makeModel, node } from '../src/onnx/make.js';
import { makeTensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';

/** Seeded values in [lo, hi). */
function uniform(len: number, seed: number, lo = 0, hi = 1): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: len }, () => r.range(lo, hi));
}

/** A linear classifier on flat [N, d] inputs: logits = x·Wᵀ + b. */
async function linearModel(d: number, classes: number, bias: Float32Array) {
  const w = Float32Array.from({ length: classes * d }, (_, i) => Math.sin(1 + i * 1.3));
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', d] }],
    outputs: ['y'],
    nodes: [node('Gemm', ['x', 'W', 'B'], ['y'], { transB: 1 })],
    initializers: [makeTensor('W', [classes, d], w), makeTensor('B', [classes], bias)],
    opset: 13,
  });
  return { model: await Model.fromProto(proto, 'linear', 'linear'), w };
}

/**
 * A two-layer tanh network on [N, 8] that reads only features 0, 2, 3, 5, 7: the first layer's
 * weight columns for features 1, 4, 6 are zero.
 */
const USED = [0, 2, 3, 5, 7];
async function sparseModel() {
  const d = 8;
  const h = 6;
  const w1 = Float32Array.from({ length: h * d }, (_, i) => (USED.includes(i % d) ? Math.cos(0.7 * i + 0.3) * 1.5 : 0));
  const w2 = Float32Array.from({ length: 3 * h }, (_, i) => Math.sin(0.9 * i + 0.2) * 2);
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', d] }],
    outputs: ['y'],
    nodes: [node('Gemm', ['x', 'W1', 'B1'], ['a'], { transB: 1 }), node('Tanh', ['a'], ['t']), node('Gemm', ['t', 'W2', 'B2'], ['y'], { transB: 1 })],
    initializers: [makeTensor('W1', [h, d], w1), makeTensor('B1', [h], uniform(h, 3, -0.5, 0.5)), makeTensor('W2', [3, h], w2), makeTensor('B2', [3], new Float32Array([0.1, -0.2, 0.3]))],
    opset: 13,
  });
  return Model.fromProto(proto, 'sparse', 'sparse');
}

test('gradient x input on a linear model with zero bias equals the exact contributions w_k,j * x_j', async () => {
  const d = 12;
  const n = 5;
  const { model, w } = await linearModel(d, 4, new Float32Array(4));
  try {
    const x = uniform(n * d, 1, -1, 1);
    const targets = Int32Array.from([0, 1, 2, 3, 1]);
    const a = await gradientTimesInput(model, x, n, targets);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        const exact = w[targets[i]! * d + j]! * x[i * d + j]!;
        assert.ok(Math.abs(a[i * d + j]! - exact) <= 1e-6 * Math.max(1, Math.abs(exact)), `item ${i} feature ${j}: ${a[i * d + j]} vs ${exact}`);
      }
    }
  } finally {
    await model.close();
  }
});

test('gradient x input on a linear model with a bias sums to f(x) - b_t, and IG from zeros matches it exactly', async () => {
  const d = 10;
  const n = 4;
  const bias = new Float32Array([0.5, -1, 2]);
  const { model } = await linearModel(d, 3, bias);
  try {
    const x = uniform(n * d, 2, 0, 1);
    const targets = await resolveTargets(model, x, n, 'pred', null);
    const { scores } = await model.predictBatch(x, n);
    const a = await gradientTimesInput(model, x, n, targets);
    const ig = await integratedGradientsReport(model, x, n, targets, { steps: 8 });
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += a[i * d + j]!;
      const want = scores[i * 3 + targets[i]!]! - bias[targets[i]!]!;
      assert.ok(Math.abs(s - want) < 1e-5, `item ${i}: sum ${s} vs f(x) - b = ${want}`);
      for (let j = 0; j < d; j++) assert.ok(Math.abs(ig.attributions[i * d + j]! - a[i * d + j]!) < 1e-6);
      assert.ok(ig.completeness.relError[i]! < 1e-5, `IG completeness on a linear model: ${ig.completeness.relError[i]}`);
    }
  } finally {
    await model.close();
  }
});

test('features a model does not use carry no attribution, for every method', async () => {
  const model = await sparseModel();
  try {
    const n = 4;
    const d = 8;
    const x = uniform(n * d, 5, 0, 1);
    const targets = Int32Array.from([0, 1, 2, 0]);
    for (const m of methods) {
      const { attributions: a } = await m.explain(model, x, n, targets, {}, new Rng(9));
      let used = 0;
      let unused = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < d; j++) {
          const v = Math.abs(a[i * d + j]!);
          if (USED.includes(j)) used += v;
          else unused += v;
        }
      }
      assert.ok(used > 1e-3, `${m.name}: the used features carry attribution (${used})`);
      assert.ok(unused <= 1e-6 * used, `${m.name}: unused features carry ${unused} of ${used + unused}`);
    }
  } finally {
    await model.close();
  }
});

test('IG converges on a smooth model: completeness error at 64 steps is below 1e-4 of |f(x) - f(baseline)|', async () => {
  const model = await sparseModel();
  try {
    const n = 4;
    const x = uniform(n * 8, 6, 0, 1);
    const targets = await resolveTargets(model, x, n, 'pred', null);
    const r = await integratedGradientsReport(model, x, n, targets, { steps: 64, baseline: 'low' });
    for (const e of r.completeness.relError) assert.ok(e < 1e-4, `relative completeness error ${e}`);
  } finally {
    await model.close();
  }
});

test('IG completeness error on the default model is below 1 % of |f(x) - f(baseline)| at 64 steps (blurred baseline)', async () => {
  const n = 6;
  const ds = await loadDataset({ path: defaultAssets.data, limit: n });
  const model = await Model.open(defaultAssets.model);
  try {
    const targets = await resolveTargets(model, ds.x, n, 'true', ds.labels);
    const r = await integratedGradientsReport(model, ds.x, n, targets, { steps: 64, baseline: 'blur', batchSize: 65 });
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(r.completeness.delta[i]!) > 1, `item ${i}: f(x) - f(baseline) = ${r.completeness.delta[i]} is not negligible`);
      assert.ok(r.completeness.relError[i]! < 0.01, `item ${i}: completeness error ${(100 * r.completeness.relError[i]!).toFixed(3)} %`);
    }
    // The error is the quadrature's: Σ A and Δ are computed independently and agree to ~1e-3.
    const mean = r.completeness.relError.reduce((a, b) => a + b, 0) / n;
    assert.ok(mean < 0.01, `mean completeness error ${mean}`);
  } finally {
    await model.close();
  }
});

test('seeded methods give the same bytes for the same seed and differ for another; no method mutates its inputs', async () => {
  const ds = await loadDataset({ path: defaultAssets.data, limit: 3 });
  const model = await Model.open(defaultAssets.model);
  const engine = new GradientEngine(model, { kind: 'logit' });
  try {
    const n = 2;
    const x = ds.x.slice(0, n * 784);
    const x0 = x.slice();
    const targets = Int32Array.from([1, 3]);
    const t0 = targets.slice();
    const opts = { engine, samples: 4, coalitions: 64, cell: 7 };
    for (const m of methods) {
      const a = await m.explain(model, x, n, targets, opts, new Rng(11));
      assert.equal(a.attributions.length, x.length, `${m.name}: attributions shaped like x`);
      assert.ok(a.attributions.every(Number.isFinite), `${m.name}: finite`);
      assert.deepEqual(x, x0, `${m.name} mutated x`);
      assert.deepEqual(targets, t0, `${m.name} mutated targets`);
      if (!m.seeded) continue;
      const b = await m.explain(model, x, n, targets, opts, new Rng(11));
      const c = await m.explain(model, x, n, targets, opts, new Rng(12));
      assert.ok(Buffer.from(a.attributions.buffer).equals(Buffer.from(b.attributions.buffer)), `${m.name}: same seed, same bytes`);
      assert.ok(!Buffer.from(a.attributions.buffer).equals(Buffer.from(c.attributions.buffer)), `${m.name}: another seed, other bytes`);
    }
  } finally {
    await engine.close();
    await model.close();
  }
});

test('SmoothGrad of an item does not depend on the batch size or on the other items', async () => {
  const model = await sparseModel();
  try {
    const x = uniform(3 * 8, 8, 0, 1);
    const targets = Int32Array.from([2, 1, 0]);
    const all = await smoothGrad(model, x, 3, targets, { samples: 5, batchSize: 4 }, new Rng(4));
    const alone = await smoothGrad(model, x.subarray(0, 8), 1, targets.subarray(0, 1), { samples: 5, batchSize: 7 }, new Rng(4));
    assert.deepEqual(alone, all.subarray(0, 8));
  } finally {
    await model.close();
  }
});

test('saliency is |gradient| by default and the signed gradient with signed: true', async () => {
  const { model, w } = await linearModel(6, 2, new Float32Array(2));
  try {
    const x = uniform(6, 3);
    const t = Int32Array.from([1]);
    const abs = await saliency(model, x, 1, t);
    const signed = await saliency(model, x, 1, t, { signed: true });
    for (let j = 0; j < 6; j++) {
      assert.ok(Math.abs(signed[j]! - w[6 + j]!) < 1e-6);
      assert.equal(abs[j], Math.abs(signed[j]!));
    }
  } finally {
    await model.close();
  }
});

test('occlusion and KernelSHAP on images: patches cover every pixel, superpixels form a grid, SHAP is efficient', async () => {
  const ds = await loadDataset({ path: defaultAssets.data, limit: 2 });
  const model = await Model.open(defaultAssets.model);
  try {
    const n = 2;
    const targets = Int32Array.from(ds.labels!.subarray(0, n));
    const players = shapPlayers({ size: 784, image: { c: 1, h: 28, w: 28 } }, { cell: 4 });
    assert.equal(players.players, 49);
    assert.equal(players.group[27], 6);
    assert.equal(players.group[28 * 27], 42);
    const shap = await kernelShap(model, ds.x, n, targets, { cell: 4, coalitions: 256 }, new Rng(0));
    const base = new Float32Array(n * 784);
    const fx = await model.predictBatch(ds.x.subarray(0, n * 784), n);
    const fb = await model.predictBatch(base, n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let e = 0; e < 784; e++) s += shap[i * 784 + e]!;
      const delta = fx.scores[i * 10 + targets[i]!]! - fb.scores[i * 10 + targets[i]!]!;
      assert.ok(Math.abs(s - delta) < 1e-3 * Math.abs(delta), `item ${i}: Σφ ${s} vs f(x) - f(baseline) ${delta}`);
    }
  } finally {
    await model.close();
  }
  // Occlusion on a model that sums the pixels: every 5x5 patch of an all-ones image drops the
  // score by 25, so every pixel (edges included, stride 4 does not divide 28 - 5) gets exactly 25.
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', 1, 28, 28] }],
    outputs: ['y'],
    nodes: [node('Flatten', ['x'], ['f']), node('Gemm', ['f', 'W'], ['y'], { transB: 1 })],
    initializers: [makeTensor('W', [2, 784], Float32Array.from({ length: 2 * 784 }, (_, i) => (i < 784 ? 1 : -1)))],
    opset: 13,
  });
  const sum = await Model.fromProto(proto, 'sum', 'sum');
  try {
    const occ = await occlusion(sum, new Float32Array(784).fill(1), 1, Int32Array.from([0]), { patch: 5, stride: 4 });
    for (let e = 0; e < 784; e++) assert.ok(Math.abs(occ[e]! - 25) < 1e-4, `pixel ${e}: ${occ[e]}`);
  } finally {
    await sum.close();
  }
});

test('bad arguments are UsageErrors naming the parameter and its range', async () => {
  const model = await sparseModel();
  try {
    const x = uniform(16, 1);
    await assert.rejects(gradientTimesInput(model, x, 2, Int32Array.from([0, 3])), (e: Error) => e instanceof UsageError && e.message === `'targets[1]' must be a class in [0, 2], got 3`);
    await assert.rejects(gradientTimesInput(model, x, 2, Int32Array.from([0])), (e: Error) => e instanceof UsageError && /'targets' must have one class per item \(2\), got 1/.test(e.message));
    await assert.rejects(integratedGradientsReport(model, x, 2, Int32Array.from([0, 0]), { steps: 0 }), (e: Error) => e instanceof UsageError && /'steps' must be in \[1, 100000\], got 0/.test(e.message));
    await assert.rejects(integratedGradientsReport(model, x, 2, Int32Array.from([0, 0]), { baseline: 'blur' }), (e: Error) => e instanceof UsageError && /'baseline' 'blur' needs image inputs/.test(e.message));
    await assert.rejects(smoothGrad(model, x, 2, Int32Array.from([0, 0]), { sigma: -1 }), (e: Error) => e instanceof UsageError && /'sigma' must be in \[0, 10\], got -1/.test(e.message));
    await assert.rejects(resolveTargets(model, x, 2, 'true', null), (e: Error) => e instanceof UsageError && /target 'true' needs labels/.test(e.message));
    await assert.rejects(resolveTargets(model, x, 2, 7, null), (e: Error) => e instanceof UsageError && /'target' must be 'true', 'pred' or a class in \[0, 2\], got 7/.test(e.message));
    await assert.rejects(gradientTimesInput(model, x.subarray(0, 15), 2, Int32Array.from([0, 0])), (e: Error) => e instanceof UsageError && /not a whole number of 2 items/.test(e.message));
    assert.throws(() => getMethod('lime'), (e: Error) => e instanceof UsageError && e.message === `'method' must be one of saliency, gxi, ig, smoothgrad, shap, occlusion, got 'lime'`);
  } finally {
    await model.close();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classificationMetrics, toProbabilities } from '../src/metrics/classification.js';
import { defaultAssets, defaultMeta } from '../src/defaults.js';
import { loadDataset } from '../src/data/load.js';
import { Model } from '../src/engine/model.js';
import { evaluate } from '../src/engine/evaluate.js';

test('metrics on a hand-computed example', () => {
  // Three items, two classes. p rows: [0.9, 0.1] (y=0, right), [0.4, 0.6] (y=0, wrong), [0.2, 0.8] (y=1, right).
  const p = Float64Array.from([0.9, 0.1, 0.4, 0.6, 0.2, 0.8]);
  const m = classificationMetrics(p, 2, [0, 0, 1]);
  assert.equal(m.accuracy, 2 / 3);
  assert.ok(Math.abs(m.nll - -(Math.log(0.9) + Math.log(0.4) + Math.log(0.8)) / 3) < 1e-12);
  const brier = ((0.1 ** 2 + 0.1 ** 2) + (0.6 ** 2 + 0.6 ** 2) + (0.2 ** 2 + 0.2 ** 2)) / 3;
  assert.ok(Math.abs(m.brier - brier) < 1e-12);
  // 15 bins: 0.9 → bin 13 (0.8667, 0.9333], 0.6 → bin 8 (0.5333, 0.6], 0.8 → bin 11 (0.7333, 0.8].
  const ece = (1 / 3) * (Math.abs(1 - 0.9) + Math.abs(0 - 0.6) + Math.abs(1 - 0.8));
  assert.ok(Math.abs(m.ece - ece) < 1e-12);
  // F1: class 0 tp=1, support 2, predicted 1 → 2/3; class 1 tp=1, support 1, predicted 2 → 2/3.
  assert.ok(Math.abs(m.macroF1 - 2 / 3) < 1e-12);
});

test('ECE puts a confidence exactly on a bin edge in the lower bin', () => {
  // Confidence 0.6 = 9/15 sits on the edge between bins 7 and 8; with (b/15, (b+1)/15] it is in bin 8.
  const m = classificationMetrics(Float64Array.from([0.6, 0.4]), 2, [0]);
  assert.ok(Math.abs(m.ece - 0.4) < 1e-12);
});

test('softmax is computed stably in float64 and probabilities pass through', () => {
  const p = toProbabilities(Float32Array.from([1000, 1001, 0, 0]), 2, 'logits');
  assert.ok(Math.abs(p[1]! - 1 / (1 + Math.exp(-1))) < 1e-12);
  assert.equal(p[2], 0.5);
  assert.deepEqual(Array.from(toProbabilities([0.25, 0.75], 2, 'probabilities')), [0.25, 0.75]);
});

test('eval on the default model equals the float64 reference computed from the PyTorch logits (within 1e-3)', async () => {
  const ref = (defaultMeta() as unknown as { reference_metrics: Record<string, number> }).reference_metrics;
  const ds = await loadDataset(defaultAssets.data);
  const model = await Model.open(defaultAssets.model);
  try {
    const ev = await evaluate(model, ds);
    for (const k of ['accuracy', 'ece', 'nll', 'brier'] as const) {
      assert.ok(Math.abs(ev[k] - ref[k]!) < 1e-3, `${k}: ${ev[k]} vs reference ${ref[k]}`);
    }
    assert.equal(ev.samples, 2000);
  } finally {
    await model.close();
  }
});

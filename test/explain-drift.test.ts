import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GradientEngine } from '../src/autodiff/gradient.js';
import { loadDataset } from '../src/data/load.js';
import { defaultAssets } from '../src/defaults.js';
import { Model } from '../src/engine/model.js';
import { UsageError } from '../src/errors.js';
import { averageRanks, explanationDrift, integratedGradients, itemDrift, meanWithCi, resolveTargets, spearman, topKMask } from '../src/explain/index.js';
import { Rng } from '../src/rng.js';
import { getCorruption } from '../src/stress/drift/index.js';

test('average ranks share tied ranks; Spearman is 1 for the same order, -1 for the reverse, and handles constants', () => {
  assert.deepEqual(Array.from(averageRanks([10, 20, 20, 5])), [2, 3.5, 3.5, 1]);
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.equal(spearman([0, 0, 0], [0, 0, 0]), 1);
  assert.equal(spearman([0, 0, 0], [1, 2, 3]), 0);
  // Ties: ranks (1.5, 1.5, 3, 4) vs (1, 2, 3, 4): Pearson of ranks.
  assert.ok(Math.abs(spearman([1, 1, 2, 3], [1, 2, 3, 4]) - 0.9486832980505138) < 1e-12);
});

test('top-k IoU and mass shift on hand-made attributions', () => {
  assert.deepEqual(Array.from(topKMask([0.1, 5, 3, 5], 2)), [0, 1, 0, 1]);
  const clean = new Float32Array([4, 3, 0, 0, 1, 0, 0, 0, 0, 0]);
  // Clean top-2 is {0, 1}; under stress a new feature (2) takes the lead with half the mass.
  const stressed = new Float32Array([4, -3, 7, 0, 0, 0, 0, 0, 0, 0]);
  const r = itemDrift(clean, stressed, 2);
  assert.equal(r.iou, 1 / 3); // clean {0, 1}, stressed {2, 0}
  // Mass outside {0, 1}: clean 1/8, stressed 7/14.
  assert.ok(Math.abs(r.massShift - (0.5 - 0.125)) < 1e-12);
  const self = itemDrift(clean, clean, 2);
  assert.deepEqual(self, { spearman: 1, iou: 1, massShift: 0 });
});

test('the bootstrap CI is seeded and brackets the mean; bad arguments are UsageErrors', () => {
  const v = [0.1, 0.5, 0.3, 0.9, 0.2, 0.4];
  const a = meanWithCi(v, 500, new Rng(1));
  assert.deepEqual(a, meanWithCi(v, 500, new Rng(1)));
  assert.ok(a.lo <= a.mean && a.mean <= a.hi && a.lo < a.hi);
  assert.throws(() => explanationDrift(new Float32Array(6), new Float32Array(6), 4), (e: Error) => e instanceof UsageError && /not a whole number of 4 items/.test(e.message));
  assert.throws(() => explanationDrift(new Float32Array(4), new Float32Array(4), 2, { topK: 0 }), (e: Error) => e instanceof UsageError && /'topK' must be in \(0, 1\], got 0/.test(e.message));
});

test('explanation drift on the default model is 0 between an input and itself and grows with corruption severity (1, 3, 5)', async () => {
  const n = 12;
  const ds = await loadDataset({ path: defaultAssets.data, limit: n });
  const model = await Model.open(defaultAssets.model);
  const engine = new GradientEngine(model, { kind: 'logit' });
  try {
    const targets = await resolveTargets(model, ds.x, n, 'true', ds.labels);
    const opts = { engine, steps: 16 };
    const clean = await integratedGradients(model, ds.x, n, targets, opts);
    const same = await integratedGradients(model, ds.x.slice(), n, targets, opts);
    const self = explanationDrift(clean, same, n, {}, new Rng(0));
    assert.equal(self.spearman.mean, 1);
    assert.equal(self.iou.mean, 1);
    assert.equal(self.massShift.mean, 0);
    for (const corruption of ['gaussian_noise', 'contrast']) {
      const rows: { severity: number; spearman: number; iou: number; massShift: number }[] = [];
      for (const severity of [1, 3, 5] as const) {
        const xs = getCorruption(corruption).apply(ds.x, [n, 1, 28, 28], severity, new Rng(7).fork(`${corruption}:${severity}`));
        const stressed = await integratedGradients(model, xs, n, targets, opts);
        const d = explanationDrift(clean, stressed, n, { resamples: 200 }, new Rng(0));
        rows.push({ severity, spearman: d.spearman.mean, iou: d.iou.mean, massShift: d.massShift.mean });
      }
      const msg = `${corruption}: ${JSON.stringify(rows)}`;
      assert.ok(rows[0]!.spearman < 1 && rows[0]!.iou < 1, msg);
      for (let k = 1; k < rows.length; k++) {
        assert.ok(rows[k]!.spearman < rows[k - 1]!.spearman, `rank correlation falls with severity: ${msg}`);
        assert.ok(rows[k]!.iou < rows[k - 1]!.iou, `top-10 % overlap falls with severity: ${msg}`);
        assert.ok(rows[k]!.massShift > rows[k - 1]!.massShift, `mass moves outside the clean top-10 %: ${msg}`);
      }
    }
  } finally {
    await engine.close();
    await model.close();
  }
});

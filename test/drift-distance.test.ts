/** Shift magnitude: KS, PSI and the MMD permutation test on known cases. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/rng.js';
import { DataError } from '../src/errors.js';
import { makeDataset } from '../src/data/dataset.js';
import { applyDrift, datasetDistances, featureDistances, ksPValue, ksStatistic, mmdTest, psi } from '../src/stress/drift/index.js';
import { testImages } from './drift-helpers.js';

function gaussians(n: number, dim: number, shift: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n * dim);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal() + (i % dim === 0 ? shift : 0);
  return x;
}

test('KS: 0 for identical sets, the largest CDF gap otherwise, ties handled', () => {
  const a = [0.3, 0.1, 0.5, 0.9, 0.7];
  assert.equal(ksStatistic(a, [...a].reverse()), 0);
  assert.equal(ksStatistic([1, 2, 3, 4], [3, 4, 5, 6]), 0.5);
  assert.equal(ksStatistic([1, 2, 3], [10, 11, 12]), 1);
  assert.equal(ksStatistic([0, 0, 1, 1], [0, 1, 1, 1]), 0.25);
  assert.equal(ksStatistic([1, NaN, 2], [1, 2]), 0, 'NaN skipped');
  assert.ok(ksPValue(0, 100, 100) > 0.99);
  assert.ok(ksPValue(0.5, 100, 100) < 1e-9);
  // D = 0.2 with n = m = 100 gives p ≈ 0.037 (Smirnov's asymptotic series)
  assert.ok(Math.abs(ksPValue(0.2, 100, 100) - 0.037) < 0.01);
});

test('PSI: 0 for identical sets, large for a shifted one, finite with empty bins', () => {
  const ref = Array.from(gaussians(2000, 1, 0, 1));
  assert.equal(psi(ref, ref), 0);
  const near = psi(ref, Array.from(gaussians(2000, 1, 0, 2)));
  assert.ok(near < 0.03, `same distribution: ${near}`);
  const far = psi(ref, Array.from(gaussians(2000, 1, 1, 3)));
  assert.ok(far > 0.25, `shifted by 1 sd: ${far}`);
  const disjoint = psi([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [100, 101]);
  assert.ok(Number.isFinite(disjoint) && disjoint > 1);
  // discrete feature: duplicate cut points merge
  assert.equal(psi([0, 0, 0, 1, 1], [0, 0, 0, 1, 1]), 0);
});

test('MMD: identical distributions give a large p-value, shifted Gaussians a small one', () => {
  const a = gaussians(150, 5, 0, 1);
  const same = mmdTest(a, gaussians(150, 5, 0, 2), 5, new Rng(0), { permutations: 99 });
  assert.ok(same.pValue > 0.05, `same: p ${same.pValue}`);
  const shifted = mmdTest(a, gaussians(150, 5, 1, 3), 5, new Rng(0), { permutations: 99 });
  assert.ok(shifted.pValue <= 0.02, `shifted: p ${shifted.pValue}`);
  assert.ok(shifted.mmd2 > same.mmd2);
  // p = (k + 1)/(n + 1)
  for (const r of [same, shifted]) assert.ok(Math.abs(r.pValue * 100 - Math.round(r.pValue * 100)) < 1e-9 && r.pValue >= 1 / 100);
  // the very same set: MMD² ≤ 0 (unbiased estimate), p-value large
  const self = mmdTest(a, a, 5, new Rng(0), { permutations: 49 });
  assert.ok(self.mmd2 <= 1e-12 && self.pValue > 0.5, `self: ${self.mmd2}, p ${self.pValue}`);
});

test('MMD: median-heuristic bandwidth, seeded, subsampled above the cap, refuses NaN', () => {
  const a = gaussians(80, 3, 0, 1);
  const b = gaussians(90, 3, 0.5, 2);
  const r1 = mmdTest(a, b, 3, new Rng(4), { permutations: 20 });
  const r2 = mmdTest(a, b, 3, new Rng(4), { permutations: 20 });
  assert.deepEqual(r1, r2);
  assert.ok(r1.bandwidth > 1.5 && r1.bandwidth < 4, `σ ≈ √(2·3) for unit Gaussians in 3-D: ${r1.bandwidth}`);
  const capped = mmdTest(a, b, 3, new Rng(4), { permutations: 5, maxPerSide: 50 });
  assert.equal(capped.nRef, 50);
  assert.equal(capped.nCur, 50);
  assert.ok(capped.subsampled && !r1.subsampled);
  const bad = a.slice();
  bad[7] = NaN;
  assert.throws(() => mmdTest(bad, b, 3, new Rng(0)), (e: unknown) => e instanceof DataError && /non-finite value \(NaN\) at row 2/.test(e.message));
  assert.throws(() => mmdTest(a, b, 7, new Rng(0)), /rows of 7 values do not divide/);
});

test('featureDistances and datasetDistances: per-feature KS/PSI for tabular data, MMD for images', () => {
  const x = gaussians(300, 2, 0, 1);
  const ds = makeDataset({ name: 't', itemShape: [2], x, featureNames: ['a', 'b'] });
  const shifted = applyDrift(ds, { shift: 'mean', amount: 1, features: ['a'] }, new Rng(0)).dataset;
  const d = datasetDistances(ds, shifted, new Rng(0), { permutations: 49 });
  assert.equal(d.kind, 'tabular');
  const [fa, fb] = d.features!;
  assert.equal(fa!.feature, 'a');
  assert.ok(fa!.ks > 0.3 && fa!.psi > 0.25 && fa!.ksPValue < 1e-6);
  assert.equal(fb!.ks, 0);
  assert.equal(fb!.psi, 0);
  assert.equal(d.ksMax, fa!.ks);
  assert.ok(d.mmd!.pValue <= 0.05);
  const fd = featureDistances(x, x, 2, { features: [1] });
  assert.equal(fd.length, 1);
  assert.equal(fd[0]!.feature, '1');

  const img = makeDataset({ name: 'i', itemShape: [1, 12, 12], x: testImages(60, 1, 12, 12) });
  const fogged = applyDrift(img, { corruption: 'fog', severity: 5 }, new Rng(0)).dataset;
  const di = datasetDistances(img, fogged, new Rng(0), { permutations: 49 });
  assert.equal(di.kind, 'image');
  assert.equal(di.features, null);
  assert.ok(di.mmd!.pValue <= 0.05, `fog 5 is detected: p ${di.mmd!.pValue}`);
  const none = datasetDistances(img, img, new Rng(0), { mmd: false });
  assert.equal(none.mmd, null);
});

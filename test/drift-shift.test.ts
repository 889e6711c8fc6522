/** Tabular / general shifts, the drift config schema (parseDriftSpec) and applyDrift. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/rng.js';
import { ConfigError, DataError, UsageError } from '../src/errors.js';
import { makeDataset, type Dataset } from '../src/data/dataset.js';
import { applyDrift, dropValues, getShift, parseDriftSpec, shifts, shiftNames, targetCounts, type DriftSpec } from '../src/stress/drift/index.js';
import { testImages } from './drift-helpers.js';

/** 400 items, features age ~ U(20, 70), income ~ N(50, 10²), flag ∈ {0, 1}; 3 unbalanced classes. */
function tabular(n = 400, seed = 1): Dataset {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 3);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    x[i * 3] = rng.range(20, 70);
    x[i * 3 + 1] = 50 + 10 * rng.normal();
    x[i * 3 + 2] = rng.uniform() < 0.3 ? 1 : 0;
    labels[i] = i % 10 < 6 ? 0 : i % 10 < 9 ? 1 : 2;
  }
  return makeDataset({ name: 'tab', itemShape: [3], x, labels, featureNames: ['age', 'income', 'flag'], classNames: ['a', 'b', 'c'] });
}

function column(ds: Dataset, j: number): number[] {
  const d = ds.itemShape[0]!;
  return Array.from({ length: ds.size }, (_, i) => ds.x[i * d + j]!);
}
const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
const std = (a: number[]): number => Math.sqrt(mean(a.map((v) => (v - mean(a)) ** 2)));

test('the shift registry: seven kinds, each with a valid example that round-trips through JSON', () => {
  assert.deepEqual([...shiftNames], ['mean', 'scale', 'noise', 'missing', 'quantize', 'subpopulation', 'prior']);
  for (const s of shifts) {
    const spec = parseDriftSpec(s.example, 'drift[0]');
    assert.deepEqual(parseDriftSpec(JSON.parse(JSON.stringify(spec)), 'drift[0]'), spec, s.name);
  }
  assert.throws(() => getShift('drift'), (e: unknown) => e instanceof UsageError && /unknown shift 'drift'; known: mean, scale/.test(e.message));
});

test('parseDriftSpec: corruption entries, defaults, JSON round trip', () => {
  const c = parseDriftSpec({ corruption: 'gaussian_noise', severity: 3 }, 'drift[0]');
  assert.deepEqual(c, { corruption: 'gaussian_noise', severity: 3 });
  const m = parseDriftSpec({ shift: 'missing', rate: 0.1 }, 'd');
  assert.deepEqual(m, { shift: 'missing', rate: 0.1, fill: 'mean' });
  const sp = parseDriftSpec({ shift: 'subpopulation', feature: 'age', op: '>', value: 40, weight: 3 }, 'd');
  assert.deepEqual(sp, { shift: 'subpopulation', feature: 'age', op: '>', value: 40, weight: 3, mode: 'resample' });
  for (const spec of [c, m, sp]) assert.deepEqual(parseDriftSpec(JSON.parse(JSON.stringify(spec)), 'd'), spec);
});

test('parseDriftSpec: bad entries are ConfigErrors naming the key path, the value and what is allowed', () => {
  const bad: [unknown, RegExp][] = [
    [{ corruption: 'fgo', severity: 3 }, /^'drift\[1\]\.corruption' must be one of gaussian_noise, .*, got 'fgo'$/],
    [{ corruption: 'fog', severity: 6 }, /^'drift\[1\]\.severity' must be an integer in \[1, 5\], got 6$/],
    [{ corruption: 'fog', severity: 2.5 }, /^'drift\[1\]\.severity' must be an integer in \[1, 5\], got 2\.5$/],
    [{ corruption: 'fog' }, /^'drift\[1\]\.severity' is required: an integer in \[1, 5\]$/],
    [{ corruption: 'fog', severity: 1, sevrity: 2 }, /^'drift\[1\]' has unknown key 'sevrity' \(did you mean 'severity'\?\); allowed keys are corruption, severity$/],
    [{ shift: 'mean' }, /^'drift\[1\]\.amount' is required/],
    [{ shift: 'mean', amount: 'x' }, /^'drift\[1\]\.amount' must be a number in \(-inf, inf\), got 'x'$/],
    [{ shift: 'means', amount: 1 }, /^'drift\[1\]\.shift' must be one of mean, scale, noise, missing, quantize, subpopulation, prior, got 'means'$/],
    [{ shift: 'missing', rate: 0.1, fill: 'zero' }, /^'drift\[1\]\.fill' must be one of mean, nan, got 'zero'$/],
    [{ shift: 'missing', rate: 0.1, fill: 'nan' }, /^'drift\[1\]\.fill' 'nan' gives NaN inputs, which models cannot run; use 'mean'/],
    [{ shift: 'scale', factor: -1 }, /^'drift\[1\]\.factor' must be a number in \[0, inf\), got -1$/],
    [{ shift: 'quantize', levels: 1 }, /^'drift\[1\]\.levels' must be an integer in \[2, 65536\], got 1$/],
    [{ shift: 'mean', amount: 1, features: [] }, /^'drift\[1\]\.features' must be a non-empty list/],
    [{ shift: 'mean', amount: 1, features: [-1] }, /^'drift\[1\]\.features\[0\]' must be a feature name or a 0-based feature index, got -1$/],
    [{ shift: 'subpopulation', feature: 'age', op: '=>', value: 1, weight: 2 }, /^'drift\[1\]\.op' must be one of <, <=, >, >=, ==, !=, got '=>'$/],
    [{ shift: 'prior', proportions: [0.5, -1] }, /^'drift\[1\]\.proportions\[1\]' must be a number in \[0, inf\), got -1$/],
    [{ shift: 'prior', proportions: [0, 0] }, /^'drift\[1\]\.proportions' must be a list of class proportions with a positive sum, got \[0,0\]$/],
    [{ corruption: 'fog', shift: 'mean' }, /has both 'corruption' and 'shift'/],
    [{ severity: 3 }, /^'drift\[1\]' must have 'corruption' \(one of .*\) or 'shift' \(one of .*\)$/],
    ['fog', /^'drift\[1\]' must be a mapping like/],
  ];
  for (const [obj, re] of bad) {
    assert.throws(() => parseDriftSpec(obj, 'drift[1]'), (e: unknown) => e instanceof ConfigError && re.test(e.message) && !e.message.includes('\n'), JSON.stringify(obj));
  }
});

test('mean shift moves the chosen features by amount·std and nothing else; input untouched', () => {
  const ds = tabular();
  const before = ds.x.slice();
  const r = applyDrift(ds, parseDriftSpec({ shift: 'mean', features: ['income'], amount: 1.5 }, 'd'), new Rng(0));
  assert.deepEqual(ds.x, before);
  assert.ok(Math.abs(mean(column(r.dataset, 1)) - mean(column(ds, 1)) - 1.5 * std(column(ds, 1))) < 1e-3);
  assert.deepEqual(column(r.dataset, 0), column(ds, 0));
  assert.deepEqual(r.dataset.labels, ds.labels);
  assert.match(r.description, /mean shift of 1\.5 std on feature income/);
});

test('scale shift multiplies the std by the factor and keeps the mean', () => {
  const ds = tabular();
  const r = applyDrift(ds, { shift: 'scale', factor: 2, features: [1] }, new Rng(0));
  assert.ok(Math.abs(std(column(r.dataset, 1)) / std(column(ds, 1)) - 2) < 1e-4);
  assert.ok(Math.abs(mean(column(r.dataset, 1)) - mean(column(ds, 1))) < 1e-3);
});

test('noise shift adds noise of amount·std; seeded', () => {
  const ds = tabular(2000);
  const spec: DriftSpec = { shift: 'noise', amount: 0.5, features: ['income'] };
  const a = applyDrift(ds, spec, new Rng(3));
  const b = applyDrift(ds, spec, new Rng(3));
  assert.deepEqual(a.dataset.x, b.dataset.x);
  const diff = column(a.dataset, 1).map((v, i) => v - column(ds, 1)[i]!);
  assert.ok(Math.abs(std(diff) / std(column(ds, 1)) - 0.5) < 0.03);
});

test('missing: mean imputation at the given rate; NaN refused by applyDrift but produced by dropValues', () => {
  const ds = tabular(2000);
  const r = applyDrift(ds, { shift: 'missing', rate: 0.2, fill: 'mean', features: ['age'] }, new Rng(1));
  const m = mean(column(ds, 0));
  const filled = column(r.dataset, 0).filter((v, i) => v !== column(ds, 0)[i]);
  assert.ok(Math.abs(filled.length / 2000 - 0.2) < 0.03);
  for (const v of filled) assert.ok(Math.abs(v - m) < 1e-3);
  assert.throws(() => applyDrift(ds, { shift: 'missing', rate: 0.2, fill: 'nan' }, new Rng(1)), (e: unknown) => e instanceof ConfigError && /NaN inputs, which models cannot run/.test(e.message));
  const d = dropValues(ds, { shift: 'missing', rate: 0.2, fill: 'nan' }, new Rng(1));
  const nans = Array.from(d.x).filter(Number.isNaN).length;
  assert.equal(nans, d.dropped);
  assert.equal(d.mask.reduce((a, b) => a + b, 0), d.dropped);
});

test('quantize: tabular features take levels values over their range; images over [0, 1]', () => {
  const ds = tabular();
  const r = applyDrift(ds, { shift: 'quantize', levels: 4, features: ['age'] }, new Rng(0));
  assert.ok(new Set(column(r.dataset, 0).map((v) => v.toFixed(3))).size <= 4);
  const img = makeDataset({ name: 'img', itemShape: [1, 8, 8], x: testImages(3, 1, 8, 8) });
  const q = applyDrift(img, { shift: 'quantize', levels: 3 }, new Rng(0));
  for (const v of q.dataset.x) assert.ok([0, 0.5, 1].includes(v));
});

test('image shifts stay in [0, 1]', () => {
  const img = makeDataset({ name: 'img', itemShape: [1, 8, 8], x: testImages(4, 1, 8, 8) });
  for (const spec of [{ shift: 'mean', amount: 3 }, { shift: 'scale', factor: 5 }, { shift: 'noise', amount: 4 }] as DriftSpec[]) {
    for (const v of applyDrift(img, spec, new Rng(0)).dataset.x) assert.ok(v >= 0 && v <= 1);
  }
});

test('subpopulation resample multiplies the odds of matching items by the weight, without duplicates', () => {
  const ds = tabular(1000);
  const match = column(ds, 0).filter((v) => v > 40).length;
  const r = applyDrift(ds, parseDriftSpec({ shift: 'subpopulation', feature: 'age', op: '>', value: 40, weight: 3 }, 'd'), new Rng(2));
  assert.ok(r.indices);
  assert.equal(new Set(r.indices).size, r.indices.length);
  const kept = column(r.dataset, 0).filter((v) => v > 40).length;
  const other = r.dataset.size - kept;
  assert.equal(kept, match);
  assert.equal(other, Math.round((1000 - match) / 3));
  // weight < 1 thins the matching items instead
  const thin = applyDrift(ds, { shift: 'subpopulation', feature: 'age', op: '>', value: 40, weight: 0.5, mode: 'resample' }, new Rng(2));
  assert.equal(column(thin.dataset, 0).filter((v) => v > 40).length, Math.round(match * 0.5));
  // ids say which source item each is
  assert.deepEqual(thin.dataset.ids, Array.from(thin.indices!, String));
});

test('subpopulation reweight keeps the items and returns mean-1 weights', () => {
  const ds = tabular(500);
  const r = applyDrift(ds, { shift: 'subpopulation', feature: 'flag', op: '==', value: 1, weight: 4, mode: 'reweight' }, new Rng(0));
  assert.equal(r.dataset, ds);
  assert.ok(r.weights && r.weights.length === 500);
  assert.ok(Math.abs(r.weights.reduce((a, b) => a + b, 0) / 500 - 1) < 1e-9);
  const flagged = column(ds, 2).findIndex((v) => v === 1);
  const plain = column(ds, 2).findIndex((v) => v === 0);
  assert.ok(Math.abs(r.weights[flagged]! / r.weights[plain]! - 4) < 1e-9);
});

test('subpopulation: a condition matching no item, or an unknown feature, is a DataError', () => {
  const ds = tabular();
  assert.throws(() => applyDrift(ds, { shift: 'subpopulation', feature: 'age', op: '>', value: 999, weight: 2, mode: 'resample' }, new Rng(0)), (e: unknown) => e instanceof DataError && /matches none of 400 items/.test(e.message));
  assert.throws(() => applyDrift(ds, { shift: 'mean', amount: 1, features: ['agee'] }, new Rng(0)), (e: unknown) => e instanceof DataError && /no feature named 'agee'; feature names: age, income, flag/.test(e.message));
  assert.throws(() => applyDrift(ds, { shift: 'mean', amount: 1, features: [3] }, new Rng(0)), /feature index 3 is out of range; items have 3 features/);
});

test('prior shift hits the requested class counts within one item per class', () => {
  const ds = tabular(400); // classes 240 / 120 / 40
  const cases: [number[], number | undefined][] = [
    [[1, 1, 1], undefined],
    [[0.2, 0.3, 0.5], undefined],
    [[0.7, 0.2, 0.1], 333],
    [[1, 0, 0], 50],
    [[0.1, 0.1, 0.8], 1000], // class c needs copies
  ];
  for (const [p, size] of cases) {
    const spec = parseDriftSpec({ shift: 'prior', proportions: p, ...(size ? { size } : {}) }, 'd');
    const r = applyDrift(ds, spec, new Rng(5));
    const N = size ?? 400;
    assert.equal(r.dataset.size, N);
    const counts = [0, 0, 0];
    for (const l of r.dataset.labels!) counts[l]!++;
    const total = p.reduce((a, b) => a + b, 0);
    counts.forEach((c, k) => assert.ok(Math.abs(c - (p[k]! / total) * N) < 1, `proportions ${p}: class ${k} has ${c}, wants ${(p[k]! / total) * N}`));
    assert.equal(new Set(r.dataset.ids).size, N, 'ids stay unique (copies get #2, #3 …)');
    for (let i = 0; i < N; i++) assert.equal(r.dataset.labels![i], ds.labels![r.indices![i]!]);
  }
  // seeded
  const spec: DriftSpec = { shift: 'prior', proportions: [0.2, 0.3, 0.5] };
  assert.deepEqual(applyDrift(ds, spec, new Rng(9)).indices, applyDrift(ds, spec, new Rng(9)).indices);
  assert.notDeepEqual(applyDrift(ds, spec, new Rng(9)).indices, applyDrift(ds, spec, new Rng(10)).indices);
});

test('targetCounts: largest remainder, sums to the total', () => {
  assert.deepEqual(targetCounts([1, 1, 1], 10), [4, 3, 3]);
  assert.deepEqual(targetCounts([0.5, 0.25, 0.25], 7), [3, 2, 2]); // exact 3.5, 1.75, 1.75
  assert.equal(targetCounts([3, 7, 11, 13], 1001).reduce((a, b) => a + b, 0), 1001);
});

test('prior shift: wrong number of proportions, empty class, no labels are DataErrors', () => {
  const ds = tabular(40);
  assert.throws(() => applyDrift(ds, { shift: 'prior', proportions: [1, 1] }, new Rng(0)), /'proportions' has 2 entries but the data have 3 classes/);
  const noC = makeDataset({ name: 'x', itemShape: [1], x: new Float32Array(4), labels: Int32Array.from([0, 0, 2, 2]) });
  assert.throws(() => applyDrift(noC, { shift: 'prior', proportions: [1, 1, 1] }, new Rng(0)), /class 1 has no items but proportion 1 asks for 1/);
  const unl = makeDataset({ name: 'u', itemShape: [1], x: new Float32Array(4) });
  assert.throws(() => applyDrift(unl, { shift: 'prior', proportions: [1] }, new Rng(0)), (e: unknown) => e instanceof DataError && /has no labels/.test(e.message));
});

test('applyDrift with a corruption works on image datasets and refuses tabular ones', () => {
  const img = makeDataset({ name: 'img', itemShape: [1, 10, 10], x: testImages(2, 1, 10, 10), labels: Int32Array.from([0, 1]) });
  const r = applyDrift(img, { corruption: 'contrast', severity: 5 }, new Rng(0));
  assert.equal(r.dataset.size, 2);
  assert.deepEqual(r.dataset.labels, img.labels);
  assert.notDeepEqual(r.dataset.x, img.x);
  assert.equal(r.description, 'contrast at severity 5');
  const flat = makeDataset({ name: 'hw', itemShape: [10, 10], x: testImages(2, 1, 10, 10) });
  assert.equal(applyDrift(flat, { corruption: 'fog', severity: 1 }, new Rng(0)).dataset.size, 2);
  assert.throws(() => applyDrift(tabular(), { corruption: 'fog', severity: 1 }, new Rng(0)), (e: unknown) => e instanceof DataError && /need images of shape \[C, H, W\]/.test(e.message));
});

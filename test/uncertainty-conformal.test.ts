/** Split conformal sets (LAC, APS) on the default model: coverage on clean data and under stress. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset } from '../src/data/load.js';
import { defaultAssets } from '../src/defaults.js';
import { Model } from '../src/engine/model.js';
import { DataError, UsageError } from '../src/errors.js';
import { toProbabilities } from '../src/metrics/classification.js';
import { Rng } from '../src/rng.js';
import {
  calibrateConformal,
  calibrationSplit,
  conformalReport,
  conformalScores,
  pickRows,
  predictionSets,
  predictProbabilities,
  type ConformalOptions,
} from '../src/uncertainty/index.js';

const ds = await loadDataset(defaultAssets.data);
const labels = ds.labels!;
const model = await Model.open(defaultAssets.model);
const { probs, numClasses: K } = await predictProbabilities(model, ds.x, ds.size);
const noisy = (() => {
  const rng = new Rng(7);
  return Float32Array.from(ds.x, (v) => Math.min(1, Math.max(0, v + 0.5 * rng.normal())));
})();
const noisyProbs = (await predictProbabilities(model, noisy, ds.size)).probs;
await model.close();

const VARIANTS: [string, ConformalOptions][] = [
  ['LAC', { alpha: 0.1, score: 'lac' }],
  ['APS (randomised)', { alpha: 0.1, score: 'aps' }],
  ['APS (not randomised)', { alpha: 0.1, score: 'aps', randomized: false }],
];

function run(opts: ConformalOptions, seed: number, evalProbs = probs) {
  const sp = calibrationSplit(ds.size, 0.5, new Rng(seed).fork('split'));
  const cal = calibrateConformal(pickRows(probs, K, sp.calibration), K, pickRows(labels, 1, sp.calibration), opts, new Rng(seed).fork('cal'));
  return { cal, report: conformalReport(cal, pickRows(evalProbs, K, sp.evaluation), K, pickRows(labels, 1, sp.evaluation), new Rng(seed).fork('test')) };
}

for (const [name, opts] of VARIANTS) {
  test(`${name}: clean coverage at α = 0.1 averages within ±2 points of 0.90 over 10 seeds (each within ±4)`, () => {
    const cov: number[] = [];
    for (let seed = 0; seed < 10; seed++) cov.push(run(opts, seed).report.coverage);
    const mean = cov.reduce((a, b) => a + b, 0) / cov.length;
    assert.ok(Math.abs(mean - 0.9) <= 0.02, `mean coverage ${mean} (per seed ${cov.join(', ')})`);
    assert.ok(cov.every((c) => Math.abs(c - 0.9) <= 0.04), `per seed ${cov.join(', ')}`);
  });
}

test('coverage falls under heavy Gaussian noise (σ = 0.5), where calibration and test are no longer exchangeable', () => {
  for (const [name, opts] of VARIANTS.slice(0, 2)) {
    const clean = run(opts, 0).report;
    const stressed = run(opts, 0, noisyProbs).report;
    assert.ok(stressed.coverage < clean.coverage - 0.05, `${name}: ${clean.coverage} -> ${stressed.coverage}`);
  }
  // LAC keeps its small sets and loses most of its coverage; APS grows its sets.
  const lac = run(VARIANTS[0]![1], 0, noisyProbs).report;
  assert.ok(lac.coverage < 0.5, `LAC under noise ${lac.coverage}`);
  const aps = run(VARIANTS[1]![1], 0, noisyProbs).report;
  assert.ok(aps.meanSetSize > run(VARIANTS[1]![1], 0).report.meanSetSize);
});

test('q̂ is the ⌈(n+1)(1−α)⌉-th smallest calibration score; sets hold exactly the classes scoring ≤ q̂', () => {
  const n = 99;
  const p = probs.subarray(0, n * K);
  const y = labels.subarray(0, n);
  const cal = calibrateConformal(p, K, y, { alpha: 0.1, score: 'lac' });
  assert.equal(cal.rank, 90);
  const sorted = conformalScores(p, K, y, { score: 'lac' }).sort();
  assert.equal(cal.qhat, sorted[89]);
  const sets = predictionSets(cal, p, K);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < K; k++) assert.equal(sets.membership[i * K + k], 1 - p[i * K + k]! <= cal.qhat ? 1 : 0);
  }
  // With α too small for n, k > n: every set is every class.
  const all = calibrateConformal(p.subarray(0, 5 * K), K, y.subarray(0, 5), { alpha: 0.1 });
  assert.equal(all.rank, 6);
  assert.equal(all.qhat, Number.MAX_VALUE);
  assert.ok(predictionSets(all, p, K).sizes.every((s) => s === K));
});

test('APS sets are prefixes of the probability ranking, and the label is in its set exactly when its score ≤ q̂', () => {
  const n = 200;
  const p = probs.subarray(0, n * K);
  const y = labels.subarray(0, n);
  const cal = calibrateConformal(p, K, y, { alpha: 0.2, score: 'aps' }, new Rng(1));
  const scores = conformalScores(p, K, y, { score: 'aps' }, new Rng(2));
  const sets = predictionSets(cal, p, K, new Rng(2));
  for (let i = 0; i < n; i++) {
    assert.equal(sets.membership[i * K + y[i]!], scores[i]! <= cal.qhat ? 1 : 0);
    const ranked = Array.from({ length: K }, (_, k) => k).sort((a, b) => p[i * K + b]! - p[i * K + a]! || a - b);
    const inSet = ranked.map((k) => sets.membership[i * K + k]!);
    assert.equal(inSet.join('').replace(/^1*0*$/, 'ok'), 'ok', `item ${i}: ${inSet.join('')}`);
  }
});

test('conformal: same seed → same bytes; randomised APS depends on the seed', () => {
  const a = run(VARIANTS[1]![1], 3);
  const b = run(VARIANTS[1]![1], 3);
  assert.equal(JSON.stringify(a), JSON.stringify(b));
  const p = probs.subarray(0, 100 * K);
  const s1 = predictionSets(a.cal, p, K, new Rng(1)).membership;
  const s2 = predictionSets(a.cal, p, K, new Rng(1)).membership;
  const s3 = predictionSets(a.cal, p, K, new Rng(2)).membership;
  assert.deepEqual(s1, s2);
  assert.notDeepEqual(s1, s3);
});

test('bad conformal options are named for what goes wrong', () => {
  const p = toProbabilities([1, 2, 3, 3, 2, 1], 3, 'logits');
  const y = [2, 0];
  const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);
  assert.throws(() => calibrateConformal(p, 3, y, { alpha: 0 }), usage(/'alpha' must be in \(0, 1\), got 0/));
  assert.throws(() => calibrateConformal(p, 3, y, { alpha: 1.5 }), usage(/'alpha' must be in \(0, 1\), got 1.5/));
  assert.throws(() => calibrateConformal(p, 3, y, { alpha: 0.1, score: 'raps' as never }), usage(/'score' must be one of lac, aps, got raps/));
  assert.throws(() => calibrateConformal(p, 3, y, { alpha: 0.1, score: 'aps' }), usage(/randomised APS needs an Rng/));
  assert.throws(() => calibrateConformal(p, 3, y, { alpha: 0.1, score: 'lac', randomized: true }, new Rng(1)), usage(/'randomized' applies to the 'aps' score only/));
  assert.throws(() => calibrateConformal(new Float64Array(0), 3, [], { alpha: 0.1 }), (e: unknown) => e instanceof DataError && /at least one labelled item/.test(e.message));
  assert.throws(() => conformalReport(calibrateConformal(p, 3, y, { alpha: 0.5 }), p, 3, [0]), (e: unknown) => e instanceof DataError && /2 probability rows for 1 labels/.test(e.message));
});

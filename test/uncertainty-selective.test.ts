/** Selective prediction: risk–coverage curves, AURC, and a clean threshold under stress. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset } from '../src/data/load.js';
import { defaultAssets } from '../src/defaults.js';
import { Model } from '../src/engine/model.js';
import { UsageError } from '../src/errors.js';
import { itemStats, metricsFromStats } from '../src/metrics/suite.js';
import { Rng } from '../src/rng.js';
import { calibrationSplit, fitSelectiveThreshold, pickRows, predictProbabilities, riskCoverageCurve, selectiveAt, uncertaintyScores } from '../src/uncertainty/index.js';

const ds = await loadDataset(defaultAssets.data);
const labels = ds.labels!;
const model = await Model.open(defaultAssets.model);
const { probs, numClasses: K } = await predictProbabilities(model, ds.x, ds.size);
await model.close();

test('the risk–coverage curve has ≤ 50 points, ends at full coverage with the error rate, and AURC is the suite metric', () => {
  const c = riskCoverageCurve(probs, K, labels);
  assert.equal(c.coverage.length, 50);
  assert.equal(c.coverage.at(-1), 1);
  const acc = metricsFromStats(itemStats(probs, K, labels), null, 0).accuracy;
  assert.ok(Math.abs(c.risk.at(-1)! - (1 - acc)) < 1e-12);
  assert.equal(c.aurc, metricsFromStats(itemStats(probs, K, labels), null, 0).aurc);
  assert.ok(c.coverage.every((v, i) => i === 0 || v > c.coverage[i - 1]!));
  // Confidence ranks errors low: risk at 20 % coverage far below the overall error rate.
  assert.ok(c.risk[9]! < 0.2 * (1 - acc), `risk at 20 % coverage ${c.risk[9]}`);
  // Fewer items than points: one point per item.
  const small = riskCoverageCurve(probs.subarray(0, 7 * K), K, labels.subarray(0, 7));
  assert.deepEqual(small.coverage, [1, 2, 3, 4, 5, 6, 7].map((k) => k / 7));
});

test('the fitted threshold meets the target risk on its calibration items at maximal coverage; the clean evaluation split comes close', () => {
  const sp = calibrationSplit(ds.size, 0.5, new Rng(0));
  const cp = pickRows(probs, K, sp.calibration);
  const cl = pickRows(labels, 1, sp.calibration);
  for (const target of [0.01, 0.02, 0.05]) {
    const fit = fitSelectiveThreshold(cp, K, cl, target);
    assert.ok(fit.risk <= target, `target ${target}: risk ${fit.risk}`);
    const again = selectiveAt(cp, K, cl, fit.threshold);
    assert.equal(again.coverage, fit.coverage);
    assert.equal(again.risk, fit.risk);
    // Lowering the threshold to the next confidence below would break the target or add nothing.
    const conf = Array.from(uncertaintyScores(cp, K).maxSoftmax).filter((c) => c < fit.threshold).sort((a, b) => b - a);
    if (conf.length) assert.ok(selectiveAt(cp, K, cl, conf[0]!).risk > target);
    const ev = selectiveAt(pickRows(probs, K, sp.evaluation), K, pickRows(labels, 1, sp.evaluation), fit.threshold);
    assert.ok(ev.risk < target + 0.02 && Math.abs(ev.coverage - fit.coverage) < 0.06, `target ${target}: eval ${JSON.stringify(ev)}`);
  }
});

test('under heavy noise the clean threshold gives far higher risk', async () => {
  const m = await Model.open(defaultAssets.model);
  const rng = new Rng(7);
  const n = 500;
  const xn = Float32Array.from(ds.x.subarray(0, n * 784), (v) => Math.min(1, Math.max(0, v + 0.5 * rng.normal())));
  const pn = (await predictProbabilities(m, xn, n)).probs;
  await m.close();
  const fit = fitSelectiveThreshold(probs, K, labels, 0.02);
  const s = selectiveAt(pn, K, labels.subarray(0, n), fit.threshold);
  assert.ok(s.risk > 0.3, `risk under noise ${s.risk} at coverage ${s.coverage}`);
});

test('no threshold meets an unattainable target: abstain on everything (τ = Number.MAX_VALUE, coverage 0, risk 0)', () => {
  // The most confident item is wrong: relabel it.
  const top = itemStats(probs, K, labels).order[0]!;
  const y = Int32Array.from(labels);
  y[top] = (y[top]! + 1) % K;
  const fit = fitSelectiveThreshold(probs, K, y, 0);
  assert.deepEqual([fit.threshold, fit.coverage, fit.risk], [Number.MAX_VALUE, 0, 0]);
  assert.equal(JSON.parse(JSON.stringify(fit)).threshold, Number.MAX_VALUE);
});

test('bad selective options are named', () => {
  assert.throws(() => fitSelectiveThreshold(probs, K, labels, 1), (e: unknown) => e instanceof UsageError && /'targetRisk' must be in \[0, 1\), got 1/.test(e.message));
  assert.throws(() => riskCoverageCurve(probs, K, labels, 0), (e: unknown) => e instanceof UsageError && /'maxPoints' must be an integer >= 1, got 0/.test(e.message));
  assert.throws(() => selectiveAt(probs, K, new Int32Array(0), 0.5), /at least one labelled item/);
});

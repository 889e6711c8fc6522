import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapWeights, itemStats, mcnemar, metricsFromStats, metricsWithCi, percentileCi } from '../src/metrics/suite.js';
import { computeInteractions, type CellResult } from '../src/campaign/runner.js';
import type { Plan, CellPlan, Setting } from '../src/campaign/plan.js';
import { Rng } from '../src/rng.js';

/** Probabilities for a 2-class problem from per-item confidence in class 0. */
function probs2(p0: number[]): Float64Array {
  return Float64Array.from(p0.flatMap((p) => [p, 1 - p]));
}

test('metric suite on a hand-computed example (unit weights)', () => {
  // Items: conf/labels chosen so every metric is easy by hand.
  const p = probs2([0.9, 0.7, 0.4, 0.2]); // predictions 0, 0, 1, 1 with confidences 0.9, 0.7, 0.6, 0.8
  const labels = Int32Array.from([0, 1, 1, 0]); // correct, wrong, correct, wrong
  const s = itemStats(p, 2, labels);
  const m = metricsFromStats(s, null, 0.65);
  assert.equal(m.accuracy, 0.5);
  assert.ok(Math.abs(m.mean_confidence - (0.9 + 0.7 + 0.6 + 0.8) / 4) < 1e-12);
  assert.ok(Math.abs(m.confidence_on_errors - (0.7 + 0.8) / 2) < 1e-12);
  assert.equal(m.abstention_rate, 0.25); // only 0.6 < 0.65
  // Risk–coverage: sorted by confidence 0.9 (ok), 0.8 (err), 0.7 (err), 0.6 (ok) → risks 0, 1/2, 2/3, 2/4.
  assert.ok(Math.abs(m.aurc - (0 + 1 / 2 + 2 / 3 + 2 / 4) / 4) < 1e-12);
  // NLL: −log of p(label): 0.9, 0.3, 0.6, 0.2.
  assert.ok(Math.abs(m.nll - -(Math.log(0.9) + Math.log(0.3) + Math.log(0.6) + Math.log(0.2)) / 4) < 1e-12);
});

test('integer weights equal repeating items', () => {
  const p = probs2([0.9, 0.7, 0.4, 0.2]);
  const labels = Int32Array.from([0, 1, 1, 0]);
  const weighted = metricsFromStats(itemStats(p, 2, labels), Uint16Array.from([2, 0, 1, 3]), 0.5);
  const rep = [0, 0, 2, 3, 3, 3];
  const repeated = metricsFromStats(itemStats(probs2(rep.map((i) => [0.9, 0.7, 0.4, 0.2][i]!)), 2, Int32Array.from(rep, (i) => labels[i]!)), null, 0.5);
  for (const k of Object.keys(weighted) as (keyof typeof weighted)[]) assert.ok(Math.abs(weighted[k] - repeated[k]) < 1e-12 || (Number.isNaN(weighted[k]) && Number.isNaN(repeated[k])), k);
});

test('bootstrap CIs of accuracy cover the true rate in most seeded trials', () => {
  // Items correct with probability 0.8; the 95 % CI should cover 0.8 in about 95 % of trials.
  let covered = 0;
  const trials = 40;
  for (let t = 0; t < trials; t++) {
    const rng = new Rng(t);
    const n = 300;
    const labels = new Int32Array(n);
    const p = probs2(Array.from({ length: n }, () => (rng.uniform() < 0.8 ? 0.9 : 0.1)));
    const { metrics } = metricsWithCi(itemStats(p, 2, labels), bootstrapWeights(n, 300, rng.fork('b')), 0.5);
    if (metrics.accuracy.ci[0] <= 0.8 && 0.8 <= metrics.accuracy.ci[1]) covered++;
  }
  assert.ok(covered >= 34, `covered ${covered}/${trials}`);
});

test('percentile CI and McNemar exact test on known cases', () => {
  const [lo, hi] = percentileCi(Array.from({ length: 101 }, (_, i) => i));
  assert.ok(Math.abs(lo - 2.5) < 1e-9 && Math.abs(hi - 97.5) < 1e-9, `${lo}, ${hi}`);
  // b = 0, c = 5: p = 2 · (1/2)^5.
  const r = mcnemar([0, 0, 0, 0, 0, 1], [1, 1, 1, 1, 1, 1]);
  assert.deepEqual([r.b, r.c], [0, 5]);
  assert.ok(Math.abs(r.pValue - 2 / 32) < 1e-12);
  assert.equal(mcnemar([1, 0], [1, 0]).pValue, 1);
});

function setting<S>(kind: 'adversarial' | 'drift' | 'annotation', key: string): Setting<S> {
  return { kind, spec: {} as S, key, label: key };
}
function cell(id: string, stage: CellPlan['stage'], s: Partial<Record<'adversarial' | 'drift' | 'annotation', string>>): CellPlan {
  return {
    id,
    stage,
    hash: id,
    adversarial: s.adversarial ? setting('adversarial', s.adversarial) : null,
    drift: s.drift ? setting('drift', s.drift) : null,
    annotation: s.annotation ? setting('annotation', s.annotation) : null,
  };
}
function result(id: string, correct: number[], stresses: Record<string, unknown>): CellResult {
  return { id, stresses, correct: correct.join(''), correct_observed: null, item_indices: null } as unknown as CellResult;
}

test('interaction effects: additive stresses give ~0, overlapping ones negative, compounding ones positive', () => {
  const n = 400;
  const rng = new Rng(3);
  const weights = bootstrapWeights(n, 400, rng);
  // Baseline all correct. Drift breaks items [0, 100), attack breaks [100, 200): disjoint → additive.
  const ones = Array.from({ length: n }, () => 1);
  const breakRange = (a: number, b: number, base = ones) => base.map((v, i) => (i >= a && i < b ? 0 : v));
  const plan: Plan = {
    cells: [cell('b', 'baseline', {}), cell('d', 'isolated', { drift: 'd' }), cell('a', 'isolated', { adversarial: 'a' }), cell('da', 'pairwise', { drift: 'd', adversarial: 'a' })],
    settings: { adversarial: [], drift: [], annotation: [] },
  };
  const run = (combined: number[]) =>
    computeInteractions(plan, [result('b', ones, {}), result('d', breakRange(0, 100), { drift: {} }), result('a', breakRange(100, 200), { adversarial: {} }), result('da', combined, { drift: {}, adversarial: {} })], weights, 0.5)[0]!;
  const additive = run(breakRange(0, 200));
  assert.ok(Math.abs(additive.interaction.value) < 1e-12);
  assert.equal(additive.verdict, 'additive');
  assert.ok(additive.interaction.ci[0] <= 0 && additive.interaction.ci[1] >= 0);
  // The same items break under both: the combined drop (0.25) is less than 0.25 + 0.25.
  const overlap = run(breakRange(0, 100));
  assert.ok(Math.abs(overlap.interaction.value - -0.25) < 1e-12);
  assert.equal(overlap.verdict, 'overlapping');
  // Together they break far more than apart.
  const compound = run(breakRange(0, 350));
  assert.ok(Math.abs(compound.interaction.value - (0.875 - 0.5)) < 1e-12);
  assert.equal(compound.verdict, 'compounding');
});

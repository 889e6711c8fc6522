/**
 * A hand-built run for the report tests (no model runs): 200 items, baseline, two FGSM ε, two
 * noise severities, label noise and one pair, with budgets — as results.json would hold it.
 */
import type { BudgetResult } from '../src/campaign/budgets.js';
import type { CampaignResults, CellResult, Interaction } from '../src/campaign/runner.js';
import { METRIC_NAMES, type MetricName, type MetricWithCi } from '../src/metrics/suite.js';
import { Rng } from '../src/rng.js';

export const N = 200;

export function bits(rng: Rng, p: number, n = N): string {
  let s = '';
  for (let i = 0; i < n; i++) s += rng.uniform() < p ? '1' : '0';
  return s;
}

export function m(value: number, half = 0.03): MetricWithCi {
  return { value, ci: [value - half, value + half] };
}

export function cell(id: string, stage: string, stresses: CellResult['stresses'], labels: CellResult['labels'], correct: string, extra: Partial<CellResult> = {}): CellResult {
  const acc = [...correct].filter((c) => c === '1').length / correct.length;
  const metrics = Object.fromEntries(METRIC_NAMES.map((k) => [k, m(k === 'accuracy' ? acc : 0.1)])) as Record<MetricName, MetricWithCi>;
  // Cast: the runner's CellResult grows optional sections (explanations, uncertainty …) the report ignores.
  return {
    id,
    stage,
    hash: `h-${id}`,
    stresses,
    labels,
    samples: correct.length,
    metrics,
    observed_metrics: null,
    measurement_gap: null,
    vs_baseline: stage === 'baseline' ? null : { accuracy_drop: m(0.9 - acc), mcnemar: { b: 10, c: 1, p_value: 0.01 } },
    details: {},
    performance: { seconds: 1, latency_ms_p50: 1, latency_ms_p95: 1, latency_ms_p99: 1, throughput_per_s: 100 },
    correct,
    correct_observed: null,
    item_indices: null,
    ...extra,
  } as unknown as CellResult;
}

export function fakeResults(): CampaignResults {
  const rng = new Rng('report-unit');
  const fgsm = (eps: number) => ({ attack: 'fgsm', norm: 'linf', eps });
  const noise = (severity: number) => ({ corruption: 'gaussian_noise', severity });
  const cells = [
    cell('c000-clean', 'baseline', {}, {}, bits(rng, 0.9)),
    cell('c001-adv', 'isolated', { adversarial: fgsm(0.01) }, { adversarial: 'fgsm linf ε=0.01' }, bits(rng, 0.6), { details: { adversarial: { flags: ['masking: loss plateau'], curve: [] } } }),
    cell('c002-adv', 'isolated', { adversarial: fgsm(0.03) }, { adversarial: 'fgsm linf ε=0.03' }, bits(rng, 0.3)),
    cell('c003-drift', 'isolated', { drift: noise(2) }, { drift: 'gaussian_noise s2' }, bits(rng, 0.85), { details: { drift: { description: 'gaussian_noise at severity 2' } } }),
    cell('c004-drift', 'isolated', { drift: noise(4) }, { drift: 'gaussian_noise s4' }, bits(rng, 0.7)),
    cell('c005-ann', 'isolated', { annotation: { model: 'symmetric', rate: 0.2 } }, { annotation: 'symmetric 0.2' }, bits(rng, 0.9), {
      observed_metrics: Object.fromEntries(METRIC_NAMES.map((k) => [k, m(k === 'accuracy' ? 0.74 : 0.2)])) as Record<MetricName, MetricWithCi>,
      measurement_gap: -0.16,
      correct_observed: bits(rng, 0.74),
      details: { annotation: { realised_rate: 0.18, expected_rate: 0.2, realised_matrix: { counts: [[90, 10], [8, 92]] } } },
    }),
    cell('c006-adv+drift', 'pairwise', { adversarial: fgsm(0.01), drift: noise(2) }, { adversarial: 'fgsm linf ε=0.01', drift: 'gaussian_noise s2' }, bits(rng, 0.3)),
  ];
  const inter: Interaction = { cell: 'c006-adv+drift', stage: 'pairwise', kinds: ['adversarial', 'drift'], metric: 'accuracy', observed_drop: m(0.6), additive_drop: m(0.35), interaction: m(0.25, 0.05), verdict: 'compounding', floor: null };
  const budgets: BudgetResult[] = [
    { budget: { metric: 'accuracy', stage: 'baseline', min: 0.95 }, name: 'accuracy ≥ 0.95 at stage baseline', passed: false, cells: [{ id: 'c000-clean', value: cells[0]!.metrics.accuracy.value, passed: false }], message: 'failed' },
    { budget: { metric: 'accuracy', stage: 'baseline', min: 0.5 }, name: 'accuracy ≥ 0.5 at stage baseline', passed: true, cells: [{ id: 'c000-clean', value: cells[0]!.metrics.accuracy.value, passed: true }], message: 'passed on 1 cell(s)' },
    { budget: { metric: 'accuracy', stage: 'combined', min: 0.1 }, name: 'accuracy ≥ 0.1 at stage combined', passed: false, cells: [], message: 'no cell matches this budget' },
  ];
  return {
    gauntlet: '0.1.0',
    seed: 3,
    model: { path: '/models/m.onnx', sha256: 'a'.repeat(64), output_kind: 'logits' },
    data: { path: '/data/d.npz', sha256: 'b'.repeat(64), samples: N, classes: 2 },
    config: { source: 'unit', seed: 3, bootstrap: 100, data: { path: '/data/d.npz', classNames: ['cat', 'dog'] }, stresses: { adversarial: [fgsm(0.01), fgsm(0.03)] } },
    cells,
    interactions: [inter],
    budgets,
    performance: { wall_seconds: 10, floor_seconds: 5, floor_ratio: 2, forward_ms_per_batch: 1, forward_grad_ms_per_batch: 2, forward_batches: 10, gradient_batches: 5 },
  } as unknown as CampaignResults;
}

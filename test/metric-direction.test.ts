/** The one table of metric directions (metrics/suite.ts LOWER_IS_BETTER), as budgets and compare read it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateBudgets } from '../src/campaign/budgets.js';
import type { CellResult } from '../src/campaign/types.js';
import { LOWER_IS_BETTER, METRIC_NAMES, lowerIsBetter, type MetricName } from '../src/metrics/suite.js';

test('LOWER_IS_BETTER names every suite metric and nothing else', () => {
  assert.deepEqual(Object.keys(LOWER_IS_BETTER).sort(), [...METRIC_NAMES].sort());
  assert.deepEqual(METRIC_NAMES.filter((m) => LOWER_IS_BETTER[m] === true), ['ece', 'nll', 'brier', 'confidence_on_errors', 'abstention_rate', 'aurc']);
  assert.equal(lowerIsBetter('accuracy'), false);
  assert.equal(lowerIsBetter('observed_accuracy'), false);
  assert.equal(lowerIsBetter('mean_confidence'), null);
  assert.equal(lowerIsBetter('latency'), null);
});

/** A cell with one metric set (others 0) and the stresses given. */
function cell(id: string, metric: MetricName, value: number, ci: [number, number], stresses: Record<string, unknown> = {}): CellResult {
  const metrics = Object.fromEntries(METRIC_NAMES.map((m) => [m, { value: 0, ci: [0, 0] }])) as CellResult['metrics'];
  metrics[metric] = { value, ci };
  return { id, stage: Object.keys(stresses).length ? 'isolated' : 'baseline', stresses, metrics, observed_metrics: null } as unknown as CellResult;
}

test('confidence on errors rising is a drop (it was judged as higher-is-better by budgets before the one table)', () => {
  const cells = [cell('c0', 'confidence_on_errors', 0.5, [0.45, 0.55]), cell('c1', 'confidence_on_errors', 0.7, [0.65, 0.75], { drift: {} })];
  const [drop] = evaluateBudgets([{ metric: 'confidence_on_errors', max_drop: 0.1, stress: 'drift' }], cells);
  assert.equal(drop!.passed, false, 'an increase of 0.2 exceeds max_drop 0.1');
  const [pess] = evaluateBudgets([{ metric: 'confidence_on_errors', max: 0.72, stress: 'drift', pessimistic: true }], cells);
  assert.deepEqual(pess!.cells, [{ id: 'c1', value: 0.75, passed: false }], 'the pessimistic end of a lower-is-better metric is the high one');
  const [acc] = evaluateBudgets([{ metric: 'accuracy', min: 0, stress: 'drift', pessimistic: true }], [cell('c0', 'accuracy', 0.9, [0.88, 0.92]), cell('c1', 'accuracy', 0.8, [0.78, 0.82], { drift: {} })]);
  assert.equal(acc!.cells[0]!.value, 0.78, 'the pessimistic end of accuracy is the low one');
});

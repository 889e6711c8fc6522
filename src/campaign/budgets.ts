import type { Budget } from './config.js';
import type { BudgetResult, CellResult } from './types.js';
import { lowerIsBetter, type MetricName } from '../metrics/suite.js';

export type { BudgetResult } from './types.js';

/**
 * Judges each budget on the cells it selects (by stage and/or stress kind present). `min`/`max`
 * bound the metric; `max_drop` bounds the degradation from the baseline (for lower-is-better
 * metrics, the increase). With `pessimistic`, the CI end least favourable to the model is judged.
 * A budget that selects no cell fails (a gate that checks nothing must not pass silently).
 */
export function evaluateBudgets(budgets: readonly Budget[], baseCells: readonly CellResult[], variants: ReadonlyMap<string, readonly CellResult[]> = new Map()): BudgetResult[] {
  return budgets.map((b) => {
    // A budget with `variant` judges that variant's cells, and its drops against that variant's own baseline.
    const cells = b.variant ? (variants.get(b.variant) ?? []) : baseCells;
    const base = cells.find((c) => Object.keys(c.stresses).length === 0);
    const metric = b.metric as MetricName;
    const lower = lowerIsBetter(metric) === true;
    const selected = cells.filter((c) => (!b.stage || c.stage === b.stage) && (!b.stress || b.stress in c.stresses));
    const name = [
      b.metric + (b.observed ? ' (observed labels)' : ''),
      b.min !== undefined ? `≥ ${b.min}` : '',
      b.max !== undefined ? `≤ ${b.max}` : '',
      b.max_drop !== undefined ? `drop ≤ ${b.max_drop}` : '',
      b.stage ? `at stage ${b.stage}` : '',
      b.stress ? `under ${b.stress}` : '',
      b.pessimistic ? '(pessimistic CI end)' : '',
      b.variant ? `for variant ${b.variant}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    if (selected.length === 0) return { budget: b, name, passed: false, cells: [], message: 'no cell matches this budget' };
    const judged = selected.map((c) => {
      const ms = b.observed && c.observed_metrics ? c.observed_metrics : c.metrics;
      const m = ms[metric];
      // The pessimistic end: the low end for higher-is-better metrics, the high end otherwise.
      const value = b.pessimistic ? (lower ? m.ci[1] : m.ci[0]) : m.value;
      let passed = Number.isFinite(value);
      if (b.min !== undefined) passed &&= value >= b.min;
      if (b.max !== undefined) passed &&= value <= b.max;
      if (b.max_drop !== undefined && base) {
        const baseValue = base.metrics[metric].value;
        const drop = lower ? value - baseValue : baseValue - value;
        passed &&= drop <= b.max_drop;
      }
      return { id: c.id, value, passed };
    });
    const failed = judged.filter((j) => !j.passed);
    return {
      budget: b,
      name,
      passed: failed.length === 0,
      cells: judged,
      message: failed.length === 0 ? `passed on ${judged.length} cell(s)` : `failed on ${failed.map((f) => `${f.id} (${f.value.toFixed(4)})`).join(', ')}`,
    };
  });
}

/**
 * junit.xml: one JUnit test case per budget, so any CI system shows the run's risk criteria as
 * tests. A failed budget is a <failure> whose message names the first failing cell with its
 * measured value, 95 % CI and the bound, and whose body lists every failing cell the same way
 * (with the judged value when the budget uses the CI's pessimistic end, and the drop from the
 * baseline for `max_drop` budgets). A budget that matches no cell fails. Passing budgets list the
 * cells they judged in <system-out>.
 */
import type { BudgetResult } from '../campaign/types.js';
import type { CampaignResults } from '../campaign/types.js';
import { lowerIsBetter, type MetricName } from '../metrics/suite.js';
import { escapeXml } from './escape.js';
import { baselineCell, cellLabel, fmt } from './format.js';


/** The bound of a budget in words: "min 0.9, max_drop 0.1". */
export function budgetBound(b: BudgetResult): string {
  const parts = [b.budget.min !== undefined ? `min ${b.budget.min}` : '', b.budget.max !== undefined ? `max ${b.budget.max}` : '', b.budget.max_drop !== undefined ? `max_drop ${b.budget.max_drop}` : ''];
  return parts.filter(Boolean).join(', ');
}

/** One line per judged cell: measured value, CI, judged value, drop, bound, verdict. */
export function budgetCellLines(r: CampaignResults, b: BudgetResult, which: 'failed' | 'all'): string[] {
  const metric = b.budget.metric as MetricName;
  const base = baselineCell(r);
  const lower = lowerIsBetter(metric) === true;
  return b.cells
    .filter((j) => which === 'all' || !j.passed)
    .map((j) => {
      const cell = r.cells.find((c) => c.id === j.id);
      const ms = cell ? (b.budget.observed && cell.observed_metrics ? cell.observed_metrics : cell.metrics) : null;
      const m = ms?.[metric];
      const name = `${metric}${b.budget.observed ? ' (observed labels)' : ''}`;
      const parts = [`${j.id}${cell ? ` (${cellLabel(cell)})` : ''}: ${name} = ${m ? `${fmt(m.value, 4)} (95% CI [${fmt(m.ci[0], 4)}, ${fmt(m.ci[1], 4)}])` : fmt(j.value, 4)}`];
      if (b.budget.pessimistic) parts.push(`judged on the pessimistic CI end ${fmt(j.value, 4)}`);
      if (b.budget.max_drop !== undefined && base) {
        const baseValue = base.metrics[metric]?.value ?? NaN;
        const drop = lower ? j.value - baseValue : baseValue - j.value;
        const dropCi = metric === 'accuracy' && cell?.vs_baseline && !b.budget.pessimistic && !b.budget.observed ? cell.vs_baseline.accuracy_drop.ci : null;
        parts.push(`drop from baseline ${fmt(baseValue, 4)} = ${fmt(drop, 4)}${dropCi ? ` (95% CI [${fmt(dropCi[0], 4)}, ${fmt(dropCi[1], 4)}])` : ''}`);
      }
      parts.push(`bound ${budgetBound(b)}`);
      parts.push(j.passed ? 'PASS' : 'FAIL');
      return parts.join('; ');
    });
}

/** One JUnit test case per budget; a failed budget is a <failure> with the values, CIs and the bound. */
export function junitXml(r: CampaignResults): string {
  const failures = r.budgets.filter((b) => !b.passed).length;
  const cases = r.budgets.map((b) => {
    const scope = [b.budget.stage ? `stage.${b.budget.stage}` : '', b.budget.stress ? `stress.${b.budget.stress}` : ''].filter(Boolean).join('.') || 'all';
    const head = `    <testcase classname="gauntlet.budgets.${escapeXml(scope)}" name="${escapeXml(b.name)}" time="0">`;
    if (b.passed) return `${head}\n      <system-out>${escapeXml(budgetCellLines(r, b, 'all').join('\n'))}</system-out>\n    </testcase>`;
    const lines = b.cells.length ? budgetCellLines(r, b, 'failed') : [`no cell matches this budget (stage ${b.budget.stage ?? 'any'}, stress ${b.budget.stress ?? 'any'}); bound ${budgetBound(b)}`];
    const message = `${b.name} failed: ${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more cell${lines.length > 2 ? 's' : ''})` : ''}`;
    return `${head}\n      <failure message="${escapeXml(message)}" type="BudgetFailed">${escapeXml(lines.join('\n'))}</failure>\n    </testcase>`;
  });
  const props = [
    ['model', r.model.path],
    ['model_sha256', r.model.sha256],
    ['data', r.data.path],
    ['data_sha256', r.data.sha256],
    ['seed', String(r.seed)],
    ['gauntlet', r.gauntlet],
  ]
    .map(([k, v]) => `      <property name="${escapeXml(k)}" value="${escapeXml(v)}"/>`)
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="gauntlet" tests="${r.budgets.length}" failures="${failures}" errors="0">
  <testsuite name="budgets" tests="${r.budgets.length}" failures="${failures}" errors="0" skipped="0" time="0">
    <properties>
${props}
    </properties>
${cases.map((c) => `${c}\n`).join('')}  </testsuite>
</testsuites>
`;
}

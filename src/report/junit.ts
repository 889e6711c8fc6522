import type { CampaignResults } from '../campaign/runner.js';
import { escapeXml } from './escape.js';

/** One JUnit test case per budget; a failed budget is a <failure> with the values, CIs and the bound. */
export function junitXml(r: CampaignResults): string {
  const failures = r.budgets.filter((b) => !b.passed).length;
  const cases = r.budgets.map((b) => {
    const head = `    <testcase classname="gauntlet.budgets" name="${escapeXml(b.name)}">`;
    if (b.passed) return `${head}</testcase>`;
    const detail = b.cells
      .filter((c) => !c.passed)
      .map((c) => {
        const cell = r.cells.find((x) => x.id === c.id);
        const m = cell ? (b.budget.observed && cell.observed_metrics ? cell.observed_metrics : cell.metrics)[b.budget.metric as 'accuracy'] : null;
        return `${c.id}: ${b.budget.metric} = ${c.value.toFixed(4)}${m ? ` (point ${m.value.toFixed(4)}, 95% CI [${m.ci[0].toFixed(4)}, ${m.ci[1].toFixed(4)}])` : ''}`;
      })
      .join('\n');
    const bound = [b.budget.min !== undefined ? `min ${b.budget.min}` : '', b.budget.max !== undefined ? `max ${b.budget.max}` : '', b.budget.max_drop !== undefined ? `max_drop ${b.budget.max_drop}` : ''].filter(Boolean).join(', ');
    return `${head}\n      <failure message="${escapeXml(`${b.message}; bound: ${bound}`)}">${escapeXml(detail || b.message)}</failure>\n    </testcase>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="gauntlet" tests="${r.budgets.length}" failures="${failures}">
  <testsuite name="budgets" tests="${r.budgets.length}" failures="${failures}">
${cases.join('\n')}
  </testsuite>
</testsuites>
`;
}

import type { CampaignResults, CellResult } from '../campaign/runner.js';

const f = (v: number | null | undefined, d = 3) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));
const ci = (m: { value: number; ci: [number, number] }) => `${f(m.value)} [${f(m.ci[0])}, ${f(m.ci[1])}]`;
const label = (c: CellResult) => Object.values(c.labels).join(' + ') || 'clean';

/** A concise summary for a pull request or ticket, with a model-card section. */
export function markdownReport(r: CampaignResults): string {
  const base = r.cells.find((c) => Object.keys(c.stresses).length === 0);
  const worst = (kind: string) =>
    r.cells.filter((c) => Object.keys(c.stresses).length === 1 && kind in c.stresses).sort((a, b) => a.metrics.accuracy.value - b.metrics.accuracy.value)[0];
  const lines: string[] = [];
  lines.push(`# Gauntlet stress report`, '');
  lines.push(`- **Model:** \`${r.model.path}\` (sha256 \`${r.model.sha256}\`, ${r.model.output_kind})`);
  lines.push(`- **Data:** \`${r.data.path}\` (sha256 \`${r.data.sha256}\`, ${r.data.samples} items, ${r.data.classes} classes)`);
  lines.push(`- **Seed:** ${r.seed}; Gauntlet ${r.gauntlet}; every number below has a 95 % bootstrap CI over items.`);
  if (r.budgets.length) {
    const failed = r.budgets.filter((b) => !b.passed);
    lines.push(`- **Budgets:** ${failed.length ? `❌ ${failed.length} of ${r.budgets.length} failed` : `✅ all ${r.budgets.length} passed`}`);
  }
  lines.push('', '## Results', '', '| stage | stresses | accuracy [95% CI] | drop vs clean | accuracy on observed labels | ECE |', '| --- | --- | --- | --- | --- | --- |');
  for (const c of r.cells) {
    lines.push(`| ${c.stage} | ${label(c)} | ${ci(c.metrics.accuracy)} | ${c.vs_baseline ? ci(c.vs_baseline.accuracy_drop) : '–'} | ${c.observed_metrics ? ci(c.observed_metrics.accuracy) : '–'} | ${f(c.metrics.ece.value)} |`);
  }
  const inter = r.interactions.filter((i) => i.metric === 'accuracy');
  if (inter.length) {
    lines.push('', '## Interactions', '', 'Observed accuracy drop of a combined cell against the sum of its stresses’ isolated drops.', '', '| cell | stresses | observed drop | additive prediction | interaction [95% CI] | verdict |', '| --- | --- | --- | --- | --- | --- |');
    for (const i of inter) {
      const c = r.cells.find((x) => x.id === i.cell)!;
      lines.push(`| ${i.cell} | ${label(c)} | ${f(i.observed_drop.value)} | ${f(i.additive_drop.value)} | ${ci(i.interaction)} | ${i.verdict} |`);
    }
  }
  if (r.budgets.length) {
    lines.push('', '## Budgets', '');
    for (const b of r.budgets) lines.push(`- ${b.passed ? '✅' : '❌'} ${b.name} — ${b.message}`);
  }
  // Model card.
  lines.push('', '## Model card', '');
  lines.push(`**Intended use.** A ${r.data.classes}-class classifier evaluated on \`${r.data.path}\`; the figures hold for inputs like that data and the stresses listed.`);
  lines.push('', `**Evaluation data.** ${r.data.samples} items, content hash \`${r.data.sha256}\`.`);
  lines.push('', '**Robustness profile.**');
  if (base) lines.push(`- Clean accuracy ${ci(base.metrics.accuracy)}, ECE ${f(base.metrics.ece.value)}.`);
  const adv = worst('adversarial');
  if (adv) lines.push(`- Adversarial: worst isolated setting (${label(adv)}) leaves accuracy ${ci(adv.metrics.accuracy)}.`);
  const drift = worst('drift');
  if (drift) lines.push(`- Distribution shift: worst isolated setting (${label(drift)}) leaves accuracy ${ci(drift.metrics.accuracy)}.`);
  const ann = r.cells.find((c) => Object.keys(c.stresses).length === 1 && 'annotation' in c.stresses);
  if (ann && ann.observed_metrics) {
    lines.push(`- Annotation noise (${label(ann)}): measured against the noisy labels, accuracy reads ${ci(ann.observed_metrics.accuracy)} while the true accuracy is ${ci(ann.metrics.accuracy)} — a measurement gap of ${f(ann.measurement_gap)}.`);
  }
  lines.push('', '**Known limitations.**');
  lines.push('- Results cover only the stresses and strengths listed; robustness to other corruptions or stronger attacks is not implied.');
  lines.push('- Robust accuracy is an upper bound: an attack that fails does not prove no attack succeeds.');
  lines.push('', '**Mitigations to consider.**');
  if (adv && base && base.metrics.accuracy.value - adv.metrics.accuracy.value > 0.2) lines.push('- Large adversarial drops: consider adversarial training (PGD/TRADES) or input-gradient regularisation, and re-run with AutoAttack before claiming robustness.');
  if (drift && base && base.metrics.accuracy.value - drift.metrics.accuracy.value > 0.1) lines.push(`- Corruption sensitivity (${label(drift)}): augment training with that corruption family (e.g. AugMix-style mixtures) and monitor input drift in production.`);
  if (ann && (ann.measurement_gap ?? 0) < -0.05) lines.push('- Label noise distorts measurement: audit evaluation labels (gauntlet audit-labels) and use several annotators with Dawid–Skene aggregation for test sets.');
  if (inter.some((i) => i.verdict === 'compounding')) lines.push('- Some stresses compound: test them together, not one at a time.');
  lines.push('');
  return lines.join('\n');
}

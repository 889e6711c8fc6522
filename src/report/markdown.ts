/**
 * report.md: a concise summary for a pull request or a ticket (verdict, key findings, budgets,
 * results table, interactions) followed by a model card (intended use, evaluation data and its
 * hash, robustness profile, known limitations, mitigations chosen from the observed weaknesses).
 * Every figure carries its 95 % CI. User-provided strings are escaped for Markdown (and for the
 * HTML that Markdown renderers pass through).
 */
import type { CampaignResults, CellResult } from '../campaign/types.js';
import { adversarialCurves, annotationCurves, attackFlags, driftCurves, largestGap, measurementGap, otherDriftCells, singleStressCells, verdictText, worstSingle, type Series } from './analysis.js';
import { completenessTable, componentTable, driftTable, featureTable, gainTable, mostDrifted } from './explanations.js';
import { servingTable, textTable, type TableData } from './table-data.js';
import { uncertaintyFittedText, uncertaintyTables, worstCoverage } from './uncertainty.js';
import { hasVariants, mitigationFindings, mitigationTables, trainTimeTable, variantCards, variantFlags } from './mitigation.js';
import { budgetBound, budgetCellLines } from './junit.js';
import { baselineCell, cellLabel, classNames, fmt, fmtCi, isNum } from './format.js';

/** Escapes text for Markdown (tables included) and for raw HTML inside Markdown. */
export function md(s: unknown): string {
  return String(s)
    .replace(/[\\`*_{}[\]<>|#]/g, (c) => ({ '<': '&lt;', '>': '&gt;' })[c] ?? `\\${c}`)
    .replace(/\r?\n/g, ' ');
}
/** A code span (backticks inside become quotes; pipes escaped for tables). */
const code = (s: unknown) => `\`${String(s).replace(/`/g, "'").replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')}\``;

/** A table given as data (table-data.ts) as a Markdown table: numbers as "value [lo, hi]", text escaped. */
function mdTable(t: TableData): string[] {
  const cell = (c: TableData['rows'][number][number]) => (typeof c === 'string' ? md(c) : c.ci ? fmtCi({ value: c.value, ci: c.ci }, c.digits) : fmt(c.value, c.digits));
  return [`_${md(t.caption)}_`, '', `| ${t.head.map(md).join(' | ')} |`, `| ${t.head.map(() => '---').join(' | ')} |`, ...t.rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

function seriesText(s: Series, xName: string): string {
  return s.points.map((p) => `${xName} ${p.x}: ${fmt(p.value)} [${fmt(p.ci[0])}, ${fmt(p.ci[1])}]`).join('; ');
}

/** The smallest x at which a series' accuracy falls below `level` (linear interpolation), or null. */
function crossing(s: Series, level: number): number | null {
  const pts = s.points.filter((p) => isNum(p.value));
  for (let i = 0; i < pts.length; i++) {
    const p = pts[i]!;
    if ((p.value as number) < level) {
      if (i === 0) return p.x;
      const q = pts[i - 1]!;
      const t = ((q.value as number) - level) / ((q.value as number) - (p.value as number));
      return q.x + t * (p.x - q.x);
    }
  }
  return null;
}

function eceDelta(base: CellResult | undefined, c: CellResult): number | null {
  return base && isNum(base.metrics.ece.value) && isNum(c.metrics.ece.value) ? c.metrics.ece.value - base.metrics.ece.value : null;
}

/** A concise summary for a pull request or ticket, with a model-card section. */
export function markdownReport(r: CampaignResults): string {
  const base = baselineCell(r);
  const advWorst = worstSingle(r, 'adversarial');
  const driftWorst = worstSingle(r, 'drift');
  const gap = largestGap(r);
  const inter = r.interactions.filter((i) => i.metric === 'accuracy');
  const floors = inter.filter((i) => i.verdict === 'floor');
  const compounding = inter.filter((i) => i.verdict === 'compounding').sort((a, b) => (b.interaction.value ?? 0) - (a.interaction.value ?? 0));
  const flags = [...new Set(attackFlags(r).map((f) => f.flag))];
  const failed = r.budgets.filter((b) => !b.passed);
  const modelFile = r.model.path.split(/[\\/]/).pop() ?? r.model.path;
  const cfg = r.config as { bootstrap?: number } | null;
  const L: string[] = [];

  L.push(`# Gauntlet stress report: ${md(modelFile)}`, '');
  const verdict = !r.budgets.length ? 'no budgets declared' : failed.length ? `❌ **${failed.length} of ${r.budgets.length} budgets failed**` : `✅ all ${r.budgets.length} budgets passed`;
  L.push(`**Verdict:** ${verdict}`, '');
  L.push(`- **Model:** ${code(r.model.path)} (${md(r.model.output_kind)}), sha256 ${code(r.model.sha256)}`);
  L.push(`- **Data:** ${code(r.data.path)} (${r.data.samples} items, ${r.data.classes} classes), sha256 ${code(r.data.sha256)}`);
  L.push(`- **Seed:** ${r.seed} · Gauntlet ${md(r.gauntlet)} · ${r.cells.length} cells · every number is a point estimate with its 95 % bootstrap CI over items (${cfg?.bootstrap ?? '?'} resamples)`);

  L.push('', '## Key findings', '');
  if (base) L.push(`- **Clean accuracy** ${fmtCi(base.metrics.accuracy)}; ECE ${fmtCi(base.metrics.ece)}.`);
  if (advWorst) L.push(`- **Adversarial:** worst isolated setting ${md(cellLabel(advWorst))} leaves accuracy ${fmtCi(advWorst.metrics.accuracy)}${advWorst.vs_baseline ? ` (drop ${fmtCi(advWorst.vs_baseline.accuracy_drop)})` : ''}.`);
  if (driftWorst) L.push(`- **Distribution shift:** worst isolated setting ${md(cellLabel(driftWorst))} leaves accuracy ${fmtCi(driftWorst.metrics.accuracy)}${driftWorst.vs_baseline ? ` (drop ${fmtCi(driftWorst.vs_baseline.accuracy_drop)})` : ''}.`);
  if (gap?.observed_metrics) {
    L.push(`- **Annotation noise:** under ${md(cellLabel(gap))} the accuracy measured on the noisy labels reads ${fmtCi(gap.observed_metrics.accuracy)} while the true accuracy is ${fmtCi(gap.metrics.accuracy)} — a measurement gap of ${fmtCi(measurementGap(gap) ?? { value: gap.measurement_gap, ci: [null, null] })} (paired bootstrap).`);
  }
  if (compounding.length) {
    const c = compounding[0]!;
    const cell = r.cells.find((x) => x.id === c.cell);
    L.push(`- **Interactions:** ${compounding.length} of ${inter.length} multi-stress cells compound (worse together than the sum of their parts); strongest ${md(cell ? cellLabel(cell) : c.cell)}: interaction ${fmtCi(c.interaction)}.`);
  } else if (inter.length > floors.length) L.push(`- **Interactions:** no multi-stress cell is significantly worse than the sum of its stresses (${inter.length - floors.length} checked${floors.length ? `, ${floors.length} more at the floor` : ''}).`);
  if (floors.length) L.push(`- **At the accuracy floor:** ${floors.length} of ${inter.length} multi-stress cells (${floors.slice(0, 5).map((i) => md(i.cell)).join(', ')}${floors.length > 5 ? ', …' : ''}) have no interaction estimate — the cell is at zero accuracy or its stresses alone already take more than the baseline can lose, so Δ would measure the floor, not an interaction.`);
  const drifted = mostDrifted(r);
  if (drifted) L.push(`- **Explanations:** attributions drift most under ${md(cellLabel(drifted[0]))}: Spearman ${fmt(drifted[1].drift.spearman.mean)} [${fmt(drifted[1].drift.spearman.lo)}, ${fmt(drifted[1].drift.spearman.hi)}], top-k IoU ${fmt(drifted[1].drift.iou.mean)} [${fmt(drifted[1].drift.iou.lo)}, ${fmt(drifted[1].drift.iou.hi)}].`);
  const cover = worstCoverage(r);
  if (cover) L.push(`- **Conformal sets:** coverage falls to ${fmtCi({ value: cover[1].conformal_coverage, ci: cover[1].conformal_coverage_ci ?? [null, null] })} under ${md(cellLabel(cover[0]))} (target ${fmt(cover[1].conformal_target)}), mean set size ${fmtCi({ value: cover[1].conformal_mean_set_size, ci: cover[1].conformal_mean_set_size_ci ?? [null, null] }, 2)}.`);
  if (flags.length) L.push(`- ⚠ **Attack reliability flags:** ${flags.map(code).join(', ')} — robust accuracy may be over-estimated.`);

  if (r.budgets.length) {
    L.push('', '## Budgets', '', '| status | budget | measured (failing cells first) | bound |', '| --- | --- | --- | --- |');
    for (const b of r.budgets) {
      const lines = b.cells.length ? budgetCellLines(r, b, b.passed ? 'all' : 'failed') : ['no cell matches this budget'];
      const shown = lines.slice(0, 3).map(md).join('<br>') + (lines.length > 3 ? `<br>… ${lines.length - 3} more` : '');
      L.push(`| ${b.passed ? '✅ pass' : '❌ FAIL'} | ${md(b.name)} | ${shown} | ${md(budgetBound(b))} |`);
    }
  }

  if (hasVariants(r)) {
    L.push('', '## Mitigations', '', `The base model and ${r.variants!.length} variant(s) ran the same ${r.cells.length} cells. Differences are paired: same items, same bootstrap resamples.`);
    const found = mitigationFindings(r);
    if (found.length) L.push('', '**Where a variant helps significantly:**', '', ...found.map((f) => `- ${md(f)}`));
    else L.push('', 'No variant is significantly more accurate than the base model in any stressed cell.');
    const vflags = variantFlags(r);
    if (vflags.length) L.push('', '⚠ **Attack reliability flags by variant:**', '', ...vflags.map((f) => `- ${md(f)}`));
    for (const t of mitigationTables(r)) L.push('', ...mdTable(t));
    L.push('', '**Variant model cards.**', '');
    for (const c of variantCards(r)) L.push(`- **${md(c.name)}**: ${c.lines.map(md).join('; ')}.`);
  }

  const tt = trainTimeTable(r);
  if (tt) {
    L.push('', '## Training-time label noise', '', 'Cells whose annotation setting says "trained on" ran a model trained on those noisy labels (a variant with its own recipe, a model given as a file with `retrain:`); every accuracy is against the true labels.', '', ...mdTable(tt));
  }

  const head = ['| cell | stage | stresses | accuracy [95% CI] | drop vs clean [95% CI] | accuracy on observed labels | ECE [95% CI] |', '| --- | --- | --- | --- | --- | --- | --- |'];
  const row = (c: CellResult) => `| ${md(c.id)} | ${md(c.stage)} | ${md(cellLabel(c))} | ${fmtCi(c.metrics.accuracy)} | ${c.vs_baseline ? fmtCi(c.vs_baseline.accuracy_drop) : '–'} | ${c.observed_metrics ? fmtCi(c.observed_metrics.accuracy) : '–'} | ${fmtCi(c.metrics.ece)} |`;
  const singles = r.cells.filter((c) => Object.keys(c.stresses).length <= 1);
  const multi = r.cells.filter((c) => Object.keys(c.stresses).length > 1);
  L.push('', hasVariants(r) ? '## Results (base model)' : '## Results', '', ...head, ...singles.map(row));
  if (multi.length) L.push('', `<details><summary>${multi.length} multi-stress cells</summary>`, '', ...head, ...multi.map(row), '', '</details>');
  // Real interactions by size, then the cells at the floor (whose Δ is an artefact).
  const notable = inter.filter((i) => i.verdict !== 'additive').sort((a, b) => Number(a.verdict === 'floor') - Number(b.verdict === 'floor') || Math.abs(b.interaction.value ?? 0) - Math.abs(a.interaction.value ?? 0));
  if (notable.length) {
    const shown = notable.slice(0, 10);
    L.push('', '## Interactions', '', `Observed accuracy drop of a multi-stress cell against the sum of its stresses’ isolated drops (paired bootstrap); the ${shown.length === notable.length ? notable.length : `${shown.length} largest of ${notable.length}`} non-additive cells.`, '');
    L.push('| cell | stresses | observed drop | additive prediction | interaction [95% CI] | verdict |', '| --- | --- | --- | --- | --- | --- |');
    for (const i of shown) {
      const c = r.cells.find((x) => x.id === i.cell);
      L.push(`| ${md(i.cell)} | ${md(c ? cellLabel(c) : '')} | ${fmtCi(i.observed_drop)} | ${fmtCi(i.additive_drop)} | ${i.verdict === 'floor' ? `floor (Δ ${fmt(i.interaction.value)} is an artefact)` : fmtCi(i.interaction)} | ${md(verdictText(i))} |`);
    }
  }

  const explain = [driftTable(r), featureTable(r), completenessTable(r), componentTable(r), gainTable(r)].filter((t): t is TableData => t !== null);
  if (explain.length) {
    L.push('', '## Explanation drift and layer sensitivity', '', 'Attributions of the first items of each stress cell, clean vs stressed, for the same target class; 95 % CIs are bootstraps over the explained items (shares: Wilson).');
    for (const t of explain) L.push('', ...mdTable(t));
  }
  const unc = uncertaintyTables(r);
  if (unc.length) {
    const fitted = uncertaintyFittedText(r);
    L.push('', '## Uncertainty under stress', '');
    if (fitted) L.push(md(fitted), '');
    L.push('95 % CIs are bootstraps over the evaluated items with the run’s shared resamples.');
    for (const t of unc) L.push('', ...mdTable(t));
  }

  const serving = servingTable(r);
  if (serving) L.push('', '## Serving (endpoints)', '', ...mdTable(serving));

  // ---------------------------------------------------------------------------------------------
  const text = textTable(r);
  if (text) L.push('', '## Text model', '', md(text.note), ...(text.table ? ['', ...mdTable(text.table)] : []));
  L.push('', '## Model card', '');
  const names = classNames(r);
  L.push(
    `**Intended use.** _To be stated by the model owner._ What was evaluated: a ${r.data.classes}-class classifier${names ? ` (${names.map(md).join(', ')})` : ''} on inputs drawn like ${code(r.data.path)}. The figures below hold for that input distribution and for the stresses listed; they are not a guarantee for other data, stronger attacks or other corruptions.`,
  );
  L.push('', `**Evaluation data.** ${r.data.samples} labelled items, content hash sha256 ${code(r.data.sha256)}; model file hash sha256 ${code(r.model.sha256)}; seed ${r.seed}.`);
  L.push('', '**Robustness profile.**');
  if (base) L.push(`- Clean: accuracy ${fmtCi(base.metrics.accuracy)}, macro-F1 ${fmtCi(base.metrics.macro_f1)}, ECE ${fmtCi(base.metrics.ece)}, AURC ${fmtCi(base.metrics.aurc)}.`);
  for (const s of adversarialCurves(r).series) {
    const half = base && isNum(base.metrics.accuracy.value) ? crossing(s, base.metrics.accuracy.value / 2) : null;
    L.push(`- Adversarial, ${md(s.name)}: ${seriesText(s, 'ε')}.${half !== null ? ` Accuracy halves by ε ≈ ${fmt(half)}.` : ''}`);
  }
  for (const s of driftCurves(r).series) L.push(`- Corruption, ${md(s.name)}: ${seriesText(s, 'severity')}.`);
  for (const c of otherDriftCells(r)) L.push(`- Shift, ${md(cellLabel(c))}: accuracy ${fmtCi(c.metrics.accuracy)} on ${c.samples} resampled items.`);
  const ann = annotationCurves(r).series;
  for (const t of ann.filter((x) => x.name.endsWith(', true labels'))) {
    const name = t.name.replace(/, true labels$/, '');
    const obs = ann.find((x) => x.name === `${name}, observed labels`);
    L.push(`- Label noise, ${md(name)}: true-label accuracy ${seriesText(t, 'rate')}${obs ? `; measured on the noisy labels ${seriesText(obs, 'rate')}` : ' (the model learnt from the noisy labels)'}.`);
  }
  const calib = [...singleStressCells(r, 'adversarial'), ...singleStressCells(r, 'drift')].map((c) => [c, eceDelta(base, c)] as const).filter(([, d]) => d !== null).sort((a, b) => (b[1] as number) - (a[1] as number))[0];
  if (calib && (calib[1] as number) > 0.05) L.push(`- Calibration degrades under stress: ECE rises to ${fmtCi(calib[0].metrics.ece)} under ${md(cellLabel(calib[0]))} (clean ${fmt(base?.metrics.ece.value)}), with mean confidence on errors ${fmtCi(calib[0].metrics.confidence_on_errors)}.`);

  L.push('', '**Known limitations.**');
  L.push('- Results cover only the stresses and strengths listed; robustness to other corruptions, shifts or stronger attacks is not implied.');
  L.push('- Robust accuracy under attack is an upper bound: an attack that fails does not prove that no attack succeeds.');
  if (flags.length) L.push(`- The attacks raised reliability flags (${flags.map(code).join(', ')}): gradients may be masked; confirm with a gradient-free attack (Square) or AutoAttack.`);
  const widest = base ? (base.metrics.accuracy.ci[1] ?? 0) - (base.metrics.accuracy.ci[0] ?? 0) : 0;
  if (widest > 0.05) L.push(`- The evaluation set is small: the clean accuracy’s 95 % CI is ${fmt(widest)} wide; differences smaller than that are not resolved.`);
  if (r.cells.some((c) => c.item_indices)) L.push('- Resampled (prior/subpopulation shift) cells are measured on different items than the baseline; their drops are not paired and have no interaction estimate.');
  L.push(`- One seed (${r.seed}); stochastic stresses (noise draws, random starts) would vary slightly under other seeds.`);

  L.push('', '**Mitigations to consider.**');
  const mit: string[] = [];
  const baseAcc = base?.metrics.accuracy.value ?? null;
  if (advWorst && isNum(baseAcc) && isNum(advWorst.metrics.accuracy.value) && baseAcc - advWorst.metrics.accuracy.value > 0.2) {
    mit.push(`- Large adversarial drops (${md(cellLabel(advWorst))}): adversarial training (PGD / TRADES) or input-gradient regularisation; re-evaluate with AutoAttack before claiming robustness; do not expose raw confidences to untrusted callers.`);
  }
  if (driftWorst && isNum(baseAcc) && isNum(driftWorst.metrics.accuracy.value) && baseAcc - driftWorst.metrics.accuracy.value > 0.1) {
    mit.push(`- Sensitivity to ${md(cellLabel(driftWorst))}: augment training with that corruption family (e.g. AugMix-style mixtures), add input-drift monitoring in production, and route out-of-distribution inputs to a fallback.`);
  }
  if (calib && (calib[1] as number) > 0.05) mit.push('- Over-confidence under stress: recalibrate (gauntlet calibrate, temperature scaling on held-out data) and use an abstention threshold chosen from the risk–coverage curve.');
  if (gap && Math.abs(gap.measurement_gap ?? 0) > 0.05) mit.push('- Label noise distorts measurement: audit evaluation labels (gauntlet audit-labels), relabel flagged items, and use several annotators with Dawid–Skene aggregation for test sets.');
  if (compounding.length) mit.push('- Stresses compound: test and harden for them together (e.g. adversarial training on corrupted inputs), not one at a time.');
  if (flags.length) mit.push('- Investigate the attack flags before trusting robust-accuracy figures.');
  if (!mit.length) mit.push('- No stress here degraded the model beyond the thresholds this report checks (adversarial drop > 0.2, corruption drop > 0.1, ECE increase > 0.05, measurement gap > 0.05); keep these stresses as regression budgets.');
  L.push(...mit, '');
  return L.join('\n');
}

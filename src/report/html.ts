/**
 * report.html: one self-contained page (styles, the table-sorting script and every chart inline;
 * images as data: URLs; a Content-Security-Policy that forbids any network access and lets only
 * the page's own script run, by hash). Every user-provided string — paths, class names, stress
 * labels, flags, ids — goes through escapeHtml; base64 images are checked to be plain base64.
 *
 * Charts are hand-written SVG (src/report/svg.ts): no dependency to vendor, audit or keep up to
 * date, nothing executes to draw them (a chart is visible even with scripts off, in a PDF print or
 * a screenshot), and the output is byte-for-byte deterministic, so `gauntlet report` can regenerate
 * identical files from results.json.
 */
import { createHash } from 'node:crypto';
import type { CampaignResults, CellResult } from '../campaign/types.js';
import { lowerIsBetter, METRIC_NAMES, type MetricName } from '../metrics/suite.js';
import { adversarialCurves, annotationCurves, attackFlags, driftCurves, heatmaps, isTrainTimeCell, largestGap, measurementGap, otherDriftCells, singleStressCells, VERDICT_RANK, verdictText, worstSingle, type CurveChart } from './analysis.js';
import { completenessTable, componentTable, driftTable, featureTable, gainTable, explainedCells, layerTable } from './explanations.js';
import { reliabilityOf, riskCoverageOf } from './curves.js';
import { annotationQualityOf, galleryOf, type GalleryItem } from './data.js';
import { escapeHtml as e } from './escape.js';
import { baselineCell, cellKinds, cellLabel, className, classNames, fmt, fmtCi, isNum, wilson, type Num } from './format.js';
import { isBase64 } from './images.js';
import { budgetBound } from './junit.js';
import { dotPlot, heatmapSvg, legendHtml, lineChart, reliabilitySvg, riskCoverageSvg } from './svg.js';
import { servingTable, textTable, type TableData } from './table-data.js';
import { uncertaintyCells, uncertaintyFittedText, uncertaintyTables } from './uncertainty.js';
import { hasVariants, mitigationFindings, mitigationTables, trainTimeTable, trainingCurves, variantCards, variantFlags } from './mitigation.js';

const NOT_AVAILABLE = 'not available in this run';

/** A <td> with a value and its 95 % CI, sortable by the value. */
function ciTd(m: { value: Num; ci: readonly Num[] } | null | undefined, digits = 3): string {
  if (!m) return '<td data-v="">–</td>';
  return `<td class="num" data-v="${isNum(m.value) ? m.value : ''}">${fmt(m.value, digits)} <small>[${fmt(m.ci[0], digits)}, ${fmt(m.ci[1], digits)}]</small></td>`;
}
const numTd = (v: Num, digits = 3) => `<td class="num" data-v="${isNum(v) ? v : ''}">${fmt(v, digits)}</td>`;
/** A probability that may be tiny: 3 decimals, or 2 significant digits below 0.001. */
const smallTd = (v: Num) => `<td class="num" data-v="${isNum(v) ? v : ''}">${isNum(v) && v > 0 && v < 1e-3 ? v.toExponential(1) : fmt(v)}</td>`;
/** A p-value: 4 decimals, '< 0.0001' below that. */
const pTd = (p: Num) => `<td class="num" data-v="${isNum(p) ? p : ''}">${isNum(p) && p < 1e-4 ? '&lt; 0.0001' : fmt(p, 4)}</td>`;
const txtTd = (s: unknown) => `<td>${e(s)}</td>`;

function table(id: string, head: string[], rows: string[], caption?: string): string {
  return `<div class="table-wrap"><table class="sortable" id="${e(id)}">${caption ? `<caption>${e(caption)}</caption>` : ''}<thead><tr>${head
    .map((h) => `<th scope="col" tabindex="0" aria-sort="none">${e(h)}</th>`)
    .join('')}</tr></thead><tbody>\n${rows.map((r) => `<tr>${r}</tr>`).join('\n')}\n</tbody></table></div>`;
}

/** A table given as data (table-data.ts): numbers with a CI as value [lo, hi], text escaped. */
function dataTable(t: TableData): string {
  const rows = t.rows.map((row) => row.map((c) => (typeof c === 'string' ? txtTd(c) : c.ci ? ciTd({ value: c.value, ci: c.ci }, c.digits) : numTd(c.value, c.digits))).join(''));
  return table(t.id, t.head, rows, t.caption);
}

const note = (text: string) => `<p class="note"><strong>Note:</strong> ${e(text)}</p>`;


function mitigationSection(r: CampaignResults): string {
  if (!hasVariants(r)) return `<section id="mitigations"><h2>Mitigations</h2>${note('This run compared no model variants. Add models: [{ name: pgd_at, train: { adversarial: { method: pgd, eps: 0.1 } } }, { name: theirs, path: hardened.onnx }] to the config to put hardened models side by side on the same stress matrix.')}</section>`;
  const found = mitigationFindings(r);
  const curves = trainingCurves(r);
  const chart = curves ? lineChart(curves) : null;
  const cards = variantCards(r).map((c) => `<li><strong>${e(c.name)}</strong>: ${c.lines.map(e).join('; ')}</li>`).join('');
  return `<section id="mitigations"><h2>Mitigations: which variant helps against which stress</h2><p>The base model and ${r.variants!.length} variant(s) ran the same ${r.cells.length} cells; differences are paired (same items, same bootstrap resamples).</p>
${found.length ? `<ul>${found.map((f) => `<li>${e(f)}</li>`).join('')}</ul>` : note('No variant is significantly more accurate than the base model in any stressed cell.')}
${variantFlags(r).map((f) => `<p class="note"><strong>Attack reliability flag:</strong> ${e(f)}</p>`).join('')}
${mitigationTables(r).map(dataTable).join('\n')}
${chart ? `<figure class="chart-box wide"><figcaption>${e(curves!.title)}</figcaption>${legendHtml(curves!.series.map((s) => s.name))}<div class="scroll">${chart}</div></figure>` : ''}
<details open><summary>variant model cards</summary><ul>${cards}</ul></details></section>`;
}

function trainTimeSection(r: CampaignResults): string {
  const t = trainTimeTable(r);
  if (!t) return '';
  return `<section id="train-time-noise"><h2>Training-time label noise</h2><p>Cells whose annotation setting says “trained on” ran a model trained on those noisy labels (a variant with its own recipe, a model given as a file with <code>retrain:</code>); every accuracy is against the true labels, and the plan crosses these models with the attacks and drift like any other stress.</p>
${dataTable(t)}</section>`;
}

function textSection(r: CampaignResults): string {
  const t = textTable(r);
  if (!t) return '';
  return `<section id="text"><h2>Text model: attacks in embedding space</h2><p>${e(t.note)}</p>${t.table ? dataTable(t.table) : ''}</section>`;
}

function budgetsSection(r: CampaignResults): string {
  if (!r.budgets.length) return `<section id="budgets"><h2>Budgets</h2>${note('No budgets (risk criteria) were declared in the config, so nothing gates this run. Add e.g. budgets: [{ metric: accuracy, stage: baseline, min: 0.9 }].')}</section>`;
  const base = baselineCell(r);
  const rows: string[] = [];
  const detail: string[] = [];
  for (const b of r.budgets) {
    const metric = b.budget.metric as MetricName;
    const lower = lowerIsBetter(metric) === true;
    const status = `<td data-v="${b.passed ? 1 : 0}" class="${b.passed ? 'pass' : 'fail'}">${b.passed ? '✓ PASS' : '✗ FAIL'}</td>`;
    const rule = b.budget.pessimistic ? 'pessimistic CI end' : 'point value';
    if (!b.cells.length) {
      rows.push(`${status}${txtTd(b.name)}<td class="num" data-v="0">0 of 0</td>${txtTd('no cell matches this budget')}<td>–</td><td>–</td><td>–</td>${txtTd(budgetBound(b))}${txtTd(rule)}`);
      continue;
    }
    const cellOf = (id: string) => r.cells.find((c) => c.id === id);
    const metricOf = (id: string) => {
      const c = cellOf(id);
      return c ? (b.budget.observed && c.observed_metrics ? c.observed_metrics : c.metrics)[metric] : null;
    };
    const dropOf = (v: number) => (base && b.budget.max_drop !== undefined ? (lower ? v - (base.metrics[metric]?.value ?? NaN) : (base.metrics[metric]?.value ?? NaN) - v) : null);
    // The cell that decides the verdict: the worst judged value among failing cells (or among all).
    const pool = b.cells.some((j) => !j.passed) ? b.cells.filter((j) => !j.passed) : b.cells;
    const worst = [...pool].sort((x, y) => (lower ? y.value - x.value : x.value - y.value))[0]!;
    const wc = cellOf(worst.id);
    const failedN = b.cells.filter((j) => !j.passed).length;
    rows.push(
      `${status}${txtTd(b.name)}<td class="num" data-v="${failedN}">${failedN ? `${failedN} of ${b.cells.length} failed` : `${b.cells.length} passed`}</td>${txtTd(`${worst.id} (${wc ? cellLabel(wc) : '?'})`)}${numTd(worst.value, 4)}${ciTd(metricOf(worst.id), 4)}${numTd(dropOf(worst.value), 4)}${txtTd(budgetBound(b))}${txtTd(rule)}`,
    );
    for (const j of b.cells) {
      const c = cellOf(j.id);
      detail.push(`<td data-v="${j.passed ? 1 : 0}" class="${j.passed ? 'pass' : 'fail'}">${j.passed ? '✓ pass' : '✗ fail'}</td>${txtTd(b.name)}${txtTd(`${j.id} (${c ? cellLabel(c) : '?'})`)}${numTd(j.value, 4)}${ciTd(metricOf(j.id), 4)}${numTd(dropOf(j.value), 4)}${txtTd(budgetBound(b))}`);
    }
  }
  return `<section id="budgets"><h2>Budgets</h2>${table('budgets-table', ['status', 'budget', 'cells', 'deciding cell (worst)', 'judged value', 'metric [95 % CI]', 'drop vs clean', 'bound', 'judged on'], rows)}
<details><summary>every judged cell (${detail.length})</summary>${table('budget-cells-table', ['verdict', 'budget', 'cell', 'judged value', 'metric [95 % CI]', 'drop vs clean', 'bound'], detail)}</details></section>`;
}

function headline(r: CampaignResults): string {
  const base = baselineCell(r);
  const failed = r.budgets.filter((b) => !b.passed);
  const verdict = !r.budgets.length
    ? '<span class="badge neutral">no budgets declared</span>'
    : failed.length
      ? `<span class="badge fail">✗ ${failed.length} of ${r.budgets.length} budgets FAILED</span>`
      : `<span class="badge pass">✓ all ${r.budgets.length} budgets passed</span>`;
  const cfg = r.config as { bootstrap?: number; source?: string } | null;
  const facts: [string, string][] = [
    ['model', `<code>${e(r.model.path)}</code> · ${e(r.model.output_kind)}`],
    ['model sha256', `<code class="hash">${e(r.model.sha256)}</code>`],
    ['data', `<code>${e(r.data.path)}</code> · ${e(r.data.samples)} items · ${e(r.data.classes)} classes`],
    ['data sha256', `<code class="hash">${e(r.data.sha256)}</code>`],
    ['seed', `${e(r.seed)} · config ${e(cfg?.source ?? '?')} · Gauntlet ${e(r.gauntlet)}`],
    ['cells', `${r.cells.length} (${[...new Set(r.cells.map((c) => c.stage))].map((s) => `${r.cells.filter((c) => c.stage === s).length} ${e(s)}`).join(', ')})`],
  ];
  const worst = (['adversarial', 'drift'] as const).map((k) => [k, worstSingle(r, k)] as const);
  const gap = largestGap(r);
  const kpis: string[] = [];
  if (base) kpis.push(`<div class="kpi"><div class="k">clean accuracy</div><div class="v">${fmt(base.metrics.accuracy.value)}</div><div class="ci">95 % CI [${fmt(base.metrics.accuracy.ci[0])}, ${fmt(base.metrics.accuracy.ci[1])}]</div></div>`);
  for (const [k, c] of worst) {
    if (c) kpis.push(`<div class="kpi"><div class="k">worst ${k}: ${e(cellLabel(c))}</div><div class="v">${fmt(c.metrics.accuracy.value)}</div><div class="ci">95 % CI [${fmt(c.metrics.accuracy.ci[0])}, ${fmt(c.metrics.accuracy.ci[1])}]</div></div>`);
  }
  if (gap?.observed_metrics) {
    kpis.push(`<div class="kpi"><div class="k">label noise: ${e(cellLabel(gap))}</div><div class="v">${fmt(gap.observed_metrics.accuracy.value)} <small>measured</small></div><div class="ci">vs ${fmt(gap.metrics.accuracy.value)} true · gap ${fmtCi(measurementGap(gap) ?? { value: gap.measurement_gap, ci: [null, null] })}</div></div>`);
  }
  return `<header><h1>Gauntlet stress report</h1><p class="verdict">${verdict}</p><table class="facts">${facts.map(([k, v]) => `<tr><th scope="row">${e(k)}</th><td>${v}</td></tr>`).join('')}</table><div class="kpis">${kpis.join('')}</div>
<p class="method">Every number has a 95 % confidence interval: a percentile bootstrap over items (${e(cfg?.bootstrap ?? '?')} resamples, shared by all cells, so drops and interactions are paired) unless marked Wilson (a binomial interval, used where the run stores counts only).</p></header>`;
}

function curveSection(c: CurveChart, empty: string, extra = ''): string {
  const svg = lineChart(c);
  const rows = c.series.flatMap((s) => s.points.map((p) => `${txtTd(s.name)}${numTd(p.x, 3)}${ciTd({ value: p.value, ci: p.ci })}${txtTd(p.cell)}`));
  return `<figure class="chart-box"><figcaption>${e(c.title)}</figcaption>${svg ?? note(empty)}${svg ? legendHtml(c.series.map((s) => s.name)) : ''}${
    rows.length ? `<details><summary>data (${rows.length} points)</summary>${table(`${c.id}-table`, ['series', 'x', `${c.yLabel} [95 % CI]`, 'cell'], rows)}</details>` : ''
  }${extra}</figure>`;
}

function robustnessSection(r: CampaignResults): string {
  const flags = attackFlags(r);
  const uniq = [...new Map(flags.map((f) => [`${f.flag}`, f])).values()];
  const flagHtml = uniq.length
    ? `<div class="warn"><strong>⚠ Attack reliability flags</strong> (robust accuracy may be over-estimated):<ul>${uniq.map((f) => `<li><code>${e(f.flag)}</code> — ${e(f.label)} (${e(f.cell)})</li>`).join('')}</ul></div>`
    : singleStressCells(r, 'adversarial').length
      ? note('No gradient-masking flags were raised by the attacks.')
      : '';
  const other = otherDriftCells(r);
  const otherHtml = other.length
    ? `<h3>Other distribution shifts</h3>${table(
        'other-shifts',
        ['cell', 'shift', 'description', 'items', 'accuracy [95 % CI]', 'ECE [95 % CI]'],
        other.map((c) => `${txtTd(c.id)}${txtTd(cellLabel(c))}${txtTd((c.details.drift as { description?: string } | undefined)?.description ?? '')}${numTd(c.samples, 0)}${ciTd(c.metrics.accuracy)}${ciTd(c.metrics.ece)}`),
      )}`
    : '';
  const ann = annotationCurves(r);
  return `<section id="robustness"><h2>Robustness curves</h2><p>Accuracy of each stress alone (isolated cells), anchored at the clean baseline (x = 0). Shaded bands and whiskers are 95 % bootstrap CIs; hover a point for its numbers.</p>
<div class="grid2">${curveSection(adversarialCurves(r), 'No isolated adversarial cells in this run.', flagHtml)}${curveSection(driftCurves(r), 'No isolated corruption (severity) cells in this run.')}${curveSection(
    ann,
    'No isolated label-noise cells with a rate in this run.',
    ann.series.length ? '<p class="small">Solid vs dashed pairs: accuracy measured against the true labels vs against the observed (noisy) labels a team would have — the gap is the measurement error that label noise causes.</p>' : '',
  )}</div>${otherHtml}</section>`;
}

function interactionsSection(r: CampaignResults): string {
  const maps = heatmaps(r);
  if (!maps.length) return `<section id="interactions"><h2>Combined stresses</h2>${note('No pairwise or combined cells in this run.')}</section>`;
  const key = `<p class="small">Each square: accuracy [95 % CI] of the combined cell; below it the interaction effect Δ = observed drop − sum of the isolated drops [95 % CI]. ▲ and hatching: compounding (Δ &gt; 0, CI above 0 — worse together than apart); ▼ and dots: overlapping (Δ &lt; 0); = additive; ⊥ floor: the combined cell is at zero accuracy, or the isolated drops sum to more than the baseline can lose — Δ then measures accuracy’s floor, not an interaction. Darker fill = higher accuracy. Headers show each setting’s accuracy alone.</p>`;
  const rows = r.interactions.map((i) => {
    const c = r.cells.find((x) => x.id === i.cell);
    const delta = i.verdict === 'floor' ? `<td data-v="">floor <small>(Δ ${fmt(i.interaction.value)} is an artefact)</small></td>` : ciTd(i.interaction);
    return `${txtTd(i.cell)}${txtTd(i.stage)}${txtTd(c ? cellLabel(c) : '')}${txtTd(i.metric === 'accuracy' ? 'true labels' : 'observed labels')}${ciTd(i.observed_drop)}${ciTd(i.additive_drop)}${delta}<td data-v="${VERDICT_RANK[i.verdict] ?? ''}">${e(verdictText(i))}</td>`;
  });
  return `<section id="interactions"><h2>Combined stresses and interaction effects</h2>${key}${maps.map((h) => `<figure class="chart-box wide"><figcaption>${e(h.title)}</figcaption><div class="scroll">${heatmapSvg(h)}</div></figure>`).join('')}
<details><summary>interaction table (${rows.length} rows)</summary>${table('interactions-table', ['cell', 'stage', 'stresses', 'measured on', 'observed drop', 'additive prediction', 'interaction Δ', 'verdict'], rows)}</details></section>`;
}

function calibrationSection(r: CampaignResults): string {
  const base = baselineCell(r);
  const baseRel = base ? reliabilityOf(base) : null;
  const withData = r.cells.map((c) => [c, { reliability: reliabilityOf(c), risk_coverage: riskCoverageOf(c) }] as const).filter(([, d]) => d.reliability || d.risk_coverage);
  // Baseline and single input stresses; label noise alone leaves the inputs, and so these curves, unchanged.
  const singles = withData.filter(([c]) => cellKinds(c).length === 0 || (cellKinds(c).length === 1 && !('annotation' in c.stresses)));
  const parts: string[] = ['<section id="calibration"><h2>Calibration: reliability and risk–coverage</h2>'];
  const eceRows = r.cells.map((c) => `${txtTd(c.id)}${txtTd(c.stage)}${txtTd(cellLabel(c))}${ciTd(c.metrics.ece)}${ciTd(c.metrics.mean_confidence)}${ciTd(c.metrics.confidence_on_errors)}${ciTd(c.metrics.aurc)}${ciTd(c.metrics.abstention_rate)}`);
  if (!singles.length) {
    parts.push(note(`Reliability diagrams and risk–coverage curves are ${NOT_AVAILABLE}: results.json carries no per-cell reliability bins or risk–coverage points (cells[].reliability, cells[].risk_coverage). The summary numbers (ECE, AURC, confidence) are below.`));
  } else {
    const rel = singles.filter(([, d]) => d.reliability).slice(0, 12);
    parts.push('<h3>Reliability diagrams (clean vs stressed)</h3><p class="small">Bars: accuracy per confidence bin of the stressed cell, with Wilson 95 % whiskers. Hollow circles on a dashed line: the clean baseline. The dotted diagonal is perfect calibration; bars below it are over-confident.</p><div class="multiples">');
    for (const [c, d] of rel) parts.push(`<figure class="small-multiple">${reliabilitySvg(`rel-${c.id}`, cellLabel(c), `ECE ${fmtCi(c.metrics.ece)}${c === base ? '' : ` (clean ${fmt(base?.metrics.ece.value)})`}`, d.reliability!, c === base ? null : baseRel)}</figure>`);
    parts.push('</div>');
    const rc = singles.filter(([, d]) => d.risk_coverage).slice(0, 8);
    const svg = riskCoverageSvg('risk-coverage', rc.map(([c, d]) => ({ name: cellLabel(c), rc: d.risk_coverage! })));
    if (svg) parts.push(`<h3>Risk–coverage curves</h3><figure class="chart-box wide"><figcaption>Error rate among the most confident items, as the model abstains on the rest (lower is better; Wilson 95 % bands from 25 % coverage, every point’s CI in its tooltip)</figcaption>${svg}${legendHtml(rc.map(([c, d]) => `${cellLabel(c)} (AURC ${fmt(d.risk_coverage!.aurc)})`))}</figure>`);
  }
  parts.push(`<details><summary>calibration metrics per cell</summary>${table('calibration-table', ['cell', 'stage', 'stresses', 'ECE', 'mean confidence', 'confidence on errors', 'AURC', 'abstention rate'], eceRows)}</details></section>`);
  return parts.join('');
}

function explanationsSection(r: CampaignResults): string {
  const cells = explainedCells(r);
  if (!cells.length) return `<section id="explanations"><h2>Explanations</h2>${note('No explanations in this run: the config has no explain: section (e.g. explain: { method: ig, samples: 32 }), or no cell has a drifted or attacked input.')}</section>`;
  const dots = dotPlot(
    'explain-drift-dots',
    'explanation agreement, clean vs stressed (95 % CI)',
    cells.flatMap(([c, x]) =>
      ([['Spearman', x.drift.spearman], ['top-k IoU', x.drift.iou]] as const).map(([group, m]) => ({
        label: `${c.id} · ${cellLabel(c)}`,
        group,
        value: m.mean,
        ci: [m.lo, m.hi] as const,
        tip: `${c.id} ${cellLabel(c)}: ${group} ${fmt(m.mean)} [${fmt(m.lo)}, ${fmt(m.hi)}]`,
      })),
    ),
    ['Spearman', 'top-k IoU'],
  );
  const parts = [`<section id="explanations"><h2>Explanations: drift and layer sensitivity</h2><p class="small">Attributions of the first items of each stress cell, on the clean and on the stressed input, for the same target class. 95 % CIs are percentile bootstraps over the explained items; shares of items have Wilson intervals.</p>`];
  if (dots) parts.push(`<figure class="chart-box wide"><figcaption>How much the explanations still agree under each stress (1 = unchanged; lower = the model attends elsewhere)</figcaption><div class="scroll">${dots}</div></figure>`);
  for (const t of [driftTable(r), featureTable(r), completenessTable(r), componentTable(r), gainTable(r)]) if (t) parts.push(dataTable(t));
  const layers = layerTable(r);
  if (layers) parts.push(`<details><summary>every layer (${layers.rows.length} rows)</summary>${dataTable(layers)}</details>`);
  parts.push('</section>');
  return parts.join('');
}

function uncertaintySection(r: CampaignResults): string {
  const cells = uncertaintyCells(r);
  if (!cells.length) return `<section id="uncertainty"><h2>Uncertainty</h2>${note('No uncertainty figures in this run: the config has no uncertainty: section (e.g. uncertainty: { temperature: true, conformal: { alpha: 0.1 } }).')}</section>`;
  const fitted = uncertaintyFittedText(r);
  const parts = [`<section id="uncertainty"><h2>Uncertainty under stress</h2>${fitted ? `<p>${e(fitted)}</p>` : ''}<p class="small">95 % CIs are percentile bootstraps over the evaluated items with the run’s shared resamples (paired across cells).</p>`];
  const target = cells.find(([, u]) => typeof u.conformal_target === 'number')?.[1].conformal_target;
  if (target !== undefined) {
    const dots = dotPlot(
      'conformal-coverage',
      'conformal coverage per cell (95 % CI)',
      cells.map(([c, u]) => ({ label: `${c.id} · ${cellLabel(c)}`, group: c.stage, value: u.conformal_coverage ?? null, ci: u.conformal_coverage_ci ?? [null, null], tip: `${c.id} ${cellLabel(c)}: coverage ${fmt(u.conformal_coverage)} [${fmt(u.conformal_coverage_ci?.[0])}, ${fmt(u.conformal_coverage_ci?.[1])}], mean set size ${fmt(u.conformal_mean_set_size, 2)}` })),
      [...new Set(cells.map(([c]) => c.stage))],
      1000,
      { value: target, label: `target ${fmt(target, 2)}` },
    );
    if (dots) parts.push(`<figure class="chart-box wide"><figcaption>Conformal coverage against its target (dashed): the guarantee holds for exchangeable data; stress cells left of the line break it</figcaption><div class="scroll">${dots}</div></figure>`);
  }
  for (const t of uncertaintyTables(r)) parts.push(dataTable(t));
  parts.push('</section>');
  return parts.join('');
}

function img(b64: unknown, alt: string, cls = ''): string {
  return isBase64(b64) ? `<img class="px ${cls}" src="data:image/png;base64,${b64}" alt="${e(alt)}" width="84" height="84">` : `<span class="noimg">${e(alt)}: –</span>`;
}

function galleryFigure(g: GalleryItem, names: string[] | null, cell: CellResult): string {
  const wrong = g.predicted !== g.true_label;
  const lines = [
    `true: <b>${e(className(names, g.true_label))}</b>`,
    g.observed_label !== null && g.observed_label !== undefined ? `observed: <b>${e(className(names, g.observed_label))}</b>${g.observed_label !== g.true_label ? ' (label flipped)' : ''}` : '',
    `predicted: <b>${e(className(names, g.predicted))}</b> (${fmt(g.confidence, 2)}) ${wrong ? '<span class="fail">✗ wrong</span>' : '<span class="pass">✓ right</span>'}`,
    g.clean_predicted !== null && g.clean_predicted !== undefined && g.stressed ? `clean prediction: ${e(className(names, g.clean_predicted))} (${fmt(g.clean_confidence, 2)})` : '',
  ].filter(Boolean);
  const pics = [img(g.clean, 'clean')];
  if (g.stressed) pics.push(img(g.stressed, cellLabel(cell)));
  if (g.perturbation) pics.push(img(g.perturbation, `perturbation ×${fmt(g.magnify, 0)}`));
  const caps = ['clean', ...(g.stressed ? ['stressed'] : []), ...(g.perturbation ? [`Δ ×${fmt(g.magnify, 0)} (L∞ ${fmt(g.linf)})`] : [])];
  return `<figure class="item"><div class="pics">${pics.map((p, i) => `<div>${p}<div class="cap">${e(caps[i])}</div></div>`).join('')}</div><figcaption>#${e(g.id ?? g.index)}<br>${lines.join('<br>')}</figcaption></figure>`;
}

function gallerySection(r: CampaignResults): string {
  const names = classNames(r);
  const cells = r.cells.map((c) => [c, galleryOf(c)] as const).filter(([, g]) => g);
  if (!cells.length) return `<section id="gallery"><h2>Gallery</h2>${note(`Sample images are ${NOT_AVAILABLE}: results.json has no per-cell gallery (cells[].gallery), or the items are not images.`)}</section>`;
  // Baseline and single-stress cells first, then the rest; the first few open.
  const ordered = [...cells].sort((a, b) => cellKinds(a[0]).length - cellKinds(b[0]).length);
  return `<section id="gallery"><h2>Gallery</h2><p class="small">The same items in every cell: the clean image, the image the model saw under the stress, and the perturbation (stressed − clean) magnified around mid-grey (lighter = brighter, darker = dimmer), with true, observed and predicted labels.</p>${ordered
    .map(([c, g], i) => `<details${i < 4 ? ' open' : ''}><summary>${e(c.id)} · ${e(c.stage)} · ${e(cellLabel(c))} — accuracy ${e(fmtCi(c.metrics.accuracy))}</summary><div class="gallery">${(g as GalleryItem[]).map((it) => galleryFigure(it, names, c)).join('')}</div></details>`)
    .join('')}</section>`;
}

function matrixTable(id: string, counts: number[][], names: string[] | null): string {
  const max = Math.max(1, ...counts.flat().filter((v) => Number.isFinite(v)));
  const head = `<tr><th scope="col">true ↓ / observed →</th>${counts.map((_, k) => `<th scope="col">${e(className(names, k))}</th>`).join('')}</tr>`;
  const rows = counts
    .map((row, i) => {
      const total = row.reduce((a, b) => a + b, 0);
      return `<tr><th scope="row">${e(className(names, i))}</th>${row
        .map((v, j) => {
          const l = 98 - 50 * Math.sqrt(v / max);
          return `<td class="${i === j ? 'diag' : ''}" style="background:hsl(30,60%,${l.toFixed(0)}%)" title="${e(`${className(names, i)} → ${className(names, j)}: ${v} of ${total}`)}">${v}</td>`;
        })
        .join('')}</tr>`;
    })
    .join('');
  return `<div class="table-wrap"><table class="matrix" id="${e(id)}"><thead>${head}</thead><tbody>${rows}</tbody></table></div>`;
}

function annotationSection(r: CampaignResults): string {
  const names = classNames(r);
  // Training-time settings have their own section (the labels a model learnt from, not the ones it is measured against).
  const cells = singleStressCells(r, 'annotation').filter((c) => !isTrainTimeCell(c));
  if (!cells.length) return `<section id="annotation"><h2>Annotation noise</h2>${note('No isolated test-time annotation-noise cells in this run.')}</section>`;
  const parts: string[] = ['<section id="annotation"><h2>Annotation noise</h2>'];
  const rows = cells.map((c) => {
    const d = (c.details.annotation ?? {}) as { realised_rate?: number; expected_rate?: number | null };
    const n = c.samples;
    const flips = isNum(d.realised_rate) ? Math.round(d.realised_rate * n) : null;
    const w = flips !== null ? wilson(flips, n) : null;
    return `${txtTd(c.id)}${txtTd(cellLabel(c))}${numTd(d.expected_rate ?? null)}${w ? ciTd({ value: d.realised_rate ?? null, ci: w }) : '<td>–</td>'}${ciTd(c.metrics.accuracy)}${ciTd(c.observed_metrics?.accuracy)}${ciTd(measurementGap(c) ?? { value: c.measurement_gap, ci: [null, null] })}`;
  });
  parts.push(`<p>Labels were corrupted by the noise model; the model is scored against the true labels and against the observed labels a team would have. The measurement gap (observed − true accuracy) is how far the team’s own number is off.</p>`);
  parts.push(table('annotation-table', ['cell', 'noise', 'expected rate', 'realised rate [Wilson 95 % CI]', 'accuracy, true labels', 'accuracy, observed labels', 'measurement gap [paired 95 % CI]'], rows));
  for (const c of cells) {
    const m = (c.details.annotation as { realised_matrix?: { counts?: number[][] } } | undefined)?.realised_matrix?.counts;
    if (Array.isArray(m) && m.length && m.length <= 40) parts.push(`<details><summary>realised label transitions — ${e(cellLabel(c))}</summary>${matrixTable(`matrix-${c.id}`, m, names)}</details>`);
  }
  // Per-annotator quality and flagged labels (cells[].annotation_quality).
  const withAnn = cells.map((c) => [c, annotationQualityOf(c)] as const).filter(([, a]) => a);
  if (!withAnn.length) {
    parts.push(note(`Per-annotator quality and flagged labels are ${NOT_AVAILABLE}: results.json carries no per-cell annotation quality (cells[].annotation_quality: annotator accuracies, label-audit flags).`));
  }
  for (const [c, a] of withAnn) {
    const ann = a!;
    parts.push(`<h3>${e(cellLabel(c))}</h3>`);
    if (ann.annotators?.length) {
      parts.push(
        table(
          `annotators-${c.id}`,
          ['annotator', 'kind', 'labels', 'accuracy vs true labels [Wilson 95 % CI]', `estimated accuracy (${ann.aggregation ?? 'aggregation'})`],
          ann.annotators.map((q) => `${txtTd(q.id)}${txtTd(q.kind)}${numTd(q.labels, 0)}${ciTd({ value: q.labels ? q.correct / q.labels : null, ci: wilson(q.correct, q.labels) })}${numTd(q.estimated_accuracy)}`),
          'Per-annotator quality',
        ),
      );
    } else parts.push(note('Noise model without annotators: no per-annotator quality.'));
    if (ann.audit) {
      const au = ann.audit;
      const prec = wilson(au.true_positives, au.flagged_count);
      const rec = wilson(au.true_positives, au.flipped_count);
      parts.push(
        `<p>Label audit (${e(au.method)}): estimated noise rate ${fmt(au.estimated_noise_rate)}; ${e(au.flagged_count)} labels flagged, ${e(au.true_positives)} of them truly wrong — precision ${fmt(au.flagged_count ? au.true_positives / au.flagged_count : null)} [Wilson 95 % CI ${fmt(prec[0])}, ${fmt(prec[1])}], recall ${fmt(au.flipped_count ? au.true_positives / au.flipped_count : null)} [${fmt(rec[0])}, ${fmt(rec[1])}] of ${e(au.flipped_count)} flipped labels.</p>`,
      );
      if (au.flagged.length)
        parts.push(
          `<details><summary>the ${au.flagged.length} most suspicious of ${au.flagged_count} flagged labels</summary>`,
          table(
            `flagged-${c.id}`,
            ['item', 'observed label', 'model suggests', 'true label', 'self-confidence', 'actually wrong?'],
            au.flagged.map((f) => `${txtTd(f.id ?? f.index)}${txtTd(className(names, f.observed))}${txtTd(className(names, f.suggested))}${txtTd(className(names, f.true_label))}${smallTd(f.quality)}<td data-v="${f.observed !== f.true_label ? 1 : 0}">${f.observed !== f.true_label ? '✓ yes (flip caught)' : '✗ no (false alarm)'}</td>`),
            'Most suspicious flagged labels',
          ),
          '</details>',
        );
    }
  }
  parts.push('</section>');
  return parts.join('');
}

function cellsSection(r: CampaignResults): string {
  const rows = r.cells.map((c) => {
    const vb = c.vs_baseline;
    return `${txtTd(c.id)}${txtTd(c.stage)}${txtTd(cellLabel(c))}${numTd(c.samples, 0)}${ciTd(c.metrics.accuracy)}${ciTd(vb?.accuracy_drop)}${pTd(vb ? vb.mcnemar.p_value : null)}${ciTd(c.observed_metrics?.accuracy)}${ciTd(c.metrics.macro_f1)}${ciTd(c.metrics.ece)}${ciTd(c.metrics.nll)}${ciTd(c.metrics.brier)}${ciTd(c.metrics.aurc)}`;
  });
  const stages = [...new Set(r.cells.map((c) => c.stage))];
  const dots = dotPlot(
    'accuracy-per-cell',
    'accuracy per cell (95 % CI)',
    r.cells.map((c) => ({ label: `${c.id} · ${cellLabel(c)}`, group: c.stage, value: c.metrics.accuracy.value, ci: c.metrics.accuracy.ci, tip: `${c.id} (${c.stage}) ${cellLabel(c)}: accuracy ${fmtCi(c.metrics.accuracy)}` })),
    stages,
  );
  return `<section id="cells"><h2>All cells</h2><figure class="chart-box wide"><figcaption>Accuracy of every cell with its 95 % CI (marker shape = stage)</figcaption><div class="scroll">${dots ?? note('no accuracy values')}</div></figure>
<p class="small">Click a column header to sort. Drop = clean − cell accuracy on the same items (paired bootstrap CI); McNemar p compares the cell’s per-item correctness with the baseline’s.</p>
${table('cells-table', ['id', 'stage', 'stresses', 'items', 'accuracy', 'drop vs clean', 'McNemar p', 'accuracy, observed labels', 'macro-F1', 'ECE', 'NLL', 'Brier', 'AURC'], rows)}</section>`;
}

function provenanceSection(r: CampaignResults): string {
  const p = r.performance;
  const serving = servingTable(r);
  return `<section id="provenance"><h2>Run and provenance</h2>${serving ? `<h3>Serving (endpoints)</h3>${dataTable(serving)}` : ''}<p>Wall time ${fmt(p.wall_seconds, 1)} s; model compute floor ${fmt(p.floor_seconds, 1)} s (${e(p.forward_batches)} forward, ${e(p.gradient_batches)} gradient batches; ${fmt(p.forward_ms_per_batch, 1)} ms / ${fmt(p.forward_grad_ms_per_batch, 1)} ms per batch) — ${fmt(p.floor_ratio, 2)}× the floor.</p>
<details><summary>resolved config</summary><pre>${e(JSON.stringify(r.config, null, 2))}</pre></details></section>`;
}

export const STYLE = `:root{--fg:#161616;--muted:#555;--pass:#0b6b2b;--fail:#b00020;--line:#d6d6d6}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);margin:0 auto;padding:1.2em 2em 3em;max-width:1400px}
h1{margin:.2em 0}h2{margin-top:1.8em;border-bottom:2px solid #222;padding-bottom:.15em}h3{margin-top:1.3em}
nav{border-top:1px solid var(--line);border-bottom:1px solid var(--line);padding:.4em 0;margin-top:.6em}nav a{margin-right:1em;color:#0b57a4;text-decoration:none}nav a:hover{text-decoration:underline}
code{font-size:12.5px;background:#f3f3f3;padding:0 .25em;border-radius:3px;word-break:break-all}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top}
thead th{background:#f1f3f5}caption{text-align:left;font-weight:600;padding:.2em 0}table.sortable thead th{cursor:pointer;user-select:none}table.sortable thead th::after{content:" ⇅";color:#999;font-size:11px}
table.sortable thead th[aria-sort=ascending]::after{content:" ▲";color:#111}table.sortable thead th[aria-sort=descending]::after{content:" ▼";color:#111}
tbody tr:nth-child(even){background:#fafbfc}td.num{white-space:nowrap;font-variant-numeric:tabular-nums}#cells-table td:nth-child(1),#cells-table td:nth-child(2){white-space:nowrap}#cells-table td:nth-child(3){min-width:16em}td small{color:var(--muted)}.table-wrap{overflow-x:auto}
table.facts th{background:#f7f7f7;width:9em}.hash{font-size:11.5px}
.pass{color:var(--pass);font-weight:600}.fail{color:var(--fail);font-weight:700}
.badge{display:inline-block;padding:.25em .7em;border-radius:4px;font-weight:700;border:2px solid}.badge.pass{border-color:var(--pass);color:var(--pass)}.badge.fail{border-color:var(--fail);color:var(--fail);background:#fff2f4}.badge.neutral{border-color:#888;color:#444}
.kpis{display:flex;flex-wrap:wrap;gap:.8em;margin:.8em 0}.kpi{border:1px solid var(--line);border-radius:6px;padding:.5em .9em;min-width:13em}.kpi .k{color:var(--muted);font-size:12px}.kpi .v{font-size:24px;font-weight:700}.kpi .ci{font-size:12px;color:var(--muted)}
.method,.small{color:var(--muted);font-size:12.5px;max-width:70em}.note{background:#f4f6fa;border-left:4px solid #7a8ca8;padding:.5em .8em;max-width:70em}
.warn{background:#fff8e6;border-left:4px solid #b07d00;padding:.4em .8em;margin:.5em 0}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(640px,1fr));gap:1em}
figure{margin:0}.chart-box{border:1px solid var(--line);border-radius:6px;padding:.6em;background:#fff}.chart-box figcaption{font-weight:600;margin-bottom:.3em}.chart-box.wide{margin:.8em 0}
.scroll{overflow-x:auto}svg.chart{max-width:100%;height:auto;display:block}
ul.legend{list-style:none;padding:0;margin:.3em 0;display:flex;flex-wrap:wrap;gap:.2em 1.2em;font-size:12px}ul.legend li{display:flex;align-items:center;gap:.3em}
.multiples{display:flex;flex-wrap:wrap;gap:.6em}.small-multiple{border:1px solid var(--line);border-radius:6px}
.gallery{display:flex;flex-wrap:wrap;gap:.8em;margin:.5em 0}.item{border:1px solid var(--line);border-radius:6px;padding:.4em;font-size:12px;max-width:300px}.pics{display:flex;gap:4px}.cap{font-size:11px;color:var(--muted);text-align:center}
img.px{image-rendering:pixelated;border:1px solid #999;background:#000}
table.matrix td{text-align:right;font-variant-numeric:tabular-nums;padding:2px 6px}table.matrix td.diag{font-weight:700;outline:2px solid #333;outline-offset:-2px}
details{margin:.5em 0}summary{cursor:pointer;color:#0b57a4}pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:12px}
@media print{nav{display:none}details{display:block}}`;

export const SCRIPT = `(function () {
  function key(td) { var v = td.getAttribute('data-v'); if (v !== null && v !== '') { var n = Number(v); if (!isNaN(n)) return [0, n]; } return [1, td.textContent.trim().toLowerCase()]; }
  function sortBy(table, col, th) {
    var dir = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
    var ths = table.tHead.rows[0].cells; for (var i = 0; i < ths.length; i++) ths[i].setAttribute('aria-sort', 'none');
    th.setAttribute('aria-sort', dir);
    var body = table.tBodies[0]; var rows = Array.prototype.slice.call(body.rows); var s = dir === 'ascending' ? 1 : -1;
    rows.sort(function (a, b) { var x = key(a.cells[col]), y = key(b.cells[col]); if (x[0] !== y[0]) return x[0] - y[0]; return x[1] < y[1] ? -s : x[1] > y[1] ? s : 0; });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  var tables = document.querySelectorAll('table.sortable');
  Array.prototype.forEach.call(tables, function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener('click', function () { sortBy(table, col, th); });
      th.addEventListener('keydown', function (ev) { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); sortBy(table, col, th); } });
    });
  });
})();`;

const SCRIPT_HASH = createHash('sha256').update(SCRIPT).digest('base64');

/** One self-contained page: no network, styles and scripts inline. */
export function htmlReport(r: CampaignResults): string {
  const csp = `default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-${SCRIPT_HASH}'; base-uri 'none'; form-action 'none'`;
  const sections: [string, string][] = [
    ['budgets', 'Budgets'],
    ['mitigations', 'Mitigations'],
    ...(r.train_time?.length ? [['train-time-noise', 'Training-time noise'] as [string, string]] : []),
    ['robustness', 'Robustness curves'],
    ...(r.text ? [['text', 'Text model'] as [string, string]] : []),
    ['interactions', 'Combined stresses'],
    ['calibration', 'Calibration'],
    ['explanations', 'Explanations'],
    ['uncertainty', 'Uncertainty'],
    ['gallery', 'Gallery'],
    ['annotation', 'Annotation'],
    ['cells', 'All cells'],
    ['provenance', 'Provenance'],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${e(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gauntlet report — ${e(r.model.path.split(/[\\/]/).pop() ?? r.model.path)}</title>
<style>${STYLE}</style>
</head><body>
${headline(r)}
<nav>${sections.map(([id, t]) => `<a href="#${id}">${e(t)}</a>`).join('')}</nav>
${budgetsSection(r)}
${mitigationSection(r)}
${trainTimeSection(r)}
${robustnessSection(r)}
${textSection(r)}
${interactionsSection(r)}
${calibrationSection(r)}
${explanationsSection(r)}
${uncertaintySection(r)}
${gallerySection(r)}
${annotationSection(r)}
${cellsSection(r)}
${provenanceSection(r)}
<footer class="small"><p>Generated by Gauntlet ${e(r.gauntlet)} from results.json. Metrics: ${METRIC_NAMES.map((m) => e(m)).join(', ')}.</p></footer>
<script>${SCRIPT}</script>
</body></html>
`;
}


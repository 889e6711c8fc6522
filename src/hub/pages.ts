/**
 * The hub's HTML pages: the runs, a run, a model's history, a comparison, budgets over time. Pure
 * functions of registry data (no I/O), in the report's style (report.html's stylesheet and its
 * table-sorting script, allowed by hash in a Content-Security-Policy that forbids everything else).
 * Every value that came from a run — ids, paths, names, messages, config — goes through escapeHtml.
 */
import { createHash } from 'node:crypto';
import type { RunComparison } from '../report/compare.js';
import { escapeHtml as e } from '../report/escape.js';
import { SCRIPT, STYLE } from '../report/html.js';
import type { BudgetPoint, HistoryPoint, RunRecord, RunSummary } from '../registry/types.js';
import { historyChart } from './chart.js';

const SCRIPT_HASH = createHash('sha256').update(SCRIPT).digest('base64');

/** The hub pages' policy: own script by hash, inline styles, frames (the embedded report) from the hub only, no network elsewhere. */
export const HUB_CSP = `default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-${SCRIPT_HASH}'; frame-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'`;

const HUB_STYLE = `${STYLE}
header.hub{display:flex;align-items:baseline;gap:1.5em;flex-wrap:wrap}header.hub .brand{font-weight:700;font-size:18px;color:#111;text-decoration:none}
form.filters{display:flex;flex-wrap:wrap;gap:.6em;align-items:end;margin:.6em 0}form.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
form.filters input,form.filters select{font:inherit;padding:2px 4px}form.filters button{font:inherit;padding:3px 10px}
.status.passed{color:var(--pass);font-weight:600}.status.failed{color:var(--fail);font-weight:700}
td.better{color:var(--pass);font-weight:600}td.worse{color:var(--fail);font-weight:700}
iframe.report{width:100%;height:900px;border:1px solid var(--line);border-radius:6px}
.charts{display:flex;flex-wrap:wrap;gap:.8em}.charts figure{border:1px solid var(--line);border-radius:6px;padding:.3em;background:#fff}
td.pass-cell{background:#e6f4ea;color:var(--pass);text-align:center;font-weight:600}td.fail-cell{background:#fde7ea;color:var(--fail);text-align:center;font-weight:700}td.none-cell{color:#aaa;text-align:center}
.metric-links a{margin-right:.8em}.metric-links a.on{font-weight:700;color:#111;text-decoration:none}`;

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : '–');
const when = (iso: string) => iso.slice(0, 19).replace('T', ' ');
const fmt = (v: number | null | undefined, d = 3) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '–');
const q = (s: string) => encodeURIComponent(s);

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)} — Gauntlet hub</title>
<style>${HUB_STYLE}</style>
</head><body>
<header class="hub"><a class="brand" href="/">Gauntlet hub</a><nav><a href="/">Runs</a><a href="/models">Models</a><a href="/budgets">Budgets over time</a><a href="/api/runs">JSON API</a></nav></header>
${body}
<script>${SCRIPT}</script>
</body></html>
`;
}

function table(id: string, head: string[], rows: string[], caption?: string): string {
  return `<div class="table-wrap"><table class="sortable" id="${e(id)}">${caption ? `<caption>${e(caption)}</caption>` : ''}<thead><tr>${head.map((h) => `<th scope="col" tabindex="0" aria-sort="none">${e(h)}</th>`).join('')}</tr></thead><tbody>\n${rows.map((r) => `<tr>${r}</tr>`).join('\n')}\n</tbody></table></div>`;
}
const td = (s: unknown, cls = '') => `<td${cls ? ` class="${cls}"` : ''}>${e(s)}</td>`;
const numTd = (v: number | null | undefined, d = 3) => `<td class="num" data-v="${typeof v === 'number' && Number.isFinite(v) ? v : ''}">${fmt(v, d)}</td>`;
const ciTd = (v: number | null, lo: number | null, hi: number | null) => `<td class="num" data-v="${v ?? ''}">${fmt(v)}${lo !== null && hi !== null ? ` <small>[${fmt(lo)}, ${fmt(hi)}]</small>` : ''}</td>`;
const runLink = (id: string) => `<a href="/runs/${q(id)}"><code>${e(id)}</code></a>`;
const modelLink = (name: string) => `<a href="/models/${q(name)}">${e(name)}</a>`;

export interface RunsPageFilter {
  model?: string;
  kind?: string;
  status?: string;
  since?: string;
}

/** The runs: filter form, a sortable table (status, budgets passed/failed), and a form to compare two. */
export function runsPage(runs: readonly RunSummary[], f: RunsPageFilter, location: string, models: readonly string[]): string {
  const opt = (v: string, cur: string | undefined, label = v) => `<option value="${e(v)}"${v === (cur ?? '') ? ' selected' : ''}>${e(label)}</option>`;
  const filters = `<form class="filters" method="get" action="/">
<label>model<select name="model">${opt('', f.model, 'any')}${models.map((m) => opt(m, f.model)).join('')}</select></label>
<label>kind<select name="kind">${['', 'run', 'train', 'attack', 'stream', 'calibrate'].map((k) => opt(k, f.kind, k || 'any')).join('')}</select></label>
<label>status<select name="status">${['', 'passed', 'failed'].map((k) => opt(k, f.status, k || 'any')).join('')}</select></label>
<label>since<input name="since" value="${e(f.since ?? '')}" placeholder="2026-12-01 or 7d" size="12"></label>
<button type="submit">Filter</button></form>`;
  const rows = runs.map((r) =>
    [
      `<td>${runLink(r.id)}</td>`,
      td(r.kind + (r.imported ? ' (imported)' : '')),
      `<td class="status ${e(r.status)}">${e(r.status)}</td>`,
      `<td data-v="${e(r.started_at)}">${e(when(r.started_at))}</td>`,
      `<td>${modelLink(r.model_name)}</td>`,
      `<td><code class="hash">${e(short(r.model_sha256))}</code></td>`,
      td(r.data_name ?? '–'),
      `<td class="num" data-v="${r.budgets_passed}">${r.budgets_passed}</td>`,
      `<td class="num${r.budgets_failed ? ' fail' : ''}" data-v="${r.budgets_failed}">${r.budgets_failed}</td>`,
    ].join(''),
  );
  const campaign = runs.filter((r) => r.kind === 'run');
  const pick = (name: string, sel: number) => `<select name="${name}">${campaign.map((r, i) => `<option value="${e(r.id)}"${i === sel ? ' selected' : ''}>${e(`${r.id} · ${r.model_name}`)}</option>`).join('')}</select>`;
  const compare = campaign.length >= 2 ? `<h2>Compare two runs</h2><form class="filters" method="get" action="/compare"><label>A (before)${pick('a', 1)}</label><label>B (after)${pick('b', 0)}</label><button type="submit">Compare</button></form>` : '';
  return layout('Runs', `<h1>Runs</h1><p class="small">${runs.length} run${runs.length === 1 ? '' : 's'} in <code>${e(location)}</code>, newest first; click a column to sort.</p>
${filters}
${runs.length ? table('runs-table', ['run', 'kind', 'status', 'started (UTC)', 'model', 'sha256', 'data', 'budgets passed', 'budgets failed'], rows) : '<p class="note">No runs match. Runs record themselves when they finish; <code>gauntlet runs import DIR</code> records existing run directories.</p>'}
${compare}`);
}

/** One run: provenance, budgets, metrics, artifacts, and its report embedded (campaign runs). */
export function runPage(r: RunRecord, hasReport: boolean): string {
  const facts: [string, string][] = [
    ['run', `<code>${e(r.id)}</code>`],
    ['kind', e(r.kind + (r.imported ? ' (imported)' : ''))],
    ['status', `<span class="badge ${r.status === 'passed' ? 'pass' : 'fail'}">${e(r.status.toUpperCase())}</span>`],
    ['time', `${e(when(r.started_at))} → ${e(when(r.finished_at))} UTC`],
    ['model', `${modelLink(r.model.name)} <code class="hash">${e(r.model.sha256)}</code>${r.model.parent_sha256 ? ` — from ${r.model.parent_name ? modelLink(r.model.parent_name) : ''} <code class="hash">${e(short(r.model.parent_sha256))}</code>` : ''}<br><small>${e(r.model.path)}</small>`],
    ...r.models.map((m): [string, string] => ['variant', `${modelLink(m.name)} <code class="hash">${e(m.sha256)}</code>${m.parent_sha256 ? ` — trained from ${m.parent_name ? modelLink(m.parent_name) : ''} <code class="hash">${e(short(m.parent_sha256))}</code>` : ''}`]),
    ['data', r.data ? `${e(r.data.name)} <code class="hash">${e(r.data.sha256)}</code><br><small>${e(r.data.path)}</small>` : '–'],
    ['seed', e(r.seed ?? '–')],
    ['versions', e(Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', '))],
    ['git commit', r.git_commit ? `<code class="hash">${e(r.git_commit)}</code>` : '–'],
    ['run directory', r.out_dir ? `<code>${e(r.out_dir)}</code>` : '–'],
  ];
  const budgets = r.budgets.length
    ? table('budgets-table', ['budget', 'verdict', 'message'], r.budgets.map((b) => `${td(b.name)}<td class="${b.passed ? 'pass' : 'fail'}">${b.passed ? 'PASS' : 'FAIL'}</td>${td(b.message)}`))
    : '<p class="small">No budgets.</p>';
  const artifacts = r.artifacts.length ? `<ul>${r.artifacts.map((a) => `<li>${e(a.name)}: <code>${e(a.path)}</code></li>`).join('')}</ul>` : '<p class="small">None.</p>';
  const metrics = table('metrics-table', ['model', 'cell', 'stage', 'stresses', 'metric', 'value [95% CI]'], r.metrics.map((m) => `${td(m.model_name)}${td(m.cell)}${td(m.stage)}${td(m.stress)}${td(m.metric)}${ciTd(m.value, m.ci_lo, m.ci_hi)}`));
  const compare = r.kind === 'run' ? `<p><a href="/?model=${q(r.model.name)}&kind=run">Other runs of ${e(r.model.name)}</a> · <a href="/models/${q(r.model.name)}">history</a></p>` : '';
  return layout(`Run ${r.id}`, `<h1>Run <code>${e(r.id)}</code></h1>${compare}
<table class="facts">${facts.map(([k, v]) => `<tr><th scope="row">${e(k)}</th><td>${v}</td></tr>`).join('')}</table>
<h2>Budgets</h2>${budgets}
${hasReport ? `<h2>Report</h2><iframe class="report" title="report of ${e(r.id)}" src="/runs/${q(r.id)}/report" sandbox="allow-scripts"></iframe>` : ''}
<h2>Metrics</h2>${metrics}
<h2>Artifacts</h2>${artifacts}
<details><summary>resolved config</summary><pre>${e(JSON.stringify(r.config, null, 2))}</pre></details>
<details><summary>summary</summary><pre>${e(JSON.stringify(r.summary, null, 2))}</pre></details>`);
}

/** The models: name, runs, versions, last run. */
export function modelsPage(models: readonly { name: string; runs: number; versions: number; last: string }[]): string {
  return layout('Models', `<h1>Models</h1>${models.length ? table('models-table', ['model', 'runs', 'versions (sha256)', 'last run (UTC)'], models.map((m) => `<td>${modelLink(m.name)}</td><td class="num">${m.runs}</td><td class="num">${m.versions}</td>${td(when(m.last))}`)) : '<p class="note">No runs recorded yet.</p>'}`);
}

/**
 * A model's history: for the chosen metric, one chart per stress over the model's runs (CI band,
 * version changes), then the versions with their first and last run.
 */
export function historyPage(name: string, points: readonly HistoryPoint[], metric: string): string {
  const metrics = [...new Set(points.map((p) => p.metric))].sort((a, b) => (a === 'accuracy' ? -1 : b === 'accuracy' ? 1 : a.localeCompare(b)));
  const versions = new Map<string, number>();
  for (const p of points) if (!versions.has(p.model_sha256)) versions.set(p.model_sha256, versions.size + 1);
  const chosen = points.filter((p) => p.metric === metric);
  const byStress = new Map<string, HistoryPoint[]>();
  for (const p of chosen) {
    const k = `${p.stage}|${p.stress}`;
    if (!byStress.has(k)) byStress.set(k, []);
    byStress.get(k)!.push(p);
  }
  const charts = [...byStress.entries()].map(([k, pts]) => {
    const [stage, stress] = k.split('|') as [string, string];
    return `<figure data-stress="${e(stress)}">${historyChart(`${stress}${stage === 'baseline' || stage === stress ? '' : ` (${stage})`}`, metric, pts, versions)}</figure>`;
  });
  const runs = new Map<string, { started: string; sha: string }>();
  for (const p of points) runs.set(p.run_id, { started: p.started_at, sha: p.model_sha256 });
  const vrows = [...versions.entries()].map(([sha, v]) => {
    const rs = [...runs.entries()].filter(([, r]) => r.sha === sha);
    return `<td class="num">v${v}</td><td><code class="hash">${e(sha)}</code></td><td class="num">${rs.length}</td>${td(when(rs[0]![1].started))}<td>${runLink(rs[rs.length - 1]![0])}</td>`;
  });
  const links = metrics.map((m) => `<a href="/models/${q(name)}?metric=${q(m)}"${m === metric ? ' class="on"' : ''}>${e(m)}</a>`).join('');
  return layout(`History of ${name}`, `<h1>History of ${e(name)}</h1>
<p class="small">${runs.size} run${runs.size === 1 ? '' : 's'}, ${versions.size} version${versions.size === 1 ? '' : 's'} (distinct sha256). Each point is one run with its 95 % CI (whisker; band joins them); dashed lines mark a new model version. Hover a point for its run.</p>
<p class="metric-links">metric: ${links}</p>
${charts.length ? `<div class="charts" id="history-charts">${charts.join('')}</div>` : `<p class="note">No ${e(metric)} recorded for ${e(name)}.</p>`}
<h2>Versions</h2>${table('versions-table', ['version', 'sha256', 'runs', 'first run (UTC)', 'latest run'], vrows)}`);
}

/** Two runs compared with the compare verb's paired judgement. */
export function comparePage(a: RunRecord, b: RunRecord, c: RunComparison, all: boolean): string {
  const yesNo = (changed: boolean, x: string, y: string) => (changed ? `<span class="fail">changed</span>: <code class="hash">${e(x)}</code> → <code class="hash">${e(y)}</code>` : `same <code class="hash">${e(x)}</code>`);
  const rows = (list: RunComparison['metrics']) =>
    list.map((m) => `${td(m.label)}${td(m.stage)}${td(m.metric)}${ciTd(typeof m.a.value === 'number' ? m.a.value : null, (m.a.ci[0] as number | null) ?? null, (m.a.ci[1] as number | null) ?? null)}${ciTd(typeof m.b.value === 'number' ? m.b.value : null, (m.b.ci[0] as number | null) ?? null, (m.b.ci[1] as number | null) ?? null)}<td class="num ${m.moved ? e(m.direction) : ''}" data-v="${typeof m.diff === 'number' ? m.diff : ''}">${typeof m.diff === 'number' ? (m.diff >= 0 ? '+' : '') + m.diff.toFixed(3) : '–'}${m.diff_ci ? ` <small>[${fmt(m.diff_ci[0])}, ${fmt(m.diff_ci[1])}]</small>` : ''}</td>${td(m.method)}<td class="${m.moved ? e(m.direction) : ''}">${e(m.moved ? m.direction : 'within CI')}</td>${typeof m.mcnemar_p === 'number' && m.mcnemar_p < 1e-4 ? `<td class="num" data-v="${m.mcnemar_p}">&lt; 0.0001</td>` : numTd(m.mcnemar_p, 4)}`);
  const head = ['stresses', 'stage', 'metric', 'A [95% CI]', 'B [95% CI]', 'B − A [95% CI]', 'test', 'verdict', 'McNemar p'];
  const worse = c.moved.filter((m) => m.direction === 'worse').length;
  const better = c.moved.filter((m) => m.direction === 'better').length;
  return layout(`Compare ${a.id} and ${b.id}`, `<h1>Compare runs</h1>
<table class="facts"><tr><th scope="row">A (before)</th><td>${runLink(a.id)} ${e(when(a.started_at))} · ${modelLink(a.model.name)}</td></tr>
<tr><th scope="row">B (after)</th><td>${runLink(b.id)} ${e(when(b.started_at))} · ${modelLink(b.model.name)}</td></tr>
<tr><th scope="row">model</th><td>${yesNo(c.model_changed, short(c.a.model_sha256), short(c.b.model_sha256))}</td></tr>
<tr><th scope="row">data</th><td>${yesNo(c.data_changed, short(c.a.data_sha256), short(c.b.data_sha256))}</td></tr>
<tr><th scope="row">seed</th><td>${c.seed_changed ? `<span class="fail">changed</span>: ${e(c.a.seed)} → ${e(c.b.seed)}` : `same ${e(c.a.seed)}`}</td></tr>
<tr><th scope="row">cells</th><td>${c.cells_matched} matched${c.cells_only_a.length ? `; only in A: ${e(c.cells_only_a.map((x) => x.label).join(', '))}` : ''}${c.cells_only_b.length ? `; only in B: ${e(c.cells_only_b.map((x) => x.label).join(', '))}` : ''}</td></tr></table>
<div class="kpis"><div class="kpi"><div class="k">moved beyond CI</div><div class="v" id="moved-count">${c.moved.length}</div></div><div class="kpi"><div class="k">worse</div><div class="v fail">${worse}</div></div><div class="kpi"><div class="k">better</div><div class="v pass">${better}</div></div></div>
<p class="method">${e(c.rule)}</p>
<h2>Changed metrics</h2>
${c.moved.length ? table('moved-table', head, rows(c.moved)) : '<p class="note" id="no-moves">No metric moved beyond its CI.</p>'}
${c.budgets.length ? `<h2>Budgets that changed</h2>${table('budget-changes', ['budget', 'A', 'B'], c.budgets.map((x) => `${td(x.name)}${td(x.a === null ? '–' : x.a ? 'PASS' : 'FAIL', x.a === false ? 'fail' : x.a ? 'pass' : '')}${td(x.b === null ? '–' : x.b ? 'PASS' : 'FAIL', x.b === false ? 'fail' : x.b ? 'pass' : '')}`))}` : ''}
${c.interactions.length ? `<h2>Interaction verdicts that changed</h2>${table('interaction-changes', ['cell', 'A', 'B'], c.interactions.map((x) => `${td(x.label)}${td(x.a ?? '–')}${td(x.b ?? '–')}`))}` : ''}
${c.config_changes.length ? `<h2>Config changes</h2>${table('config-changes', ['path', 'A', 'B'], c.config_changes.map((x) => `<td><code>${e(x.path)}</code></td>${td(JSON.stringify(x.a))}${td(JSON.stringify(x.b))}`))}` : ''}
<h2>Every compared metric</h2>
${all ? table('all-metrics', head, rows(c.metrics)) : `<p><a href="/compare?a=${q(a.id)}&amp;b=${q(b.id)}&amp;all=1">Show all ${c.metrics.length} compared metrics</a></p>`}`);
}

/** Budgets over time: one row per budget (per model), one column per run, PASS/FAIL. */
export function budgetsPage(points: readonly BudgetPoint[]): string {
  const runs = [...new Map(points.map((p) => [p.run_id, p.started_at])).entries()];
  const key = (p: BudgetPoint) => `${p.model_name}\u0000${p.name}`;
  const byBudget = new Map<string, Map<string, BudgetPoint>>();
  for (const p of points) {
    if (!byBudget.has(key(p))) byBudget.set(key(p), new Map());
    byBudget.get(key(p))!.set(p.run_id, p);
  }
  const head = `<tr><th scope="col">model</th><th scope="col">budget</th><th scope="col">pass rate</th>${runs.map(([id, t]) => `<th scope="col"><a href="/runs/${q(id)}" title="${e(id)}">${e(t.slice(5, 16).replace('T', ' '))}</a></th>`).join('')}</tr>`;
  const rows = [...byBudget.entries()].map(([k, m]) => {
    const [model, name] = k.split('\u0000') as [string, string];
    const vs = [...m.values()];
    const rate = vs.filter((v) => v.passed).length / vs.length;
    return `<tr><td>${modelLink(model)}</td>${td(name)}<td class="num">${(100 * rate).toFixed(0)} %</td>${runs.map(([id]) => {
      const p = m.get(id);
      return p ? `<td class="${p.passed ? 'pass-cell' : 'fail-cell'}" title="${e(p.message)}">${p.passed ? 'PASS' : 'FAIL'}</td>` : '<td class="none-cell">·</td>';
    }).join('')}</tr>`;
  });
  return layout('Budgets over time', `<h1>Budgets over time</h1><p class="small">Each column is a run (oldest left); hover a verdict for its message.</p>
${rows.length ? `<div class="table-wrap"><table id="budgets-over-time"><thead>${head}</thead><tbody>${rows.join('\n')}</tbody></table></div>` : '<p class="note">No budgets recorded yet.</p>'}`);
}

/** A plain error page (404, 400). */
export function errorPage(status: number, message: string): string {
  return layout(String(status), `<h1>${status}</h1><p>${e(message)}</p><p><a href="/">Back to the runs</a></p>`);
}

import type { CampaignResults, CellResult } from '../campaign/runner.js';
import { escapeHtml as e } from './escape.js';

const f = (v: number | null | undefined, d = 3) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));
const label = (c: CellResult) => Object.values(c.labels).join(' + ') || 'clean';

/** Horizontal bar chart (hand-written SVG) of accuracy with CI whiskers, one bar per cell. */
function accuracyChart(r: CampaignResults): string {
  const rowH = 18;
  const w = 760;
  const left = 300;
  const h = r.cells.length * rowH + 30;
  const x = (v: number) => left + v * (w - left - 20);
  const bars = r.cells
    .map((c, i) => {
      const y = 10 + i * rowH;
      const m = c.metrics.accuracy;
      return `<g><title>${e(label(c))}: ${f(m.value)} [${f(m.ci[0])}, ${f(m.ci[1])}]</title><text x="${left - 6}" y="${y + 12}" text-anchor="end" font-size="11">${e(c.stage)} · ${e(label(c))}</text><rect x="${left}" y="${y + 2}" width="${Math.max(0, x(m.value) - left)}" height="${rowH - 5}" fill="${c.stage === 'baseline' ? '#4a7' : '#58a'}"/><line x1="${x(m.ci[0])}" x2="${x(m.ci[1])}" y1="${y + 8}" y2="${y + 8}" stroke="#000"/></g>`;
    })
    .join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => `<line x1="${x(t)}" x2="${x(t)}" y1="5" y2="${h - 18}" stroke="#ccc"/><text x="${x(t)}" y="${h - 5}" font-size="10" text-anchor="middle">${t}</text>`).join('');
  return `<svg class="chart" role="img" aria-label="accuracy per cell" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${ticks}${bars}</svg>`;
}

/** One self-contained page: no network, styles and scripts inline. */
export function htmlReport(r: CampaignResults): string {
  const rows = r.cells
    .map((c) => `<tr><td>${e(c.id)}</td><td>${e(c.stage)}</td><td>${e(label(c))}</td><td data-v="${c.metrics.accuracy.value}">${f(c.metrics.accuracy.value)} <small>[${f(c.metrics.accuracy.ci[0])}, ${f(c.metrics.accuracy.ci[1])}]</small></td><td>${c.observed_metrics ? f(c.observed_metrics.accuracy.value) : '–'}</td><td>${f(c.metrics.ece.value)}</td><td>${f(c.metrics.nll.value)}</td><td>${f(c.metrics.aurc.value)}</td></tr>`)
    .join('\n');
  const budgets = r.budgets.map((b) => `<li class="${b.passed ? 'pass' : 'fail'}">${b.passed ? 'PASS' : 'FAIL'} — ${e(b.name)}: ${e(b.message)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gauntlet report</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}th{cursor:pointer;background:#f4f4f4}.pass{color:#161}.fail{color:#a11;font-weight:bold}small{color:#666}</style>
</head><body>
<h1>Gauntlet stress report</h1>
<p>Model <code>${e(r.model.path)}</code> (sha256 <code>${e(r.model.sha256)}</code>) · data <code>${e(r.data.path)}</code> (sha256 <code>${e(r.data.sha256)}</code>, ${r.data.samples} items) · seed ${r.seed}</p>
${r.budgets.length ? `<h2>Budgets</h2><ul>${budgets}</ul>` : ''}
<h2>Accuracy per cell (95 % CI)</h2>
${accuracyChart(r)}
<h2>All cells</h2>
<table id="cells"><thead><tr><th>id</th><th>stage</th><th>stresses</th><th>accuracy</th><th>observed-label accuracy</th><th>ECE</th><th>NLL</th><th>AURC</th></tr></thead><tbody>
${rows}
</tbody></table>
<script>
document.querySelectorAll('#cells th').forEach((th, col) => th.addEventListener('click', () => {
  const body = document.querySelector('#cells tbody');
  const rows = [...body.rows];
  const key = (r) => { const c = r.cells[col]; const v = parseFloat(c.dataset.v ?? c.textContent); return Number.isNaN(v) ? c.textContent : v; };
  const dir = th.dataset.dir === 'asc' ? -1 : 1; th.dataset.dir = dir === 1 ? 'asc' : 'desc';
  rows.sort((a, b) => (key(a) > key(b) ? dir : key(a) < key(b) ? -dir : 0)).forEach((r) => body.appendChild(r));
}));
</script>
</body></html>
`;
}

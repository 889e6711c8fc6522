/**
 * The history chart: one metric of one stress over a model's runs, oldest left. Each run is a point
 * with its 95 % CI as a whisker and the CIs joined into a shaded band; a dashed line marks where the
 * model's content hash (its version) changes. Hand-written SVG like the report's charts
 * (src/report/svg.ts): no script, no CDN, deterministic.
 */
import { escapeHtml as e } from '../report/escape.js';
import { ticks } from '../report/svg.js';
import type { HistoryPoint } from '../registry/types.js';

const r1 = (v: number) => (Math.round(v * 10) / 10).toString();
const fmt = (v: number | null, d = 3) => (v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(d));
const isNum = (v: number | null): v is number => typeof v === 'number' && Number.isFinite(v);

/** `points` are one metric of one stress, one per run, oldest first; `versions` numbers each sha256 1, 2, … in order of first appearance. */
export function historyChart(title: string, metric: string, points: readonly HistoryPoint[], versions: ReadonlyMap<string, number>, w = 460, h = 250): string {
  const m = { left: 50, right: 14, top: 26, bottom: 46 };
  const vals = points.flatMap((p) => [p.value, p.ci_lo, p.ci_hi]).filter(isNum);
  const bounded = /accuracy|f1|ece|brier|rate|confidence/.test(metric) && vals.every((v) => v >= -1 && v <= 1);
  let lo = vals.length ? Math.min(...vals) : 0;
  let hi = vals.length ? Math.max(...vals) : 1;
  const pad = Math.max((hi - lo) * 0.1, 0.01);
  lo -= pad;
  hi += pad;
  if (bounded) [lo, hi] = [Math.max(lo, metric === 'accuracy_drop' ? -1 : 0), Math.min(hi, 1)];
  const n = points.length;
  const x = (i: number) => m.left + 24 + (n <= 1 ? (w - m.left - m.right - 48) / 2 : (i / (n - 1)) * (w - m.left - m.right - 48));
  const y = (v: number) => h - m.bottom - ((v - lo) / (hi - lo || 1)) * (h - m.top - m.bottom);
  const parts: string[] = [];
  parts.push(`<text x="${m.left}" y="16" font-size="12.5" font-weight="600" fill="#111">${e(title)}</text>`);
  for (const t of ticks(lo, hi, 4)) parts.push(`<line x1="${m.left}" x2="${w - m.right}" y1="${r1(y(t))}" y2="${r1(y(t))}" stroke="#e6e6e6"/><text x="${m.left - 5}" y="${r1(y(t) + 4)}" font-size="10.5" text-anchor="end" fill="#333">${e(+t.toPrecision(3))}</text>`);
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${w - m.left - m.right}" height="${h - m.top - m.bottom}" fill="none" stroke="#888"/>`);
  // Version changes.
  points.forEach((p, i) => {
    if (i > 0 && points[i - 1]!.model_sha256 !== p.model_sha256) {
      const xv = r1((x(i - 1) + x(i)) / 2);
      parts.push(`<line class="version-change" x1="${xv}" x2="${xv}" y1="${m.top}" y2="${h - m.bottom}" stroke="#7a5" stroke-dasharray="4 3"/>`);
    }
  });
  // CI band.
  const band = points.map((p, i) => ({ i, lo: p.ci_lo, hi: p.ci_hi })).filter((b) => isNum(b.lo) && isNum(b.hi));
  if (band.length > 1) {
    const d = [...band.map((b) => `${r1(x(b.i))},${r1(y(b.hi!))}`), ...[...band].reverse().map((b) => `${r1(x(b.i))},${r1(y(b.lo!))}`)].join(' ');
    parts.push(`<polygon class="ci-band" points="${d}" fill="#0072B2" fill-opacity="0.14" stroke="none"/>`);
  }
  const line = points.map((p, i) => (isNum(p.value) ? `${r1(x(i))},${r1(y(p.value))}` : null)).filter(Boolean);
  if (line.length > 1) parts.push(`<polyline points="${line.join(' ')}" fill="none" stroke="#0072B2" stroke-width="1.8"/>`);
  points.forEach((p, i) => {
    const xi = r1(x(i));
    const v = versions.get(p.model_sha256) ?? 0;
    const tip = `${p.run_id} · ${p.started_at.slice(0, 16).replace('T', ' ')} · v${v} ${p.model_sha256.slice(0, 12)} · ${metric} ${fmt(p.value)}${isNum(p.ci_lo) && isNum(p.ci_hi) ? ` [${fmt(p.ci_lo)}, ${fmt(p.ci_hi)}]` : ''}`;
    const whisker = isNum(p.ci_lo) && isNum(p.ci_hi) ? `<line x1="${xi}" x2="${xi}" y1="${r1(y(p.ci_lo))}" y2="${r1(y(p.ci_hi))}" stroke="#0072B2" stroke-width="1.2"/>` : '';
    const dot = isNum(p.value) ? `<circle cx="${xi}" cy="${r1(y(p.value))}" r="4" fill="#0072B2" stroke="#fff" stroke-width="1"/>` : '';
    parts.push(`<g class="pt" data-run="${e(p.run_id)}" data-value="${isNum(p.value) ? p.value : ''}"><title>${e(tip)}</title>${whisker}${dot}</g>`);
    if (n <= 12 || i % Math.ceil(n / 12) === 0 || i === n - 1) {
      parts.push(`<text x="${xi}" y="${h - m.bottom + 14}" font-size="10" text-anchor="middle" fill="#333">${e(p.started_at.slice(5, 16).replace('T', ' '))}</text><text x="${xi}" y="${h - m.bottom + 26}" font-size="9.5" text-anchor="middle" fill="#5a7">v${v}</text>`);
    }
  });
  parts.push(`<text x="${r1((m.left + w - m.right) / 2)}" y="${h - 6}" font-size="11" text-anchor="middle" fill="#111">run (date, model version)</text>`);
  return `<svg class="chart history" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${e(`${title}: ${metric} over ${n} runs`)}">${parts.join('')}</svg>`;
}

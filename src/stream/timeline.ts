/**
 * The stream's HTML timeline: one self-contained page (inline CSS and hand-written SVG, no
 * scripts) with stacked panels over the stream position — accuracy (served and answered, and the
 * challenger's), confidence, latency p50/p95, deferral rate — the episodes as shaded bands across
 * all panels, and one row of alert ticks per monitor, coloured by kind. Every user-provided string
 * (file names, monitor names, stress names) is escaped.
 */
import { escapeHtml } from '../report/escape.js';
import type { StreamResult } from './simulate.js';
import type { MonitorKind } from './types.js';

const KIND_COLOR: Record<MonitorKind, string> = { drift: '#1f77b4', adversarial: '#d62728', performance: '#2ca02c', annotation: '#9467bd' };
const EPISODE_FILL: Record<string, string> = { drift: '#1f77b4', adversarial: '#d62728', annotation: '#9467bd' };

const W = 960;
const LEFT = 150;
const RIGHT = 20;
const PANEL_H = 110;
const GAP = 26;

interface Series {
  readonly label: string;
  readonly values: readonly number[];
  readonly color: string;
  readonly dash?: string;
}

const f = (v: number, d = 3): string => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(1)} %` : 'n/a');

export function renderTimeline(r: StreamResult): string {
  const N = r.items;
  const t = r.timeline;
  const xOf = (i: number): number => LEFT + ((W - LEFT - RIGHT) * i) / Math.max(1, N);
  const centers = t.start.map((s) => s + Math.min(t.bucket, N - s) / 2);
  const panels: { title: string; series: Series[]; max: number | null; unit: string }[] = [
    {
      title: 'accuracy',
      series: [
        { label: 'served', values: t.accuracy, color: '#333' },
        { label: 'answered (not deferred)', values: t.accepted_accuracy, color: '#2ca02c' },
        ...(t.challenger_accuracy ? [{ label: 'challenger', values: t.challenger_accuracy, color: '#ff7f0e', dash: '4 3' }] : []),
      ],
      max: 1,
      unit: '',
    },
    { title: 'confidence', series: [{ label: 'mean top-1 confidence', values: t.confidence, color: '#1f77b4' }], max: 1, unit: '' },
    {
      title: 'latency',
      series: [
        { label: 'p50', values: t.latency_p50_ms, color: '#8c564b' },
        { label: 'p95', values: t.latency_p95_ms, color: '#e377c2', dash: '4 3' },
      ],
      max: null,
      unit: ' ms',
    },
    {
      title: 'deferred',
      series: [
        { label: 'deferral rate', values: t.abstention, color: '#7f7f7f' },
        ...(t.disagreement ? [{ label: 'challenger disagreement', values: t.disagreement, color: '#ff7f0e', dash: '4 3' }] : []),
      ],
      max: 1,
      unit: '',
    },
  ];
  const monitors = r.monitors;
  const alertRowH = 14;
  const alertsH = monitors.length * alertRowH + 10;
  const top = 44;
  const height = top + panels.length * (PANEL_H + GAP) + alertsH + 40;
  const parts: string[] = [];
  // episode bands
  r.episodes.forEach((e, n) => {
    const x0 = xOf(e.from);
    const x1 = xOf(e.to);
    const color = EPISODE_FILL[e.kinds[0] ?? 'drift'] ?? '#999';
    parts.push(`<rect x="${x0.toFixed(1)}" y="${top - 30}" width="${(x1 - x0).toFixed(1)}" height="${height - top + 6}" fill="${color}" fill-opacity="0.08"/>`);
    parts.push(`<text x="${(x0 + 3).toFixed(1)}" y="${top - (n % 2 ? 6 : 20)}" font-size="11" fill="${color}">${escapeHtml(e.kinds.join(' + '))}${e.detected_at !== null ? ` (detected +${e.delay})` : ' (missed)'}</text>`);
    if (e.detected_at !== null) parts.push(`<line x1="${xOf(e.detected_at).toFixed(1)}" x2="${xOf(e.detected_at).toFixed(1)}" y1="${top}" y2="${height - 30}" stroke="${color}" stroke-width="1.5" stroke-dasharray="2 2"/>`);
  });
  let y = top;
  for (const p of panels) {
    const max = p.max ?? Math.max(1e-9, ...p.series.flatMap((s) => s.values.filter(Number.isFinite)));
    const yOf = (v: number): number => y + PANEL_H - (PANEL_H * Math.min(v, max)) / max;
    parts.push(`<rect x="${LEFT}" y="${y}" width="${W - LEFT - RIGHT}" height="${PANEL_H}" fill="none" stroke="#ccc"/>`);
    parts.push(`<text x="${LEFT - 8}" y="${y + 12}" font-size="12" text-anchor="end" font-weight="bold">${escapeHtml(p.title)}</text>`);
    parts.push(`<text x="${LEFT - 8}" y="${y + 26}" font-size="10" text-anchor="end" fill="#666">max ${escapeHtml(f(max, p.max === null ? 1 : 2) + p.unit)}</text>`);
    parts.push(`<text x="${LEFT - 8}" y="${y + PANEL_H}" font-size="10" text-anchor="end" fill="#666">0</text>`);
    p.series.forEach((s, k) => {
      let d = '';
      let pen = false;
      s.values.forEach((v, i) => {
        if (!Number.isFinite(v)) {
          pen = false;
          return;
        }
        d += `${pen ? 'L' : 'M'}${xOf(centers[i]!).toFixed(1)} ${yOf(v).toFixed(1)}`;
        pen = true;
      });
      if (d) parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
      parts.push(`<text x="${LEFT - 8}" y="${y + 42 + 13 * k}" font-size="10" text-anchor="end" fill="${s.color}">${escapeHtml(s.label)}</text>`);
    });
    y += PANEL_H + GAP;
  }
  // alert raster
  parts.push(`<text x="${LEFT - 8}" y="${y - 6}" font-size="12" text-anchor="end" font-weight="bold">alerts</text>`);
  monitors.forEach((m, k) => {
    const ry = y + k * alertRowH;
    parts.push(`<text x="${LEFT - 8}" y="${ry + 10}" font-size="10" text-anchor="end" fill="${KIND_COLOR[m.kind]}">${escapeHtml(m.name)}</text>`);
    parts.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${ry + 7}" y2="${ry + 7}" stroke="#eee"/>`);
    for (const a of r.alerts) {
      if (a.monitor !== m.name) continue;
      const ax = xOf(a.index).toFixed(1);
      parts.push(`<line x1="${ax}" x2="${ax}" y1="${ry + 1}" y2="${ry + 13}" stroke="${KIND_COLOR[a.kind]}" stroke-width="2"><title>${escapeHtml(`${a.monitor} (${a.kind}) at item ${a.index}: ${f(a.statistic, 4)} > ${f(a.threshold, 4)}`)}</title></line>`);
    }
  });
  y += alertsH;
  // x axis
  for (let k = 0; k <= 10; k++) {
    const i = Math.round((N * k) / 10);
    parts.push(`<text x="${xOf(i).toFixed(1)}" y="${y + 12}" font-size="10" text-anchor="middle" fill="#666">${i}</text>`);
  }
  parts.push(`<text x="${((LEFT + W - RIGHT) / 2).toFixed(1)}" y="${y + 28}" font-size="11" text-anchor="middle">stream position (items)</text>`);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="system-ui, sans-serif">${parts.join('')}</svg>`;

  const ev = r.evaluation;
  const episodeRows = r.episodes
    .map(
      (e) =>
        `<tr><td>${e.from}–${e.to}</td><td>${escapeHtml(e.kinds.join(', '))}</td><td>${e.detected_at === null ? '<b>missed</b>' : `${e.delay} items`}</td><td>${escapeHtml(e.monitor ?? '')}</td><td>${pct(e.accuracy)}</td><td>${pct(e.accepted_accuracy)}</td><td>${pct(e.deferral_rate)}</td></tr>`,
    )
    .join('');
  const monitorRows = monitors
    .map((m) => {
      const n = r.alerts.filter((a) => a.monitor === m.name).length;
      return `<tr><td style="color:${KIND_COLOR[m.kind]}">${escapeHtml(m.name)}</td><td>${escapeHtml(m.type)}</td><td>${escapeHtml(m.kind)}</td><td>${escapeHtml(m.on ?? '')}</td><td>${n}</td><td>${ev.false_alarms_by_monitor[m.name] ?? 0}</td></tr>`;
    })
    .join('');
  const s = r.serving;
  const c = r.challenger;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gauntlet stream: ${escapeHtml(r.model.path)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}td,th{border-bottom:1px solid #ddd;padding:3px 10px;text-align:left;font-size:13px}th{background:#f5f5f5}.muted{color:#666;font-size:13px}</style>
</head><body>
<h1>Stream timeline</h1>
<p class="muted">model ${escapeHtml(r.model.path)} (sha256 ${escapeHtml(r.model.sha256.slice(0, 16))}…) · data ${escapeHtml(r.data.path)} · ${N} items, seed ${escapeHtml(String(r.seed))} · scenario ${escapeHtml(r.scenario.source)}</p>
<p>Episodes detected: <b>${ev.detected} of ${r.episodes.length}</b> · false alarms: <b>${ev.false_alarms}</b> over ${ev.clean_items} clean items (${f(ev.false_alarms_per_10k ?? NaN, 2)} per 10,000) · accuracy ${pct(r.policy.accuracy)}, answered ${pct(r.policy.accepted_accuracy)}, deferred ${pct(r.policy.deferral_rate)}${s ? ` · latency p50 ${f(s.p50_ms, 2)} / p95 ${f(s.p95_ms, 2)} / p99 ${f(s.p99_ms, 2)} ms at ${escapeHtml(String(s.offered_rate))} items/s offered, ${f(s.throughput, 1)} served` : ''}</p>
${c ? `<p>${escapeHtml(c.mode)} challenger ${escapeHtml(c.model)}: accuracy ${pct(c.challenger_accuracy)} vs champion ${pct(c.champion_accuracy)}, disagreement ${pct(c.disagreement)} → <b>${escapeHtml(c.decision)}</b> (${escapeHtml(c.reason)})</p>` : ''}
${svg}
<h2>Episodes</h2>
<table><tr><th>items</th><th>kinds</th><th>detection delay</th><th>first by</th><th>accuracy</th><th>answered accuracy</th><th>deferred</th></tr>${episodeRows}</table>
<h2>Monitors</h2>
<table><tr><th>name</th><th>type</th><th>kind</th><th>on</th><th>alerts</th><th>false alarms</th></tr>${monitorRows}</table>
<p class="muted">An alert belongs to an episode from its first item to ${ev.settle} items after its end (plus the label delay for monitors fed by arriving labels); other alerts are false alarms.</p>
</body></html>
`;
}

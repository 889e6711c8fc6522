/**
 * Hand-written SVG charts for the HTML report: line charts with CI bands, heatmaps, reliability
 * diagrams and risk–coverage curves. No dependency and no script: each chart is a string of
 * static SVG, so the report is one self-contained file that renders the same in any browser (and
 * in a screenshot test) and carries nothing that could fetch from the network.
 *
 * Readable without colour: each series has its own marker shape *and* dash pattern and is labelled
 * directly at its end as well as in a legend; heatmap cells carry their numbers and a verdict glyph,
 * with hatching for compounding and dots for overlapping interactions. Colours are the Okabe–Ito
 * palette (distinguishable with the common colour-vision deficiencies). Every mark has a <title>
 * tooltip with its value and 95 % CI. All text goes through escapeXml.
 */
import { escapeXml as e } from './escape.js';
import { fmt, isNum, wilson, type Num } from './format.js';
import { floorText, VERDICT_GLYPH, type CurveChart, type Heatmap } from './analysis.js';
import type { ReliabilityBins, RiskCoverage } from './curves.js';

export const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#7F7F7F'];
export const DASHES = ['', '7 3', '2 3', '9 3 2 3', '4 4', '12 3 2 3 2 3'];
export const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'triangle-down', 'cross', 'plus', 'star'] as const;
export type Marker = (typeof MARKERS)[number];

export interface SeriesStyle {
  color: string;
  dash: string;
  marker: Marker;
}

export function styleOf(i: number): SeriesStyle {
  return { color: COLORS[i % COLORS.length]!, dash: DASHES[i % DASHES.length]!, marker: MARKERS[i % MARKERS.length]! };
}

const r1 = (v: number) => (Math.round(v * 10) / 10).toString();

/** A marker shape centred at (x, y), filled (or hollow) in `color`. */
export function marker(shape: Marker, x: number, y: number, color: string, size = 4.5, hollow = false): string {
  const fill = hollow ? '#fff' : color;
  const s = size;
  const attrs = `fill="${fill}" stroke="${color}" stroke-width="1.5"`;
  switch (shape) {
    case 'circle':
      return `<circle cx="${r1(x)}" cy="${r1(y)}" r="${r1(s)}" ${attrs}/>`;
    case 'square':
      return `<rect x="${r1(x - s)}" y="${r1(y - s)}" width="${r1(2 * s)}" height="${r1(2 * s)}" ${attrs}/>`;
    case 'triangle':
      return `<path d="M${r1(x)},${r1(y - s * 1.2)}L${r1(x + s * 1.1)},${r1(y + s * 0.8)}L${r1(x - s * 1.1)},${r1(y + s * 0.8)}Z" ${attrs}/>`;
    case 'triangle-down':
      return `<path d="M${r1(x)},${r1(y + s * 1.2)}L${r1(x + s * 1.1)},${r1(y - s * 0.8)}L${r1(x - s * 1.1)},${r1(y - s * 0.8)}Z" ${attrs}/>`;
    case 'diamond':
      return `<path d="M${r1(x)},${r1(y - s * 1.3)}L${r1(x + s * 1.1)},${r1(y)}L${r1(x)},${r1(y + s * 1.3)}L${r1(x - s * 1.1)},${r1(y)}Z" ${attrs}/>`;
    case 'cross':
      return `<path d="M${r1(x - s)},${r1(y - s)}L${r1(x + s)},${r1(y + s)}M${r1(x - s)},${r1(y + s)}L${r1(x + s)},${r1(y - s)}" stroke="${color}" stroke-width="2.2" fill="none"/>`;
    case 'plus':
      return `<path d="M${r1(x - s * 1.2)},${r1(y)}L${r1(x + s * 1.2)},${r1(y)}M${r1(x)},${r1(y - s * 1.2)}L${r1(x)},${r1(y + s * 1.2)}" stroke="${color}" stroke-width="2.2" fill="none"/>`;
    case 'star': {
      const pts: string[] = [];
      for (let k = 0; k < 10; k++) {
        const a = (Math.PI / 5) * k - Math.PI / 2;
        const rr = k % 2 ? s * 0.55 : s * 1.35;
        pts.push(`${r1(x + rr * Math.cos(a))},${r1(y + rr * Math.sin(a))}`);
      }
      return `<path d="M${pts.join('L')}Z" ${attrs}/>`;
    }
  }
}

function svgOpen(id: string, w: number, h: number, label: string): string {
  return `<svg class="chart" id="${e(id)}" role="img" aria-label="${e(label)}" xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="system-ui, sans-serif"><title>${e(label)}</title>`;
}

interface Frame {
  w: number;
  h: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
  x: (v: number) => number;
  y: (v: number) => number;
}

function frame(w: number, h: number, xDom: [number, number], yDom: [number, number], m = { left: 52, right: 178, top: 14, bottom: 44 }): Frame {
  const [x0, x1] = xDom[0] === xDom[1] ? [xDom[0] - 0.5, xDom[1] + 0.5] : xDom;
  const [y0, y1] = yDom[0] === yDom[1] ? [yDom[0] - 0.5, yDom[1] + 0.5] : yDom;
  return {
    w,
    h,
    left: m.left,
    right: w - m.right,
    top: m.top,
    bottom: h - m.bottom,
    x: (v) => m.left + ((v - x0) / (x1 - x0)) * (w - m.right - m.left),
    y: (v) => h - m.bottom - ((v - y0) / (y1 - y0)) * (h - m.bottom - m.top),
  };
}

/** "Nice" tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

const tickText = (v: number) => (Math.abs(v) >= 1 || v === 0 ? String(+v.toFixed(2)) : String(+v.toPrecision(3)));

function axes(f: Frame, xt: number[], yt: number[], xLabel: string, yLabel: string): string {
  const parts: string[] = [];
  for (const t of yt) parts.push(`<line x1="${f.left}" x2="${f.right}" y1="${r1(f.y(t))}" y2="${r1(f.y(t))}" stroke="#e3e3e3"/><text x="${f.left - 6}" y="${r1(f.y(t) + 4)}" font-size="11" text-anchor="end" fill="#333">${e(tickText(t))}</text>`);
  for (const t of xt) parts.push(`<line x1="${r1(f.x(t))}" x2="${r1(f.x(t))}" y1="${f.top}" y2="${f.bottom}" stroke="#efefef"/><text x="${r1(f.x(t))}" y="${f.bottom + 15}" font-size="11" text-anchor="middle" fill="#333">${e(tickText(t))}</text>`);
  parts.push(`<rect x="${f.left}" y="${f.top}" width="${f.right - f.left}" height="${f.bottom - f.top}" fill="none" stroke="#888"/>`);
  parts.push(`<text x="${r1((f.left + f.right) / 2)}" y="${f.h - 8}" font-size="12" text-anchor="middle" fill="#111">${e(xLabel)}</text>`);
  parts.push(`<text transform="translate(13 ${r1((f.top + f.bottom) / 2)}) rotate(-90)" font-size="12" text-anchor="middle" fill="#111">${e(yLabel)}</text>`);
  return parts.join('');
}

/** Direct labels at the right edge, nudged apart so they do not overlap. */
function endLabels(items: { y: number; text: string; style: SeriesStyle }[], x: number, top: number, bottom: number): string {
  const sorted = [...items].sort((a, b) => a.y - b.y);
  const gap = 13;
  for (let i = 1; i < sorted.length; i++) sorted[i]!.y = Math.max(sorted[i]!.y, sorted[i - 1]!.y + gap);
  const overflow = sorted.length ? sorted[sorted.length - 1]!.y - (bottom + 30) : 0;
  if (overflow > 0) for (const s of sorted) s.y -= overflow;
  for (let i = 0; i < sorted.length; i++) sorted[i]!.y = Math.max(sorted[i]!.y, top + 4 + i * gap);
  return sorted
    .map((s) => `${marker(s.style.marker, x + 8, s.y - 4, s.style.color, 3.5)}<text x="${x + 16}" y="${r1(s.y)}" font-size="11" fill="#111">${e(s.text.length > 27 ? `${s.text.slice(0, 26)}…` : s.text)}</text>`)
    .join('');
}

/**
 * A line chart of accuracy (y in [0, 1]) against a numeric x, one series per attack/corruption/
 * noise model, with a shaded 95 % CI band and CI whiskers at every point. Null when it has no data.
 */
export function lineChart(c: CurveChart, w = 640, h = 330): string | null {
  const pts = c.series.flatMap((s) => s.points);
  if (!pts.some((p) => isNum(p.value))) return null;
  const xs = pts.map((p) => p.x);
  const f = frame(w, h, [Math.min(...xs), Math.max(...xs)], [0, 1]);
  const out: string[] = [svgOpen(c.id, w, h, `${c.title} (95 % CI bands)`)];
  out.push(axes(f, ticks(Math.min(...xs), Math.max(...xs)), [0, 0.2, 0.4, 0.6, 0.8, 1], c.xLabel, c.yLabel));
  const labels: { y: number; text: string; style: SeriesStyle }[] = [];
  c.series.forEach((s, i) => {
    const st = styleOf(i);
    const ok = s.points.filter((p) => isNum(p.value));
    const banded = ok.filter((p) => isNum(p.ci[0]) && isNum(p.ci[1]));
    if (banded.length >= 2) {
      const upper = banded.map((p) => `${r1(f.x(p.x))},${r1(f.y(p.ci[1] as number))}`);
      const lower = [...banded].reverse().map((p) => `${r1(f.x(p.x))},${r1(f.y(p.ci[0] as number))}`);
      out.push(`<polygon class="ci-band" points="${[...upper, ...lower].join(' ')}" fill="${st.color}" fill-opacity="0.13" stroke="none"/>`);
    }
    if (ok.length >= 2) out.push(`<polyline points="${ok.map((p) => `${r1(f.x(p.x))},${r1(f.y(p.value as number))}`).join(' ')}" fill="none" stroke="${st.color}" stroke-width="2" stroke-dasharray="${st.dash}"/>`);
    for (const p of ok) {
      const x = f.x(p.x);
      const whisker = isNum(p.ci[0]) && isNum(p.ci[1]) ? `<line x1="${r1(x)}" x2="${r1(x)}" y1="${r1(f.y(p.ci[0]))}" y2="${r1(f.y(p.ci[1]))}" stroke="${st.color}" stroke-width="1.2"/>` : '';
      out.push(`<g class="point">${whisker}${marker(st.marker, x, f.y(p.value as number), st.color)}<title>${e(`${s.name}: x = ${p.x}, ${c.yLabel} ${fmt(p.value)} [95 % CI ${fmt(p.ci[0])}, ${fmt(p.ci[1])}] (cell ${p.cell})`)}</title></g>`);
    }
    const last = ok[ok.length - 1];
    if (last) labels.push({ y: f.y(last.value as number) + 4, text: s.name, style: st });
  });
  out.push(endLabels(labels, f.right, f.top, f.bottom));
  out.push('</svg>');
  return out.join('');
}

/** Grey level for an accuracy in [0, 1]: light (low) to dark (high); text switches to white on dark. */
function heatFill(v: Num): { fill: string; text: string } {
  if (!isNum(v)) return { fill: '#f7f7f7', text: '#111' };
  const t = Math.min(1, Math.max(0, v));
  // Blue sequential ramp, monotone in lightness (reads the same in greyscale).
  const l = 96 - 62 * t;
  return { fill: `hsl(210, 45%, ${l.toFixed(0)}%)`, text: l < 58 ? '#fff' : '#111' };
}


/**
 * A heatmap of multi-stress cells: rows × columns of stress settings; each cell shows accuracy
 * [CI] and the interaction effect (observed drop − sum of isolated drops) [CI] with a glyph
 * (▲ compounding, ▼ overlapping, = additive) and a pattern (hatched, dotted, none); a cell at the
 * accuracy floor shows ⊥ floor instead of Δ (its Δ is an artefact of the floor).
 */
export function heatmapSvg(h: Heatmap): string {
  const cw = 168;
  const ch = 58;
  const left = 178;
  const top = 44;
  const w = left + h.cols.length * cw + 10;
  const height = top + h.rows.length * ch + 12;
  const out: string[] = [svgOpen(h.id, w, height, `Heatmap ${h.title}: accuracy and interaction effect per cell`)];
  out.push(
    `<defs><pattern id="${e(h.id)}-hatch" width="7" height="7" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="7" stroke="#000" stroke-opacity="0.28" stroke-width="2"/></pattern>` +
      `<pattern id="${e(h.id)}-dots" width="7" height="7" patternUnits="userSpaceOnUse"><circle cx="3.5" cy="3.5" r="1.2" fill="#000" fill-opacity="0.3"/></pattern></defs>`,
  );
  const trunc = (s: string, n = 24) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
  out.push(`<text x="${left - 8}" y="16" font-size="11" text-anchor="end" fill="#555">${e(`${h.rowKind} ↓ / ${h.colKind} →`)}</text>`);
  h.cols.forEach((c, j) => {
    const x = left + j * cw + cw / 2;
    out.push(`<text x="${r1(x)}" y="18" font-size="11.5" text-anchor="middle" font-weight="600">${e(trunc(c.label))}<title>${e(c.label)}</title></text>`);
    if (c.alone) out.push(`<text x="${r1(x)}" y="33" font-size="10.5" text-anchor="middle" fill="#444">alone ${e(fmt(c.alone.metrics.accuracy.value))}</text>`);
  });
  h.rows.forEach((rw, i) => {
    const y = top + i * ch;
    out.push(`<text x="${left - 8}" y="${y + ch / 2 - 3}" font-size="11.5" text-anchor="end" font-weight="600">${e(trunc(rw.label))}<title>${e(rw.label)}</title></text>`);
    if (rw.alone) out.push(`<text x="${left - 8}" y="${y + ch / 2 + 12}" font-size="10.5" text-anchor="end" fill="#444">alone ${e(fmt(rw.alone.metrics.accuracy.value))}</text>`);
    h.cols.forEach((_, j) => {
      const x = left + j * cw;
      const hc = h.grid[i]![j];
      if (!hc) {
        out.push(`<rect x="${x + 1}" y="${y + 1}" width="${cw - 2}" height="${ch - 2}" fill="#fafafa" stroke="#ddd"/><text x="${x + cw / 2}" y="${y + ch / 2 + 4}" font-size="11" text-anchor="middle" fill="#777">not run</text>`);
        return;
      }
      const acc = hc.cell.metrics.accuracy;
      const { fill, text } = heatFill(acc.value);
      const it = hc.interaction;
      const pattern = it?.verdict === 'compounding' ? 'hatch' : it?.verdict === 'overlapping' ? 'dots' : null;
      const tip = `${hc.cell.id}: accuracy ${fmt(acc.value)} [95 % CI ${fmt(acc.ci[0])}, ${fmt(acc.ci[1])}]` + (it ? `; interaction ${fmt(it.interaction.value)} [${fmt(it.interaction.ci[0])}, ${fmt(it.interaction.ci[1])}] — ${it.verdict === 'floor' ? `floor: ${floorText(it)}` : it.verdict}` : '');
      out.push(`<g class="heat-cell" data-cell="${e(hc.cell.id)}"><title>${e(tip)}</title><rect x="${x + 1}" y="${y + 1}" width="${cw - 2}" height="${ch - 2}" fill="${fill}" stroke="#fff"/>`);
      if (pattern) out.push(`<rect x="${x + 1}" y="${y + 1}" width="${cw - 2}" height="${ch - 2}" fill="url(#${e(h.id)}-${pattern})"/>`);
      out.push(`<text x="${x + cw / 2}" y="${y + 20}" font-size="12" text-anchor="middle" fill="${text}" font-weight="600">${e(`${fmt(acc.value)} [${fmt(acc.ci[0], 2)}, ${fmt(acc.ci[1], 2)}]`)}</text>`);
      const second = !it ? 'no interaction estimate' : it.verdict === 'floor' ? `${VERDICT_GLYPH.floor} floor: no interaction` : `${VERDICT_GLYPH[it.verdict] ?? ''} Δ ${it.interaction.value !== null && it.interaction.value >= 0 ? '+' : ''}${fmt(it.interaction.value)} [${fmt(it.interaction.ci[0], 2)}, ${fmt(it.interaction.ci[1], 2)}]`;
      out.push(`<text x="${x + cw / 2}" y="${y + 39}" font-size="11" text-anchor="middle" fill="${text}">${e(second)}</text></g>`);
    });
  });
  out.push('</svg>');
  return out.join('');
}

/**
 * A reliability diagram: accuracy per confidence bin (bars for the stressed cell, with Wilson 95 %
 * whiskers; hollow circles on a dashed line for the clean baseline), against the diagonal.
 */
export function reliabilitySvg(id: string, title: string, subtitle: string, stressed: ReliabilityBins, clean: ReliabilityBins | null, w = 310, h = 290): string {
  const f = frame(w, h, [0, 1], [0, 1], { left: 44, right: 12, top: 38, bottom: 40 });
  const out: string[] = [svgOpen(id, w, h, `Reliability diagram: ${title}, ${subtitle}`)];
  out.push(axes(f, [0, 0.2, 0.4, 0.6, 0.8, 1], [0, 0.2, 0.4, 0.6, 0.8, 1], 'confidence', 'accuracy'));
  out.push(`<text x="8" y="14" font-size="11.5" font-weight="600">${e(title.length > 46 ? `${title.slice(0, 45)}…` : title)}<title>${e(title)}</title></text><text x="8" y="29" font-size="10.5" fill="#333">${e(subtitle)}</text>`);
  out.push(`<line x1="${f.x(0)}" y1="${f.y(0)}" x2="${f.x(1)}" y2="${f.y(1)}" stroke="#999" stroke-dasharray="3 3"/>`);
  for (let b = 0; b < stressed.count.length; b++) {
    const n = stressed.count[b] ?? 0;
    if (!n) continue;
    const acc = (stressed.correct[b] ?? 0) / n;
    const [lo, hi] = wilson(stressed.correct[b] ?? 0, n);
    const blo = stressed.edges[b] ?? 0;
    const bhi = stressed.edges[b + 1] ?? 1;
    const x0 = f.x(blo);
    const x1 = f.x(bhi);
    const cx = (x0 + x1) / 2;
    out.push(
      `<g class="bin"><title>${e(`stressed, confidence (${fmt(blo, 2)}, ${fmt(bhi, 2)}]: ${n} items, accuracy ${fmt(acc)} [Wilson 95 % CI ${fmt(lo)}, ${fmt(hi)}], mean confidence ${fmt(stressed.mean_confidence[b])}`)}</title>` +
        `<rect x="${r1(x0 + 0.5)}" y="${r1(f.y(acc))}" width="${r1(x1 - x0 - 1)}" height="${r1(f.y(0) - f.y(acc))}" fill="${COLORS[1]}" fill-opacity="0.55" stroke="${COLORS[1]}"/>` +
        `<line x1="${r1(cx)}" x2="${r1(cx)}" y1="${r1(f.y(lo))}" y2="${r1(f.y(hi))}" stroke="#222"/></g>`,
    );
  }
  if (clean) {
    const pts: string[] = [];
    const marks: string[] = [];
    for (let b = 0; b < clean.count.length; b++) {
      const n = clean.count[b] ?? 0;
      const mc = clean.mean_confidence[b];
      if (!n || !isNum(mc)) continue;
      const acc = (clean.correct[b] ?? 0) / n;
      const [lo, hi] = wilson(clean.correct[b] ?? 0, n);
      pts.push(`${r1(f.x(mc))},${r1(f.y(acc))}`);
      marks.push(`<g class="bin-clean"><title>${e(`clean: ${n} items, mean confidence ${fmt(mc)}, accuracy ${fmt(acc)} [Wilson 95 % CI ${fmt(lo)}, ${fmt(hi)}]`)}</title>${marker('circle', f.x(mc), f.y(acc), COLORS[0]!, 3.5, true)}</g>`);
    }
    if (pts.length >= 2) out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${COLORS[0]}" stroke-width="1.6" stroke-dasharray="5 3"/>`);
    out.push(...marks);
  }
  out.push('</svg>');
  return out.join('');
}

/** Risk–coverage curves, one per cell, with Wilson 95 % bands on the risk at each coverage. */
export function riskCoverageSvg(id: string, series: { name: string; rc: RiskCoverage }[], w = 640, h = 330): string | null {
  if (!series.length) return null;
  let maxRisk = 0;
  for (const s of series) s.rc.kept.forEach((k, i) => (maxRisk = Math.max(maxRisk, k >= Math.min(s.rc.n, Math.max(20, Math.ceil(s.rc.n / 4))) ? wilson(s.rc.errors[i]!, k)[1] : s.rc.errors[i]! / k)));
  const yMax = Math.min(1, Math.max(0.05, Math.ceil(maxRisk * 10) / 10));
  const f = frame(w, h, [0, 1], [0, yMax]);
  const out: string[] = [svgOpen(id, w, h, 'Risk–coverage curves (error rate among the most confident items)')];
  out.push(axes(f, [0, 0.2, 0.4, 0.6, 0.8, 1], ticks(0, yMax), 'coverage (share of items answered, most confident first)', 'risk (error rate)'));
  const labels: { y: number; text: string; style: SeriesStyle }[] = [];
  series.forEach((s, i) => {
    const st = styleOf(i);
    const { n, kept, errors, threshold } = s.rc;
    const xy = kept.map((k, j) => ({ x: f.x(k / n), y: f.y(errors[j]! / k), ci: wilson(errors[j]!, k), k, j }));
    // Bands from a quarter of the items (and ≥ 20) on: Wilson intervals over a handful of items span
    // most of the axis and, overlaid for several cells, hide the curves; tooltips still give every CI.
    const banded = xy.filter((p) => p.k >= Math.min(n, Math.max(20, Math.ceil(n / 4))));
    if (banded.length >= 2) {
      const upper = banded.map((p) => `${r1(p.x)},${r1(f.y(p.ci[1]))}`);
      const lower = [...banded].reverse().map((p) => `${r1(p.x)},${r1(f.y(p.ci[0]))}`);
      out.push(`<polygon class="ci-band" points="${[...upper, ...lower].join(' ')}" fill="${st.color}" fill-opacity="0.08" stroke="none"/>`);
    }
    if (xy.length >= 2) {
      out.push(`<polyline points="${xy.map((p) => `${r1(p.x)},${r1(p.y)}`).join(' ')}" fill="none" stroke="${st.color}" stroke-width="2" stroke-dasharray="${st.dash}"/>`);
    }
    const every = Math.max(1, Math.round(xy.length / 6));
    xy.forEach((p, j) => {
      if (j % every !== 0 && j !== xy.length - 1) return;
      out.push(`<g class="point">${marker(st.marker, p.x, p.y, st.color, 3.8)}<title>${e(`${s.name}: coverage ${fmt(p.k / n)} (confidence ≥ ${fmt(threshold[p.j])}), risk ${fmt(errors[p.j]! / p.k)} [Wilson 95 % CI ${fmt(p.ci[0])}, ${fmt(p.ci[1])}]`)}</title></g>`);
    });
    const last = xy[xy.length - 1];
    if (last) labels.push({ y: last.y + 4, text: s.name, style: st });
  });
  out.push(endLabels(labels, f.right, f.top, f.bottom));
  out.push('</svg>');
  return out.join('');
}

/** A compact legend (marker + dash sample + name) as HTML, for charts with many series. */
export function legendHtml(names: string[]): string {
  return `<ul class="legend">${names
    .map((n, i) => {
      const st = styleOf(i);
      return `<li><svg width="40" height="14" aria-hidden="true"><line x1="2" y1="7" x2="38" y2="7" stroke="${st.color}" stroke-width="2" stroke-dasharray="${st.dash}"/>${marker(st.marker, 20, 7, st.color, 4)}</svg> ${e(n)}</li>`;
    })
    .join('')}</ul>`;
}

export interface DotRow {
  label: string;
  group: string;
  value: Num;
  ci: readonly [Num, Num];
  tip: string;
}

/**
 * A horizontal dot plot (one row per cell) of a metric in [0, 1] with 95 % CI whiskers (clipped to
 * [0, 1]); the marker shape (and colour) encodes the row's group (the stage), named in a legend
 * above the plot. `reference` draws a labelled dashed vertical line (a target, say) at that value.
 */
export function dotPlot(id: string, title: string, rows: DotRow[], groups: string[], w = 1000, reference?: { value: number; label: string }): string | null {
  if (!rows.some((r) => isNum(r.value))) return null;
  const rowH = 17;
  const top = 30;
  const left = 440;
  const h = top + rows.length * rowH + 34;
  const x = (v: number) => left + v * (w - left - 24);
  const out: string[] = [svgOpen(id, w, h, title)];
  groups.forEach((g, i) => {
    const st = styleOf(i);
    out.push(`${marker(st.marker, left + i * 120 + 6, 12, st.color, 4)}<text x="${left + i * 120 + 15}" y="16" font-size="11">${e(g)}</text>`);
  });
  for (const t of [0, 0.2, 0.4, 0.6, 0.8, 1]) {
    out.push(`<line x1="${r1(x(t))}" x2="${r1(x(t))}" y1="${top - 4}" y2="${top + rows.length * rowH}" stroke="#e3e3e3"/><text x="${r1(x(t))}" y="${top + rows.length * rowH + 14}" font-size="11" text-anchor="middle">${t}</text>`);
  }
  out.push(`<text x="${r1((left + w - 24) / 2)}" y="${h - 4}" font-size="12" text-anchor="middle">${e(title)}</text>`);
  if (reference && isNum(reference.value)) {
    const rx = r1(x(Math.min(1, Math.max(0, reference.value))));
    out.push(`<line x1="${rx}" x2="${rx}" y1="${top - 4}" y2="${top + rows.length * rowH}" stroke="#b00020" stroke-dasharray="5 3" stroke-width="1.5"/><text x="${rx}" y="${top - 7}" font-size="10.5" text-anchor="middle" fill="#b00020">${e(reference.label)}</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH + rowH / 2;
    const gi = Math.max(0, groups.indexOf(r.group));
    const st = styleOf(gi);
    if (i % 2 === 0) out.push(`<rect x="4" y="${r1(y - rowH / 2)}" width="${w - 8}" height="${rowH}" fill="#f6f7f9"/>`);
    const text = r.label.length > 64 ? `${r.label.slice(0, 63)}…` : r.label;
    out.push(`<g class="point"><title>${e(r.tip)}</title><text x="${left - 50}" y="${r1(y + 4)}" font-size="11" text-anchor="end">${e(text)}</text><text x="${left - 8}" y="${r1(y + 4)}" font-size="10.5" text-anchor="end" fill="#333">${e(fmt(r.value))}</text>`);
    if (isNum(r.ci[0]) && isNum(r.ci[1])) {
      const [a, b] = [x(Math.min(1, Math.max(0, r.ci[0]))), x(Math.min(1, Math.max(0, r.ci[1])))].map(r1);
      out.push(`<line x1="${a}" x2="${b}" y1="${r1(y)}" y2="${r1(y)}" stroke="${st.color}" stroke-width="2"/><line x1="${a}" x2="${a}" y1="${r1(y - 4)}" y2="${r1(y + 4)}" stroke="${st.color}"/><line x1="${b}" x2="${b}" y1="${r1(y - 4)}" y2="${r1(y + 4)}" stroke="${st.color}"/>`);
    }
    if (isNum(r.value)) out.push(marker(st.marker, x(Math.min(1, Math.max(0, r.value))), y, st.color, 4.2));
    out.push('</g>');
  });
  out.push('</svg>');
  return out.join('');
}

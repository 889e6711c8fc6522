/**
 * Turns CampaignResults into the series the reports draw: robustness curves per attack,
 * corruption and noise model (from the single-stress cells, anchored at the baseline), heatmaps
 * of the multi-stress cells with their interaction effects, and the worst isolated setting of
 * each kind. Pure functions of the results; no formatting.
 */
import type { CampaignResults, CellResult, Interaction } from '../campaign/types.js';
import { bootstrapWeights, percentileCi, type MetricWithCi } from '../metrics/suite.js';
import { Rng } from '../rng.js';
import { baselineCell, cellKinds, type Num } from './format.js';

export type Kind = 'adversarial' | 'drift' | 'annotation';

export interface CurvePoint {
  x: number;
  value: Num;
  ci: readonly [Num, Num];
  /** The cell the point comes from (the baseline for x = 0). */
  cell: string;
}

export interface Series {
  name: string;
  points: CurvePoint[];
}

/** A family of curves: one chart. */
export interface CurveChart {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
}

const SINGLE_STAGES = new Set(['isolated', 'factorial']);

/** Cells with exactly one stress, of kind `kind` (isolated stage, or single-stress factorial cells). */
export function singleStressCells(r: CampaignResults, kind: Kind): CellResult[] {
  return r.cells.filter((c) => SINGLE_STAGES.has(c.stage) && cellKinds(c).length === 1 && kind in c.stresses);
}

function specOf(c: CellResult, kind: Kind): Record<string, unknown> {
  const s = c.stresses[kind];
  return s && typeof s === 'object' ? (s as Record<string, unknown>) : {};
}

function scalar(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'number') return v[0];
  return null;
}

/** A stable key of a spec without the swept key, for grouping settings into one curve. */
function groupKey(spec: Record<string, unknown>, swept: string): string {
  return JSON.stringify(Object.keys(spec).filter((k) => k !== swept).sort().map((k) => [k, spec[k]]));
}

function metricPoint(m: MetricWithCi | undefined | null, x: number, cell: string): CurvePoint {
  return { x, value: m?.value ?? null, ci: [m?.ci[0] ?? null, m?.ci[1] ?? null], cell };
}

function curveFamily(
  r: CampaignResults,
  kind: Kind,
  swept: string,
  nameOf: (spec: Record<string, unknown>) => string,
  metricOf: (c: CellResult) => MetricWithCi | null | undefined,
  anchor: boolean,
): Series[] {
  const base = baselineCell(r);
  const groups = new Map<string, { name: string; cells: { x: number; c: CellResult }[] }>();
  for (const c of singleStressCells(r, kind)) {
    const spec = specOf(c, kind);
    const x = scalar(spec[swept]);
    if (x === null) continue;
    const key = groupKey(spec, swept);
    const g = groups.get(key) ?? { name: nameOf(spec), cells: [] };
    g.cells.push({ x, c });
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => {
    const points = g.cells.sort((a, b) => a.x - b.x).map(({ x, c }) => metricPoint(metricOf(c), x, c.id));
    if (anchor && base && !points.some((p) => p.x === 0)) points.unshift(metricPoint(metricOf(base), 0, base.id));
    return { name: g.name, points };
  });
}

const specName = (spec: Record<string, unknown>, keys: string[]) =>
  keys
    .map((k) => spec[k])
    .filter((v) => v !== undefined && v !== null && v !== '')
    .join(' ');

/** Accuracy vs ε, one series per attack (attack, norm and other settings), from the isolated adversarial cells. */
export function adversarialCurves(r: CampaignResults): CurveChart {
  const series = curveFamily(r, 'adversarial', 'eps', (s) => specName(s, ['attack', 'name', 'norm']) || 'attack', (c) => c.metrics.accuracy, true);
  disambiguate(series);
  return { id: 'curve-adversarial', title: 'Accuracy vs attack strength ε', xLabel: r.text?.embedding ? 'ε (distance in embedding space; accuracy on the projected token ids)' : 'ε (perturbation budget, data units)', yLabel: 'accuracy', series };
}

/** Accuracy vs severity, one series per corruption, from the isolated drift cells. */
export function driftCurves(r: CampaignResults): CurveChart {
  const series = curveFamily(r, 'drift', 'severity', (s) => specName(s, ['corruption']) || 'corruption', (c) => c.metrics.accuracy, true);
  disambiguate(series);
  return { id: 'curve-drift', title: 'Accuracy vs corruption severity', xLabel: 'severity (0 = clean)', yLabel: 'accuracy', series };
}

/**
 * Accuracy vs noise rate, measured against true and against observed (noisy) labels, per noise
 * model; training-time noise (`at: train`, the model learnt from the noisy labels) is its own
 * curve, on true labels only.
 */
export function annotationCurves(r: CampaignResults): CurveChart {
  const name = (s: Record<string, unknown>) => `${s.at === 'train' ? 'trained on ' : ''}${specName(s, ['model']) || 'noise'}`;
  const truth = curveFamily(r, 'annotation', 'rate', (s) => `${name(s)}, true labels`, (c) => c.metrics.accuracy, true);
  const observed = curveFamily(r, 'annotation', 'rate', (s) => `${name(s)}, observed labels`, (c) => c.observed_metrics?.accuracy ?? (Object.keys(c.stresses).length === 0 ? c.metrics.accuracy : null), true);
  const series: Series[] = [];
  truth.forEach((t, i) => series.push(t, ...(t.name.startsWith('trained on ') ? [] : [observed[i]!])));
  return { id: 'curve-annotation', title: 'Accuracy vs label-noise rate: true vs observed labels', xLabel: 'noise rate (0 = clean labels)', yLabel: 'accuracy', series };
}

/** Whether a cell's annotation setting acted on the training labels (`at: train`). */
export function isTrainTimeCell(c: Pick<CellResult, 'stresses'>): boolean {
  return (c.stresses.annotation as { at?: unknown } | undefined)?.at === 'train';
}

/** Single-stress drift cells that are not on a severity curve (covariate, prior, subpopulation shift…). */
export function otherDriftCells(r: CampaignResults): CellResult[] {
  return singleStressCells(r, 'drift').filter((c) => scalar(specOf(c, 'drift').severity) === null);
}

/** Appends a counter to repeated series names (two PGD settings with different steps, say). */
function disambiguate(series: Series[]): void {
  const seen = new Map<string, number>();
  for (const s of series) {
    const n = (seen.get(s.name) ?? 0) + 1;
    seen.set(s.name, n);
    if (n > 1) s.name = `${s.name} (${n})`;
  }
}

export interface HeatCell {
  cell: CellResult;
  interaction: Interaction | null;
  measured: Interaction | null;
}

export interface Heatmap {
  id: string;
  stage: string;
  title: string;
  rowKind: Kind;
  colKind: Kind;
  /** The third stress held fixed (combined cells), or null. */
  fixed: { kind: Kind; label: string } | null;
  rows: { label: string; alone: CellResult | null }[];
  cols: { label: string; alone: CellResult | null }[];
  /** grid[row][col]; null where the plan has no such cell. */
  grid: (HeatCell | null)[][];
}

const ROW_PREF: Kind[] = ['drift', 'annotation', 'adversarial'];

/** Heatmaps of the multi-stress cells: one per (stage, pair of kinds), and per fixed third stress. */
export function heatmaps(r: CampaignResults): Heatmap[] {
  const inter = new Map<string, Interaction>();
  const measured = new Map<string, Interaction>();
  for (const i of r.interactions) (i.metric === 'accuracy' ? inter : measured).set(i.cell, i);
  const alone = (kind: Kind, label: string) => r.cells.find((c) => cellKinds(c).length === 1 && c.labels[kind] === label) ?? null;
  const groups = new Map<string, Heatmap>();
  for (const c of r.cells) {
    const kinds = cellKinds(c);
    if (kinds.length < 2) continue;
    const rowKind = ROW_PREF.find((k) => kinds.includes(k))!;
    const colKind = kinds.includes('adversarial') && rowKind !== 'adversarial' ? 'adversarial' : kinds.find((k) => k !== rowKind)!;
    const fixedKind = kinds.find((k) => k !== rowKind && k !== colKind) ?? null;
    const fixed = fixedKind ? { kind: fixedKind, label: c.labels[fixedKind] ?? '' } : null;
    const key = `${c.stage}|${rowKind}|${colKind}|${fixed ? `${fixed.kind}=${fixed.label}` : ''}`;
    let h = groups.get(key);
    if (!h) {
      h = {
        id: `heat-${groups.size}`,
        stage: c.stage,
        title: `${c.stage}: ${rowKind} × ${colKind}${fixed ? ` with ${fixed.label}` : ''}`,
        rowKind,
        colKind,
        fixed,
        rows: [],
        cols: [],
        grid: [],
      };
      groups.set(key, h);
    }
    const rl = c.labels[rowKind] ?? '';
    const cl = c.labels[colKind] ?? '';
    let ri = h.rows.findIndex((x) => x.label === rl);
    if (ri < 0) {
      ri = h.rows.push({ label: rl, alone: alone(rowKind, rl) }) - 1;
      h.grid.push(h.cols.map(() => null));
    }
    let ci = h.cols.findIndex((x) => x.label === cl);
    if (ci < 0) {
      ci = h.cols.push({ label: cl, alone: alone(colKind, cl) }) - 1;
      for (const row of h.grid) row.push(null);
    }
    h.grid[ri]![ci] = { cell: c, interaction: inter.get(c.id) ?? null, measured: measured.get(c.id) ?? null };
  }
  return [...groups.values()];
}

/** The isolated setting of `kind` with the lowest accuracy. */
export function worstSingle(r: CampaignResults, kind: Kind): CellResult | undefined {
  return [...singleStressCells(r, kind)].sort((a, b) => (a.metrics.accuracy.value ?? 1) - (b.metrics.accuracy.value ?? 1))[0];
}

/** The single-stress annotation cell with the largest |measurement gap|. */
export function largestGap(r: CampaignResults): CellResult | undefined {
  return [...singleStressCells(r, 'annotation')].filter((c) => c.observed_metrics).sort((a, b) => Math.abs(b.measurement_gap ?? 0) - Math.abs(a.measurement_gap ?? 0))[0];
}

/** Gradient-masking and reliability flags of every attack in the run, by cell. */
export function attackFlags(r: CampaignResults): { cell: string; label: string; flag: string }[] {
  const out: { cell: string; label: string; flag: string }[] = [];
  for (const c of r.cells) {
    const flags = (c.details.adversarial as { flags?: unknown } | undefined)?.flags;
    if (Array.isArray(flags)) for (const f of flags) out.push({ cell: c.id, label: Object.values(c.labels).join(' + '), flag: String(f) });
  }
  return out;
}

/**
 * The measurement gap (observed-label accuracy − true-label accuracy) of a cell with its 95 %
 * paired-bootstrap CI, from the per-item correctness strings (same items, same resamples for both
 * terms; a fixed seed, so the report is deterministic). Null without observed-label correctness.
 */
export function measurementGap(c: CellResult, resamples = 1000): { value: number; ci: [number, number] } | null {
  const a = c.correct;
  const b = c.correct_observed;
  if (typeof a !== 'string' || typeof b !== 'string' || a.length !== b.length || !a.length) return null;
  const n = a.length;
  const differ: number[] = [];
  let d = 0;
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) {
      differ.push(i);
      d += (b[i] === '1' ? 1 : 0) - (a[i] === '1' ? 1 : 0);
    }
  }
  if (!differ.length) return { value: 0, ci: [0, 0] };
  const rng = new Rng(`report/measurement-gap/${n}`);
  const boot = bootstrapWeights(n, resamples, rng).map((w) => {
    let s = 0;
    for (const i of differ) s += w[i]! * ((b[i] === '1' ? 1 : 0) - (a[i] === '1' ? 1 : 0));
    return s / n;
  });
  return { value: d / n, ci: percentileCi(boot) };
}

/** The glyph of each interaction verdict (heatmaps, tables). */
export const VERDICT_GLYPH: Record<Interaction['verdict'], string> = { compounding: '▲', overlapping: '▼', additive: '=', floor: '⊥' };

/** Sort rank of each verdict (most worrying first when sorted descending). */
export const VERDICT_RANK: Record<Interaction['verdict'], number> = { compounding: 3, additive: 2, overlapping: 1, floor: 0 };

/** Why a 'floor' verdict is not an interaction, in words. */
export function floorText(i: Pick<Interaction, 'floor'>): string {
  return i.floor === 'drops_exceed_baseline'
    ? 'the isolated drops sum to more than the baseline accuracy can lose, so the additive prediction is impossible'
    : 'the combined cell is at zero accuracy (its CI reaches 0), so its drop cannot grow';
}

/** An interaction's verdict in words ("▲ compounding", "⊥ floor: …, not an interaction"). */
export function verdictText(i: Pick<Interaction, 'verdict' | 'floor'>): string {
  if (i.verdict === 'floor') return `${VERDICT_GLYPH.floor} floor: ${floorText(i)} — an artefact, not an interaction`;
  return `${VERDICT_GLYPH[i.verdict] ?? ''} ${i.verdict}`;
}

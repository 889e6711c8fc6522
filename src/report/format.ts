/**
 * Small formatting helpers shared by the HTML, Markdown and JUnit reports. Values from results.json
 * may be `null` where the run had NaN (JSON has no NaN), so every formatter accepts null.
 */
import type { CampaignResults, CellResult } from '../campaign/types.js';

export type Num = number | null | undefined;

/** A metric value with its 95 % interval, as results.json stores it (ends may be null). */
export interface Ci {
  value: Num;
  ci: readonly [Num, Num] | readonly Num[];
}

export const isNum = (v: Num): v is number => typeof v === 'number' && Number.isFinite(v);

/** Fixed decimals, '–' for missing or non-finite values. */
export function fmt(v: Num, digits = 3): string {
  return isNum(v) ? v.toFixed(digits) : '–';
}

/** "0.925 [0.902, 0.944]". */
export function fmtCi(m: Ci | null | undefined, digits = 3): string {
  if (!m) return '–';
  return `${fmt(m.value, digits)} [${fmt(m.ci[0], digits)}, ${fmt(m.ci[1], digits)}]`;
}

/** Percent with one decimal: "92.5 %". */
export function pct(v: Num, digits = 1): string {
  return isNum(v) ? `${(100 * v).toFixed(digits)} %` : '–';
}

/** A cell's stresses as a short human label ("pgd linf ε=0.02 + gaussian_noise s2"), 'clean' for none. */
export function cellLabel(c: Pick<CellResult, 'labels'>): string {
  return Object.values(c.labels).join(' + ') || 'clean';
}

/** The stress kinds present in a cell, in the campaign's fixed order. */
export function cellKinds(c: Pick<CellResult, 'stresses'>): ('adversarial' | 'drift' | 'annotation')[] {
  return (['adversarial', 'drift', 'annotation'] as const).filter((k) => k in c.stresses);
}

/** The unstressed baseline cell, if the run has one. */
export function baselineCell(r: CampaignResults): CellResult | undefined {
  return r.cells.find((c) => Object.keys(c.stresses).length === 0);
}

/**
 * Class names of the run: `data.class_names` (when the runner stores it), else the config's
 * `data.classNames`, else null (the report then writes "class 3").
 */
export function classNames(r: CampaignResults): string[] | null {
  const fromData = (r.data as { class_names?: unknown }).class_names;
  if (Array.isArray(fromData) && fromData.length) return fromData.map(String);
  const cfg = r.config as { data?: { classNames?: unknown; class_names?: unknown } } | null;
  const fromCfg = cfg?.data?.classNames ?? cfg?.data?.class_names;
  if (Array.isArray(fromCfg) && fromCfg.length) return fromCfg.map(String);
  return null;
}

/** The display name of class `k` (raw, unescaped). */
export function className(names: readonly string[] | null, k: number | null | undefined): string {
  if (k === null || k === undefined || k < 0) return '–';
  return names?.[k] ?? `class ${k}`;
}

/**
 * Wilson score interval for a binomial proportion (95 % by default): used where the report shows
 * a proportion the runner stored without a bootstrap CI (reliability bins, risk at a coverage,
 * an annotator's accuracy). [NaN, NaN] for n = 0.
 */
export function wilson(successes: number, n: number, z = 1.959963984540054): [number, number] {
  if (!(n > 0)) return [NaN, NaN];
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

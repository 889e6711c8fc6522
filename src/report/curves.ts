/**
 * Reliability bins and risk–coverage points as the report draws them, read from a results.json
 * cell. The runner stores them per cell (src/metrics/suite.ts `reliabilityBins` / `riskCoverage`):
 *
 *   reliability:   15 × { lo, hi, count, confidence, accuracy }   (confidence/accuracy null when empty)
 *   risk_coverage: ≤ 50 × { coverage, risk, threshold }           (items ranked by confidence)
 *
 * These adapters turn them into counts (items and correct items per bin; items kept and errors
 * among them per point), from which the report computes Wilson 95 % intervals. Cells from runs
 * that stored neither give null, and the report says "not available in this run".
 */
import type { Num } from './format.js';

/** A reliability diagram's data: per confidence bin, items, correct items and mean confidence. */
export interface ReliabilityBins {
  /** Bin edges: bin b covers (edges[b], edges[b + 1]]. */
  edges: number[];
  count: number[];
  correct: number[];
  mean_confidence: (number | null)[];
}

/** A risk–coverage curve: keep the `kept[i]` most confident items, `errors[i]` of them wrong. */
export interface RiskCoverage {
  n: number;
  kept: number[];
  errors: number[];
  /** Confidence of the least confident kept item. */
  threshold: number[];
  /** The cell's AURC (the suite's metric, over every item). */
  aurc: Num;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The reliability bins of a results.json cell, or null when the run stored none. */
export function reliabilityOf(cell: unknown): ReliabilityBins | null {
  const raw = (cell as { reliability?: unknown } | null)?.reliability;
  if (!Array.isArray(raw) || raw.length === 0) return null;
  const edges: number[] = [];
  const count: number[] = [];
  const correct: number[] = [];
  const mean: (number | null)[] = [];
  for (const [b, x] of raw.entries()) {
    const o = (x ?? {}) as { lo?: unknown; hi?: unknown; count?: unknown; confidence?: unknown; accuracy?: unknown };
    const n = num(o.count);
    const lo = num(o.lo);
    const hi = num(o.hi);
    if (n === null || n < 0 || lo === null || hi === null) return null;
    if (b === 0) edges.push(lo);
    edges.push(hi);
    count.push(n);
    correct.push(n > 0 ? Math.round((num(o.accuracy) ?? 0) * n) : 0);
    mean.push(n > 0 ? num(o.confidence) : null);
  }
  return { edges, count, correct, mean_confidence: mean };
}

/** The risk–coverage curve of a results.json cell, or null when the run stored none. */
export function riskCoverageOf(cell: unknown): RiskCoverage | null {
  const c = cell as { risk_coverage?: unknown; samples?: unknown; metrics?: { aurc?: { value?: unknown } } } | null;
  const raw = c?.risk_coverage;
  const n = num(c?.samples);
  if (!Array.isArray(raw) || raw.length === 0 || n === null || n <= 0) return null;
  const kept: number[] = [];
  const errors: number[] = [];
  const threshold: number[] = [];
  for (const x of raw) {
    const o = (x ?? {}) as { coverage?: unknown; risk?: unknown; threshold?: unknown };
    const cov = num(o.coverage);
    const risk = num(o.risk);
    if (cov === null || risk === null || cov <= 0) return null;
    const k = Math.max(1, Math.round(cov * n));
    kept.push(k);
    errors.push(Math.round(risk * k));
    threshold.push(num(o.threshold) ?? NaN);
  }
  return { n, kept, errors, threshold, aurc: num(c?.metrics?.aurc?.value) };
}

/** Expected calibration error from reliability bins (equals the suite's `ece` up to rounding of counts). */
export function eceFromBins(r: ReliabilityBins): number {
  const total = r.count.reduce((a, b) => a + b, 0);
  let ece = 0;
  r.count.forEach((n, b) => {
    if (n > 0) ece += (n / total) * Math.abs(r.correct[b]! / n - (r.mean_confidence[b] ?? 0));
  });
  return ece;
}

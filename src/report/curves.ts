/**
 * Pure functions that reduce a cell's predicted probabilities to the small, JSON-ready summaries
 * the report draws: reliability-diagram bins and a risk–coverage curve. They follow the metric
 * suite's definitions exactly (src/metrics/suite.ts): top-label confidence, 15 equal-width bins
 * b = (b/15, (b+1)/15], items ranked by confidence descending with ties broken by item index —
 * so the ECE and AURC recomputed from these summaries equal the suite's point values.
 *
 * Example:
 *   const rel = reliabilityBins(probs, 10, labels);   // { bins: 15, count, correct, mean_confidence }
 *   const rc = riskCoverage(probs, 10, labels, 50);   // ≤ 50 points and the exact AURC
 */
import { DataError } from '../errors.js';

/** Reliability-diagram data: per confidence bin, how many items, how many right, mean confidence. */
export interface ReliabilityBins {
  /** Number of equal-width bins over top-label confidence; bin b covers (b/bins, (b+1)/bins]. */
  bins: number;
  /** Items per bin. */
  count: number[];
  /** Correctly classified items per bin. */
  correct: number[];
  /** Mean top-label confidence per bin (null for an empty bin). */
  mean_confidence: (number | null)[];
}

/** A risk–coverage curve: keep the `kept[i]` most confident items, `errors[i]` of them wrong. */
export interface RiskCoverage {
  /** Items in the cell. */
  n: number;
  /** Items kept at each point (ascending; the last is n). coverage = kept / n. */
  kept: number[];
  /** Misclassified items among those kept. risk = errors / kept. */
  errors: number[];
  /** Confidence of the least confident kept item: the abstention threshold that gives this coverage. */
  threshold: number[];
  /** Area under the full (every-item) risk–coverage curve, as the suite's `aurc`. */
  aurc: number;
}

interface Top {
  conf: Float64Array;
  correct: Uint8Array;
}

function topLabel(probs: ArrayLike<number>, numClasses: number, labels: ArrayLike<number>, who: string): Top {
  const n = labels.length;
  if (!(Number.isInteger(numClasses) && numClasses >= 2)) throw new DataError(`${who}: 'numClasses' must be an integer in [2, inf), got ${numClasses}`);
  if (probs.length !== n * numClasses) throw new DataError(`${who}: ${probs.length} probabilities for ${n} items of ${numClasses} classes (expected ${n * numClasses})`);
  const conf = new Float64Array(n);
  const correct = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * numClasses;
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (probs[o + k]! > probs[o + best]!) best = k;
    conf[i] = probs[o + best]!;
    correct[i] = best === labels[i] ? 1 : 0;
  }
  return { conf, correct };
}

/** Reliability bins of probabilities [n, K] (row-major) against labels; 15 bins as the suite's ECE. */
export function reliabilityBins(probs: ArrayLike<number>, numClasses: number, labels: ArrayLike<number>, bins = 15): ReliabilityBins {
  if (!(Number.isInteger(bins) && bins >= 1 && bins <= 1000)) throw new DataError(`reliabilityBins: 'bins' must be an integer in [1, 1000], got ${bins}`);
  const { conf, correct } = topLabel(probs, numClasses, labels, 'reliabilityBins');
  const count = new Array<number>(bins).fill(0);
  const ok = new Array<number>(bins).fill(0);
  const sum = new Array<number>(bins).fill(0);
  for (let i = 0; i < conf.length; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(conf[i]! * bins) - 1));
    count[b]!++;
    ok[b]! += correct[i]!;
    sum[b]! += conf[i]!;
  }
  return { bins, count, correct: ok, mean_confidence: sum.map((s, b) => (count[b]! > 0 ? s / count[b]! : null)) };
}

/** Expected calibration error recomputed from reliability bins (equals the suite's `ece`). */
export function eceFromBins(r: ReliabilityBins): number {
  const total = r.count.reduce((a, b) => a + b, 0);
  let ece = 0;
  for (let b = 0; b < r.bins; b++) {
    const n = r.count[b]!;
    if (n > 0) ece += (n / total) * Math.abs(r.correct[b]! / n - (r.mean_confidence[b] ?? 0));
  }
  return ece;
}

/**
 * Risk–coverage curve of probabilities [n, K] against labels, sampled at at most `maxPoints`
 * evenly spaced coverages (always ending at full coverage), plus the exact AURC over every item.
 */
export function riskCoverage(probs: ArrayLike<number>, numClasses: number, labels: ArrayLike<number>, maxPoints = 50): RiskCoverage {
  if (!(Number.isInteger(maxPoints) && maxPoints >= 1)) throw new DataError(`riskCoverage: 'maxPoints' must be an integer in [1, inf), got ${maxPoints}`);
  const { conf, correct } = topLabel(probs, numClasses, labels, 'riskCoverage');
  const n = conf.length;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => conf[b]! - conf[a]! || a - b);
  const points = Math.min(maxPoints, n);
  const marks = new Set<number>();
  for (let j = 1; j <= points; j++) marks.add(Math.max(1, Math.round((j * n) / points)));
  const kept: number[] = [];
  const errors: number[] = [];
  const threshold: number[] = [];
  let errs = 0;
  let aurc = 0;
  for (let r = 0; r < n; r++) {
    const i = order[r]!;
    errs += 1 - correct[i]!;
    aurc += errs / (r + 1);
    if (marks.has(r + 1)) {
      kept.push(r + 1);
      errors.push(errs);
      threshold.push(conf[i]!);
    }
  }
  return { n, kept, errors, threshold, aurc: n ? aurc / n : NaN };
}

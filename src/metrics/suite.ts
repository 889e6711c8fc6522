import type { Rng } from '../rng.js';
import { argmaxAt } from './classification.js';

/**
 * The per-cell metric suite with bootstrap confidence intervals.
 *
 * Every metric is computed from per-item statistics and integer item weights, so a bootstrap
 * resample (a multiset of items) costs O(n) per metric with no copying, and the *same* resamples
 * can be applied to every cell over the same items — which makes paired comparisons (drops,
 * interaction effects) proper paired bootstraps.
 *
 * Metrics (all against one label vector):
 * - accuracy; macro_f1 (mean over classes with support or predictions);
 * - ece: 15 equal-width bins over top-label confidence, bin b = (b/15, (b+1)/15];
 * - nll (mean −log p_label, p clamped at 1e-12); brier (mean Σ_k (p_k − 1[k=label])²);
 * - mean_confidence; confidence_on_errors (mean top-label confidence over misclassified items);
 * - abstention_rate: share of items whose top-label confidence is below the threshold;
 * - aurc: area under the risk–coverage curve (items sorted by confidence, descending; the mean
 *   over coverages k/n of the error rate among the k most confident items).
 */
export const METRIC_NAMES = ['accuracy', 'macro_f1', 'ece', 'nll', 'brier', 'mean_confidence', 'confidence_on_errors', 'abstention_rate', 'aurc'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
export type MetricValues = Record<MetricName, number>;

/**
 * The one table of which way each metric improves: true where lower is better (errors, losses,
 * abstentions, the model's confidence on its mistakes), false where higher is better, null where
 * neither is (mean confidence). Budgets, run comparison, reports and analysis all read this table:
 * for a lower-is-better metric a "drop" is an increase and the pessimistic CI end is the high one.
 */
export const LOWER_IS_BETTER: Readonly<Record<MetricName, boolean | null>> = {
  accuracy: false,
  macro_f1: false,
  ece: true,
  nll: true,
  brier: true,
  mean_confidence: null,
  confidence_on_errors: true,
  abstention_rate: true,
  aurc: true,
};

/** `LOWER_IS_BETTER` for any metric name, `observed_<metric>` included; null for names it does not know. */
export function lowerIsBetter(metric: string): boolean | null {
  return (LOWER_IS_BETTER as Record<string, boolean | null>)[metric.replace(/^observed_/, '')] ?? null;
}

/** A metric value with its 95 % bootstrap interval. */
export interface MetricWithCi {
  value: number;
  ci: [number, number];
}

export interface ItemStats {
  n: number;
  numClasses: number;
  labels: Int32Array;
  pred: Int32Array;
  conf: Float64Array;
  correct: Uint8Array;
  nll: Float64Array;
  brier: Float64Array;
  bin: Uint8Array;
  /** Item indices sorted by confidence, descending (ties by index). */
  order: Int32Array;
}

const BINS = 15;

/** Per-item statistics of probabilities [n, K] against labels. */
export function itemStats(probs: Float64Array, numClasses: number, labels: Int32Array): ItemStats {
  const n = labels.length;
  const pred = new Int32Array(n);
  const conf = new Float64Array(n);
  const correct = new Uint8Array(n);
  const nll = new Float64Array(n);
  const brier = new Float64Array(n);
  const bin = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * numClasses;
    const best = argmaxAt(probs, o, numClasses);
    const y = labels[i]!;
    pred[i] = best;
    conf[i] = probs[o + best]!;
    correct[i] = best === y ? 1 : 0;
    nll[i] = -Math.log(Math.max(probs[o + y]!, 1e-12));
    let b = 0;
    for (let k = 0; k < numClasses; k++) {
      const d = probs[o + k]! - (k === y ? 1 : 0);
      b += d * d;
    }
    brier[i] = b;
    bin[i] = Math.min(BINS - 1, Math.max(0, Math.ceil(conf[i]! * BINS) - 1));
  }
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => conf[b]! - conf[a]! || a - b);
  return { n, numClasses, labels, pred, conf, correct, nll, brier, bin, order };
}

/** All metrics for item weights `w` (null = every item once). */
export function metricsFromStats(s: ItemStats, w: ArrayLike<number> | null, abstainBelow: number): MetricValues {
  const K = s.numClasses;
  let total = 0;
  let correct = 0;
  let nll = 0;
  let brier = 0;
  let conf = 0;
  let errConf = 0;
  let errors = 0;
  let abstain = 0;
  const binN = new Float64Array(BINS);
  const binConf = new Float64Array(BINS);
  const binOk = new Float64Array(BINS);
  const tp = new Float64Array(K);
  const support = new Float64Array(K);
  const predicted = new Float64Array(K);
  for (let i = 0; i < s.n; i++) {
    const wi = w ? w[i]! : 1;
    if (wi === 0) continue;
    const ok = s.correct[i]!;
    const c = s.conf[i]!;
    total += wi;
    correct += wi * ok;
    nll += wi * s.nll[i]!;
    brier += wi * s.brier[i]!;
    conf += wi * c;
    if (!ok) {
      errConf += wi * c;
      errors += wi;
    }
    if (c < abstainBelow) abstain += wi;
    const b = s.bin[i]!;
    binN[b]! += wi;
    binConf[b]! += wi * c;
    binOk[b]! += wi * ok;
    support[s.labels[i]!]! += wi;
    predicted[s.pred[i]!]! += wi;
    if (ok) tp[s.labels[i]!]! += wi;
  }
  let ece = 0;
  for (let b = 0; b < BINS; b++) if (binN[b]! > 0) ece += (binN[b]! / total) * Math.abs(binOk[b]! / binN[b]! - binConf[b]! / binN[b]!);
  let f1 = 0;
  let classes = 0;
  for (let k = 0; k < K; k++) {
    if (support[k] === 0 && predicted[k] === 0) continue;
    f1 += (2 * tp[k]!) / (support[k]! + predicted[k]!);
    classes++;
  }
  // AURC over weighted positions: an item of weight c occupies c consecutive positions.
  let aurc = 0;
  let pos = 0;
  let errs = 0;
  for (let r = 0; r < s.n; r++) {
    const i = s.order[r]!;
    const wi = w ? w[i]! : 1;
    const e = 1 - s.correct[i]!;
    for (let t = 0; t < wi; t++) {
      pos++;
      errs += e;
      aurc += errs / pos;
    }
  }
  return {
    accuracy: correct / total,
    macro_f1: classes ? f1 / classes : NaN,
    ece,
    nll: nll / total,
    brier: brier / total,
    mean_confidence: conf / total,
    confidence_on_errors: errors ? errConf / errors : NaN,
    abstention_rate: abstain / total,
    aurc: aurc / total,
  };
}

/** One bootstrap resample's multiplicity count per item: one byte each when every count fits (almost always), else two. */
export type ResampleWeights = Uint8Array | Uint16Array;

/**
 * B bootstrap resamples of n items as multiplicity counts (seeded; shared by all cells over the
 * same items). A resample whose counts all fit in a byte (a count above 255 has probability far
 * below 1e-100) is stored as bytes: the campaign holds B × n of them, 1 KB per item at B = 1000.
 */
export function bootstrapWeights(n: number, resamples: number, rng: Rng): ResampleWeights[] {
  const out: ResampleWeights[] = [];
  const w = new Uint16Array(n);
  for (let b = 0; b < resamples; b++) {
    w.fill(0);
    for (let i = 0; i < n; i++) w[rng.int(n)]!++;
    let max = 0;
    for (let i = 0; i < n; i++) if (w[i]! > max) max = w[i]!;
    out.push(max <= 255 ? Uint8Array.from(w) : w.slice());
  }
  return out;
}

/**
 * The weighted mean of per-item `values` under each resample's item `weights` (one mean per
 * resample; NaN for a resample that gives every item weight 0). With the campaign's shared
 * resamples this is the bootstrap distribution of any per-item average (accuracy from 0/1
 * correctness, coverage from 0/1 membership, mean set size …), paired across cells.
 */
export function weightedMeans(values: ArrayLike<number>, weights: readonly ArrayLike<number>[]): Float64Array {
  return Float64Array.from(weights, (w) => {
    let t = 0;
    let s = 0;
    for (let i = 0; i < values.length; i++) {
      t += w[i]!;
      s += w[i]! * values[i]!;
    }
    return s / t;
  });
}

/** Each resample's weights restricted to the item positions `picked` (a new weight vector per resample). */
export function pickWeights(weights: readonly ResampleWeights[], picked: ArrayLike<number>): ResampleWeights[] {
  return weights.map((w) => Uint16Array.from(picked as ArrayLike<number>, (i) => w[i]!));
}

/** Quantile of sorted values at q by linear interpolation (NumPy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Percentile interval [2.5 %, 97.5 %] of finite values (NaN when none). */
export function percentileCi(values: ArrayLike<number>, level = 0.95): [number, number] {
  const v = Array.from(values).filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return [NaN, NaN];
  return [quantile(v, (1 - level) / 2), quantile(v, 1 - (1 - level) / 2)];
}

/** Metrics with bootstrap CIs; also returns the per-resample accuracy (for paired comparisons). */
export function metricsWithCi(s: ItemStats, weights: readonly ResampleWeights[], abstainBelow: number): { metrics: Record<MetricName, MetricWithCi>; bootAccuracy: Float64Array } {
  const point = metricsFromStats(s, null, abstainBelow);
  const samples: Record<MetricName, Float64Array> = Object.fromEntries(METRIC_NAMES.map((m) => [m, new Float64Array(weights.length)])) as Record<MetricName, Float64Array>;
  weights.forEach((w, b) => {
    const v = metricsFromStats(s, w, abstainBelow);
    for (const m of METRIC_NAMES) samples[m][b] = v[m];
  });
  const metrics = Object.fromEntries(METRIC_NAMES.map((m) => [m, { value: point[m], ci: percentileCi(samples[m]) }])) as Record<MetricName, MetricWithCi>;
  return { metrics, bootAccuracy: samples.accuracy };
}

/**
 * McNemar's exact test on paired correctness (same items): b = right in A, wrong in B;
 * c = wrong in A, right in B; two-sided binomial p-value with p = 1/2.
 */
export function mcnemar(a: ArrayLike<number>, b: ArrayLike<number>): { b: number; c: number; pValue: number } {
  let nb = 0;
  let nc = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && !b[i]) nb++;
    else if (!a[i] && b[i]) nc++;
  }
  const n = nb + nc;
  if (n === 0) return { b: 0, c: 0, pValue: 1 };
  const k = Math.min(nb, nc);
  // P(X ≤ k) for X ~ Bin(n, 1/2), in log space for large n.
  let logC = 0;
  let cdf = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    cdf += Math.exp(logC - n * Math.LN2);
  }
  return { b: nb, c: nc, pValue: Math.min(1, 2 * cdf) };
}

/** One reliability-diagram bin (15 equal-width bins over top-label confidence). */
export interface ReliabilityBin {
  /** Bin range (lo, hi]. */
  lo: number;
  hi: number;
  count: number;
  /** Mean confidence and accuracy of the items in the bin (NaN when empty). */
  confidence: number;
  accuracy: number;
}

/** Reliability-diagram bins of per-item statistics. */
export function reliabilityBins(s: ItemStats): ReliabilityBin[] {
  const bins = Array.from({ length: BINS }, (_, b) => ({ lo: b / BINS, hi: (b + 1) / BINS, count: 0, confidence: 0, accuracy: 0 }));
  for (let i = 0; i < s.n; i++) {
    const bin = bins[s.bin[i]!]!;
    bin.count++;
    bin.confidence += s.conf[i]!;
    bin.accuracy += s.correct[i]!;
  }
  return bins.map((b) => ({ ...b, confidence: b.count ? b.confidence / b.count : NaN, accuracy: b.count ? b.accuracy / b.count : NaN }));
}

/**
 * Risk–coverage curve: items sorted by confidence (descending); at coverage k/n the risk is the
 * error rate among the k most confident items. Returns at most `points` evenly spaced points
 * (always including full coverage).
 */
export function riskCoverage(s: ItemStats, points = 50): { coverage: number; risk: number; threshold: number }[] {
  const out: { coverage: number; risk: number; threshold: number }[] = [];
  if (s.n === 0) return out;
  const step = Math.max(1, Math.floor(s.n / points));
  let errs = 0;
  for (let k = 1; k <= s.n; k++) {
    const i = s.order[k - 1]!;
    errs += 1 - s.correct[i]!;
    if (k % step === 0 || k === s.n) out.push({ coverage: k / s.n, risk: errs / k, threshold: s.conf[i]! });
  }
  return out.slice(-points);
}

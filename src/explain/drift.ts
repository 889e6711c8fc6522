/**
 * Explanation drift: how much the attributions of the same items change between clean and
 * stressed inputs. All three measures work on attribution magnitude |A| per item:
 *
 * - `spearman`: Spearman rank correlation of |A_clean| and |A_stressed| over the item's elements,
 *   ties given their average rank (1 when both are constant, 0 when exactly one is);
 * - `iou`: overlap of the top-k elements by |A| (k = ceil(topK · elements), ties broken by element
 *   index), |T_c ∩ T_s| / |T_c ∪ T_s|;
 * - `massShift`: the share of |A| mass outside the clean top-k set T_c under stress, minus the same
 *   share for the clean attributions — how much attribution moved into features the clean
 *   explanation ignored (positive), or concentrated further on them (negative). A share is 0 for an
 *   all-zero attribution.
 *
 * Identical attributions give spearman 1, iou 1, massShift 0. Means come with a seeded percentile
 * bootstrap CI over items.
 *
 * Example: `explanationDrift(clean, stressed, n, { topK: 0.1 }, new Rng(0))`.
 */
import { checkRange, UsageError } from '../errors.js';
import { Rng } from '../rng.js';

export const DRIFT_TOP_K = 0.1;
export const DRIFT_RESAMPLES = 1000;

/** A mean over items and its 95 % percentile-bootstrap interval. */
export interface MeanCi {
  mean: number;
  lo: number;
  hi: number;
}

export interface DriftMetrics {
  spearman: MeanCi;
  iou: MeanCi;
  massShift: MeanCi;
}

export interface DriftSummary extends DriftMetrics {
  items: number;
  /** Elements per item. */
  elements: number;
  topKFraction: number;
  /** Elements in each top-k set. */
  k: number;
  perItem: { spearman: number[]; iou: number[]; massShift: number[] };
}

export interface DriftOptions {
  /** Top-k size as a fraction of an item's elements, in (0, 1] (default 0.1). */
  topK?: number;
  /** Bootstrap resamples (default 1000; 0 gives lo = hi = mean). */
  resamples?: number;
}

/** Average ranks (1-based) of `v`, ties sharing the mean of their ranks. */
export function averageRanks(v: ArrayLike<number>): Float64Array {
  const n = v.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => v[a]! - v[b]! || a - b);
  const r = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && v[idx[j + 1]!] === v[idx[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]!] = avg;
    i = j + 1;
  }
  return r;
}

/** Spearman correlation of two equal-length vectors (average ranks for ties). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new UsageError(`spearman: vectors differ in length (${a.length} vs ${b.length})`);
  const ra = averageRanks(a);
  const rb = averageRanks(b);
  const n = a.length;
  const mean = (n + 1) / 2;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = ra[i]! - mean;
    const db = rb[i]! - mean;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (saa === 0 && sbb === 0) return 1;
  if (saa === 0 || sbb === 0) return 0;
  return Math.max(-1, Math.min(1, sab / Math.sqrt(saa * sbb)));
}

/** Mask of the k largest values of `v` (ties by lower index first). */
export function topKMask(v: ArrayLike<number>, k: number): Uint8Array {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[b]! - v[a]! || a - b);
  const m = new Uint8Array(v.length);
  for (let i = 0; i < Math.min(k, v.length); i++) m[idx[i]!] = 1;
  return m;
}

function abs(v: Float32Array): Float64Array {
  return Float64Array.from(v, Math.abs);
}

/** The three drift measures for one item's clean and stressed attributions. */
export function itemDrift(clean: Float32Array, stressed: Float32Array, k: number): { spearman: number; iou: number; massShift: number } {
  const ac = abs(clean);
  const as = abs(stressed);
  const tc = topKMask(ac, k);
  const ts = topKMask(as, k);
  let inter = 0;
  let union = 0;
  for (let e = 0; e < tc.length; e++) {
    inter += tc[e]! & ts[e]!;
    union += tc[e]! | ts[e]!;
  }
  const outside = (a: Float64Array): number => {
    let tot = 0;
    let out = 0;
    for (let e = 0; e < a.length; e++) {
      tot += a[e]!;
      if (!tc[e]) out += a[e]!;
    }
    return tot > 0 ? out / tot : 0;
  };
  return { spearman: spearman(ac, as), iou: union ? inter / union : 1, massShift: outside(as) - outside(ac) };
}

/** Mean of `v` with a percentile bootstrap 95 % interval (seeded). */
export function meanWithCi(v: readonly number[], resamples: number, rng: Rng): MeanCi {
  const n = v.length;
  if (n === 0) return { mean: 0, lo: 0, hi: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  if (resamples === 0 || n === 1) return { mean, lo: mean, hi: mean };
  const boot = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += v[rng.int(n)]!;
    boot[b] = s / n;
  }
  boot.sort();
  const q = (p: number): number => {
    const h = (resamples - 1) * p;
    const lo = Math.floor(h);
    return boot[lo]! + (h - lo) * (boot[Math.min(lo + 1, resamples - 1)]! - boot[lo]!);
  };
  return { mean, lo: q(0.025), hi: q(0.975) };
}

/**
 * Drift between clean and stressed attributions of the same `n` items (both shaped [n, …]).
 * The bootstrap draws from `rng.fork('drift:<measure>')`.
 */
export function explanationDrift(clean: Float32Array, stressed: Float32Array, n: number, opts: DriftOptions = {}, rng: Rng = new Rng(0)): DriftSummary {
  if (!(Number.isInteger(n) && n >= 1)) throw new UsageError(`'n' must be an integer >= 1, got ${n}`);
  if (clean.length !== stressed.length) throw new UsageError(`clean and stressed attributions differ in length (${clean.length} vs ${stressed.length})`);
  if (clean.length % n !== 0) throw new UsageError(`attributions hold ${clean.length} values, not a whole number of ${n} items`);
  const topKFraction = opts.topK === undefined ? DRIFT_TOP_K : checkRange('topK', opts.topK, { min: 0, minExclusive: true, max: 1 });
  const resamples = opts.resamples === undefined ? DRIFT_RESAMPLES : checkRange('resamples', opts.resamples, { min: 0, max: 1_000_000, integer: true });
  const d = clean.length / n;
  const k = Math.max(1, Math.ceil(topKFraction * d));
  const perItem = { spearman: [] as number[], iou: [] as number[], massShift: [] as number[] };
  for (let i = 0; i < n; i++) {
    const r = itemDrift(clean.subarray(i * d, (i + 1) * d), stressed.subarray(i * d, (i + 1) * d), k);
    perItem.spearman.push(r.spearman);
    perItem.iou.push(r.iou);
    perItem.massShift.push(r.massShift);
  }
  return {
    items: n,
    elements: d,
    topKFraction,
    k,
    spearman: meanWithCi(perItem.spearman, resamples, rng.fork('drift:spearman')),
    iou: meanWithCi(perItem.iou, resamples, rng.fork('drift:iou')),
    massShift: meanWithCi(perItem.massShift, resamples, rng.fork('drift:massShift')),
    perItem,
  };
}

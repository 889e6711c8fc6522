/**
 * How far a shifted set is from the clean one, measured rather than named, so "severity 3" can be
 * compared across corruptions and datasets.
 *
 * - Per feature: the two-sample Kolmogorov–Smirnov statistic D = sup |F_ref − F_cur| (with its
 *   asymptotic p-value) and the population stability index over 10 quantile bins of the reference,
 *   PSI = Σ (q − p)·ln(q / p), bin shares floored at ε = 1e-4 so empty bins stay finite.
 * - Whole items (flattened inputs, or embeddings given as rows): the unbiased MMD² with an RBF
 *   kernel k(a, b) = exp(−‖a − b‖² / 2σ²), σ² the median squared distance over all pairs of the
 *   pooled sample (the median heuristic), and a permutation p-value (k + 1)/(n_perm + 1), k the
 *   number of label permutations whose MMD² is at least the observed one.
 *
 * On tabular data the MMD is computed on standardised features by default (`units: 'std'`): each
 * feature divided by its standard deviation over the reference set, constant features (σ = 0)
 * skipped, so a feature in dollars does not drown one in years; `units: 'raw'` keeps data units.
 * Images are compared in raw units. The result says which (`mmd.units`).
 *
 * Sets larger than `maxPerSide` (default 500) items are subsampled, seeded, before the MMD (its cost
 * grows with the square of the items). NaN values (missing data) are skipped by KS and PSI and
 * counted; MMD refuses them.
 */
import { DataError } from '../../errors.js';
import { quantile } from '../../metrics/suite.js';
import type { Rng } from '../../rng.js';
import { itemSize, type Dataset } from '../../data/dataset.js';
import { isImageData } from './shift/common.js';

/** Default cap on items per side for the MMD. */
export const MMD_MAX_PER_SIDE = 500;
/** Default number of label permutations for the MMD p-value. */
export const MMD_PERMUTATIONS = 200;
/** PSI: number of quantile bins of the reference. */
export const PSI_BINS = 10;
/** PSI: floor on each bin's share. */
export const PSI_EPSILON = 1e-4;

function sortedFinite(a: ArrayLike<number>): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (!Number.isNaN(a[i]!)) out.push(a[i]!);
  return Float64Array.from(out).sort();
}

/** Two-sample KS statistic D = sup_x |F_a(x) − F_b(x)| (NaN values skipped; 0 when either side is empty). */
export function ksStatistic(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return ksSorted(sortedFinite(a), sortedFinite(b));
}

function ksSorted(x: Float64Array, y: Float64Array): number {
  const n = x.length;
  const m = y.length;
  if (n === 0 || m === 0) return 0;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < n && x[i] === v) i++;
    while (j < m && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  return d;
}

/** Asymptotic p-value of a two-sample KS statistic d for sample sizes n, m (Kolmogorov distribution). */
export function ksPValue(d: number, n: number, m: number): number {
  if (n === 0 || m === 0) return 1;
  const en = Math.sqrt((n * m) / (n + m));
  const lambda = (en + 0.12 + 0.11 / en) * d;
  if (lambda < 1e-3) return 1;
  let sum = 0;
  let sign = 1;
  for (let k = 1; k <= 100; k++) {
    const term = sign * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-12) break;
    sign = -sign;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/**
 * Population stability index of `cur` against `ref`: bins are cut at the reference's 1/B … (B−1)/B
 * quantiles (duplicate cuts merged, values equal to a cut go to the lower bin), shares floored at ε.
 * 0 for identical sets; rules of thumb read < 0.1 as small, > 0.25 as large.
 */
export function psi(ref: ArrayLike<number>, cur: ArrayLike<number>, bins = PSI_BINS, epsilon = PSI_EPSILON): number {
  return psiSorted(sortedFinite(ref), sortedFinite(cur), bins, epsilon);
}

function psiSorted(r: Float64Array, c: Float64Array, bins: number, epsilon: number): number {
  if (r.length === 0 || c.length === 0) return 0;
  const cuts: number[] = [];
  for (let k = 1; k < bins; k++) {
    const q = quantile(r, k / bins);
    if (cuts.length === 0 || q > cuts[cuts.length - 1]!) cuts.push(q);
  }
  const count = (s: Float64Array): Float64Array => {
    const h = new Float64Array(cuts.length + 1);
    let b = 0;
    for (let i = 0; i < s.length; i++) {
      while (b < cuts.length && s[i]! > cuts[b]!) b++;
      h[b]!++;
    }
    return h;
  };
  const hr = count(r);
  const hc = count(c);
  let total = 0;
  for (let b = 0; b < hr.length; b++) {
    const p = Math.max(hr[b]! / r.length, epsilon);
    const q = Math.max(hc[b]! / c.length, epsilon);
    total += (q - p) * Math.log(q / p);
  }
  return total;
}

/** KS and PSI of one feature. */
export interface FeatureDistance {
  readonly feature: string;
  readonly index: number;
  readonly ks: number;
  readonly ksPValue: number;
  readonly psi: number;
  /** NaN (missing) values on each side. */
  readonly missingRef: number;
  readonly missingCur: number;
}

/**
 * KS and PSI per feature between two row-major sets of `d`-feature rows (`features`: which
 * columns, default all; `names`: column names for the report).
 */
export function featureDistances(ref: Float32Array, cur: Float32Array, d: number, opts: { features?: readonly number[]; names?: readonly string[] | null } = {}): FeatureDistance[] {
  const nr = ref.length / d;
  const nc = cur.length / d;
  const cols = opts.features ?? Array.from({ length: d }, (_, j) => j);
  const colR = new Float64Array(nr);
  const colC = new Float64Array(nc);
  return cols.map((j) => {
    for (let i = 0; i < nr; i++) colR[i] = ref[i * d + j]!;
    for (let i = 0; i < nc; i++) colC[i] = cur[i * d + j]!;
    const r = sortedFinite(colR);
    const c = sortedFinite(colC);
    const ks = ksSorted(r, c);
    return {
      feature: opts.names?.[j] ?? String(j),
      index: j,
      ks,
      ksPValue: ksPValue(ks, r.length, c.length),
      psi: psiSorted(r, c, PSI_BINS, PSI_EPSILON),
      missingRef: nr - r.length,
      missingCur: nc - c.length,
    };
  });
}

/** The units an MMD is computed in: standardised features (tabular default) or data units. */
export type MmdUnits = 'std' | 'raw';
export const MMD_UNITS: readonly MmdUnits[] = ['std', 'raw'];

/** Result of an MMD two-sample test. */
export interface MmdResult {
  /** 'std': features divided by their reference standard deviation (constant ones skipped); 'raw': data units. */
  readonly units: MmdUnits;
  /** Values per row the kernel saw (features left after skipping constant ones, in std units). */
  readonly dims: number;
  /** Unbiased estimate of MMD² (can be slightly negative when the sets match). */
  readonly mmd2: number;
  /** Permutation p-value (k + 1)/(permutations + 1). */
  readonly pValue: number;
  /** Kernel bandwidth σ (σ² = median pairwise squared distance). */
  readonly bandwidth: number;
  readonly permutations: number;
  /** Items used on each side (after subsampling). */
  readonly nRef: number;
  readonly nCur: number;
  readonly subsampled: boolean;
}

export interface MmdOptions {
  /** Label permutations for the p-value (default 200; 0 skips the test, p = 1). */
  readonly permutations?: number;
  /** Cap on items per side, subsampled at random above it (default 500). */
  readonly maxPerSide?: number;
  /** Fixed bandwidth σ instead of the median heuristic. */
  readonly bandwidth?: number;
  /** Progress: pairs of the distance matrix done (phase 'distances'), then permutations done (phase 'permutations'). */
  readonly onProgress?: (done: number, total: number, phase: 'distances' | 'permutations') => void;
}

function pickRows(x: Float32Array, dim: number, max: number, rng: Rng): Float32Array {
  const n = x.length / dim;
  if (n <= max) return x;
  const idx = pickedRows(n, max, rng)!;
  const out = new Float32Array(max * dim);
  for (let k = 0; k < max; k++) out.set(x.subarray(idx[k]! * dim, (idx[k]! + 1) * dim), k * dim);
  return out;
}

/** The rows (sorted) that mmdTest keeps of a set of `n` when it has more than `max`; null when it keeps all. */
function pickedRows(n: number, max: number, rng: Rng): Uint32Array | Int32Array | null {
  if (n <= max) return null;
  return rng.permutation(n).subarray(0, max).sort();
}

/**
 * The rows `mmdTest(ref, cur, dim, rng, opts)` would keep of sets of `nRef` and `nCur` rows (null: all),
 * so a caller that reads the sets in chunks can gather just those rows and pass them instead: the
 * result is the same (picked sets are never picked again, and picking draws from forks, not `rng`).
 */
export function mmdPickedRows(nRef: number, nCur: number, rng: Rng, opts: Pick<MmdOptions, 'maxPerSide'> = {}): { ref: ArrayLike<number> | null; cur: ArrayLike<number> | null } {
  const max = opts.maxPerSide ?? MMD_MAX_PER_SIDE;
  return { ref: pickedRows(nRef, max, rng.fork('mmd:ref')), cur: pickedRows(nCur, max, rng.fork('mmd:cur')) };
}

/**
 * MMD² two-sample test between row-major sets `ref` and `cur` of `dim`-dimensional rows
 * (flattened inputs or embeddings). Draws (subsampling, permutations) come from `rng`.
 */
export function mmdTest(ref: Float32Array, cur: Float32Array, dim: number, rng: Rng, opts: MmdOptions = {}): MmdResult {
  const permutations = opts.permutations ?? MMD_PERMUTATIONS;
  const max = opts.maxPerSide ?? MMD_MAX_PER_SIDE;
  if (!(Number.isInteger(dim) && dim > 0) || ref.length % dim !== 0 || cur.length % dim !== 0) {
    throw new DataError(`MMD: rows of ${dim} values do not divide sets of ${ref.length} and ${cur.length} values`);
  }
  for (const [name, a] of [['reference', ref], ['shifted', cur]] as const) {
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) throw new DataError(`MMD: the ${name} set has a non-finite value (${a[i]}) at row ${Math.floor(i / dim)}`);
  }
  const X = pickRows(ref, dim, max, rng.fork('mmd:ref'));
  const Y = pickRows(cur, dim, max, rng.fork('mmd:cur'));
  const nx = X.length / dim;
  const ny = Y.length / dim;
  if (nx < 2 || ny < 2) throw new DataError(`MMD needs at least 2 items per side, got ${nx} and ${ny}`);
  const N = nx + ny;
  const Z = new Float32Array(N * dim);
  Z.set(X, 0);
  Z.set(Y, X.length);
  const D = new Float64Array(N * N);
  const pairs = new Float64Array((N * (N - 1)) / 2);
  const onProgress = opts.onProgress;
  onProgress?.(0, pairs.length, 'distances');
  let p = 0;
  for (let i = 0; i < N; i++) {
    const a = i * dim;
    for (let j = i + 1; j < N; j++) {
      const b = j * dim;
      let s = 0;
      for (let t = 0; t < dim; t++) {
        const diff = Z[a + t]! - Z[b + t]!;
        s += diff * diff;
      }
      D[i * N + j] = s;
      pairs[p++] = s;
    }
    onProgress?.(p, pairs.length, 'distances');
  }
  let sigma2: number;
  if (opts.bandwidth !== undefined) sigma2 = opts.bandwidth * opts.bandwidth;
  else {
    pairs.sort();
    sigma2 = quantile(pairs, 0.5);
    if (!(sigma2 > 0)) {
      // more than half the pairs coincide: use the mean of the non-zero distances (or 1)
      let s = 0;
      let c = 0;
      for (let k = 0; k < pairs.length; k++) if (pairs[k]! > 0) (s += pairs[k]!), c++;
      sigma2 = c > 0 ? s / c : 1;
    }
  }
  for (let i = 0; i < N; i++) for (let j = i + 1; j < N; j++) D[i * N + j] = Math.exp(-D[i * N + j]! / (2 * sigma2));
  const group = new Uint8Array(N);
  const stat = (): number => {
    let sxx = 0;
    let syy = 0;
    let sxy = 0;
    for (let i = 0; i < N; i++) {
      const gi = group[i]!;
      const o = i * N;
      for (let j = i + 1; j < N; j++) {
        const k = D[o + j]!;
        const gj = group[j]!;
        if (gi !== gj) sxy += k;
        else if (gi === 0) sxx += k;
        else syy += k;
      }
    }
    return (2 * sxx) / (nx * (nx - 1)) + (2 * syy) / (ny * (ny - 1)) - (2 * sxy) / (nx * ny);
  };
  for (let i = nx; i < N; i++) group[i] = 1;
  const observed = stat();
  let atLeast = 0;
  const prng = rng.fork('mmd:permutations');
  if (permutations > 0) onProgress?.(0, permutations, 'permutations');
  for (let t = 0; t < permutations; t++) {
    const perm = prng.permutation(N);
    for (let i = 0; i < N; i++) group[perm[i]!] = i < nx ? 0 : 1;
    if (stat() >= observed) atLeast++;
    onProgress?.(t + 1, permutations, 'permutations');
  }
  return {
    units: 'raw',
    dims: dim,
    mmd2: observed,
    pValue: (atLeast + 1) / (permutations + 1),
    bandwidth: Math.sqrt(sigma2),
    permutations,
    nRef: nx,
    nCur: ny,
    subsampled: nx < ref.length / dim || ny < cur.length / dim,
  };
}

/** Distances of a shifted dataset from its reference. */
export interface ShiftDistances {
  readonly kind: 'tabular' | 'image';
  /** Per-feature KS / PSI (tabular data only). */
  readonly features: readonly FeatureDistance[] | null;
  /** Largest and mean KS / PSI over the features (tabular data only). */
  readonly ksMax: number | null;
  readonly ksMean: number | null;
  readonly psiMax: number | null;
  readonly psiMean: number | null;
  /** MMD on the flattened inputs, or null when not asked for, either set has NaN values or fewer than 2 items. */
  readonly mmd: MmdResult | null;
}

/**
 * The MMD test on standardised features: each column divided by its population standard deviation
 * over `ref`, constant columns dropped (they cannot tell the sets apart, and would divide by 0).
 * Null when every column is constant.
 */
export function standardisedMmd(ref: Float32Array, cur: Float32Array, d: number, rng: Rng, opts: MmdOptions = {}): MmdResult | null {
  const nr = ref.length / d;
  const mean = new Float64Array(d);
  const m2 = new Float64Array(d);
  for (let i = 0; i < nr; i++) {
    for (let j = 0; j < d; j++) {
      const v = ref[i * d + j]!;
      const delta = v - mean[j]!;
      mean[j]! += delta / (i + 1);
      m2[j]! += delta * (v - mean[j]!);
    }
  }
  const cols: number[] = [];
  const inv: number[] = [];
  for (let j = 0; j < d; j++) {
    const sd = Math.sqrt(m2[j]! / Math.max(1, nr));
    if (sd > 0) (cols.push(j), inv.push(1 / sd));
  }
  if (cols.length === 0) return null;
  const scale = (x: Float32Array): Float32Array => {
    const rows = x.length / d;
    const out = new Float32Array(rows * cols.length);
    for (let i = 0; i < rows; i++) for (let k = 0; k < cols.length; k++) out[i * cols.length + k] = x[i * d + cols[k]!]! * inv[k]!;
    return out;
  };
  return { ...mmdTest(scale(ref), scale(cur), cols.length, rng, opts), units: 'std' };
}

/**
 * KS and PSI per feature (tabular data) and the MMD test on flattened inputs (all data) between a
 * reference and a shifted set with the same item shape. `x` may be given to measure inputs that
 * cannot form a Dataset (NaN for missing values). `mmd: false` skips the MMD. `units`: the MMD's
 * units, 'std' (the default for tabular data: features standardised by the reference's σ,
 * constant ones skipped) or 'raw' (the default, and the only choice, for images).
 */
export function datasetDistances(ref: Dataset, cur: Pick<Dataset, 'itemShape' | 'x'>, rng: Rng, opts: MmdOptions & { readonly mmd?: boolean; readonly units?: MmdUnits } = {}): ShiftDistances {
  if (ref.itemShape.join('x') !== cur.itemShape.join('x')) {
    throw new DataError(`cannot compare items of shape [${ref.itemShape.join(', ')}] with items of shape [${cur.itemShape.join(', ')}]`);
  }
  const d = itemSize(ref);
  const hasNaN = (a: Float32Array): boolean => {
    for (let i = 0; i < a.length; i++) if (Number.isNaN(a[i]!)) return true;
    return false;
  };
  const n = Math.min(ref.x.length, cur.x.length) / d;
  const image = isImageData(ref);
  const units = opts.units ?? (image ? 'raw' : 'std');
  if (units === 'std' && image) throw new DataError(`MMD in std units applies to tabular data; images are compared in raw units`);
  const skip = opts.mmd === false || n < 2 || hasNaN(ref.x) || hasNaN(cur.x);
  const mmd = skip ? null : units === 'std' ? standardisedMmd(ref.x, cur.x, d, rng, opts) : mmdTest(ref.x, cur.x, d, rng, opts);
  if (image) return { kind: 'image', features: null, ksMax: null, ksMean: null, psiMax: null, psiMean: null, mmd };
  const features = featureDistances(ref.x, cur.x, d, { names: ref.featureNames });
  const ks = features.map((f) => f.ks);
  const ps = features.map((f) => f.psi);
  const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / Math.max(a.length, 1);
  return { kind: 'tabular', features, ksMax: Math.max(...ks), ksMean: mean(ks), psiMax: Math.max(...ps), psiMean: mean(ps), mmd };
}

/**
 * Label audit by confident learning (Northcutt, Jiang & Chuang, "Confident Learning: Estimating
 * Uncertainty in Dataset Labels", JAIR 2021), from out-of-sample predicted probabilities.
 *
 * 1. Per-class thresholds t_j = mean of p_j over the items whose observed label is j.
 * 2. The confident joint C[i][j] counts items with observed label i whose class j has p_j ≥ t_j
 *    (within 1e-6); when several classes pass, the one with the largest p_j. Items with no class
 *    above its threshold are not counted.
 * 3. Calibration: each row is rescaled to the number of items observed as i, then the matrix to
 *    the item count, and rounded preserving row totals (largest remainder).
 * 4. Flags — method `prune-by-noise-rate` (default): for each observed class i and each other
 *    class j, the C̃[i][j] items observed as i with the largest margin p_j − p_i; method `both`:
 *    only items that prune-by-noise-rate flags *and* that are among the Σ_{j≠i} C̃[i][j] items of
 *    class i with the lowest self-confidence p_i (cleanlab's 'both'). At least one item of each
 *    observed class is kept, and, as in cleanlab, an item the model predicts as its observed
 *    label is never flagged.
 *
 * Each item gets a quality score (self-confidence, p of its observed label: low = suspect) and a
 * suggested label (the model's arg-max class). When the true labels are known (noise was
 * injected), precision and recall of the flags against the injected flips are reported.
 *
 * Example: `auditLabels(probs, 10, observed, { trueLabels }).vsInjected?.precision`.
 */
import { DataError } from '../../errors.js';
import { checkLabels } from './util.js';

export type AuditMethod = 'prune-by-noise-rate' | 'both';
export const AUDIT_METHODS: readonly AuditMethod[] = ['prune-by-noise-rate', 'both'];

export interface AuditOptions {
  method?: AuditMethod;
  /** True labels, when known: precision/recall of the flags against observed ≠ true. */
  trueLabels?: Int32Array | null;
}

export interface FlagScore {
  /** Flagged items that were flipped, over flagged items (NaN when nothing is flagged). */
  readonly precision: number;
  /** Flipped items that were flagged, over flipped items (NaN when nothing was flipped). */
  readonly recall: number;
  readonly f1: number;
  readonly truePositives: number;
  readonly flaggedCount: number;
  readonly flippedCount: number;
}

export interface LabelAudit {
  readonly method: AuditMethod;
  readonly numClasses: number;
  readonly samples: number;
  /** Per-class thresholds t_j (NaN for a class nobody is labelled with). */
  readonly thresholds: Float64Array;
  /** Raw confident joint, [observed][true] counts. */
  readonly confidentJoint: number[][];
  /** Calibrated confident joint, integer counts, [observed][true]; rows sum to the label counts. */
  readonly calibratedJoint: number[][];
  /** Estimated share of mislabelled items (off-diagonal mass of the calibrated joint). */
  readonly estimatedNoiseRate: number;
  /** Indices of the flagged items, ascending. */
  readonly flagged: Int32Array;
  /** 1 for flagged items. */
  readonly isFlagged: Uint8Array;
  /** Self-confidence p(observed label) per item. */
  readonly quality: Float64Array;
  /** The model's arg-max class per item. */
  readonly suggested: Int32Array;
  /** Precision/recall against the injected flips (when true labels are given). */
  readonly vsInjected: FlagScore | null;
}

/** Rounds each row to integers preserving its (rounded) total, by largest remainder. */
export function roundPreservingRowTotals(m: readonly (readonly number[])[]): number[][] {
  return m.map((row) => {
    const total = Math.round(row.reduce((a, b) => a + b, 0));
    const floors = row.map(Math.floor);
    let left = total - floors.reduce((a, b) => a + b, 0);
    const order = row.map((v, j) => ({ j, r: v - Math.floor(v) })).sort((a, b) => b.r - a.r || a.j - b.j);
    for (const { j } of order) {
      if (left <= 0) break;
      floors[j]! += 1;
      left--;
    }
    return floors;
  });
}

/** Precision/recall of flags against flips (observed ≠ true). */
export function scoreFlags(isFlagged: ArrayLike<number>, trueLabels: ArrayLike<number>, observed: ArrayLike<number>): FlagScore {
  let tp = 0;
  let flagged = 0;
  let flipped = 0;
  for (let i = 0; i < observed.length; i++) {
    const f = isFlagged[i] ? 1 : 0;
    const w = trueLabels[i] !== observed[i] ? 1 : 0;
    flagged += f;
    flipped += w;
    tp += f & w;
  }
  const precision = flagged ? tp / flagged : NaN;
  const recall = flipped ? tp / flipped : NaN;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : NaN;
  return { precision, recall, f1, truePositives: tp, flaggedCount: flagged, flippedCount: flipped };
}

export function auditLabels(probs: Float64Array, numClasses: number, observed: Int32Array, opts: AuditOptions = {}): LabelAudit {
  const K = numClasses;
  const n = observed.length;
  checkLabels(observed, K, 'observed labels');
  if (probs.length !== n * K) throw new DataError(`label audit: ${probs.length} probabilities for ${n} items of ${K} classes (expected ${n * K})`);
  const method = opts.method ?? 'prune-by-noise-rate';
  const trueLabels = opts.trueLabels ?? null;
  if (trueLabels) {
    if (trueLabels.length !== n) throw new DataError(`label audit: ${trueLabels.length} true labels for ${n} items`);
    checkLabels(trueLabels, K, 'true labels');
  }

  // 1. Thresholds.
  const labelCounts = new Float64Array(K);
  const thresholds = new Float64Array(K);
  for (let i = 0; i < n; i++) {
    const s = observed[i]!;
    labelCounts[s]! += 1;
    thresholds[s]! += probs[i * K + s]!;
  }
  for (let k = 0; k < K; k++) thresholds[k] = labelCounts[k]! > 0 ? thresholds[k]! / labelCounts[k]! : NaN;

  // 2. Confident joint.
  const cj = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  for (let i = 0; i < n; i++) {
    let best = -1;
    for (let k = 0; k < K; k++) {
      const p = probs[i * K + k]!;
      if (p >= thresholds[k]! - 1e-6 && (best < 0 || p > probs[i * K + best]!)) best = k;
    }
    if (best >= 0) cj[observed[i]!]![best]! += 1;
  }

  // 3. Calibration.
  const scaled = cj.map((row, i) => {
    const s = row.reduce((a, b) => a + b, 0);
    return row.map((c) => (s > 0 ? (c / s) * labelCounts[i]! : 0));
  });
  const total = scaled.reduce((a, r) => a + r.reduce((x, y) => x + y, 0), 0);
  const calibrated = roundPreservingRowTotals(scaled.map((r) => r.map((v) => (total > 0 ? (v / total) * n : 0))));
  let offDiag = 0;
  calibrated.forEach((r, i) => r.forEach((c, j) => (offDiag += i === j ? 0 : c)));

  // 4. Flags.
  const members: number[][] = Array.from({ length: K }, () => []);
  for (let i = 0; i < n; i++) members[observed[i]!]!.push(i);
  const byRate = new Uint8Array(n);
  const byClass = new Uint8Array(n);
  for (let s = 0; s < K; s++) {
    const items = members[s]!;
    const off = calibrated[s]!.map((c, j) => (j === s ? 0 : c));
    const offTotal = off.reduce((a, b) => a + b, 0);
    const cap = Math.max(0, items.length - 1);
    const prune = offTotal > cap ? off.map((c) => Math.floor((c * cap) / offTotal)) : off;
    for (let j = 0; j < K; j++) {
      const num = prune[j]!;
      if (num <= 0) continue;
      const ranked = [...items].sort((a, b) => probs[b * K + j]! - probs[b * K + s]! - (probs[a * K + j]! - probs[a * K + s]!) || a - b);
      for (const i of ranked.slice(0, num)) byRate[i] = 1;
    }
    const numClass = Math.min(cap, offTotal);
    if (method === 'both' && numClass > 0) {
      const ranked = [...items].sort((a, b) => probs[a * K + s]! - probs[b * K + s]! || a - b);
      for (const i of ranked.slice(0, numClass)) byClass[i] = 1;
    }
  }
  const quality = new Float64Array(n);
  const suggested = new Int32Array(n);
  const isFlagged = new Uint8Array(n);
  const flagged: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = observed[i]!;
    quality[i] = probs[i * K + s]!;
    let arg = 0;
    for (let k = 1; k < K; k++) if (probs[i * K + k]! > probs[i * K + arg]!) arg = k;
    suggested[i] = arg;
    const flag = byRate[i] === 1 && (method !== 'both' || byClass[i] === 1) && arg !== s;
    if (flag) {
      isFlagged[i] = 1;
      flagged.push(i);
    }
  }
  return {
    method,
    numClasses: K,
    samples: n,
    thresholds,
    confidentJoint: cj,
    calibratedJoint: calibrated,
    estimatedNoiseRate: n ? offDiag / n : 0,
    flagged: Int32Array.from(flagged),
    isFlagged,
    quality,
    suggested,
    vsInjected: trueLabels ? scoreFlags(isFlagged, trueLabels, observed) : null,
  };
}

/**
 * Classification metrics, computed in float64 from model outputs.
 *
 * - accuracy: share of items whose arg-max class equals the label (ties: lowest class index).
 * - ece: expected calibration error over top-label confidence with `bins` equal-width bins on
 *   [0, 1]; bin b holds confidences in (b/B, (b+1)/B], confidence 0 falls in the first bin.
 * - nll: mean of −log p(label), with p clamped below at 1e-12 for probability outputs.
 * - brier: mean over items of Σ_k (p_k − [k = label])².
 * - macroF1: unweighted mean over classes of F1 (a class with no support and no predictions is skipped).
 */
export interface ClassificationMetrics {
  samples: number;
  accuracy: number;
  ece: number;
  nll: number;
  brier: number;
  macroF1: number;
}

/** log Σ_k exp(scale·v[offset + k]) over k < count, computed stably (max subtracted first). */
export function logSumExp(v: ArrayLike<number>, offset: number, count: number, scale = 1): number {
  let max = -Infinity;
  for (let k = 0; k < count; k++) max = Math.max(max, scale * v[offset + k]!);
  let s = 0;
  for (let k = 0; k < count; k++) s += Math.exp(scale * v[offset + k]! - max);
  return max + Math.log(s);
}

/** Row-wise softmax in float64 (numerically stable). Probability outputs are passed through as float64. */
export function toProbabilities(scores: ArrayLike<number>, numClasses: number, kind: 'logits' | 'probabilities'): Float64Array {
  const n = scores.length / numClasses;
  const p = new Float64Array(scores.length);
  for (let i = 0; i < n; i++) {
    const o = i * numClasses;
    if (kind === 'probabilities') {
      for (let k = 0; k < numClasses; k++) p[o + k] = scores[o + k]!;
      continue;
    }
    let max = -Infinity;
    for (let k = 0; k < numClasses; k++) max = Math.max(max, scores[o + k]!);
    let sum = 0;
    for (let k = 0; k < numClasses; k++) {
      const e = Math.exp(scores[o + k]! - max);
      p[o + k] = e;
      sum += e;
    }
    for (let k = 0; k < numClasses; k++) p[o + k]! /= sum;
  }
  return p;
}

/** Index k < count of the largest v[offset + k] (lowest index wins ties). */
export function argmaxAt(v: ArrayLike<number>, offset: number, count: number): number {
  let best = 0;
  for (let k = 1; k < count; k++) if (v[offset + k]! > v[offset + best]!) best = k;
  return best;
}

/** Arg-max per row (lowest index wins ties). */
export function argmaxRows(values: ArrayLike<number>, numClasses: number): Int32Array {
  const n = values.length / numClasses;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = argmaxAt(values, i * numClasses, numClasses);
  return out;
}

export function classificationMetrics(probs: Float64Array, numClasses: number, labels: ArrayLike<number>, bins = 15): ClassificationMetrics {
  const n = labels.length;
  if (n === 0) return { samples: 0, accuracy: NaN, ece: NaN, nll: NaN, brier: NaN, macroF1: NaN };
  const pred = argmaxRows(probs, numClasses);
  const binCount = new Float64Array(bins);
  const binConf = new Float64Array(bins);
  const binCorrect = new Float64Array(bins);
  const tp = new Float64Array(numClasses);
  const predCount = new Float64Array(numClasses);
  const support = new Float64Array(numClasses);
  let correct = 0;
  let nll = 0;
  let brier = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    const o = i * numClasses;
    const c = pred[i]!;
    const conf = probs[o + c]!;
    const ok = c === y ? 1 : 0;
    correct += ok;
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(conf * bins) - 1));
    binCount[b]! += 1;
    binConf[b]! += conf;
    binCorrect[b]! += ok;
    nll -= Math.log(Math.max(probs[o + y]!, 1e-12));
    for (let k = 0; k < numClasses; k++) {
      const d = probs[o + k]! - (k === y ? 1 : 0);
      brier += d * d;
    }
    predCount[c]! += 1;
    support[y]! += 1;
    if (ok) tp[y]! += 1;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    if (binCount[b]! > 0) ece += (binCount[b]! / n) * Math.abs(binCorrect[b]! / binCount[b]! - binConf[b]! / binCount[b]!);
  }
  let f1Sum = 0;
  let f1Classes = 0;
  for (let k = 0; k < numClasses; k++) {
    if (support[k] === 0 && predCount[k] === 0) continue;
    const denom = support[k]! + predCount[k]!;
    f1Sum += denom > 0 ? (2 * tp[k]!) / denom : 0;
    f1Classes++;
  }
  return { samples: n, accuracy: correct / n, ece, nll: nll / n, brier: brier / n, macroF1: f1Classes ? f1Sum / f1Classes : NaN };
}

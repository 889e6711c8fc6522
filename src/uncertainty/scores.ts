/**
 * Per-item uncertainty estimates from class probabilities [n, K] (row-major, float64):
 *
 * - maxSoftmax: the top-class probability max_k p_k (a confidence: high = certain);
 * - margin: top-1 minus top-2 probability (a confidence: high = certain);
 * - entropy: predictive entropy −Σ_k p_k ln p_k in nats (an uncertainty: high = uncertain), 0 ln 0 = 0.
 *
 * For a set of predictive distributions (ensemble members, MC-dropout passes) with mean p̄,
 * `decomposeUncertainty` splits the total entropy H(p̄) into the expected (aleatoric) entropy
 * mean_m H(p_m) and the mutual information H(p̄) − mean_m H(p_m) (epistemic part), clamped at 0
 * against rounding.
 */
export interface UncertaintyScores {
  maxSoftmax: Float64Array;
  margin: Float64Array;
  entropy: Float64Array;
}

export function uncertaintyScores(probs: Float64Array, numClasses: number): UncertaintyScores {
  const n = probs.length / numClasses;
  const maxSoftmax = new Float64Array(n);
  const margin = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * numClasses;
    let a = -Infinity;
    let b = -Infinity;
    for (let k = 0; k < numClasses; k++) {
      const p = probs[o + k]!;
      if (p > a) {
        b = a;
        a = p;
      } else if (p > b) b = p;
    }
    maxSoftmax[i] = a;
    margin[i] = numClasses > 1 ? a - b : a;
  }
  return { maxSoftmax, margin, entropy: entropyRows(probs, numClasses) };
}

/** Entropy (nats) of each row. */
export function entropyRows(probs: Float64Array, numClasses: number): Float64Array {
  const n = probs.length / numClasses;
  const h = new Float64Array(n);
  for (let i = 0; i < n; i++) h[i] = rowEntropy(probs, i * numClasses, numClasses);
  return h;
}

export function rowEntropy(probs: ArrayLike<number>, offset: number, numClasses: number): number {
  let h = 0;
  for (let k = 0; k < numClasses; k++) {
    const p = probs[offset + k]!;
    if (p > 0) h -= p * Math.log(p);
  }
  return h;
}

/** Total entropy of the mean, expected entropy and mutual information, per item. */
export interface UncertaintyDecomposition {
  /** H(p̄): predictive entropy of the mean distribution. */
  entropy: Float64Array;
  /** mean over members/passes of H(p_m) (aleatoric part). */
  expectedEntropy: Float64Array;
  /** H(p̄) − mean H(p_m) ≥ 0 (epistemic part). */
  mutualInformation: Float64Array;
}

export function decomposeUncertainty(mean: Float64Array, expectedEntropy: Float64Array, numClasses: number): UncertaintyDecomposition {
  const entropy = entropyRows(mean, numClasses);
  const mutualInformation = new Float64Array(entropy.length);
  for (let i = 0; i < entropy.length; i++) mutualInformation[i] = Math.max(0, entropy[i]! - expectedEntropy[i]!);
  return { entropy, expectedEntropy, mutualInformation };
}

/** Arithmetic mean of an array (NaN when empty). */
export function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return a.length ? s / a.length : NaN;
}

/**
 * Instance-dependent label noise: items the model is unsure about get mislabelled more, as
 * ambiguous items do in practice.
 *
 * Each item's uncertainty u_i comes from the given predicted probabilities: `entropy` (default,
 * the normalised entropy H(p_i) / log K) or `least-confidence` (1 − max_k p_ik). Its flip
 * probability is f_i = min(1, c·u_i), with c solved exactly (water-filling over the items sorted
 * by u) so that mean_i f_i = rate: the rate is exact in expectation, and no probability exceeds 1.
 *
 * Where an item flips, the new label is drawn (`flip-to`):
 * - `proportional` (default): from the model's probabilities of the classes other than the true
 *   one, renormalised (uniform over them if they are all zero) — flips follow the model's own
 *   confusions but stay random;
 * - `next`: the most likely class other than the true one (ties: lowest index).
 * Either way a flip never lands on the true class. Every item consumes two uniform draws.
 *
 * Example: `instance.apply(y, 10, { model: 'instance', rate: 0.2 }, rng, { probs })`.
 */
import { DataError } from '../../../errors.js';
import type { Rng } from '../../../rng.js';
import { rowEntropy } from '../../../uncertainty/scores.js';
import { opt } from '../../../options/schema.js';
import { defineNoiseModel, noiseResult, type NoiseContext } from '../types.js';
import { checkLabels, pickWeighted } from '../util.js';

export type Uncertainty = 'entropy' | 'least-confidence';
export type FlipTo = 'proportional' | 'next';

export interface InstanceSpec {
  readonly model: 'instance';
  /** Mean flip probability, in [0, 1). */
  readonly rate: number;
  readonly uncertainty: Uncertainty;
  /** Where a flip lands (YAML `flip_to`; `flip-to` before 0.2). */
  readonly flipTo: FlipTo;
}

export const UNCERTAINTIES: readonly Uncertainty[] = ['entropy', 'least-confidence'];
export const FLIP_TO: readonly FlipTo[] = ['proportional', 'next'];

export const INSTANCE_OPTIONS = {
  rate: opt.number({ doc: 'mean flip probability', min: 0, max: 1, maxExclusive: true, required: true, metavar: 'R' }),
  uncertainty: opt.choice(UNCERTAINTIES, { doc: "the item's uncertainty: normalised entropy, or 1 - max probability", default: 'entropy' }),
  flip_to: opt.choice(FLIP_TO, { doc: "where a flip lands: drawn from the model's other probabilities, or its most likely other class", default: 'proportional' }),
};

/** Per-item uncertainty in [0, 1] from probabilities [n, K]. */
export function uncertaintyScores(probs: Float64Array, numClasses: number, kind: Uncertainty): Float64Array {
  const K = numClasses;
  const n = probs.length / K;
  const u = new Float64Array(n);
  const logK = Math.log(K);
  for (let i = 0; i < n; i++) {
    const o = i * K;
    if (kind === 'entropy') {
      u[i] = Math.min(1, Math.max(0, rowEntropy(probs, o, K) / logK));
    } else {
      let m = 0;
      for (let k = 0; k < K; k++) m = Math.max(m, probs[o + k]!);
      u[i] = Math.min(1, Math.max(0, 1 - m));
    }
  }
  return u;
}

/**
 * Flip probabilities f_i = min(1, c·u_i) with mean exactly `rate` (water-filling). Throws a
 * DataError when too few items have non-zero uncertainty to reach the rate.
 */
export function flipProbabilities(u: Float64Array, rate: number): Float64Array {
  const n = u.length;
  const f = new Float64Array(n);
  if (n === 0 || rate === 0) return f;
  const order = Array.from(u.keys()).sort((a, b) => u[b]! - u[a]! || a - b);
  const target = rate * n;
  let rest = 0;
  for (const i of order) rest += u[i]!;
  // k items capped at 1 (the k most uncertain); the rest scaled by c.
  for (let k = 0; k < n; k++) {
    if (rest <= 0) break;
    const c = (target - k) / rest;
    const capsOk = k === 0 || c * u[order[k - 1]!]! >= 1;
    if (capsOk && c * u[order[k]!]! <= 1) {
      for (let j = 0; j < n; j++) f[order[j]!] = j < k ? 1 : c * u[order[j]!]!;
      return f;
    }
    rest -= u[order[k]!]!;
  }
  const positive = u.reduce((a, x) => a + (x > 0 ? 1 : 0), 0);
  throw new DataError(`instance noise at rate ${rate} needs at least ${Math.ceil(target)} items with non-zero uncertainty; the predictions give ${positive} of ${n}`);
}

export const instance = defineNoiseModel<InstanceSpec, typeof INSTANCE_OPTIONS>({
  name: 'instance',
  summary: "flip probability rising with the model's uncertainty on the item (mean = rate), flips follow the model's confusions",
  options: INSTANCE_OPTIONS,
  example: { model: 'instance', rate: 0.2, uncertainty: 'entropy', flipTo: 'proportional' },
  needsProbs: true,
  apply(labels: Int32Array, numClasses: number, spec: InstanceSpec, rng: Rng, ctx: NoiseContext) {
    checkLabels(labels, numClasses);
    const K = numClasses;
    const n = labels.length;
    const probs = ctx.probs;
    if (!probs) throw new DataError("instance noise needs the model's predicted probabilities for the items ([n, K] float64)");
    if (probs.length !== n * K) throw new DataError(`instance noise: ${probs.length} probabilities given for ${n} items of ${K} classes (expected ${n * K})`);
    for (let i = 0; i < probs.length; i++) {
      if (!(probs[i]! >= 0 && probs[i]! <= 1 + 1e-6)) throw new DataError(`instance noise: probability ${probs[i]} of item ${Math.floor(i / K)} is outside [0, 1]`);
    }
    const f = flipProbabilities(uncertaintyScores(probs, K, spec.uncertainty), spec.rate);
    const observed = new Int32Array(n);
    const w = new Float64Array(K);
    for (let i = 0; i < n; i++) {
      const t = labels[i]!;
      const u = rng.uniform();
      const v = rng.uniform();
      if (!(u < f[i]!)) {
        observed[i] = t;
        continue;
      }
      let total = 0;
      for (let k = 0; k < K; k++) {
        w[k] = k === t ? 0 : probs[i * K + k]!;
        total += w[k]!;
      }
      if (!(total > 0)) for (let k = 0; k < K; k++) w[k] = k === t ? 0 : 1;
      if (spec.flipTo === 'next') {
        let best = -1;
        for (let k = 0; k < K; k++) if (k !== t && (best < 0 || w[k]! > w[best]!)) best = k;
        observed[i] = best;
      } else {
        observed[i] = pickWeighted(w, v);
      }
    }
    return noiseResult(labels, observed, K, { ...spec }, rng.seed, null, spec.rate);
  },
});

/**
 * Symmetric (uniform) label noise: each label flips with probability `rate` to one of the other
 * K − 1 classes, chosen uniformly — P(observed = j | true = i) = 1 − rate if j = i, rate / (K − 1)
 * otherwise. A flip never lands on the true class.
 *
 * Every item consumes the same two draws whatever the rate, so with one seed the items flipped at
 * rate 0.1 are a subset of those flipped at 0.2 (sweeps over the rate are coupled).
 *
 * Example: `symmetric.apply(labels, 10, { model: 'symmetric', rate: 0.3 }, new Rng(0), {})`
 * flips about 30 % of the labels.
 */
import type { Rng } from '../../../rng.js';
import { opt } from '../../../options/schema.js';
import { defineNoiseModel, noiseResult } from '../types.js';
import { checkLabels } from '../util.js';

export interface SymmetricSpec {
  readonly model: 'symmetric';
  /** Flip probability, in [0, 1). */
  readonly rate: number;
}

/** The flip probability every rate-driven model takes, in [0, 1). */
export const RATE = opt.number({ doc: 'flip probability', min: 0, max: 1, maxExclusive: true, required: true, metavar: 'R' });

export const SYMMETRIC_OPTIONS = { rate: RATE };

export const symmetric = defineNoiseModel<SymmetricSpec, typeof SYMMETRIC_OPTIONS>({
  name: 'symmetric',
  summary: 'each label flips with probability rate to one of the other K-1 classes, uniformly',
  options: SYMMETRIC_OPTIONS,
  example: { model: 'symmetric', rate: 0.2 },
  needsProbs: false,
  apply(labels: Int32Array, numClasses: number, spec: SymmetricSpec, rng: Rng) {
    checkLabels(labels, numClasses);
    const K = numClasses;
    const observed = new Int32Array(labels.length);
    for (let i = 0; i < labels.length; i++) {
      const t = labels[i]!;
      const u = rng.uniform();
      const d = rng.int(K - 1);
      observed[i] = u < spec.rate ? (d >= t ? d + 1 : d) : t;
    }
    const off = spec.rate / (K - 1);
    const matrix = Array.from({ length: K }, (_, i) => Array.from({ length: K }, (_, j) => (i === j ? 1 - spec.rate : off)));
    return noiseResult(labels, observed, K, { ...spec }, rng.seed, matrix, spec.rate);
  },
});

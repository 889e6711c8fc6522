/**
 * Pair-flip label noise: each label of class i flips with probability `rate` to one fixed
 * destination `map[i]` (default i + 1 mod K), so each class is confused with exactly one other —
 * P(observed = map[i] | true = i) = rate. The map must send every class to a different class.
 *
 * Example: `{ model: 'pairflip', rate: 0.3 }` sends 30 % of class 0 to 1, of 1 to 2, …, of K−1 to 0;
 * `{ model: 'pairflip', rate: 0.4, map: [6, 1, 4, ...] }` gives the destinations explicitly.
 */
import { ConfigError } from '../../../errors.js';
import type { Rng } from '../../../rng.js';
import { fail, keyPath, opt } from '../../../options/schema.js';
import { defineNoiseModel, noiseResult } from '../types.js';
import { checkLabels } from '../util.js';
import { RATE } from './symmetric.js';

export const PAIRFLIP_OPTIONS = {
  rate: RATE,
  map: opt.list(opt.integer({ doc: 'destination class', min: 0 }), { doc: 'destination class of each class, map[i] != i', minLength: 2, defaultText: 'i+1 mod K', metavar: 'a,b,...' }),
};

export interface PairflipSpec {
  readonly model: 'pairflip';
  /** Flip probability, in [0, 1). */
  readonly rate: number;
  /** Destination class of each class (length K, map[i] ≠ i); absent means i → i + 1 mod K. */
  readonly map?: readonly number[];
}

export const pairflip = defineNoiseModel<PairflipSpec, typeof PAIRFLIP_OPTIONS>({
  name: 'pairflip',
  summary: 'each label of class i flips with probability rate to one destination (i+1 mod K, or a given map)',
  options: PAIRFLIP_OPTIONS,
  example: { model: 'pairflip', rate: 0.3 },
  needsProbs: false,
  check(o, ctx) {
    const map = o.map;
    if (!map) return;
    const name = keyPath(ctx.where, 'map');
    map.forEach((d, i) => {
      if (d > map.length - 1) fail(`${name}[${i}]`, { code: 'range', value: d, expected: `an integer in [0, ${map.length - 1}] (a class of the ${map.length} the map lists)` });
      if (d === i) fail(`${name}[${i}]`, { code: 'range', value: d, expected: `a class other than ${i}` }, `'${name}[${i}]' must differ from ${i} (a pair flip sends each class to another class), got ${d}`);
    });
  },
  apply(labels: Int32Array, numClasses: number, spec: PairflipSpec, rng: Rng) {
    checkLabels(labels, numClasses);
    const K = numClasses;
    if (spec.map && spec.map.length !== K) throw new ConfigError(`'map' has ${spec.map.length} entries but the labels have ${K} classes`);
    const dest = spec.map ? [...spec.map] : Array.from({ length: K }, (_, i) => (i + 1) % K);
    dest.forEach((d, i) => {
      if (!(Number.isInteger(d) && d >= 0 && d < K && d !== i)) throw new ConfigError(`'map[${i}]' must be a class in [0, ${K - 1}] other than ${i}, got ${d}`);
    });
    const observed = new Int32Array(labels.length);
    for (let i = 0; i < labels.length; i++) {
      const t = labels[i]!;
      observed[i] = rng.uniform() < spec.rate ? dest[t]! : t;
    }
    const matrix = Array.from({ length: K }, (_, i) => Array.from({ length: K }, (_, j) => (i === j ? 1 - spec.rate : j === dest[i] ? spec.rate : 0)));
    const out = spec.map ? { ...spec, map: [...spec.map] } : { ...spec };
    return noiseResult(labels, observed, K, out, rng.seed, matrix, spec.rate);
  },
});

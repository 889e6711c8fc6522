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
import { noiseResult, type NoiseModel } from '../types.js';
import { cfgNumber, checkKeys, checkLabels, checkNumber, keyPath, show } from '../util.js';
import { RATE_RANGE } from './symmetric.js';

const KEYS = ['rate', 'map'] as const;

export interface PairflipSpec {
  readonly model: 'pairflip';
  /** Flip probability, in [0, 1). */
  readonly rate: number;
  /** Destination class of each class (length K, map[i] ≠ i); absent means i → i + 1 mod K. */
  readonly map?: readonly number[];
}

export const pairflip: NoiseModel<PairflipSpec> = {
  name: 'pairflip',
  summary: 'each label of class i flips with probability rate to one destination (i+1 mod K, or a given map)',
  keys: KEYS,
  example: { model: 'pairflip', rate: 0.3 },
  needsProbs: false,
  parse(obj, where) {
    checkKeys(obj, ['model', ...KEYS], where);
    const rate = cfgNumber(obj, 'rate', where, RATE_RANGE);
    if (obj.map === undefined) return { model: 'pairflip', rate };
    const name = keyPath(where, 'map');
    const raw: unknown = obj.map;
    if (!Array.isArray(raw) || raw.length < 2) throw new ConfigError(`'${name}' must be a list of destination classes, one per class, got ${show(raw)}`);
    const map = raw.map((d: unknown, i) => checkNumber(`${name}[${i}]`, d, { min: 0, max: raw.length - 1, integer: true }));
    map.forEach((d, i) => {
      if (d === i) throw new ConfigError(`'${name}[${i}]' must differ from ${i} (a pair flip sends each class to another class), got ${d}`);
    });
    return { model: 'pairflip', rate, map };
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
};

/**
 * Helpers shared by the annotation-noise components: checking config values (ConfigError naming
 * the key path, the bad value and what is allowed), checking labels, and the realised transition
 * matrix every noise model reports.
 */
import { ConfigError, DataError } from '../../errors.js';

export { formatRange, show, keyPath, checkNumber, asObject, checkKeys, cfgNumber, type NumberRange } from '../../config-check.js';
import { formatRange, show, keyPath, checkNumber, type NumberRange } from '../../config-check.js';

/** A string at `obj[key]` that must be one of `allowed`. */
export function cfgChoice<T extends string>(obj: Record<string, unknown>, key: string, where: string, allowed: readonly T[], dflt?: T): T {
  const v = obj[key];
  if (v === undefined) {
    if (dflt !== undefined) return dflt;
    throw new ConfigError(`'${keyPath(where, key)}' is required: one of ${allowed.join(', ')}`);
  }
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(`'${keyPath(where, key)}' must be one of ${allowed.join(', ')}, got ${show(v)}`);
  }
  return v as T;
}

/** A list of numbers (each checked against `range`). */
export function cfgNumberList(v: unknown, name: string, range: NumberRange): number[] {
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError(`'${name}' must be a non-empty list of numbers in ${formatRange(range)}, got ${show(v)}`);
  return v.map((x, i) => checkNumber(`${name}[${i}]`, x, range));
}

/**
 * A row-stochastic square matrix: a list of K ≥ 2 rows of K numbers in [0, 1], each row summing to
 * 1 (within 1e-6). Rows are returned renormalised to sum exactly to 1.
 */
export function cfgStochasticMatrix(v: unknown, name: string): number[][] {
  if (!Array.isArray(v) || v.length < 2) throw new ConfigError(`'${name}' must be a square list of at least 2 rows, got ${show(v)}`);
  const k = v.length;
  return v.map((row, i) => {
    if (!Array.isArray(row) || row.length !== k) throw new ConfigError(`'${name}[${i}]' must be a row of ${k} numbers (the matrix is ${k}x${k}), got ${show(row)}`);
    const r = row.map((x, j) => checkNumber(`${name}[${i}][${j}]`, x, { min: 0, max: 1 }));
    const s = r.reduce((a, b) => a + b, 0);
    if (Math.abs(s - 1) > 1e-6) throw new ConfigError(`'${name}[${i}]' must sum to 1 (a row of P(observed | true)), got ${s}`);
    return r.map((x) => x / s);
  });
}

/** Checks the class count and that every label is in [0, K). */
export function checkLabels(labels: Int32Array, numClasses: number, what = 'labels'): void {
  if (!(Number.isInteger(numClasses) && numClasses >= 2)) throw new DataError(`'numClasses' must be an integer in [2, inf), got ${numClasses}`);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!(y >= 0 && y < numClasses)) throw new DataError(`${what}: label ${y} of item ${i} is outside [0, ${numClasses - 1}]`);
  }
}

/** Counts of (true, observed) pairs and their row-normalised form. */
export interface RealisedMatrix {
  /** counts[t][o]: items of true class t observed as o. */
  readonly counts: number[][];
  /** counts with each row divided by its sum (a row of zeros where a class has no items). */
  readonly normalised: number[][];
}

export function realisedMatrix(trueLabels: ArrayLike<number>, observed: ArrayLike<number>, numClasses: number): RealisedMatrix {
  const counts = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < trueLabels.length; i++) {
    const o = observed[i]!;
    if (o >= 0) counts[trueLabels[i]!]![o]! += 1;
  }
  const normalised = counts.map((row) => {
    const s = row.reduce((a, b) => a + b, 0);
    return row.map((c) => (s > 0 ? c / s : 0));
  });
  return { counts, normalised };
}

/** The index picked by a uniform draw `u` ∈ [0, 1) from unnormalised non-negative weights. */
export function pickWeighted(weights: ArrayLike<number>, u: number): number {
  let total = 0;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    total += weights[i]!;
    if (weights[i]! > 0) last = i;
  }
  if (!(total > 0)) throw new RangeError('pickWeighted: weights must have a positive sum');
  let x = u * total;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i]! <= 0) continue;
    x -= weights[i]!;
    if (x < 0) return i;
  }
  return last;
}

/** Deep-copies a matrix. */
export function copyMatrix(m: readonly (readonly number[])[]): number[][] {
  return m.map((r) => [...r]);
}

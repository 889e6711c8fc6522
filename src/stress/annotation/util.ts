/**
 * Helpers shared by the annotation-noise components: checking config values (ConfigError naming
 * the key path, the bad value and what is allowed), checking labels, and the realised transition
 * matrix every noise model reports.
 */
import fs from 'node:fs';
import { DataError } from '../../errors.js';
import { fail, opt, showValue } from '../../options/schema.js';

/** A probability, in [0, 1]. */
export const probability = (doc: string) => opt.number({ doc, min: 0, max: 1 });

const MATRIX_EXPECTED = 'a square list of K >= 2 rows of K numbers in [0, 1], each row summing to 1';

/**
 * A row-stochastic square matrix: a list of K ≥ 2 rows of K numbers in [0, 1], each row summing to
 * 1 (within 1e-6). Rows are returned renormalised to sum exactly to 1.
 */
export function stochasticMatrix<C extends { doc: string; required?: boolean }>(c: C) {
  return opt.custom<number[][], C>(
    MATRIX_EXPECTED,
    (v, p) => {
      if (!Array.isArray(v) || v.length < 2) return fail(p, { code: 'type', value: v, expected: MATRIX_EXPECTED });
      const k = v.length;
      return v.map((row: unknown, i) => {
        const rp = `${p}[${i}]`;
        if (!Array.isArray(row) || row.length !== k) return fail(rp, { code: 'length', value: row, expected: `a row of ${k} numbers (the matrix is ${k}x${k})` });
        const r = row.map((x: unknown, j) => cell.check(x, `${rp}[${j}]`, { where: rp }));
        const s = r.reduce((a, b) => a + b, 0);
        if (Math.abs(s - 1) > 1e-6) fail(rp, { code: 'range', value: row, expected: 'a row summing to 1 (a row of P(observed | true))' }, `'${rp}' must sum to 1 (a row of P(observed | true)), got ${showValue(s)}`);
        return r.map((x) => x / s);
      });
    },
    c,
    jsonText,
  );
}

/** Command-line text of a structured value: inline JSON, or the name of a JSON file. */
export function jsonText(s: string, p: string): unknown {
  const t = s.trim();
  let text = t;
  if (!t.startsWith('{') && !t.startsWith('[')) {
    try {
      text = fs.readFileSync(t, 'utf8');
    } catch {
      return fail(p, { code: 'type', value: s, expected: 'inline JSON or a readable JSON file' });
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    return fail(p, { code: 'type', value: s, expected: `JSON or a JSON file (${(e as Error).message.split('\n')[0]})` });
  }
}
const cell = opt.number({ doc: 'probability', min: 0, max: 1 });

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

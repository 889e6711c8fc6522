/**
 * Class-conditional label noise from a transition matrix P(observed = j | true = i).
 *
 * Either give the matrix (`matrix`: K rows of K numbers in [0, 1], each row summing to 1), or give
 * a target `trace` in (1, K] and a matrix is generated: every diagonal entry is trace / K (so the
 * expected flip rate is 1 − trace / K whatever the class balance), and each row's off-diagonal
 * mass is split with seeded uniform weights, pulled toward the uniform split only as far as
 * needed to keep the true class the most likely observed one (the validity check; a trace above 1
 * always passes). The generated matrix is reported as `expectedMatrix`.
 *
 * Example: `{ model: 'matrix', matrix: [[0.8, 0.2], [0.1, 0.9]] }` or `{ model: 'matrix', trace: 7 }`.
 */
import { ConfigError, DataError } from '../../../errors.js';
import type { Rng } from '../../../rng.js';
import { opt } from '../../../options/schema.js';
import { defineNoiseModel, expectedRateOf, noiseResult } from '../types.js';
import { checkLabels, copyMatrix, pickWeighted, stochasticMatrix } from '../util.js';

export interface MatrixSpec {
  readonly model: 'matrix';
  /** P(observed | true), K×K, rows summing to 1. Exactly one of `matrix` and `trace` is set. */
  readonly matrix?: readonly (readonly number[])[];
  /** Target trace of a generated matrix, in (1, K]. */
  readonly trace?: number;
}

/** Exactly one of the two is given. */
export const MATRIX_OPTIONS = {
  matrix: stochasticMatrix({ doc: 'P(observed | true): K rows of K numbers summing to 1 (inline JSON or a JSON file on the command line)', metavar: 'M' }),
  trace: opt.number({ doc: 'generate a matrix with this trace, in (1, K]', min: 1, minExclusive: true, metavar: 'T' }),
};

/**
 * A K×K transition matrix with diagonal trace / K whose true classes stay the most likely observed
 * ones (see the file comment). Throws a DataError when trace is not in (1, K].
 */
export function matrixFromTrace(trace: number, numClasses: number, rng: Rng): number[][] {
  const K = numClasses;
  if (!(trace > 1 && trace <= K)) throw new DataError(`'trace' must be in (1, ${K}] for ${K} classes (each true class must stay the most likely observed), got ${trace}`);
  const d = trace / K;
  const uniformOff = (1 - d) / (K - 1);
  const m: number[][] = [];
  for (let i = 0; i < K; i++) {
    const w = Array.from({ length: K }, (_, j) => (j === i ? 0 : rng.uniform() + 1e-9));
    const s = w.reduce((a, b) => a + b, 0);
    const off = w.map((x) => ((1 - d) * x) / s);
    const maxOff = Math.max(...off);
    // Pull toward uniform until the largest off-diagonal entry is below d (with a margin).
    const targetMax = d - 0.1 * (d - uniformOff);
    const lambda = maxOff > targetMax ? (maxOff - targetMax) / (maxOff - uniformOff) : 0;
    m.push(off.map((x, j) => (j === i ? d : (1 - lambda) * x + lambda * uniformOff)));
  }
  if (!isDiagonalDominant(m)) throw new DataError(`trace ${trace}: generated matrix fails the validity check (internal error)`);
  return m;
}

/** True when every true class is strictly the most likely observed class of its row. */
export function isDiagonalDominant(m: readonly (readonly number[])[]): boolean {
  return m.every((row, i) => row.every((x, j) => j === i || x < row[i]!));
}

export const matrix = defineNoiseModel<MatrixSpec, typeof MATRIX_OPTIONS>({
  name: 'matrix',
  summary: 'class-conditional flips from a given P(observed|true) matrix, or one generated from a target trace',
  options: MATRIX_OPTIONS,
  example: { model: 'matrix', trace: 7 },
  needsProbs: false,
  check(o, ctx) {
    const hasM = o.matrix !== undefined;
    const hasT = o.trace !== undefined;
    if (hasM === hasT) throw new ConfigError(`'${ctx.where}' must give exactly one of 'matrix' (rows of P(observed | true)) and 'trace' (a number in (1, K]), got ${hasM ? 'both' : 'neither'}`);
  },
  apply(labels: Int32Array, numClasses: number, spec: MatrixSpec, rng: Rng) {
    checkLabels(labels, numClasses);
    const K = numClasses;
    let m: number[][];
    if (spec.matrix) {
      if (spec.matrix.length !== K) throw new ConfigError(`'matrix' is ${spec.matrix.length}x${spec.matrix.length} but the labels have ${K} classes`);
      m = copyMatrix(spec.matrix);
    } else {
      m = matrixFromTrace(spec.trace ?? NaN, K, rng.fork('matrix'));
    }
    const observed = new Int32Array(labels.length);
    for (let i = 0; i < labels.length; i++) observed[i] = pickWeighted(m[labels[i]!]!, rng.uniform());
    const out: MatrixSpec = spec.matrix ? { model: 'matrix', matrix: copyMatrix(spec.matrix) } : { model: 'matrix', trace: spec.trace! };
    return noiseResult(labels, observed, K, out, rng.seed, m, expectedRateOf(labels, m));
  },
});

import type { Model, OutputKind } from '../engine/model.js';
import { toProbabilities } from '../metrics/classification.js';
import { checkRange } from '../errors.js';

/** Class probabilities of `n` items, row-major [n, numClasses], float64. */
export interface ProbabilityTable {
  probs: Float64Array;
  numClasses: number;
  /** What the model outputs (softmax is applied to logits). */
  kind: OutputKind;
}

/**
 * Runs `model` on `n` items packed in `x` in batches of `batchSize` and returns probabilities
 * (softmax of logits in float64; probability outputs passed through).
 */
export async function predictProbabilities(model: Model, x: Float32Array, n: number, batchSize = 256): Promise<ProbabilityTable> {
  checkRange('batchSize', batchSize, { min: 1, integer: true });
  const r = await model.predictItems(x, n, { batchSize });
  return { probs: toProbabilities(r.scores, r.numClasses, r.kind), numClasses: r.numClasses, kind: r.kind };
}

/** Rows `indices` of a row-major [*, width] table, copied. */
export function pickRows<T extends Float64Array | Float32Array | Int32Array>(table: T, width: number, indices: ArrayLike<number>): T {
  const Ctor = table.constructor as new (n: number) => T;
  const out = new Ctor(indices.length * width);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    out.set(table.subarray(i * width, (i + 1) * width), k * width);
  }
  return out;
}

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
  const per = n > 0 ? x.length / n : 0;
  let probs: Float64Array | null = null;
  let numClasses = 0;
  for (let s = 0; s < n; s += batchSize) {
    const m = Math.min(batchSize, n - s);
    const r = await model.predictBatch(x.subarray(s * per, (s + m) * per), m);
    numClasses = r.numClasses;
    probs ??= new Float64Array(n * numClasses);
    probs.set(toProbabilities(r.scores, r.numClasses, model.outputKind ?? 'logits'), s * numClasses);
  }
  return { probs: probs ?? new Float64Array(0), numClasses, kind: model.outputKind ?? 'logits' };
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

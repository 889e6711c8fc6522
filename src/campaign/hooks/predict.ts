/**
 * The predict hook: the model's probabilities on the inputs the stresses produced (the clean
 * predictions for a cell without input stress). Computed once per input set.
 */
import { DataError } from '../../errors.js';
import type { Classifier } from '../../engine/classifier.js';
import { toProbabilities } from '../../metrics/classification.js';
import { inputKey, type CellHook } from './hook.js';

export const predictHook: CellHook<'inputs' | 'x', 'probs' | 'batchMs'> = {
  name: 'predict',
  applies: () => true,
  async run(state, cell, ctx) {
    if (!cell.drift && !cell.adversarial) return { probs: ctx.clean.probs, batchMs: ctx.clean.batchMs };
    const key = inputKey(cell);
    let p = ctx.caches.predictions.get(key);
    if (!p) {
      const r = await predictAll(ctx.model, state.x, state.inputs.size, state.inputs.itemShape, ctx.options.batchSize, ctx.counters);
      p = { probs: toProbabilities(r.scores, ctx.numClasses, r.kind), batchMs: r.batchMs };
      ctx.caches.predictions.set(key, p);
    }
    return { probs: p.probs, batchMs: p.batchMs };
  },
};

/** The model's scores on `n` items, counting the batches. */
export async function predictAll(model: Classifier, x: Float32Array, n: number, itemShape: readonly number[], batchSize: number, counters: { forwardBatches: number }) {
  const per = itemShape.reduce((a, b) => a * b, 1);
  if (x.length !== n * per) throw new DataError(`internal: ${x.length} values for ${n} items of shape [${itemShape.join(', ')}]`);
  const r = await model.predictItems(x, n, { batchSize });
  counters.forwardBatches += r.batchMs.length;
  return r;
}

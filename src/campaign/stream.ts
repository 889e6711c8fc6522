/**
 * Streamed cell inputs: a cell whose inputs a corruption and/or an attack changed computes them
 * chunk by chunk — corrupt the chunk, attack it, predict it, keep its probabilities and the gallery's
 * few items — and forgets each chunk before the next, so a run holds no whole drifted or attacked
 * set (memory flat in the number of items, apart from the clean data, the bootstrap weights and
 * the per-item probabilities the metrics need). The results are those of the whole-set hooks
 * (drift.ts, adversarial.ts, predict.ts), byte for byte: the corruption's generator is carried from
 * chunk to chunk (a corruption draws image after image, so the draws come in the same order), each
 * attacked sample draws from its own stream named by its index in the whole set
 * (stress/adversarial/chunked.ts), and predictions are row by row. What a chunk changes is the
 * accounting: ORT batch counts and times (a chunk ends with a partial batch).
 *
 * Streamed: cells with a corruption and/or an attack, on a config without `explain:` and whose
 * `uncertainty:` (if any) has no ensemble members or MC dropout (those re-run models on the cell's
 * whole inputs). Not streamed (whole-set hooks, as before): shifts (a resampling or value-changing
 * shift looks at the whole set), and the two sections named above.
 */
import { makeDataset } from '../data/dataset.js';
import { toProbabilities } from '../metrics/classification.js';
import { runAttackChunked } from '../stress/adversarial/chunked.js';
import { applyDrift } from '../stress/drift/index.js';
import type { Rng } from '../rng.js';
import { galleryPositions } from './gallery.js';
import { inputKey, type CellContext, type CellState, type StreamedInputs } from './hooks/hook.js';

export type { StreamedInputs } from './hooks/hook.js';
import { predictAll } from './hooks/predict.js';
import type { CellPlan } from './plan.js';

/** Whether a cell's inputs are computed chunk by chunk (see the module comment). */
export function streamable(cell: CellPlan, ctx: CellContext): boolean {
  if (!(ctx.options.chunkItems > 0)) return false;
  if (!cell.drift && !cell.adversarial) return false;
  if (cell.drift && !('corruption' in cell.drift.spec)) return false;
  if (ctx.options.explain) return false;
  // A text model's attack runs in embedding space, projected to tokens (hooks/adversarial.ts), whole.
  if (ctx.embedding) return false;
  const u = ctx.uncertainty;
  return !u || (u.members.length === 0 && !u.mcDropout);
}

/**
 * The cell's inputs (drift, then attack, then predict) chunk by chunk: computed once per input set
 * (drift key | attack key) and shared by the cells on it, as the whole-set caches are.
 */
export async function streamInputs(state: Pick<CellState, 'labels'>, cell: CellPlan, ctx: CellContext): Promise<StreamedInputs> {
  const key = inputKey(cell);
  let s = ctx.caches.streamed.get(key);
  if (!s) {
    s = await computeStreamed(state.labels, cell, ctx);
    ctx.caches.streamed.set(key, s);
  }
  return s;
}

async function computeStreamed(labels: Int32Array, cell: CellPlan, ctx: CellContext): Promise<StreamedInputs> {
  const ds = ctx.data;
  const n = ds.size;
  const K = ctx.numClasses;
  const per = ds.itemShape.reduce((a, b) => a * b, 1);
  const chunkItems = ctx.options.chunkItems;
  const probs = new Float64Array(n * K);
  const batchMs: number[] = [];
  const positions = galleryPositions(ctx.labels);
  const kept = new Float32Array(positions.length * per);
  const details: Record<string, unknown> = {};

  // Drift: one generator for the whole set, carried from chunk to chunk.
  const drift = cell.drift;
  const driftRng: Rng | null = drift ? ctx.rng.fork(`drift|${drift.key}`) : null;
  const read = (start: number, end: number): Float32Array => {
    const clean = ds.x.subarray(start * per, end * per);
    if (!drift) return clean;
    const r = applyDrift(makeDataset({ name: ds.name, itemShape: ds.itemShape, x: clean }), drift.spec, driftRng!, { immutable: ctx.tabular.immutable });
    details.drift ??= { description: r.description };
    return r.dataset.x;
  };
  // The stressed chunk: its predictions, and the gallery items it holds.
  const take = async (start: number, x: Float32Array): Promise<void> => {
    const m = x.length / per;
    const r = await predictAll(ctx.model, x, m, ds.itemShape, ctx.options.batchSize, ctx.counters);
    probs.set(toProbabilities(r.scores, K, r.kind), start * K);
    batchMs.push(...r.batchMs);
    positions.forEach((p, j) => {
      if (p >= start && p < start + m) kept.set(x.subarray((p - start) * per, (p - start + 1) * per), j * per);
    });
  };

  if (cell.adversarial) {
    const adv = cell.adversarial;
    const r = await runAttackChunked(ctx.model, n, labels, adv.spec, ctx.rng.fork(`adversarial|${adv.key}|${drift?.key ?? ''}`), {
      batchSize: ctx.options.batchSize,
      constraints: ctx.tabular.constraints,
      itemShape: ds.itemShape,
      featureStd: ctx.tabular.std,
    }, { chunkItems, read, write: take });
    ctx.counters.gradientBatches += r.gradientBatches ?? 0;
    ctx.counters.forwardBatches += r.forwardBatches ?? 0;
    details.adversarial = r.summary;
  } else {
    for (let start = 0; start < n; start += chunkItems) await take(start, read(start, Math.min(n, start + chunkItems)));
  }
  return { probs, batchMs, details, kept: { positions, x: kept } };
}

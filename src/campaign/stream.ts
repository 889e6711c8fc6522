/**
 * Streamed cell inputs: a cell whose inputs a corruption and/or an attack changed computes them
 * chunk by chunk — corrupt the chunk, attack it, predict it, keep its probabilities and the gallery's
 * few items — and forgets each chunk before the next, so a run holds no whole drifted or attacked
 * set (memory flat in the number of items, apart from the bootstrap weights and the per-item
 * probabilities the metrics need; the clean inputs themselves are read from the file chunk by chunk
 * when the run does not hold them, ./source.ts). The results are those of the whole-set hooks
 * (drift.ts, adversarial.ts, predict.ts), byte for byte: the corruption's generator is carried from
 * chunk to chunk (a corruption draws image after image, so the draws come in the same order), each
 * attacked sample draws from its own stream named by its index in the whole set
 * (stress/adversarial/chunked.ts), and predictions are row by row. What a chunk changes is the
 * accounting: ORT batch counts and times (a chunk ends with a partial batch).
 *
 * A shift goes the same way in two passes (stress/drift/shift/common.ts `ShiftPass`): a first pass
 * over the clean chunks gathers what it needs of the whole set (per-feature statistics, the
 * condition's column; labels are held), then its draws pick the items (resampling shifts: the
 * clean item of each cell item, ascending) and the chunks are shifted, attacked and predicted as a
 * corruption's are. A reweighting shift is refused as the whole-set hook refuses it.
 *
 * Streamed: cells with a drift (corruption or shift) and/or an attack, on a config without
 * `explain:` and whose `uncertainty:` (if any) has no ensemble members or MC dropout (those re-run
 * models on the cell's whole inputs). Not streamed (whole-set hooks, as before): the two sections
 * named above.
 */
import { makeDataset } from '../data/dataset.js';
import { ConfigError } from '../errors.js';
import { toProbabilities } from '../metrics/classification.js';
import { runAttackChunked } from '../stress/adversarial/chunked.js';
import { applyDrift, startShift, type ShiftStream } from '../stress/drift/index.js';
import type { Rng } from '../rng.js';
import { galleryPositions } from './gallery.js';
import { memoryCursor, type CleanCursor } from './source.js';
import { inputKey, type CellContext, type CellState, type StreamedInputs } from './hooks/hook.js';

export type { StreamedInputs } from './hooks/hook.js';
import { predictAll } from './hooks/predict.js';
import type { CellPlan } from './plan.js';

/** Whether a cell's inputs are computed chunk by chunk (see the module comment). */
export function streamable(cell: CellPlan, ctx: CellContext): boolean {
  if (!(ctx.options.chunkItems > 0)) return false;
  if (!cell.drift && !cell.adversarial) return false;
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

async function computeStreamed(cleanLabels: Int32Array, cell: CellPlan, ctx: CellContext): Promise<StreamedInputs> {
  const ds = ctx.data;
  const K = ctx.numClasses;
  const per = ds.itemShape.reduce((a, b) => a * b, 1);
  const chunkItems = ctx.options.chunkItems;
  // The clean inputs, read in order (from the file when the run does not hold them: ./source.ts).
  const cursor = (): CleanCursor => (ctx.source ? ctx.source.cursor() : memoryCursor(ds));
  const details: Record<string, unknown> = {};

  // Drift: one generator for the whole set, carried from chunk to chunk.
  const drift = cell.drift;
  const driftRng: Rng | null = drift ? ctx.rng.fork(`drift|${drift.key}`) : null;
  // A shift: its first pass over the clean chunks, then the draws that pick its items.
  let shift: ShiftStream | null = null;
  if (drift && 'shift' in drift.spec) {
    const pass = startShift(ds, drift.spec, { immutable: ctx.tabular.immutable });
    if (pass.needsInputs) {
      const first = cursor();
      for (let s = 0; s < ds.size; s += chunkItems) pass.update(await first.read(s, Math.min(ds.size, s + chunkItems)));
      await first.close();
    }
    shift = pass.finish(driftRng!);
    if (shift.weights) throw new ConfigError(`${drift.label}: reweighting shifts are not supported in campaigns (metrics are per item); use mode: resample`);
    details.drift = null; // filled in after the last chunk (a shift's description counts what it did)
  }
  const indices = shift?.indices ?? null;
  const n = shift ? shift.size : ds.size;
  const labels = indices ? Int32Array.from(indices, (i) => cleanLabels[i]!) : cleanLabels;
  const probs = new Float64Array(n * K);
  const batchMs: number[] = [];
  const positions = galleryPositions(labels);
  const kept = new Float32Array(positions.length * per);
  const keptClean = new Float32Array(kept.length);
  const gallery = (into: Float32Array, start: number, x: Float32Array): void => {
    const m = x.length / per;
    positions.forEach((p, j) => {
      if (p >= start && p < start + m) into.set(x.subarray((p - start) * per, (p - start + 1) * per), j * per);
    });
  };

  // The clean values of the cell's items [start, end): the clean chunk, or for a resampling shift
  // copies of the clean items it picked (ascending, so the file is still read in order), read at
  // most a chunk of clean items at a time (a sparse pick spans many more clean items than it keeps).
  const items = cursor();
  const cleanItems = async (start: number, end: number): Promise<Float32Array> => {
    if (!indices) return items.read(start, end);
    const x = new Float32Array((end - start) * per);
    for (let t = start; t < end; ) {
      const lo = indices[t]!;
      const hi = Math.min(indices[end - 1]! + 1, lo + chunkItems);
      const src = await items.read(lo, hi);
      for (; t < end && indices[t]! < hi; t++) x.set(src.subarray((indices[t]! - lo) * per, (indices[t]! - lo + 1) * per), (t - start) * per);
    }
    return x;
  };
  // The cell's items [start, end) as drifted (value shifts and corruptions map the clean chunk in
  // order; a resampling shift changes no value).
  const read = async (start: number, end: number): Promise<Float32Array> => {
    const clean = await cleanItems(start, end);
    gallery(keptClean, start, clean);
    if (!drift || indices) return clean;
    if (shift) return shift.map(clean, start);
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
    gallery(kept, start, x);
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
    for (let start = 0; start < n; start += chunkItems) await take(start, await read(start, Math.min(n, start + chunkItems)));
  }
  await items.close();
  if (shift) details.drift = { description: shift.description() };
  return { probs, batchMs, details, indices, kept: { positions, x: kept, clean: keptClean } };
}

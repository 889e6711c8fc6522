/**
 * Plumbing shared by the attribution methods: argument checks, item geometry, target resolution,
 * and the two batched evaluators every method is written on — target-score gradients through the
 * gradient engine (fixed batch size, one backward graph per call) and target scores through
 * `predictBatch` (model-agnostic).
 */
import { GradientEngine } from '../autodiff/gradient.js';
import type { Model } from '../engine/model.js';
import { checkRange, UsageError } from '../errors.js';
import { argmaxRows } from '../metrics/classification.js';
import type { CommonOptions, TargetSpec } from './types.js';

/** Layout of one item: an NCHW image (`c, h, w`) or a flat vector of `size` values. */
export interface Geometry {
  readonly size: number;
  readonly image: { c: number; h: number; w: number } | null;
}

/** Default points per gradient run and per forward run. */
export const GRADIENT_BATCH = 32;
export const FORWARD_BATCH = 256;

/** Checks (x, n) against the model and returns the item geometry. */
export function geometry(model: Model, x: Float32Array, n: number): Geometry {
  if (!(Number.isInteger(n) && n >= 1)) throw new UsageError(`'n' must be an integer >= 1, got ${n}`);
  if (x.length % n !== 0 || x.length === 0) throw new UsageError(`'x' has ${x.length} values, not a whole number of ${n} items`);
  const size = x.length / n;
  const shape = model.itemShape;
  if (shape && shape.every((d): d is number => typeof d === 'number')) {
    const expect = shape.reduce((a, b) => a * b, 1);
    if (expect !== size) throw new UsageError(`'x' items have ${size} values but ${model.label} expects [${shape.join(', ')}] (${expect})`);
    if (shape.length === 3) return { size, image: { c: shape[0]!, h: shape[1]!, w: shape[2]! } };
  }
  return { size, image: null };
}

/** Checks one target class per item, each in [0, numClasses). */
export function checkTargets(targets: Int32Array, n: number, numClasses: number): void {
  if (targets.length !== n) throw new UsageError(`'targets' must have one class per item (${n}), got ${targets.length}`);
  for (let i = 0; i < n; i++) {
    const t = targets[i]!;
    if (!(t >= 0 && t < numClasses)) throw new UsageError(`'targets[${i}]' must be a class in [0, ${numClasses - 1}], got ${t}`);
  }
}

/** The data domain's [low, high]. */
export function bounds(model: Model): [number, number] {
  return model.decl.bounds;
}

/** Score of class `k` from a row of raw outputs: the logit, or log-probability for probability outputs. */
export function targetScore(model: Model, scores: Float32Array, numClasses: number, item: number, k: number): number {
  const v = scores[item * numClasses + k]!;
  return model.outputKind === 'probabilities' ? Math.log(Math.max(v, 1e-12)) : v;
}

/**
 * Resolves a target spec to one class per item: `'true'` needs labels, `'pred'` runs the model,
 * a number k is checked against the class count.
 */
export async function resolveTargets(model: Model, x: Float32Array, n: number, target: TargetSpec, labels: ArrayLike<number> | null, batchSize = FORWARD_BATCH): Promise<Int32Array> {
  geometry(model, x, n);
  if (target === 'true') {
    if (!labels) throw new UsageError(`target 'true' needs labels; the data has none (use 'pred' or a class number)`);
    if (labels.length < n) throw new UsageError(`'labels' must have one label per item (${n}), got ${labels.length}`);
    const t = Int32Array.from({ length: n }, (_, i) => labels[i]!);
    const k = (await model.predictBatch(x.subarray(0, x.length / n), 1)).numClasses;
    checkTargets(t, n, k);
    return t;
  }
  if (target === 'pred') {
    const { scores, numClasses } = await predictAll(model, x, n, batchSize);
    return argmaxRows(scores, numClasses);
  }
  if (!(Number.isInteger(target) && target >= 0)) throw new UsageError(`'target' must be 'true', 'pred' or a class number >= 0, got ${String(target)}`);
  const k = (await model.predictBatch(x.subarray(0, x.length / n), 1)).numClasses;
  if (target >= k) throw new UsageError(`'target' must be 'true', 'pred' or a class in [0, ${k - 1}], got ${target}`);
  return new Int32Array(n).fill(target);
}

/** Predicts `n` items in chunks of `batchSize`. */
export async function predictAll(model: Model, x: Float32Array, n: number, batchSize = FORWARD_BATCH): Promise<{ scores: Float32Array; numClasses: number }> {
  return model.predictItems(x, n, { batchSize });
}

/** The fixed gradient batch size for a call: the model's fixed batch, else `opts.batchSize`, else 32. */
export function gradientBatch(model: Model, opts: CommonOptions): number {
  if (model.fixedBatch !== null) return model.fixedBatch;
  return opts.batchSize === undefined ? GRADIENT_BATCH : checkRange('batchSize', opts.batchSize, { min: 1, max: 65536, integer: true });
}

/** Runs `fn` with the caller's logit-gradient engine, or a temporary one released afterwards. */
export async function withEngine<T>(model: Model, opts: CommonOptions, fn: (engine: GradientEngine) => Promise<T>): Promise<T> {
  if (opts.engine) {
    if (opts.engine.model !== model) throw new UsageError(`'engine' was built for ${opts.engine.model.label}, not for ${model.label}`);
    if (opts.engine.loss.kind !== 'logit' || opts.engine.loss.targeted) throw new UsageError(`'engine' must use the untargeted 'logit' loss, got '${opts.engine.loss.kind}'`);
    return fn(opts.engine);
  }
  const engine = new GradientEngine(model, { kind: 'logit' });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

/**
 * Evaluates ∂f_t/∂x at `total` points, in fixed batches of `batch` (the tail zero-padded, so one
 * backward graph serves every run). `fill(j, dst)` writes point j into `dst` (length `size`) and
 * returns its class; `take(j, grad, score)` receives the gradient (a view, valid during the call)
 * and the target score at point j.
 */
export async function gradientPoints(
  engine: GradientEngine,
  size: number,
  total: number,
  batch: number,
  fill: (j: number, dst: Float32Array) => number,
  take: (j: number, grad: Float32Array, score: number) => void,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const buf = new Float32Array(batch * size);
  const labels = new Int32Array(batch);
  for (let s = 0; s < total; s += batch) {
    const m = Math.min(batch, total - s);
    if (m < batch) {
      buf.fill(0, m * size);
      labels.fill(0, m);
    }
    for (let b = 0; b < m; b++) labels[b] = fill(s + b, buf.subarray(b * size, (b + 1) * size));
    const r = await engine.run(buf, batch, labels);
    for (let b = 0; b < m; b++) take(s + b, r.grad.subarray(b * size, (b + 1) * size), r.loss[b]!);
    onProgress?.(s + m, total);
  }
}

/**
 * Evaluates the target score at `total` points through `predictBatch` only (model-agnostic), in
 * chunks of `batch`. `fill(j, dst)` writes point j and returns its class; returns scores [total].
 */
/**
 * ∂f_t/∂x at each item itself (targets checked first), handed to `take(i, grad)` item by item:
 * the shared core of saliency and gradient × input.
 */
export async function inputGradients(model: Model, x: Float32Array, n: number, targets: Int32Array, opts: CommonOptions, take: (i: number, grad: Float32Array) => void): Promise<void> {
  const { size } = geometry(model, x, n);
  checkTargets(targets, n, await classCount(model, x, size));
  await withEngine(model, opts, (engine) =>
    gradientPoints(engine, size, n, gradientBatch(model, opts), (i, dst) => (dst.set(x.subarray(i * size, (i + 1) * size)), targets[i]!), take, opts.onProgress),
  );
}

export async function scorePoints(
  model: Model,
  size: number,
  total: number,
  batch: number,
  fill: (j: number, dst: Float32Array) => number,
  onProgress?: (done: number, total: number) => void,
): Promise<Float64Array> {
  const out = new Float64Array(total);
  const buf = new Float32Array(Math.min(batch, total) * size);
  const cls = new Int32Array(Math.min(batch, total));
  for (let s = 0; s < total; s += batch) {
    const m = Math.min(batch, total - s);
    for (let b = 0; b < m; b++) cls[b] = fill(s + b, buf.subarray(b * size, (b + 1) * size));
    const r = await model.predictBatch(buf.subarray(0, m * size), m);
    for (let b = 0; b < m; b++) out[s + b] = targetScore(model, r.scores, r.numClasses, b, cls[b]!);
    onProgress?.(s + m, total);
  }
  return out;
}

/** The batch size for model-agnostic methods. */
export function forwardBatch(opts: CommonOptions): number {
  return opts.batchSize === undefined ? FORWARD_BATCH : checkRange('batchSize', opts.batchSize, { min: 1, max: 65536, integer: true });
}

/** Class count of the model (one forward run on the first item; cheap). */
export async function classCount(model: Model, x: Float32Array, size: number): Promise<number> {
  return (await model.predictBatch(x.subarray(0, size), 1)).numClasses;
}

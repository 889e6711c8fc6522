/**
 * `train()`: trains a model's parameters on labelled data with ONNX Runtime doing the arithmetic.
 * Each step is one `run()` of the training graph (forward in PyTorch's train mode + batch-mean
 * cross-entropy + backward to every trainable parameter, `buildTrainingGraph`), then the
 * optimizer's update over Float32Arrays (`optim.ts`: a few flops per weight, ~1 ms for the
 * default CNN, against tens of ms for the run).
 *
 * Semantics, as PyTorch's usual loop (`for x, y in DataLoader(shuffle, drop_last=False)`):
 * - every epoch visits every item once, in a seeded permutation (`rng.fork('shuffle:<epoch>')`;
 *   data order with `shuffle: false`), in batches of `batch_size`; the last, smaller batch is a
 *   step of its own (a second graph built for its size), so BatchNorm sees only real items;
 * - loss = batch mean; lr per step from the schedule; clip_grad_norm_ before the update;
 * - BatchNorm running statistics updated each step and written back; Dropout masks from
 *   `rng.fork('dropout:<epoch>')`.
 * Every random draw is a fork of the recipe's seed named by epoch, so the generator's state at an
 * epoch boundary is the epoch number: an epoch checkpoint (weights, BatchNorm statistics,
 * optimizer state, history) lets a killed run resume to the same bytes. Same seed and threads,
 * same bytes. Memory: the data once, plus one batch buffer and the model's tensors.
 *
 * The result is the model as given (same graph, names and preprocessing) with new initializer
 * values and metadata_props `gauntlet.train.*` (recipe, parent sha256, data sha256, seed).
 */
import ort from 'onnxruntime-node';
import { datasetHash, itemSize, requireLabels, type Dataset } from '../data/dataset.js';
import { readNpz, saveNpz } from '../data/npz.js';
import { readDataFile } from '../data/util.js';
import { foldPreprocessing, type ModelDeclaration, type ResolvedDeclaration } from '../engine/declaration.js';
import { Model } from '../engine/model.js';
import { createSession } from '../engine/session.js';
import { DataError, ModelError, UsageError } from '../errors.js';
import { argmaxAt, classificationMetrics, toProbabilities } from '../metrics/classification.js';
import { makeValueInfo } from '../onnx/graph.js';
import { cloneModel, DataType, encodeModel, num, type ModelP } from '../onnx/proto.js';
import { decodeTensor, makeTensor } from '../onnx/tensor.js';
import { Rng } from '../rng.js';
import { createHash } from 'node:crypto';
import { buildTrainingGraph, dropoutMask, matchParams, runTrainingGraph, trainableParams, type TrainingGraph } from './graph.js';
import { reinitModel } from './init.js';
import { clipGradNorm, makeOptimizer, type OptimizerState } from './optim.js';
import { optimizerSpec, parseRecipe, recipeToYaml, scheduleSpec, type Recipe } from './recipe.js';
import { makeSchedule } from './schedule.js';

/** One epoch of history (one line of OUT.train.jsonl). */
export interface EpochRecord {
  epoch: number;
  steps: number;
  /** Mean per-item training loss over the epoch (train mode, as the steps saw it). */
  loss: number;
  /** Accuracy of the steps' own predictions over the epoch (train mode). */
  train_accuracy: number;
  val_accuracy: number | null;
  /** Mean cross-entropy on the validation data (inference mode). */
  val_loss: number | null;
  /** lr of the epoch's last step. */
  lr: number;
  seconds: number;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
}

export interface TrainOptions {
  /** Validation data, evaluated after every epoch in inference mode. */
  val?: Dataset;
  onProgress?: (p: TrainProgress) => void;
  /** Stops between steps with the signal's reason (an AbortError). */
  signal?: AbortSignal;
  /** ORT intra-op threads (0 = all cores). */
  threads?: number;
  /** Epoch checkpoint file (written atomically after each epoch). */
  checkpoint?: string;
  /** Continue from `checkpoint` when it exists and matches this run. */
  resume?: boolean;
}

export interface TrainResult {
  /** The trained model (the given graph, new weights and BatchNorm statistics, metadata). */
  model: ModelP;
  history: EpochRecord[];
  /** Optimizer steps over the whole run (resumed epochs included). */
  steps: number;
  /** Seconds of the epochs this call ran. */
  seconds: number;
  params: string[];
  recipe: Recipe;
}

const META = { recipe: 'gauntlet.train.recipe', parent: 'gauntlet.train.parent_sha256', data: 'gauntlet.train.data_sha256', seed: 'gauntlet.train.seed' } as const;

/** Trains `model` on `data` by `recipe` (YAML-shaped, checked here). See the module comment. */
export async function train(model: Model, data: Dataset, recipeRaw: unknown, opts: TrainOptions = {}): Promise<TrainResult> {
  const recipe = parseRecipe(recipeRaw ?? {});
  const labels = requireLabels(data, 'training');
  const n = data.size;
  const B = recipe.batchSize;
  if (B > n) throw new UsageError(`'batch_size' ${B} is larger than the training data (${n} items)`);
  model.checkData(data);
  const per = itemSize(data);
  const first = await model.predictBatch(data.x.subarray(0, per), 1);
  const k = first.numClasses;
  model.checkData(data, k);
  if (opts.val) {
    requireLabels(opts.val, 'validation');
    model.checkData(opts.val, k);
  }
  const decl = model.decl;
  const outputKind = model.outputKind ?? 'logits';
  const all = trainableParams(model.prepared, decl.outputName);
  if (all.length === 0) throw new ModelError(`${model.label}: no trainable parameter on the path to output '${decl.outputName}'`);
  const params = matchParams(all, { freeze: recipe.freeze, trainOnly: recipe.trainOnly });
  const start = recipe.init === 'reinit' ? reinitModel(model.original, params, recipe.seed) : model.original;
  const prepared = foldPreprocessing(start, decl);

  const dataSha = datasetHash(data);
  const fingerprint = createHash('sha256').update(JSON.stringify({ recipe: recipeToYaml(recipe), model: model.sha256, data: dataSha, params })).digest('hex');
  const stepsPerEpoch = Math.ceil(n / B);
  const sched = scheduleSpec(recipe);
  const schedule = makeSchedule(sched.spec, optimizerSpec(recipe).lr, { epochs: recipe.epochs, stepsPerEpoch, warmupEpochs: sched.warmupEpochs });
  const optimizer = makeOptimizer(optimizerSpec(recipe));
  const values = initialValues(prepared, params);
  const graphs = new Map<number, Promise<{ tg: TrainingGraph; session: ort.InferenceSession }>>();
  const graphFor = (size: number) => {
    let g = graphs.get(size);
    if (!g) {
      g = (async () => {
        const tg = await buildTrainingGraph(prepared, { input: decl.inputName, output: decl.outputName, outputKind, params, trainMode: true, freezeBn: recipe.freezeBn, batch: size, itemShape: [...data.itemShape], label: model.label });
        feedRunningStats(tg);
        for (const r of tg.outputs.bnRunning) for (const s of [r.meanInit, r.varInit]) if (!values.has(s)) values.set(s, initialValues(prepared, [s]).get(s)!);
        return { tg, session: await createSession(tg.model, model.label, { threads: opts.threads ?? 0, memPattern: false }) };
      })();
      graphs.set(size, g);
    }
    return g;
  };

  let history: EpochRecord[] = [];
  let startEpoch = 0;
  if (opts.resume && opts.checkpoint) {
    const ck = await readCheckpoint(opts.checkpoint);
    if (ck) {
      if (ck.fingerprint !== fingerprint) throw new UsageError(`${opts.checkpoint}: checkpoint is of another run (recipe, model, data or parameters differ); delete it or drop --resume`);
      for (const [name, v] of ck.values) values.set(name, v);
      optimizer.load(ck.optimizer);
      history = ck.history;
      startEpoch = ck.epoch;
    }
  }

  const t0 = performance.now();
  const xBuf = new Map<number, Float32Array>();
  const smooth = recipe.loss.name === 'label_smoothing' ? (recipe.loss as { eps: number }).eps : 0;
  try {
    for (let epoch = startEpoch; epoch < recipe.epochs; epoch++) {
      const e0 = performance.now();
      const root = new Rng(recipe.seed);
      const order = recipe.shuffle ? root.fork(`shuffle:${epoch}`).permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
      const dropRng = root.fork(`dropout:${epoch}`);
      let lossSum = 0;
      let correct = 0;
      let lr = 0;
      for (let s = 0; s < stepsPerEpoch; s++) {
        opts.signal?.throwIfAborted();
        const lo = s * B;
        const size = Math.min(B, n - lo);
        const { tg, session } = await graphFor(size);
        let x = xBuf.get(size);
        if (!x) xBuf.set(size, (x = new Float32Array(size * per)));
        const targets = new Float32Array(size * k).fill(smooth / k);
        for (let i = 0; i < size; i++) {
          const idx = order[lo + i]!;
          x.set(data.x.subarray(idx * per, (idx + 1) * per), i * per);
          targets[i * k + labels[idx]!]! += 1 - smooth;
        }
        const masks = tg.feeds.dropout.map((d) => dropoutMask(dropRng, d.shape, d.p));
        const r = await runTrainingGraph(session, tg, { x, targets, params: values, dropoutMasks: masks });
        if (!Number.isFinite(r.loss)) throw new ModelError(`${model.label}: training loss is ${r.loss} at epoch ${epoch + 1} step ${s + 1} (lr too large?)`);
        const place = { step: epoch * stepsPerEpoch + s, epoch };
        lr = schedule.lr(place);
        if (recipe.clipGradNorm !== null) clipGradNorm(r.grads, recipe.clipGradNorm);
        optimizer.step(values, r.grads, lr, schedule.momentum(place));
        tg.outputs.bnRunning.forEach((b, i) => {
          values.set(b.meanInit, Float32Array.from(r.bnRunning[i]!.mean));
          values.set(b.varInit, Float32Array.from(r.bnRunning[i]!.var));
        });
        lossSum += r.loss * size;
        for (let i = 0; i < size; i++) if (argmaxAt(r.scores, i * k, k) === labels[order[lo + i]!]) correct++;
        opts.onProgress?.({ epoch: epoch + 1, epochs: recipe.epochs, step: s + 1, stepsPerEpoch, loss: r.loss });
      }
      let valAccuracy: number | null = null;
      let valLoss: number | null = null;
      if (opts.val) {
        const vm = await Model.fromProto(writeBack(start, values, {}), `${model.label} (epoch ${epoch + 1})`, '', { ...declarationOf(decl), output: outputKind, threads: opts.threads ?? 0 });
        try {
          const p = await vm.predict(opts.val, { batchSize: 256 });
          const m = classificationMetrics(toProbabilities(p.scores, p.numClasses, p.kind), p.numClasses, opts.val.labels!);
          valAccuracy = m.accuracy;
          valLoss = m.nll;
        } finally {
          await vm.close();
        }
      }
      history.push({ epoch: epoch + 1, steps: stepsPerEpoch, loss: lossSum / n, train_accuracy: correct / n, val_accuracy: valAccuracy, val_loss: valLoss, lr, seconds: (performance.now() - e0) / 1000 });
      if (opts.checkpoint) await writeCheckpoint(opts.checkpoint, { fingerprint, epoch: epoch + 1, values, optimizer: optimizer.state(), history });
    }
  } finally {
    for (const g of graphs.values()) await (await g).session.release();
  }
  const meta = { [META.recipe]: JSON.stringify(recipeToYaml(recipe)), [META.parent]: model.sha256, [META.data]: dataSha, [META.seed]: String(recipe.seed) };
  return { model: writeBack(start, values, meta), history, steps: recipe.epochs * stepsPerEpoch, seconds: (performance.now() - t0) / 1000, params, recipe };
}

/** The declaration that resolves to `d` again (for evaluating the model being trained). */
function declarationOf(d: ResolvedDeclaration): ModelDeclaration {
  const pre = d.preprocess ? { scale: d.preprocess.scale, ...(d.preprocess.mean ? { mean: d.preprocess.mean } : {}), ...(d.preprocess.std ? { std: d.preprocess.std } : {}) } : undefined;
  return { ...(d.layout !== 'flat' ? { layout: d.layout } : {}), bounds: d.bounds, ...(pre ? { preprocess: pre } : {}), inputName: d.inputName, outputName: d.outputName };
}

/**
 * Trainable parameters are inputs of the training graph; BatchNorm running statistics must be
 * too, so that each step's update starts from the previous step's values (an initializer would
 * restart from the model's own every step).
 */
function feedRunningStats(tg: TrainingGraph): void {
  const g = tg.model.graph;
  const stats = new Set(tg.outputs.bnRunning.flatMap((r) => [r.meanInit, r.varInit]));
  const moved = g.initializer.filter((t) => stats.has(t.name ?? ''));
  g.initializer = g.initializer.filter((t) => !stats.has(t.name ?? ''));
  for (const t of moved) if (!g.input.some((i) => i.name === t.name)) g.input.push(makeValueInfo(t.name!, DataType.FLOAT, (t.dims ?? []).map(num)));
  for (const t of moved) tg.feeds.params.set(t.name!, t.name!);
}

function initialValues(m: ModelP, names: readonly string[]): Map<string, Float32Array> {
  const inits = new Map(m.graph.initializer.map((t) => [t.name ?? '', t]));
  return new Map(names.map((p) => {
    const t = inits.get(p);
    if (!t) throw new ModelError(`no initializer named '${p}'`);
    return [p, Float32Array.from(decodeTensor(t).data as Float32Array)];
  }));
}

/** `base` with the given initializers replaced (same names, dims, order) and metadata set. */
function writeBack(base: ModelP, values: ReadonlyMap<string, Float32Array>, meta: Record<string, string>): ModelP {
  const m = cloneModel(base);
  m.graph.initializer = m.graph.initializer.map((t) => {
    const v = values.get(t.name ?? '');
    return v ? makeTensor(t.name!, (t.dims ?? []).map(num), Float32Array.from(v)) : t;
  });
  const keys = new Set(Object.keys(meta));
  m.metadata_props = [...(m.metadata_props ?? []).filter((p) => !keys.has(p.key)), ...Object.entries(meta).map(([key, value]) => ({ key, value }))];
  return m;
}

/** The bytes OUT.onnx holds. */
export function modelBytes(m: ModelP): Uint8Array {
  return encodeModel(m);
}

interface Checkpoint {
  fingerprint: string;
  epoch: number;
  values: Map<string, Float32Array>;
  optimizer: OptimizerState;
  history: EpochRecord[];
}

async function writeCheckpoint(file: string, c: Checkpoint): Promise<void> {
  const arrays: Record<string, { dtype: string; shape: number[]; data: Float32Array | string[] }> = {};
  const names = [...c.values.keys()];
  names.forEach((name, i) => (arrays[`v${i}`] = { dtype: '<f4', shape: [c.values.get(name)!.length], data: c.values.get(name)! }));
  const bufNames = Object.keys(c.optimizer.buffers);
  bufNames.forEach((name, i) => c.optimizer.buffers[name]!.forEach((b, j) => (arrays[`o${i}_${j}`] = { dtype: '<f4', shape: [b.length], data: b })));
  const meta = { fingerprint: c.fingerprint, epoch: c.epoch, names, optimizer: { name: c.optimizer.name, step: c.optimizer.step, names: bufNames, counts: bufNames.map((b) => c.optimizer.buffers[b]!.length) }, history: c.history };
  arrays.meta = { dtype: '<U', shape: [1], data: [JSON.stringify(meta)] };
  await saveNpz(file, arrays as never);
}

async function readCheckpoint(file: string): Promise<Checkpoint | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readDataFile(file);
  } catch {
    return null;
  }
  const a = readNpz(bytes, file);
  const metaArr = a.meta?.data as string[] | undefined;
  if (!metaArr) throw new DataError(`${file}: not a gauntlet training checkpoint`);
  const meta = JSON.parse(metaArr[0]!) as { fingerprint: string; epoch: number; names: string[]; optimizer: { name: string; step: number; names: string[]; counts: number[] }; history: EpochRecord[] };
  const values = new Map(meta.names.map((name, i) => [name, a[`v${i}`]!.data as Float32Array]));
  const buffers: Record<string, Float32Array[]> = {};
  meta.optimizer.names.forEach((name, i) => (buffers[name] = Array.from({ length: meta.optimizer.counts[i]! }, (_, j) => a[`o${i}_${j}`]!.data as Float32Array)));
  return { fingerprint: meta.fingerprint, epoch: meta.epoch, values, optimizer: { name: meta.optimizer.name, step: meta.optimizer.step, buffers }, history: meta.history };
}

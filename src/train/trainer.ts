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
import fs from 'node:fs';
import { ensembleModel } from './ensemble.js';
import { auditTrainingLabels, crossFitProbabilities, foldSplit, type CleaningSummary, type CleanLabelsSpec } from './clean.js';
import { subset } from '../data/dataset.js';
import { buildTrainingGraph, dropoutMask, feedRunningStats, matchParams, runningStats, runTrainingGraph, trainableParams, type StepGraphInit, type TrainingGraph } from './graph.js';
import { epochAttack, TrainingAttack } from './adversarial.js';
import { TradesStep } from './trades.js';
import { CoTeaching, forgetRateAt } from './coteaching.js';
import { augmentBatch, jsdBatch } from './augment.js';
import { augmixJsd } from './losses/jsd.js';
import { drawTrainingLabels, type TrainingLabels } from './labels.js';
import { lossHead } from './losses/index.js';
import { softTargetCrossEntropy } from './loss.js';
import { parseAttackSpec, runAttack } from '../stress/adversarial/index.js';
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
  /** Accuracy of the steps' own predictions over the epoch (train mode, on the inputs trained on), against the TRUE labels. */
  train_accuracy: number;
  /** The same against the labels trained on, when they are noisy (`labels:`); else null. */
  train_accuracy_observed: number | null;
  val_accuracy: number | null;
  /** PGD accuracy on the validation data (inference mode; ε of `adversarial:`), when adversarial training has --val. */
  pgd_val_accuracy: number | null;
  /** The epoch's attack after the curriculum (adversarial training), else null. */
  eps: number | null;
  attack_steps: number | null;
  /** Items corrupted by `augment:` over the epoch, else null. */
  augmented: number | null;
  /** Co-teaching's forget rate in this epoch, else null. */
  forget_rate?: number | null;
  /** PGD validation accuracy fell more than `co_drop` below its best: training stopped here. */
  catastrophic_overfitting: boolean;
  /** Mean cross-entropy on the validation data (inference mode). */
  val_loss: number | null;
  /** lr of the epoch's last step. */
  lr: number;
  /** The ensemble member this epoch trained (0-based), or null outside ensembles. */
  member?: number;
  seconds: number;
}

export interface TrainProgress {
  /** The part of a multi-stage recipe being trained (clean_labels: `fold 2/4`, `retrain`). */
  phase?: string;
  /** Ensemble member being trained (0-based) and how many, with `ensemble:`. */
  member?: number;
  members?: number;
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
  /** Seed of the noisy training labels (default: the recipe's); ensemble members share the base seed's labels. */
  labelSeed?: number;
  /** Labels to learn from instead of the data's (already drawn noisy labels: clean-then-retrain's folds); accuracies stay against the data's labels. */
  trainingLabels?: Int32Array;
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
  /** The labels trained on when `labels:` made them noisy (realised rate, provenance), else null. */
  labels: TrainingLabels | null;
  /** The epoch whose weights the model holds (the best one after early stopping or catastrophic overfitting; else the last). */
  keptEpoch: number;
  /** Why training stopped before `epochs`, or null. */
  stopped: 'early_stop' | 'catastrophic_overfitting' | null;
  /** With `ensemble:`: each member's trained model (`model` is their combination); else null. */
  members: ModelP[] | null;
  /** With `clean_labels:`: what the audit found and removed before the final training; else null. */
  cleaning: CleaningSummary | null;
}

const META = { recipe: 'gauntlet.train.recipe', parent: 'gauntlet.train.parent_sha256', data: 'gauntlet.train.data_sha256', seed: 'gauntlet.train.seed', epoch: 'gauntlet.train.kept_epoch', members: 'gauntlet.train.ensemble_members', cleaning: 'gauntlet.train.cleaning' } as const;

/** Trains `model` on `data` by `recipe` (YAML-shaped, checked here). See the module comment. */
export async function train(model: Model, data: Dataset, recipeRaw: unknown, opts: TrainOptions = {}): Promise<TrainResult> {
  const recipe = parseRecipe(recipeRaw ?? {});
  if (recipe.ensemble) return trainEnsemble(model, data, recipe, (recipeRaw ?? {}) as Record<string, unknown>, opts);
  if (recipe.cleanLabels) return cleanThenRetrain(model, data, recipe, (recipeRaw ?? {}) as Record<string, unknown>, opts);
  const trueLabels = requireLabels(data, 'training');
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
  const adversarial = recipe.adversarial;
  const early = recipe.earlyStop;
  if (early && !opts.val) throw new UsageError(`'early_stop' needs validation data (--val; val_data: in a campaign)`);
  if (early?.on === 'pgd_val_accuracy' && !adversarial) throw new UsageError(`'early_stop.on: pgd_val_accuracy' needs 'adversarial:' (its ε and norm)`);
  if (adversarial && adversarial.eps > model.decl.bounds[1] - model.decl.bounds[0]) throw new UsageError(`'adversarial.eps' ${adversarial.eps} is larger than the data bounds' range [${model.decl.bounds.join(', ')}]`);
  const decl = model.decl;
  const outputKind = model.outputKind ?? 'logits';
  const all = trainableParams(model.prepared, decl.outputName);
  if (all.length === 0) throw new ModelError(`${model.label}: no trainable parameter on the path to output '${decl.outputName}'`);
  const params = matchParams(all, { freeze: recipe.freeze, trainOnly: recipe.trainOnly });

  // The labels learnt from: the true ones, or a noisy draw of them (metrics stay against the true ones).
  const noisy = await noisyLabels(model, data, recipe, trueLabels, k, opts);
  if (opts.trainingLabels && opts.trainingLabels.length !== n) throw new UsageError(`${opts.trainingLabels.length} training labels for ${n} items`);
  if (opts.trainingLabels && noisy) throw new UsageError(`'labels' draws the training labels; given training labels exclude it`);
  const observed = noisy?.observed ?? opts.trainingLabels ?? trueLabels;
  const labelsDiffer = noisy !== null || opts.trainingLabels !== undefined;

  const start = recipe.init === 'reinit' ? reinitModel(model.original, params, recipe.seed) : model.original;
  const prepared = foldPreprocessing(start, decl);
  const head = lossHead(recipe.loss as { name: string });
  const jsd = recipe.augment?.jsd ?? false;
  if (jsd && (head !== softTargetCrossEntropy || recipe.adversarial || recipe.coteaching)) throw new UsageError(`'augment.jsd' has its own loss (CE + λ·JS over AugMix views); it does not combine with another 'loss', 'adversarial' or 'coteaching'`);

  const dataSha = datasetHash(data);
  const fingerprint = createHash('sha256').update(JSON.stringify({ recipe: recipeToYaml(recipe), model: model.sha256, data: dataSha, params })).digest('hex');
  const stepsPerEpoch = Math.ceil(n / B);
  const sched = scheduleSpec(recipe);
  const schedule = makeSchedule(sched.spec, optimizerSpec(recipe).lr, { epochs: recipe.epochs, stepsPerEpoch, warmupEpochs: sched.warmupEpochs });
  const optimizer = makeOptimizer(optimizerSpec(recipe));
  // BatchNorm running statistics that train mode updates: fed to every graph with the weights.
  const bnStats = recipe.freezeBn ? [] : prepared.graph.node.filter((nd) => nd.op_type === 'BatchNormalization').flatMap((nd) => [nd.input[3]!, nd.input[4]!]).filter((st) => !params.includes(st));
  const values = initialValues(prepared, [...params, ...bnStats]);
  const stepInit: StepGraphInit = { input: decl.inputName, output: decl.outputName, outputKind, params, itemShape: [...data.itemShape], freezeBn: recipe.freezeBn, threads: opts.threads ?? 0, label: model.label, gradient: { maxpoolTies: recipe.maxpoolTies } };
  const graphs = new Map<number, Promise<{ tg: TrainingGraph; session: ort.InferenceSession }>>();
  const graphFor = (size: number) => {
    let g = graphs.get(size);
    if (!g) {
      g = (async () => {
        // AugMix + JSD: one forward over [clean; augmix₁; augmix₂] (3·size items) with the consistency head.
        const tg = await buildTrainingGraph(prepared, { gradient: stepInit.gradient, input: decl.inputName, output: decl.outputName, outputKind, params, trainMode: true, freezeBn: recipe.freezeBn, batch: jsd ? 3 * size : size, itemShape: [...data.itemShape], loss: jsd ? augmixJsd(recipe.augment!.jsdLambda, size) : head, label: model.label });
        feedRunningStats(tg);
        return { tg, session: await createSession(tg.model, model.label, { threads: opts.threads ?? 0, memPattern: false }) };
      })();
      graphs.set(size, g);
    }
    return g;
  };
  const attack = adversarial
    ? new TrainingAttack(prepared, { ...stepInit, fed: bnStats, bounds: decl.bounds })
    : null;

  const trades = attack && adversarial!.method === 'trades'
    ? new TradesStep(prepared, stepInit, attack)
    : null;
  // Co-teaching: network B from seed + 1, its own optimizer; the forget rate given or estimated by the audit.
  let coteach: CoTeaching | null = null;
  let tau = 0;
  if (recipe.coteaching) {
    if (recipe.init !== 'reinit') throw new UsageError(`'coteaching' needs init: reinit (two differently initialised networks; from the same weights both would select the same items)`);
    if (adversarial || head !== softTargetCrossEntropy || noisy?.soft) throw new UsageError(`'coteaching' trains on cross-entropy of hard labels; it does not combine with 'adversarial', another 'loss' or soft labels`);
    const spec = recipe.coteaching;
    if (spec.forgetRate === 'audit') {
      const { audit } = await auditWithFolds(model, data, { ...((recipeRaw ?? {}) as Record<string, unknown>), labels: null, coteaching: null }, observed, trueLabels, k, spec.folds, recipe.seed, opts);
      tau = audit.estimatedNoiseRate;
    } else tau = spec.forgetRate;
    const peerStart = foldPreprocessing(reinitModel(model.original, params, recipe.seed + 1), decl);
    const peerValues = initialValues(peerStart, [...params, ...bnStats]);
    coteach = new CoTeaching(prepared, stepInit, peerValues, makeOptimizer(optimizerSpec(recipe)), recipe.clipGradNorm);
  }
  if (trades && head !== softTargetCrossEntropy) throw new UsageError(`'adversarial.method: trades' has its own loss (CE + β·KL); leave 'loss' at ce (or label_smoothing)`);

  // State across epochs, all in the checkpoint: per-item loss state (ELR), the best epoch so far.
  const lossState = head.stateful ? new Float32Array(n * k) : null;
  let history: EpochRecord[] = [];
  let startEpoch = 0;
  let best: { metric: number; epoch: number; values: Map<string, Float32Array> } | null = null;
  let stopped: TrainResult['stopped'] = null;
  if (opts.resume && opts.checkpoint) {
    const ck = await readCheckpoint(opts.checkpoint);
    if (ck) {
      if (ck.fingerprint !== fingerprint) throw new UsageError(`${opts.checkpoint}: checkpoint is of another run (recipe, model, data or parameters differ); delete it or drop --resume`);
      for (const [name, v] of ck.values) values.set(name, v);
      optimizer.load(ck.optimizer);
      history = ck.history;
      startEpoch = ck.epoch;
      if (lossState && ck.extras.has('loss_state')) lossState.set(ck.extras.get('loss_state')!);
      if (coteach) {
        const buffers: Record<string, Float32Array[]> = {};
        for (const [key, v] of ck.extras) {
          if (key.startsWith('peer:')) coteach.peer.set(key.slice(5), v);
          const m = /^peer_opt:(\d+):(.*)$/.exec(key);
          if (m) (buffers[m[2]!] ??= [])[Number(m[1])] = v;
        }
        if (ck.extras.has('peer_opt_step')) coteach.peerOptimizer.load({ name: optimizerSpec(recipe).name, step: ck.extras.get('peer_opt_step')![0]!, buffers });
      }
      if (ck.best) best = { metric: ck.best.metric, epoch: ck.best.epoch, values: new Map([...ck.extras].filter(([key]) => key.startsWith('best:')).map(([key, v]) => [key.slice(5), v])) };
      stopped = ck.stopped;
    }
  }

  const t0 = performance.now();
  const xBuf = new Map<number, Float32Array>();
  const smooth = recipe.loss.name === 'label_smoothing' ? (recipe.loss as { eps: number }).eps : 0;
  try {
    for (let epoch = startEpoch; epoch < recipe.epochs && !stopped; epoch++) {
      const e0 = performance.now();
      const root = new Rng(recipe.seed);
      const order = recipe.shuffle ? root.fork(`shuffle:${epoch}`).permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
      const dropRng = root.fork(`dropout:${epoch}`);
      const stepRoot = root.fork(`steps:${epoch}`);
      const att = epochAttack(adversarial, epoch);
      let lossSum = 0;
      let correct = 0;
      let correctObserved = 0;
      let augmented = 0;
      let lr = 0;
      for (let s = 0; s < stepsPerEpoch; s++) {
        opts.signal?.throwIfAborted();
        const lo = s * B;
        const size = Math.min(B, n - lo);
        let x = xBuf.get(size);
        if (!x) xBuf.set(size, (x = new Float32Array(size * per)));
        const targets = new Float32Array(size * k);
        const state = lossState ? new Float32Array(size * k) : undefined;
        for (let i = 0; i < size; i++) {
          const idx = order[lo + i]!;
          x.set(data.x.subarray(idx * per, (idx + 1) * per), i * per);
          if (noisy?.soft) targets.set(noisy.soft.subarray(idx * k, (idx + 1) * k), i * k);
          else {
            targets.fill(smooth / k, i * k, (i + 1) * k);
            targets[i * k + observed[idx]!]! += 1 - smooth;
          }
          if (state) state.set(lossState!.subarray(idx * k, (idx + 1) * k), i * k);
        }
        const stepRng = adversarial || recipe.augment ? stepRoot.fork(`step:${s}`) : null;
        if (recipe.augment && !jsd) augmented += augmentBatch(x, size, data.itemShape, recipe.augment, stepRng!.fork('augment'), att?.severityCap ?? 5);
        let r: { loss: number; scores: Float32Array; grads: Map<string, Float32Array>; state: Float32Array | null; running: Map<string, Float32Array> };
        if (coteach) {
          const place = { step: epoch * stepsPerEpoch + s, epoch };
          const c = await coteach.step(x, size, targets, values, forgetRateAt(tau, recipe.coteaching!, epoch), await graphFor(size), dropRng, schedule.lr(place), schedule.momentum(place));
          r = c;
        } else if (trades) {
          const t = await trades.step(x, size, k, targets, values, att!, { ...adversarial!, beta: adversarial!.beta! }, stepRng!.fork('attack'), dropRng);
          r = { ...t, state: null };
        } else {
          const { tg, session } = await graphFor(size);
          let xTrain = attack ? await attack.perturb(x, size, targets, values, att!, adversarial!, stepRng!.fork('attack')) : x;
          let tTrain = targets;
          if (jsd) {
            xTrain = jsdBatch(x, size, data.itemShape, recipe.augment!, stepRng!.fork('augmix'), att?.severityCap ?? 5);
            tTrain = new Float32Array(3 * size * k);
            tTrain.set(targets);
            augmented += 2 * size;
          }
          const masks = tg.feeds.dropout.map((d) => dropoutMask(dropRng, d.shape, d.p));
          const run = await runTrainingGraph(session, tg, { x: xTrain, targets: tTrain, params: values, dropoutMasks: masks, state });
          r = { loss: run.loss, scores: run.scores, grads: run.grads, state: run.state, running: runningStats(tg, run) };
        }
        if (!Number.isFinite(r.loss)) throw new ModelError(`${model.label}: training loss is ${r.loss} at epoch ${epoch + 1} step ${s + 1} (lr too large?)`);
        const place = { step: epoch * stepsPerEpoch + s, epoch };
        lr = schedule.lr(place);
        if (recipe.clipGradNorm !== null) clipGradNorm(r.grads, recipe.clipGradNorm);
        optimizer.step(values, r.grads, lr, schedule.momentum(place));
        for (const [name, v] of r.running) values.set(name, v);
        if (lossState && r.state) for (let i = 0; i < size; i++) lossState.set(r.state.subarray(i * k, (i + 1) * k), order[lo + i]! * k);
        lossSum += r.loss * size;
        for (let i = 0; i < size; i++) {
          const pred = argmaxAt(r.scores, i * k, k);
          const idx = order[lo + i]!;
          if (pred === trueLabels[idx]) correct++;
          if (pred === observed[idx]) correctObserved++;
        }
        opts.onProgress?.({ epoch: epoch + 1, epochs: recipe.epochs, step: s + 1, stepsPerEpoch, loss: r.loss });
      }
      let valAccuracy: number | null = null;
      let valLoss: number | null = null;
      let pgdVal: number | null = null;
      if (opts.val) {
        const vm = await Model.fromProto(writeBack(start, values, {}), `${model.label} (epoch ${epoch + 1})`, '', { ...declarationOf(decl), output: outputKind, threads: opts.threads ?? 0 });
        try {
          const p = await vm.predict(opts.val, { batchSize: 256 });
          const m = classificationMetrics(toProbabilities(p.scores, p.numClasses, p.kind), p.numClasses, opts.val.labels!);
          valAccuracy = m.accuracy;
          valLoss = m.nll;
          if (adversarial) {
            const spec = parseAttackSpec({ attack: 'pgd', norm: adversarial.norm, eps: adversarial.eps, steps: early?.pgdSteps ?? 10 }, 'adversarial (validation attack)');
            const ra = await runAttack(vm, opts.val.x, opts.val.size, opts.val.labels!, spec, new Rng(recipe.seed).fork(`pgd_val:${epoch}`), { batchSize: 256, itemShape: opts.val.itemShape });
            pgdVal = ra.perEps[0]!.aggregate.robustAccuracy;
          }
        } finally {
          await vm.close();
        }
      }
      // Catastrophic overfitting (PGD validation accuracy collapsing) and early stopping keep the best epoch.
      let collapsed = false;
      const watched = early ? (early.on === 'pgd_val_accuracy' ? pgdVal : valAccuracy) : adversarial && pgdVal !== null ? pgdVal : null;
      const bestPgd = Math.max(-Infinity, ...history.map((h) => h.pgd_val_accuracy ?? -Infinity));
      if (adversarial && pgdVal !== null && bestPgd - pgdVal > adversarial.coDrop) collapsed = true;
      if (!collapsed && watched !== null && (!best || watched > best.metric)) best = { metric: watched, epoch: epoch + 1, values: new Map([...values].map(([name, v]) => [name, Float32Array.from(v)])) };
      if (collapsed) stopped = 'catastrophic_overfitting';
      else if (early && best && epoch + 1 - best.epoch >= early.patience) stopped = 'early_stop';
      history.push({
        epoch: epoch + 1, steps: stepsPerEpoch, loss: lossSum / n, train_accuracy: correct / n, train_accuracy_observed: labelsDiffer ? correctObserved / n : null,
        val_accuracy: valAccuracy, val_loss: valLoss, pgd_val_accuracy: pgdVal, eps: att?.eps ?? null, attack_steps: att?.steps ?? null, augmented: recipe.augment ? augmented : null,
        catastrophic_overfitting: collapsed, ...(coteach ? { forget_rate: forgetRateAt(tau, recipe.coteaching!, epoch) } : {}), lr, seconds: (performance.now() - e0) / 1000,
      });
      if (opts.checkpoint) {
        const extras = new Map<string, Float32Array>();
        if (lossState) extras.set('loss_state', lossState);
        if (coteach) {
          for (const [name, v] of coteach.peer) extras.set(`peer:${name}`, v);
          const st = coteach.peerOptimizer.state();
          extras.set('peer_opt_step', Float32Array.of(st.step));
          for (const [name, bufs] of Object.entries(st.buffers)) bufs.forEach((b, j) => extras.set(`peer_opt:${j}:${name}`, b));
        }
        if (best) for (const [name, v] of best.values) extras.set(`best:${name}`, v);
        await writeCheckpoint(opts.checkpoint, { fingerprint, epoch: epoch + 1, values, optimizer: optimizer.state(), history, extras, best: best ? { metric: best.metric, epoch: best.epoch } : null, stopped });
      }
    }
  } finally {
    for (const g of graphs.values()) await (await g).session.release();
    await trades?.close();
    await coteach?.close();
    await attack?.close();
  }
  // Early stopping and catastrophic overfitting keep the best epoch's weights.
  const keep = (stopped || early) && best ? best : null;
  const meta = { [META.recipe]: JSON.stringify(recipeToYaml(recipe)), [META.parent]: model.sha256, [META.data]: dataSha, [META.seed]: String(recipe.seed), ...(keep ? { [META.epoch]: String(keep.epoch) } : {}) };
  return {
    model: writeBack(start, keep ? keep.values : values, meta), history, steps: history.length * stepsPerEpoch, seconds: (performance.now() - t0) / 1000, params, recipe,
    labels: noisy, keptEpoch: keep ? keep.epoch : history.length, stopped, members: null, cleaning: null,
  };
}

/**
 * The recipe's noisy training labels (null without `labels:`), drawn from `opts.labelSeed` or the
 * recipe's seed; instance-dependent noise reads the model's own predicted probabilities.
 */
async function noisyLabels(model: Model, data: Dataset, recipe: Recipe, trueLabels: Int32Array, k: number, opts: TrainOptions): Promise<TrainingLabels | null> {
  if (!recipe.labels) return null;
  let probs: Float64Array | null = null;
  if (recipe.labels.noise.model === 'instance') {
    const p = await model.predict(data, { batchSize: 256 });
    probs = Float64Array.from(toProbabilities(p.scores, p.numClasses, p.kind));
  }
  return drawTrainingLabels(recipe.labels, trueLabels, k, opts.labelSeed ?? recipe.seed, { ids: data.ids, probs });
}

/**
 * The confident-learning audit of `observed` from out-of-sample probabilities: `folds` trainings
 * of `inner` (a recipe) on the other folds' items with their observed labels, each predicting its
 * fold (clean_labels, co-teaching's forget_rate: audit).
 */
async function auditWithFolds(model: Model, data: Dataset, inner: Record<string, unknown>, observed: Int32Array, trueLabels: Int32Array, k: number, folds: number, seed: number, opts: TrainOptions, method: CleanLabelsSpec['method'] = 'prune-by-noise-rate') {
  const sub = { ...opts, checkpoint: undefined, resume: false, labelSeed: undefined, val: undefined };
  const probs = await crossFitProbabilities(data, k, foldSplit(data.size, folds, seed), async (items, f) => {
    const r = await train(model, subset(data, items), inner, { ...sub, trainingLabels: Int32Array.from(items, (i) => observed[i]!), onProgress: opts.onProgress && ((p) => opts.onProgress!({ ...p, phase: `fold ${f + 1}/${folds}` })) });
    return Model.fromProto(r.model, `${model.label} (fold ${f + 1})`, '', { ...declarationOf(model.decl), output: model.outputKind ?? 'logits', threads: opts.threads ?? 0 });
  });
  return auditTrainingLabels(probs, k, observed, trueLabels, { folds, then: 'retrain', method });
}

/**
 * `clean_labels:`: draw the training labels once, cross-fit out-of-sample probabilities (the
 * recipe without `labels`/`clean_labels`, trained on the other folds' items with their drawn
 * labels), audit them by confident learning, and train the recipe again on the kept items.
 */
async function cleanThenRetrain(model: Model, data: Dataset, recipe: Recipe, given: Record<string, unknown>, opts: TrainOptions): Promise<TrainResult> {
  const spec = recipe.cleanLabels!;
  const trueLabels = requireLabels(data, 'training');
  const k = (await model.predictBatch(data.x.subarray(0, itemSize(data)), 1)).numClasses;
  const t0 = performance.now();
  const noisy = await noisyLabels(model, data, recipe, trueLabels, k, opts);
  if (noisy?.soft) throw new UsageError(`'clean_labels' audits hard labels; 'labels' with soft targets has none to audit`);
  const observed = noisy?.observed ?? opts.trainingLabels ?? trueLabels;
  const inner = { ...given, labels: null, clean_labels: null };
  const { audit, summary } = await auditWithFolds(model, data, inner, observed, trueLabels, k, spec.folds, recipe.seed, opts, spec.method);
  const keep = Int32Array.from({ length: data.size }, (_, i) => i).filter((i) => !audit.isFlagged[i]);
  const r = await train(model, subset(data, keep), inner, { ...opts, trainingLabels: Int32Array.from(keep, (i) => observed[i]!), onProgress: opts.onProgress && ((p) => opts.onProgress!({ ...p, phase: 'retrain' })) });
  const meta = { [META.recipe]: JSON.stringify(recipeToYaml(recipe)), [META.data]: datasetHash(data), [META.cleaning]: JSON.stringify(summary) };
  r.model.metadata_props = [...(r.model.metadata_props ?? []).filter((p) => !(p.key in meta)), ...Object.entries(meta).map(([key, value]) => ({ key, value }))];
  return { ...r, seconds: (performance.now() - t0) / 1000, recipe, labels: noisy, cleaning: summary };
}

/**
 * `ensemble: { members: K }`: K runs of the recipe from seeds seed … seed + K − 1 (same noisy
 * labels), each with its own checkpoint (`<checkpoint>.m<k>`), combined by `ensembleModel`.
 */
async function trainEnsemble(model: Model, data: Dataset, recipe: Recipe, given: Record<string, unknown>, opts: TrainOptions): Promise<TrainResult> {
  const K = recipe.ensemble!.members;
  const raw = { ...given, ensemble: null };
  const t0 = performance.now();
  const runs: TrainResult[] = [];
  for (let m = 0; m < K; m++) {
    const r = await train(model, data, { ...raw, seed: recipe.seed + m }, {
      ...opts,
      labelSeed: opts.labelSeed ?? recipe.seed,
      checkpoint: opts.checkpoint ? `${opts.checkpoint}.m${m}` : undefined,
      onProgress: opts.onProgress ? (p) => opts.onProgress!({ ...p, member: m, members: K }) : undefined,
    });
    runs.push(r);
  }
  if (opts.checkpoint) for (let m = 0; m < K; m++) fs.rmSync(`${opts.checkpoint}.m${m}`, { force: true });
  const combined = ensembleModel(runs.map((r) => r.model), { input: model.decl.inputName, output: model.decl.outputName, outputKind: model.outputKind ?? 'logits' });
  const meta = { [META.recipe]: JSON.stringify(recipeToYaml(recipe)), [META.parent]: model.sha256, [META.data]: datasetHash(data), [META.seed]: String(recipe.seed), [META.members]: String(K) };
  combined.metadata_props = [...(combined.metadata_props ?? []).filter((p) => !(p.key in meta)), ...Object.entries(meta).map(([key, value]) => ({ key, value }))];
  return {
    model: combined,
    history: runs.flatMap((r, m) => r.history.map((h) => ({ ...h, member: m }))),
    steps: runs.reduce((a, r) => a + r.steps, 0),
    seconds: (performance.now() - t0) / 1000,
    params: runs[0]!.params,
    recipe,
    labels: runs[0]!.labels,
    keptEpoch: runs[0]!.keptEpoch,
    stopped: null,
    members: runs.map((r) => r.model),
    cleaning: runs[0]!.cleaning,
  };
}

/** The declaration that resolves to `d` again (for evaluating the model being trained). */
function declarationOf(d: ResolvedDeclaration): ModelDeclaration {
  const pre = d.preprocess ? { scale: d.preprocess.scale, ...(d.preprocess.mean ? { mean: d.preprocess.mean } : {}), ...(d.preprocess.std ? { std: d.preprocess.std } : {}) } : undefined;
  return { ...(d.layout !== 'flat' ? { layout: d.layout } : {}), bounds: d.bounds, ...(pre ? { preprocess: pre } : {}), inputName: d.inputName, outputName: d.outputName };
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
  /** Other arrays: per-item loss state, the best epoch's values (`best:<name>`). */
  extras: Map<string, Float32Array>;
  best: { metric: number; epoch: number } | null;
  stopped: TrainResult['stopped'];
}

async function writeCheckpoint(file: string, c: Checkpoint): Promise<void> {
  const arrays: Record<string, { dtype: string; shape: number[]; data: Float32Array | string[] }> = {};
  const names = [...c.values.keys()];
  names.forEach((name, i) => (arrays[`v${i}`] = { dtype: '<f4', shape: [c.values.get(name)!.length], data: c.values.get(name)! }));
  const bufNames = Object.keys(c.optimizer.buffers);
  bufNames.forEach((name, i) => c.optimizer.buffers[name]!.forEach((b, j) => (arrays[`o${i}_${j}`] = { dtype: '<f4', shape: [b.length], data: b })));
  const extraNames = [...c.extras.keys()];
  extraNames.forEach((name, i) => (arrays[`e${i}`] = { dtype: '<f4', shape: [c.extras.get(name)!.length], data: c.extras.get(name)! }));
  const meta = { fingerprint: c.fingerprint, epoch: c.epoch, names, extraNames, best: c.best, stopped: c.stopped, optimizer: { name: c.optimizer.name, step: c.optimizer.step, names: bufNames, counts: bufNames.map((b) => c.optimizer.buffers[b]!.length) }, history: c.history };
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
  const meta = JSON.parse(metaArr[0]!) as { fingerprint: string; epoch: number; names: string[]; extraNames?: string[]; best?: Checkpoint['best']; stopped?: Checkpoint['stopped']; optimizer: { name: string; step: number; names: string[]; counts: number[] }; history: EpochRecord[] };
  const values = new Map(meta.names.map((name, i) => [name, a[`v${i}`]!.data as Float32Array]));
  const buffers: Record<string, Float32Array[]> = {};
  meta.optimizer.names.forEach((name, i) => (buffers[name] = Array.from({ length: meta.optimizer.counts[i]! }, (_, j) => a[`o${i}_${j}`]!.data as Float32Array)));
  const extras = new Map((meta.extraNames ?? []).map((name, i) => [name, a[`e${i}`]!.data as Float32Array]));
  return { fingerprint: meta.fingerprint, epoch: meta.epoch, values, optimizer: { name: meta.optimizer.name, step: meta.optimizer.step, buffers }, history: meta.history, extras, best: meta.best ?? null, stopped: meta.stopped ?? null };
}

/**
 * The campaign runner: opens the model and data, records the manifest, predicts the clean data (and
 * fits the uncertainty section on it), then runs each cell of the plan with `runCell` (cell.ts),
 * checkpointing each as it finishes; at the end the interactions, the budgets and the compute floor.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ortClock } from '../engine/session.js';
import ort from 'onnxruntime-node';
import { GradientEngine } from '../autodiff/gradient.js';
import { datasetHash, DatasetHasher, itemId, requireLabels, subset, type Dataset } from '../data/dataset.js';
import { defaultChunkItems, openChunked } from '../data/chunked.js';
import { isTabular } from '../data/features.js';
import { leanSource, type CleanSource } from './source.js';
import { loadDataset } from '../data/load.js';
import { defaultAssets, defaultMeta, packageRoot } from '../defaults.js';
import { CellJobError, ConfigError, RunInterruptedError } from '../errors.js';
import type { Model } from '../engine/model.js';
import type { Classifier } from '../engine/classifier.js';
import { EndpointModel } from '../endpoint/model.js';
import { openClassifier } from '../endpoint/open.js';
import { checkEndpointCampaign } from './endpoint.js';
import { checkTextCampaign, openCellEmbedding, textSummary, type CellEmbedding } from './text.js';
import { percentileCi, weightedMeans, type ResampleWeights } from '../metrics/suite.js';
import { interactionVerdict } from '../metrics/interaction.js';
import { uncertaintyContextSummary, type UncertaintyContextSummary } from '../uncertainty/index.js';
import { evaluateBudgets } from './budgets.js';
import { CellBench, type CellArm } from './bench.js';
import { bits, stressesOf } from './cell.js';
import type { CampaignConfig } from './config.js';
import { groupBy, runKey, type CellJob, type RemoteCells, type RemoteContext, type RemoteSpec, type TrainJob, type TrainSpec } from './remote.js';
import { inputKey } from './hooks/hook.js';
import { isTrainTime, STRESS_KINDS } from './config.js';
import { canonical, makePlan, shortHash, type CellPlan, type Plan } from './plan.js';
import { claimRunDir, RunStore, writeJson, type RunDirClaim, type RunDirOptions } from './store.js';
import type { CampaignResults, CellResult, Interaction, MitigationTable, TrainTimeModel, VariantResult } from './types.js';
import { prepareVariant, trainingDataKey, trainTimeRecipe, variantCacheDir, variantFiles, variantKey, type PreparedVariant, type VariantSpec } from './variants.js';
import { readModelFile } from '../onnx/load.js';
import type { TrainProgress } from '../train/trainer.js';
import { lowerMedian, timeCalls } from '../timing.js';

export const GAUNTLET_VERSION = '0.1.0';

export type { CampaignResults, CellResult, Interaction } from './types.js';

export type CampaignEvent =
  | { type: 'plan'; plan: Plan; resumed: number; /** Cells of every model (base and variants). */ total?: number }
  | { type: 'cell_start'; cell: CellPlan; index: number; total: number }
  | { type: 'cell_done'; cell: CellPlan; index: number; total: number; result: CellResult; cached: boolean }
  | { type: 'phase'; message: string }
  | { type: 'training'; variant: string; progress: TrainProgress };

export interface RunOptions extends RunDirOptions {
  outDir: string;
  /** Stops the run before its next cell with a RunInterruptedError (finished cells stay checkpointed). */
  signal?: AbortSignal;
  onEvent?: (e: CampaignEvent) => void;
  threads?: number;
  /** Runs the cells elsewhere (queue workers) instead of in this process; everything else is the same. */
  remote?: RemoteCells;
  /**
   * Items per chunk of a streamed cell's inputs (stream.ts; default about 4 MB of float32 inputs);
   * 0 computes every input set whole. The results are the same either way (ORT batch counts aside).
   */
  chunkItems?: number;
}

/**
 * Loads the data and model a config names, checking that they fit together. With `lean` (a run
 * whose cells are all streamed: see ./source.ts) the data are opened for chunked reading and not
 * held whole when the file allows it: `ds.x` is then empty, `source` reads the clean inputs, and the
 * data hash comes from the same pass; otherwise `source` is null.
 */
export async function openCampaignInputs(
  config: CampaignConfig,
  opts: { lean?: { chunkItems?: number } } = {},
): Promise<{ ds: Dataset; model: Classifier; source: CleanSource | null; dataSha: () => string }> {
  let ds: Dataset | null = null;
  let source: CleanSource | null = null;
  let dataSha = (): string => datasetHash(ds!);
  if (opts.lean && !config.explain && !config.uncertainty) {
    const d = await openChunked(config.data);
    if (d.streamed && !isTabular(d)) {
      requireLabels(d, 'a campaign');
      const h = new DatasetHasher(d.size, d.itemShape, d.labels !== null);
      ({ ds, source } = await leanSource(d, { chunkItems: opts.lean.chunkItems ?? defaultChunkItems(d.itemShape), batchSize: config.batchSize, hash: (x) => h.update(x) }));
      const sha = h.digest(d.labels);
      dataSha = () => sha;
    }
  }
  ds ??= await loadDataset(config.data);
  requireLabels(ds, 'a campaign');
  const model = await openClassifier(config.model);
  try {
    checkEndpointCampaign(config, model);
    checkTextCampaign(config, model);
  } catch (e) {
    await model.close();
    throw e;
  }
  return { ds, model, source, dataSha };
}

/**
 * Runs a campaign: every cell of the plan, checkpointed as it finishes; on `resume`, cells whose
 * checkpoint matches are loaded instead of recomputed. Same config and seed → same metric values.
 */
export async function runCampaign(config: CampaignConfig, opts: RunOptions): Promise<CampaignResults> {
  const t0 = performance.now();
  const ort0 = ortClock.ms;
  const started = new Date().toISOString();
  const emit = opts.onEvent ?? (() => {});
  const store = new RunStore(opts.outDir);
  // Every cell streamed and no queue (workers load the data themselves): the clean data are read from the file in chunks.
  const { ds, model, source, dataSha: sha } = await openCampaignInputs(config, { lean: opts.chunkItems !== 0 && !opts.remote ? { chunkItems: opts.chunkItems } : undefined });
  const engines: GradientEngine[] = [];
  const closers: (() => Promise<void> | void)[] = [];
  let claim: RunDirClaim | null = null;
  try {
    const labels = ds.labels!;
    const dataSha = sha();
    const plan = makePlan(config);
    const configJson = JSON.parse(JSON.stringify(config)) as unknown;
    const identity = { model_sha256: model.sha256, data_sha256: dataSha, config: canonical({ ...config, source: undefined }) };
    claim = claimRunDir(opts.outDir, canonical(identity), opts);
    // Queue workers open the run's ONNX files: refuse an endpoint before anything is trained or queued.
    const remoteNeedsFile = (m: Classifier) => {
      if (opts.remote && m.source !== 'onnx') throw new ConfigError(`--queue: workers open the run's ONNX files from shared storage; ${m.label} is an endpoint, and a campaign on an endpoint runs locally (it is the endpoint that scales)`);
    };
    remoteNeedsFile(model);
    const manifest = {
      gauntlet: GAUNTLET_VERSION,
      git_commit: gitCommit(),
      node: process.version,
      onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
      started,
      finished: null as string | null,
      identity,
      model: { path: config.model.path, sha256: model.sha256 },
      data: { path: config.data.path, sha256: dataSha, samples: ds.size },
      seed: config.seed,
      config: configJson,
      cells: plan.cells.map((c) => ({ id: c.id, stage: c.stage, hash: c.hash, seeds: cellSeeds(config.seed, c), stresses: stressesOf(c) })),
    };
    writeJson(store.manifestPath, manifest);
    store.event({ event: opts.resume ? 'resume' : 'start', cells: plan.cells.length });

    // Variants: open the models given as files, train (or find in the cache) the trained ones.
    const variantIds = (v: string) => plan.cells.map((c) => `${v}--${c.id}`);
    const allIds = [...plan.cells.map((c) => c.id), ...config.variants.flatMap((v) => variantIds(v.name))];
    // Training data, validation data and the variant cache: read once, for trained variants and
    // training-time models alike.
    let training: Promise<{ trainData: Dataset | null; valData: Dataset | null; cacheDir: string }> | null = null;
    const trainingInputs = () =>
      (training ??= (async () => ({
        trainData: config.trainData ? await loadDataset(config.trainData) : null,
        valData: config.valData ? await loadDataset(config.valData) : null,
        cacheDir: variantCacheDir(opts.outDir, config.variantCache),
      }))());
    // Opens a model file, or trains (or finds in the cache) a recipe from `base`; Ctrl-C while
    // training stops the run, and the epoch checkpoint in the variant cache keeps what is done.
    // Variant keys of the models this run's queue jobs trained (found in the cache afterwards, yet trained by this run).
    const trainedHere = new Set<string>();
    const prepare = async (v: VariantSpec, base: Classifier): Promise<PreparedVariant> => {
      if (opts.signal?.aborted) throw interrupted(opts, claim, 0, allIds.length);
      const { trainData, valData, cacheDir } = await trainingInputs();
      let pv: PreparedVariant;
      try {
        pv = await prepareVariant(v, base as Model, config.model, trainData, { val: valData, cacheDir, threads: opts.threads, signal: opts.signal, onProgress: (name, p) => emit({ type: 'training', variant: name, progress: p }) });
      } catch (e) {
        if (opts.signal?.aborted) throw interrupted(opts, claim, 0, allIds.length);
        throw e;
      }
      if (pv.training && trainedHere.has(path.basename(pv.path, '.onnx'))) pv = { ...pv, training: { ...pv.training, cached: false } };
      closers.push(() => pv.model.close());
      return pv;
    };
    const trainTimeSettings = plan.settings.annotation.filter((s) => isTrainTime(s.spec));
    // Queued run: every model to train (trained variants, training-time models) not in the variant
    // cache yet is trained by a queue job first, all at once; the loops below then find each in the
    // cache, exactly as a local run's second campaign would. Two phases (trainings, then cells)
    // rather than a BullMQ flow: a cell's job id is its hash, which includes the trained model's
    // sha256, known only once it is trained.
    if (opts.remote?.train) {
      const base = { name: 'base', path: path.resolve(config.model.path), sha256: model.sha256 };
      const needs: { name: string; base: typeof base; recipe: Record<string, unknown> }[] = config.variants.flatMap((v) => (v.train ? [{ name: v.name, base, recipe: v.train }] : []));
      if (trainTimeSettings.length) {
        const sources = [
          { name: 'base', file: base, recipe: config.retrain },
          ...config.variants.map((v) => (v.train ? { name: v.name, file: base, recipe: v.train } : { name: v.name, file: { name: v.name, path: path.resolve(v.path!), sha256: readModelFile(v.path!).sha256 }, recipe: config.retrain })),
        ];
        for (const src of sources) for (const st of trainTimeSettings) needs.push({ name: `${src.name} ${st.label}`, base: src.file, recipe: trainTimeRecipe(src.recipe, st.spec) });
      }
      if (needs.length) {
        const { trainData, valData, cacheDir } = await trainingInputs();
        if (!trainData) throw new ConfigError(`variant '${needs[0]!.name}' is trained, but no training data was loaded`);
        const trainSha = datasetHash(trainData);
        const dataKey = trainingDataKey(trainSha, valData);
        const jobs = new Map<string, TrainJob>();
        for (const n of needs) {
          const key = variantKey(n.base, config.model, n.recipe, dataKey);
          if (!jobs.has(key) && !variantFiles(cacheDir, key).cached) jobs.set(key, { name: n.name, key, base: n.base, recipe: n.recipe });
        }
        const list = [...jobs.values()];
        if (list.length) {
          emit({ type: 'phase', message: `training ${list.length} model(s) on queue workers: ${list.map((j) => j.name).join(', ')}` });
          const spec: TrainSpec = { gauntlet: GAUNTLET_VERSION, run: runKey(identity), config: configJson, train_sha256: trainSha, val_sha256: valData ? datasetHash(valData) : null, threads: opts.threads ?? 0 };
          await opts.remote.train(spec, list, cacheDir, {
            signal: opts.signal,
            start: (k) => emit({ type: 'phase', message: `training ${list[k]!.name} on a worker` }),
            progress: (k, p) => emit({ type: 'training', variant: list[k]!.name, progress: p }),
            trained: (k, m) => {
              trainedHere.add(m.key);
              store.event({ event: 'variant_trained', name: list[k]!.name, key: m.key, sha256: m.sha256, bytes: m.bytes });
            },
          }, { train: trainData, val: valData });
          if (opts.signal?.aborted) throw interrupted(opts, claim, 0, allIds.length);
        }
      }
    }
    const variants: PreparedVariant[] = [];
    for (const v of config.variants) {
      emit({ type: 'phase', message: v.train ? `variant ${v.name}: training (or reusing the cached model)` : `variant ${v.name}: opening ${v.path}` });
      const pv = await prepare(v, model);
      remoteNeedsFile(pv.model);
      variants.push(pv);
      store.event({ event: 'variant_ready', name: v.name, sha256: pv.model.sha256, cached: pv.training?.cached ?? null });
    }
    // Training-time annotation settings: every model trained on each setting's noisy labels.
    const trainTime: (TrainTimeModel & { prepared: PreparedVariant })[] = [];
    if (trainTimeSettings.length) {
      const sources: { name: string; model: Classifier; recipe: Record<string, unknown>; from: 'variant' | 'retrain' }[] = [
        { name: 'base', model, recipe: config.retrain, from: 'retrain' },
        ...config.variants.map((v, i) => (v.train ? { name: v.name, model, recipe: v.train, from: 'variant' as const } : { name: v.name, model: variants[i]!.model, recipe: config.retrain, from: 'retrain' as const })),
      ];
      for (const src of sources) {
        if (src.model.source !== 'onnx') throw new ConfigError(`'models' (${src.name}): ${src.model.label} is an endpoint, and training-time label noise (at: train) retrains every model from its ONNX file`);
        for (const st of trainTimeSettings) {
          const name = `${src.name} ${st.label}`;
          emit({ type: 'phase', message: `${name}: training (or reusing the cached model)` });
          const pv = await prepare({ name, path: null, train: trainTimeRecipe(src.recipe, st.spec) }, src.model);
          trainTime.push({ model: src.name, setting: st.label, key: st.key, sha256: pv.model.sha256, path: pv.path, recipe_from: src.from, training: pv.training!, prepared: pv });
          store.event({ event: 'train_time_ready', model: src.name, setting: st.label, sha256: pv.model.sha256, cached: pv.training?.cached ?? null });
        }
      }
    }
    if (variants.length || trainTime.length) {
      writeJson(store.manifestPath, {
        ...manifest,
        variants: variants.map((v) => ({ name: v.name, source: v.source, path: v.path, sha256: v.model.sha256 })),
        ...(trainTime.length ? { train_time: trainTime.map((t) => ({ model: t.model, setting: t.setting, sha256: t.sha256, path: t.path })) } : {}),
      });
    }

    // A model's cell as it runs (`CellBench.cellFor`): a variant's (or a training-time) cell has its
    // own id and a hash that includes the model it runs, so a changed model is recomputed.
    const armsOf = (name: string): Map<string, CellArm> => new Map(trainTime.filter((t) => t.model === name).map((t) => [t.key, t.prepared]));
    const bench = new CellBench(config, ds, plan, (message) => emit({ type: 'phase', message }), opts.chunkItems, source);
    closers.push(() => bench.close());
    // Checkpointed cells, now that every model (and so every cell's hash) is known.
    const modelsRun = [{ m: model, variant: null as string | null }, ...variants.map((v) => ({ m: v.model, variant: v.name as string | null }))];
    const resumed = modelsRun.reduce((a, { m, variant }) => a + plan.cells.filter((planned) => {
      const { cell } = bench.cellFor(planned, m, variant, armsOf(variant ?? 'base'));
      return store.readJson<CellResult>(store.cellPath(cell.id))?.hash === cell.hash;
    }).length, 0);
    emit({ type: 'plan', plan, resumed, total: allIds.length });

    const { weights, counters } = bench;
    const total = allIds.length;
    let done = 0;
    // One model's cells: the same plan, seeds and bootstrap resamples for the base and every variant.
    // A cell with a training-time annotation setting runs the model trained on that setting's labels
    // (`arms`, by setting key), with its own clean predictions, against this model's baseline.
    const runModel = async (m: Classifier, variant: string | null, arms: Map<string, CellArm>): Promise<{ results: CellResult[]; uncertainty: UncertaintyContextSummary | null; K: number }> => {
      const own = await bench.context(m, variant);
      const results: CellResult[] = [];
      let baseline: CellResult | null = null;
      for (const planned of plan.cells) {
        if (opts.signal?.aborted) throw interrupted(opts, claim, done, total);
        const { cell } = bench.cellFor(planned, m, variant, arms);
        const index = done;
        const saved = store.readJson<CellResult>(store.cellPath(cell.id));
        if (saved && saved.hash === cell.hash) {
          results.push(saved);
          if (!cell.adversarial && !cell.drift && !cell.annotation) baseline = saved;
          done++;
          emit({ type: 'cell_done', cell, index, total, result: saved, cached: true });
          continue;
        }
        emit({ type: 'cell_start', cell, index, total });
        const result = await bench.run(planned, m, variant, arms, baseline);
        if (!cell.adversarial && !cell.drift && !cell.annotation) baseline = result;
        writeJson(store.cellPath(cell.id), result);
        store.event({ event: 'cell_done', id: cell.id, seconds: result.performance.seconds });
        results.push(result);
        done++;
        emit({ type: 'cell_done', cell, index, total, result, cached: false });
      }
      return { results, uncertainty: own.unc ? uncertaintyContextSummary(own.unc) : null, K: own.K };
    };
    // Cells on queue workers (opts.remote): the same cells, run by `CellBench.run` there; the
    // checkpoints, events and results are written here exactly as a local run writes them. Cells
    // of one model that share an input set (`inputKey`: the drifted and attacked inputs and the
    // predictions on them; and the model that runs them) go as one job, so that a worker computes
    // an attack once and reuses it, as a local run's caches do.
    const runRemote = async (remote: RemoteCells): Promise<{ results: CellResult[]; uncertainty: UncertaintyContextSummary | null; K: number }[]> => {
      const spec: RemoteSpec = {
        gauntlet: GAUNTLET_VERSION,
        run: runKey(identity),
        config: configJson,
        data_sha256: dataSha,
        models: [{ name: 'base', path: path.resolve(config.model.path), sha256: model.sha256 }, ...variants.map((v) => ({ name: v.name, path: path.resolve(v.path), sha256: v.model.sha256 }))],
        arms: trainTime.map((t) => ({ model: t.model, key: t.key, name: t.prepared.name, path: path.resolve(t.path), sha256: t.sha256 })),
      };
      const byModel = modelsRun.map(() => new Array<CellResult | undefined>(plan.cells.length));
      const contexts = modelsRun.map((): RemoteContext | null => null);
      const tasks = modelsRun.flatMap(({ m, variant }, mi) =>
        plan.cells.map((planned, i) => {
          const { arm, cell } = bench.cellFor(planned, m, variant, armsOf(variant ?? 'base'));
          return { mi, i, variant, planned, cell, group: `${mi}|${arm?.name ?? ''}|${inputKey(planned)}` };
        }),
      );
      const take = (t: (typeof tasks)[number], result: CellResult, cached: boolean) => {
        if (byModel[t.mi]![t.i]) return; // a result arrives once per cell, whatever the retries
        byModel[t.mi]![t.i] = result;
        if (!cached) {
          writeJson(store.cellPath(t.cell.id), result);
          store.event({ event: 'cell_done', id: t.cell.id, seconds: result.performance.seconds });
        }
        emit({ type: 'cell_done', cell: t.cell, index: done++, total, result, cached });
      };
      for (const t of tasks) {
        const saved = store.readJson<CellResult>(store.cellPath(t.cell.id));
        if (saved && saved.hash === t.cell.hash) take(t, saved, true);
      }
      // Each model's baseline first (plan.cells[0], the cell without stresses): the others are compared with it.
      // Groups with an attack go first (the longest jobs start first; the short ones fill in at the end).
      // A group is made of all its cells, checkpointed or not, so that a restarted coordinator
      // (--resume) names the same jobs as the first one and reattaches to them; only groups with a
      // cell still to compute are sent.
      const send = async (phase: typeof tasks) => {
        const groups = groupBy(phase, (t) => t.group, (t) => (t.planned.adversarial ? 1 : 0)).filter((g) => g.some((t) => !byModel[t.mi]![t.i]));
        if (!groups.length) return;
        const jobs = groups.map((g) => g.map((t): CellJob => ({ variant: t.variant, cell: t.planned.id, hash: t.cell.hash, baseline: t.i === 0 ? null : byModel[t.mi]![0]! })));
        await remote.run(spec, jobs, {
          signal: opts.signal,
          start: (g) => emit({ type: 'cell_start', cell: groups[g]![0]!.cell, index: done, total }),
          result: (g, j, r) => take(groups[g]![j]!, r, false),
          context: (g, c) => (contexts[groups[g]![0]!.mi] = c),
        }, { data: ds, done: new Set(phase.filter((t) => byModel[t.mi]![t.i]).map((t) => t.cell.hash)) });
      };
      await send(tasks.filter((t) => t.i === 0));
      await send(tasks.filter((t) => t.i > 0));
      if (opts.signal?.aborted) throw interrupted(opts, claim, done, total);
      // A group's job skips the cells checkpointed when it ran; one that did not come back otherwise is a fault, never a hole in results.json.
      const missing = tasks.find((t) => !byModel[t.mi]![t.i]);
      if (missing) throw new CellJobError(`cell ${missing.cell.id}: its job finished without its result (it was skipped as checkpointed, but this run directory does not hold it); run again with --resume`);
      await remote.finish?.(spec);
      const out: { results: CellResult[]; uncertainty: UncertaintyContextSummary | null; K: number }[] = [];
      for (const [mi, { m, variant }] of modelsRun.entries()) {
        // The classes and the uncertainty fit from the worker that ran the model's baseline; a
        // baseline checkpointed by an earlier run (--resume) has them computed here again.
        const c = contexts[mi];
        if (c) out.push({ results: byModel[mi]!.map((r) => r!), uncertainty: c.uncertainty, K: c.classes });
        else {
          const own = await bench.context(m, variant);
          out.push({ results: byModel[mi]!.map((r) => r!), uncertainty: own.unc ? uncertaintyContextSummary(own.unc) : null, K: own.K });
        }
      }
      return out;
    };
    const runs = opts.remote ? await runRemote(opts.remote) : [];
    const baseRun = opts.remote ? runs[0]! : await runModel(model, null, armsOf('base'));
    const { results, uncertainty, K } = baseRun;
    const variantRuns: { v: PreparedVariant; results: CellResult[]; uncertainty: UncertaintyContextSummary | null }[] = [];
    for (const [i, v] of variants.entries()) variantRuns.push({ v, ...(opts.remote ? runs[i + 1]! : await runModel(v.model, v.name, armsOf(v.name))) });

    const interactions = computeInteractions(plan, results, weights, config.abstainBelow);
    const variantResults: VariantResult[] = variantRuns.map(({ v, results: cells, uncertainty: vu }) => ({
      name: v.name,
      source: v.source,
      path: v.path,
      sha256: v.model.sha256,
      training: v.training,
      cells,
      interactions: computeInteractions(plan, cells.map((c, i) => ({ ...c, id: plan.cells[i]!.id })), weights, config.abstainBelow).map((x) => ({ ...x, cell: `${v.name}--${x.cell}` })),
      uncertainty: vu,
    }));
    // Endpoints' serving figures (an endpoint campaign runs locally: these are all its requests).
    const served = [{ name: 'base', m: model as Classifier }, ...variants.map((v) => ({ name: v.name, m: v.model as Classifier }))]
      .flatMap(({ name, m }) => (m instanceof EndpointModel ? [{ model: name, ...m.serving() }] : []));
    const mitigation = variantResults.length ? mitigationTable(plan, results, variantResults, weights) : null;
    const budgets = evaluateBudgets(config.budgets, results, new Map(variantResults.map((v) => [v.name, v.cells])));
    // The compute floor is the ORT time of this run's own batches (read before the per-batch
    // timing below, which only describes a batch): load from outside slows the run and its floor
    // alike, where a few seconds timed at the end made the ratio whatever that moment's load was.
    const ownOrtMs = ortClock.ms - ort0;
    const wall = (performance.now() - t0) / 1000;
    emit({ type: 'phase', message: 'timing one batch' });
    const floorN = Math.min(config.batchSize, ds.size);
    // A text model's embedding view (and its scale), opened once for the floor and results.json.
    const emb = await openCellEmbedding(model, config.seed, opts.threads);
    if (emb) closers.push(() => emb.view.close());
    const floor = await computeFloor(model, source ? source.head : subset(ds, Int32Array.from({ length: floorN }, (_, i) => i)).x, labels.subarray(0, floorN), engines, emb);
    const text = textSummary(model, emb);
    const estimated = (counters.forwardBatches * floor.forwardMs + counters.gradientBatches * floor.gradMs) / 1000;
    // Cells computed elsewhere (queue workers) leave no ORT time here: then the timed estimate.
    const floorSeconds = ownOrtMs > 0 ? ownOrtMs / 1000 : estimated;
    const out: CampaignResults = {
      gauntlet: GAUNTLET_VERSION,
      seed: config.seed,
      model: { path: config.model.path, sha256: model.sha256, output_kind: model.outputKind ?? 'logits' },
      data: { path: config.data.path, sha256: dataSha, samples: ds.size, classes: K, class_names: ds.classNames ? [...ds.classNames] : path.resolve(config.data.path) === path.resolve(defaultAssets.data) ? defaultMeta().class_names : null },
      config: configJson,
      cells: results,
      interactions,
      budgets,
      uncertainty,
      variants: variantResults.length ? variantResults : null,
      mitigation,
      ...(trainTime.length ? { train_time: trainTime.map(({ prepared: _p, ...t }) => t) } : {}),
      ...(text ? { text } : {}),
      performance: {
        wall_seconds: wall,
        floor_seconds: floorSeconds,
        floor_ratio: floorSeconds > 0 ? wall / floorSeconds : NaN,
        forward_ms_per_batch: floor.forwardMs,
        forward_grad_ms_per_batch: floor.gradMs,
        forward_batches: counters.forwardBatches,
        gradient_batches: counters.gradientBatches,
        ...(served.length ? { endpoints: served } : {}),
      },
    };
    writeJson(store.resultsPath, out);
    writeJson(store.manifestPath, { ...manifest, finished: new Date().toISOString() });
    store.event({ event: 'finish', wall_seconds: wall });
    claim.finish();
    return out;
  } catch (e) {
    // Nothing checkpointed yet: remove what this run created, so that the same command can run again.
    claim?.abandon();
    throw e;
  } finally {
    for (const e of engines) await e.close();
    for (const c of closers) await c();
    await model.close();
  }
}

/**
 * The mitigation table: per cell, each model's accuracy and, for each variant, its paired
 * difference from the base model (same items, same bootstrap resamples) with a 95 % CI; the best
 * model per cell (highest accuracy; a variant counts as better only when its difference's CI is
 * above 0); and each variant's price: its clean accuracy change and its training time.
 */
export function mitigationTable(plan: Plan, base: CellResult[], variants: VariantResult[], weights: readonly ResampleWeights[]): MitigationTable {
  const acc = (c: CellResult) => bits(c.correct).reduce((a, b) => a + b, 0) / c.correct.length;
  const rows = plan.cells.map((cell, i) => {
    const b = base[i]!;
    const paired = !b.item_indices && b.correct.length === weights[0]?.length;
    const baseBoot = paired ? Array.from(weightedMeans(bits(b.correct), weights)) : null;
    const entries = variants.map((v) => {
      const c = v.cells[i]!;
      let diff: Interaction['observed_drop'] | null = null;
      if (baseBoot && !c.item_indices && c.correct.length === b.correct.length) {
        const vb = Array.from(weightedMeans(bits(c.correct), weights));
        diff = { value: acc(c) - acc(b), ci: percentileCi(vb.map((x, r) => x - baseBoot[r]!)) };
      }
      return { variant: v.name, accuracy: c.metrics.accuracy, diff_vs_base: diff };
    });
    const better = entries.filter((e) => e.diff_vs_base && e.diff_vs_base.ci[0] > 0);
    const best = better.length ? better.reduce((x, y) => (y.accuracy.value > x.accuracy.value ? y : x)).variant : 'base';
    return { cell: cell.id, stage: cell.stage, labels: b.labels, base: b.metrics.accuracy, variants: entries, best };
  });
  const price = variants.map((v, k) => ({ variant: v.name, clean_accuracy_change: rows[0]!.variants[k]!.diff_vs_base, training_seconds: v.training ? v.training.seconds : null }));
  return { variants: variants.map((v) => v.name), rows, price };
}

/** The seed labels each stress of a cell draws from (derived from the campaign seed and the stress spec). */
function cellSeeds(seed: number, c: CellPlan): Record<string, string> {
  const s: Record<string, string> = {};
  if (c.annotation) s.annotation = `${seed}/annotation|${shortHash(c.annotation.key)}`;
  if (c.drift) s.drift = `${seed}/drift|${shortHash(c.drift.key)}`;
  if (c.adversarial) s.adversarial = `${seed}/adversarial|${shortHash(c.adversarial.key)}|${c.drift ? shortHash(c.drift.key) : ''}`;
  return s;
}

/** Observed drop vs the sum of isolated drops, per multi-stress cell, with paired bootstrap CIs. */
export function computeInteractions(plan: Plan, results: CellResult[], weights: readonly ResampleWeights[], abstainBelow: number): Interaction[] {
  const byId = new Map(results.map((r) => [r.id, r]));
  const base = results.find((r) => Object.keys(r.stresses).length === 0);
  if (!base || base.item_indices) return [];
  const isolated = new Map<string, CellResult>();
  for (const c of plan.cells) {
    const kinds = STRESS_KINDS.filter((k) => c[k]);
    if (kinds.length === 1) isolated.set(`${kinds[0]}=${c[kinds[0]!]!.key}`, byId.get(c.id)!);
  }
  // Accuracy for each resample from a correctness string.
  const boot = (correct: string) => Array.from(weightedMeans(bits(correct), weights));
  const point = (correct: string) => bits(correct).reduce((a, b) => a + b, 0) / correct.length;
  const baseBoot = boot(base.correct);
  const basePoint = point(base.correct);
  const out: Interaction[] = [];
  for (const c of plan.cells) {
    const kinds = STRESS_KINDS.filter((k) => c[k]);
    if (kinds.length < 2) continue;
    const r = byId.get(c.id)!;
    if (r.item_indices) continue;
    const parts = kinds.map((k) => isolated.get(`${k}=${c[k]!.key}`));
    if (parts.some((p) => !p || p.item_indices)) continue;
    for (const metric of ['accuracy', 'measured_accuracy'] as const) {
      // Measured accuracy differs from true accuracy only under test-time annotation noise.
      if (metric === 'measured_accuracy' && (!c.annotation || isTrainTime(c.annotation.spec))) continue;
      const measured = (x: CellResult) => (metric === 'measured_accuracy' && x.correct_observed ? x.correct_observed : x.correct);
      const cellBoot = boot(measured(r));
      const partBoots = parts.map((p) => boot(measured(p!)));
      const obs = baseBoot.map((b, i) => b - cellBoot[i]!);
      const add = baseBoot.map((b, i) => partBoots.reduce((s, pb) => s + (b - pb[i]!), 0));
      const inter = obs.map((o, i) => o - add[i]!);
      const obsPoint = basePoint - point(measured(r));
      const addPoint = parts.reduce((s, p) => s + (basePoint - point(measured(p!))), 0);
      const ci = percentileCi(inter);
      const judged = interactionVerdict({ interactionCi: ci, cellAccuracyCi: percentileCi(cellBoot), baseline: basePoint, additive: addPoint });
      out.push({
        cell: c.id,
        stage: c.stage,
        kinds,
        metric,
        observed_drop: { value: obsPoint, ci: percentileCi(obs) },
        additive_drop: { value: addPoint, ci: percentileCi(add) },
        interaction: { value: obsPoint - addPoint, ci },
        verdict: judged.verdict,
        floor: judged.floor,
      });
    }
  }
  void abstainBelow;
  return out;
}

/** Median time of one forward batch and one forward+gradient batch, for the compute floor. */
async function computeFloor(model: Classifier, x: Float32Array, labels: Int32Array, engines: GradientEngine[], emb: CellEmbedding | null): Promise<{ forwardMs: number; gradMs: number }> {
  const n = labels.length;
  const sub = { x, labels };
  const median = async (f: () => Promise<unknown>) => {
    await f();
    return lowerMedian(await timeCalls(f, 5));
  };
  const forwardMs = await median(() => model.predictBatch(sub.x, n));
  let gradMs = NaN;
  try {
    if (model.source !== 'onnx') return { forwardMs, gradMs };
    // A text model (wrt: embedding): its gradients are taken on the embedding tail.
    const engine = new GradientEngine(emb ? emb.view.tail : (model as Model), { kind: 'ce' });
    engines.push(engine);
    const x = emb ? emb.view.embed(sub.x) : sub.x;
    gradMs = await median(() => engine.run(x, n, sub.labels!));
  } catch {
    // Models without gradient rules have no gradient floor.
  }
  return { forwardMs, gradMs };
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: packageRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null;
  } catch {
    return null;
  }
}

export { itemId };

function interrupted(opts: RunOptions, claim: RunDirClaim | null, checkpointed: number, total: number): RunInterruptedError {
  const reason: unknown = opts.signal?.reason;
  const removed = checkpointed === 0 && (claim?.abandon() ?? false);
  return new RunInterruptedError({ checkpointed, total, dir: opts.outDir, signal: typeof reason === 'string' ? reason : null, removed });
}

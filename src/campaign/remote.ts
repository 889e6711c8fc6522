/**
 * Cells run elsewhere (queue workers, src/queue/): what the coordinator sends — the run's spec
 * (config, data hash, every model's file and sha256) and per job the cell, the hash it must have and
 * the baseline it is compared with — and `CellWorkbench`, which runs such a job with the same
 * `CellBench.run` a local run uses. Workers read the model and data files from a shared path and
 * check their sha256 against the coordinator's; any difference is an input error, never a retry.
 */
import { datasetHash, requireLabels, type Dataset } from '../data/dataset.js';
import { loadDataset } from '../data/load.js';
import { Model } from '../engine/model.js';
import { readModelFile } from '../onnx/load.js';
import { ConfigError, DataError, ModelError } from '../errors.js';
import { CellBench, type CellArm } from './bench.js';
import { canonical, shortHash } from './canonical.js';
import type { CampaignConfig } from './config.js';
import { isTrainTime } from './config.js';
import { makePlan, type Plan } from './plan.js';
import type { CellResult } from './types.js';
import { uncertaintyContextSummary, type UncertaintyContextSummary } from '../uncertainty/index.js';
import type { TrainProgress } from '../train/trainer.js';
import { prepareVariant, trainingDataKey, variantKey, type TrainingRecord } from './variants.js';

/** A model file the workers open: its name in the run ('base', a variant's, or a training-time model's), path and sha256. */
export interface RemoteModelFile {
  name: string;
  path: string;
  sha256: string;
}

/** What every job of a run carries: enough for a worker with the shared files to build the run's cells. */
export interface RemoteSpec {
  /** The coordinator's Gauntlet version; a worker of another version refuses the job. */
  gauntlet: string;
  /** The run's key: a hash of its identity (model, data, config). */
  run: string;
  config: unknown;
  data_sha256: string;
  /** The base model ('base') and each variant, by name. */
  models: RemoteModelFile[];
  /** Training-time models: `model` is the model they belong to ('base' or a variant), `key` the setting's key. */
  arms: (RemoteModelFile & { model: string; key: string })[];
  /** The coordinator sent the model files and the loaded data (by sha256) for workers to fetch (`RemoteFiles`); absent: shared storage. */
  files?: boolean;
}

/**
 * Where a worker gets a run's files when the coordinator sent them (`RemoteSpec.files`): each
 * fetched once, its hash verified, and kept in a local cache.
 */
export interface RemoteFiles {
  /** A local path of the model file with `file.sha256`. */
  model(run: string, file: RemoteModelFile): Promise<string>;
  /** The run's dataset, whose `datasetHash` is `sha256`. */
  data(run: string, sha256: string): Promise<Dataset>;
}

/** One cell to run: the model (null: the base), the planned cell's id, the hash it must have, and its baseline. */
export interface CellJob {
  variant: string | null;
  cell: string;
  hash: string;
  baseline: CellResult | null;
}

/**
 * What a model's context gave on the worker that ran its baseline cell: the number of classes and
 * the uncertainty section's fit (as `uncertaintyContextSummary` gives it), so that the coordinator
 * does not predict the clean data again to write them into results.json.
 */
export interface RemoteContext {
  classes: number;
  uncertainty: UncertaintyContextSummary | null;
}

/**
 * A group job's return value: its cells' results, in the group's order (null: a cell the
 * coordinator had checkpointed already, skipped), and (for a group whose baseline cell ran) its
 * model's context.
 */
export interface GroupResult {
  cells: (CellResult | null)[];
  context: RemoteContext | null;
}

/** What a RemoteCells reports as groups run: a group started, one of its cells' results (`j`: index in the group), a model's context. */
export interface RemoteHandlers {
  signal?: AbortSignal;
  start: (g: number) => void;
  result: (g: number, j: number, r: CellResult) => void;
  context?: (g: number, c: RemoteContext) => void;
}

/**
 * Where a run sends its cells, in groups: the cells of one group share an expensive input (an
 * attack's adversarial inputs and the predictions on them) and run together on one worker, which
 * computes that input once, as a local run does. `run` resolves once every cell of every group has
 * a result (given through `result`, once each), or the signal fired.
 */
export interface RemoteCells {
  /**
   * `inputs.data`: the run's data as the coordinator loaded it (for workers that get it from the
   * coordinator); `inputs.done`: the hashes of the groups' cells already checkpointed (a worker
   * skips them when it runs their group).
   */
  run(spec: RemoteSpec, groups: CellJob[][], on: RemoteHandlers, inputs: { data: Dataset; done?: ReadonlySet<string> }): Promise<void>;
  /**
   * Trains `jobs` elsewhere (independent of each other: in parallel) and puts each trained model
   * into the variant cache `cacheDir` (`storeTrainedVariant`) before `on.trained`; resolves once
   * every one is there, or the signal fired.
   */
  train?(spec: TrainSpec, jobs: TrainJob[], cacheDir: string, on: RemoteTrainHandlers, inputs: { train: Dataset; val: Dataset | null }): Promise<void>;
  /** Called once every cell of the run has its result: releases what `run` left for the workers (sent files, the checkpointed set). */
  finish?(spec: RemoteSpec): Promise<void>;
}

/**
 * What every training job of a run carries: the config (the model declaration, the training and
 * validation data), the training and validation data's hashes, and whether the coordinator sent the
 * files through the queue.
 */
export interface TrainSpec {
  gauntlet: string;
  run: string;
  config: unknown;
  train_sha256: string;
  val_sha256: string | null;
  /**
   * ORT threads for training (the coordinator's `--threads`; 0: the worker's own). A trained
   * model's bytes depend on it (ORT's reductions split by thread), so a queued run trains with the
   * coordinator's setting and gets the bytes `gauntlet run --threads N` gets locally.
   */
  threads: number;
  files?: boolean;
}

/**
 * One model to train: a trained variant, or a model trained on a training-time annotation
 * setting's labels. `key` is its variant cache key (`variantKey`: the recipe, the model it is
 * trained from, the training data, the declaration), which is also its job's id.
 */
export interface TrainJob {
  name: string;
  key: string;
  base: RemoteModelFile;
  recipe: Record<string, unknown>;
}

/** A training job's return value: the trained model (sent back through the queue, `putTrained`) and its training record. */
export interface TrainedModel {
  key: string;
  sha256: string;
  bytes: number;
  record: Omit<TrainingRecord, 'cache_path' | 'cached'>;
}

/** What a RemoteCells reports as trainings run: one started, its progress, one stored in the cache. */
export interface RemoteTrainHandlers {
  signal?: AbortSignal;
  start?: (k: number) => void;
  progress: (k: number, p: TrainProgress) => void;
  trained: (k: number, m: TrainedModel) => void;
}

/**
 * Groups items by `key` (first appearance order within a group and among groups), then orders the
 * groups by `cost` (the group's largest item cost), highest first and stable, so that the longest
 * groups start first and the short ones fill in at the end.
 */
export function groupBy<T>(items: readonly T[], key: (t: T) => string, cost: (t: T) => number = () => 0): T[][] {
  const groups = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    const g = groups.get(k);
    if (g) g.push(t);
    else groups.set(k, [t]);
  }
  const list = [...groups.values()].map((g, i) => ({ g, i, c: Math.max(...g.map(cost)) }));
  list.sort((a, b) => b.c - a.c || a.i - b.i);
  return list.map((x) => x.g);
}

/** A group job's id within a run: the cell's hash for a group of one, else a hash of the group's cell hashes (so enqueueing again is a no-op). */
export function groupHash(cells: readonly { hash: string }[]): string {
  return cells.length === 1 ? cells[0]!.hash : shortHash(cells.map((c) => c.hash).join('|'));
}

/** A run's key: a short hash of its identity (model and data sha256, config). */
export function runKey(identity: unknown): string {
  return shortHash(canonical(identity));
}

interface OpenRun {
  config: CampaignConfig;
  plan: Plan;
  bench: CellBench;
  models: Map<string, Promise<Model>>;
  uses: number;
}

/**
 * Runs cell jobs in a worker process: opens a run's data and models once (checking their sha256),
 * keeps them while jobs of that run come, and runs each cell with `CellBench.run`.
 */
export class CellWorkbench {
  private readonly runs = new Map<string, Promise<OpenRun>>();

  constructor(private readonly opts: { threads?: number; version: string; files?: RemoteFiles }) {}

  /**
   * Runs a group's cells one after the other on this worker (they share the model's context and its
   * caches, so an attack they share is computed once), handing each result to `onCell` as it
   * finishes; for a group with a baseline cell, also the model's context (classes, uncertainty fit).
   */
  async runGroup(spec: RemoteSpec, cells: readonly CellJob[], onCell: (j: number, r: CellResult) => Promise<void> | void = () => {}, onStart: (j: number) => void = () => {}, skip: readonly boolean[] = []): Promise<GroupResult> {
    const results: (CellResult | null)[] = [];
    let context: RemoteContext | null = null;
    for (const [j, job] of cells.entries()) {
      // Checkpointed by the coordinator already: a cell after it that needs its inputs computes them itself.
      if (skip[j]) {
        results.push(null);
        continue;
      }
      onStart(j);
      const r = await this.run(spec, job);
      results.push(r);
      if (job.baseline === null && context === null) context = await this.context(spec, job);
      await onCell(j, r);
    }
    return { cells: results, context };
  }

  /** The context of the model a baseline job runs (built by that job already): its classes and uncertainty fit. */
  private async context(spec: RemoteSpec, job: CellJob): Promise<RemoteContext> {
    const r = await this.open(spec);
    const file = spec.models.find((m) => m.name === (job.variant ?? 'base'))!;
    const { K, unc } = await r.bench.context(await this.model(r, file, spec), job.variant);
    return { classes: K, uncertainty: unc ? uncertaintyContextSummary(unc) : null };
  }

  async run(spec: RemoteSpec, job: CellJob): Promise<CellResult> {
    if (spec.gauntlet !== this.opts.version) throw new ConfigError(`the coordinator runs Gauntlet ${spec.gauntlet}, this worker ${this.opts.version}; run workers of the same version`);
    const r = await this.open(spec);
    r.uses++;
    try {
      const planned = r.plan.cells.find((c) => c.id === job.cell);
      if (!planned) throw new ConfigError(`cell ${job.cell}: not in the plan this worker makes of the run's config`);
      const name = job.variant ?? 'base';
      const file = spec.models.find((m) => m.name === name);
      if (!file) throw new ConfigError(`cell ${job.cell}: the job names model '${name}', which the run does not list`);
      const m = await this.model(r, file, spec);
      const arms = new Map<string, CellArm>();
      if (planned.annotation && isTrainTime(planned.annotation.spec)) {
        const a = spec.arms.find((x) => x.model === name && x.key === planned.annotation!.key);
        if (!a) throw new ConfigError(`cell ${job.cell}: no training-time model of '${name}' for ${planned.annotation.label}`);
        arms.set(a.key, { name: a.name, model: await this.model(r, a, spec) });
      }
      const { cell } = r.bench.cellFor(planned, m, job.variant, arms);
      if (cell.hash !== job.hash) throw new ConfigError(`cell ${cell.id}: has hash ${cell.hash} on this worker, the coordinator's is ${job.hash}; workers and coordinator must run the same Gauntlet on the same files`);
      return await r.bench.run(planned, m, job.variant, arms, job.baseline);
    } finally {
      r.uses--;
      await this.evict(spec.run);
    }
  }

  /**
   * Trains one model of a run, with the same `prepareVariant` (and so the same trainer, epoch
   * checkpoint and cache) as a local run, into this worker's variant cache `cacheDir`: a retry on
   * this worker resumes from the last epoch's checkpoint, on another it starts again. Returns the
   * trained file and its training record.
   */
  async train(spec: TrainSpec, job: TrainJob, cacheDir: string, onProgress: (p: TrainProgress) => void, signal?: AbortSignal): Promise<{ file: string; sha256: string; record: TrainedModel['record'] }> {
    if (spec.gauntlet !== this.opts.version) throw new ConfigError(`the coordinator runs Gauntlet ${spec.gauntlet}, this worker ${this.opts.version}; run workers of the same version`);
    const config = spec.config as CampaignConfig;
    if (spec.files && !this.opts.files) throw new ConfigError(`the coordinator sent the run's files through the queue, and this worker cannot fetch them`);
    const data = async (ref: CampaignConfig['trainData'], sha: string, what: string): Promise<Dataset> => {
      const ds = spec.files ? await this.opts.files!.data(spec.run, sha) : await loadDataset(ref!);
      const got = datasetHash(ds);
      if (got !== sha) throw new DataError(`${ref?.path ?? what}: has sha256 ${got.slice(0, 12)}… on this worker, the run's ${what} is ${sha.slice(0, 12)}…; workers must read the same files as the coordinator (shared storage, or 'gauntlet run --send-files')`);
      return ds;
    };
    const trainData = await data(config.trainData, spec.train_sha256, 'training data');
    const val = spec.val_sha256 ? await data(config.valData, spec.val_sha256, 'validation data') : null;
    const local = spec.files ? await this.opts.files!.model(spec.run, job.base) : job.base.path;
    const loaded = readModelFile(local);
    if (loaded.sha256 !== job.base.sha256) throw new ModelError(`${local}: has sha256 ${loaded.sha256.slice(0, 12)}… on this worker, the run's model '${job.base.name}' is ${job.base.sha256.slice(0, 12)}…; workers must read the same files as the coordinator (shared storage, or 'gauntlet run --send-files')`);
    const key = variantKey(loaded, config.model, job.recipe, trainingDataKey(spec.train_sha256, val));
    if (key !== job.key) throw new ConfigError(`training '${job.name}': has key ${key} on this worker, the coordinator's is ${job.key}; workers and coordinator must run the same Gauntlet on the same files`);
    const threads = spec.threads || this.opts.threads;
    const base = await Model.fromProto(loaded.proto, local, loaded.sha256, { ...config.model, threads });
    try {
      const pv = await prepareVariant({ name: job.name, path: null, train: job.recipe }, base, config.model, trainData, { val, cacheDir, threads, signal, onProgress: (_n, p) => onProgress(p) });
      await pv.model.close();
      const { cache_path: _c, cached: _k, ...record } = pv.training!;
      void _c;
      void _k;
      return { file: pv.path, sha256: pv.model.sha256, record };
    } finally {
      await base.close();
    }
  }

  /** Closes every open run (their models and contexts). */
  async close(): Promise<void> {
    for (const key of [...this.runs.keys()]) await this.drop(key);
  }

  private open(spec: RemoteSpec): Promise<OpenRun> {
    let r = this.runs.get(spec.run);
    if (!r) {
      r = (async () => {
        const config = spec.config as CampaignConfig;
        let ds: Dataset;
        if (spec.files) {
          if (!this.opts.files) throw new ConfigError(`the coordinator sent the run's files through the queue, and this worker cannot fetch them`);
          ds = await this.opts.files.data(spec.run, spec.data_sha256);
        } else ds = await loadDataset(config.data);
        requireLabels(ds, 'a campaign');
        const sha = datasetHash(ds);
        if (sha !== spec.data_sha256) throw new DataError(`${config.data.path}: has sha256 ${sha.slice(0, 12)}… on this worker, the run's data is ${spec.data_sha256.slice(0, 12)}…; workers must read the same files as the coordinator (shared storage, or 'gauntlet run --send-files')`);
        const plan = makePlan(config);
        return { config, plan, bench: new CellBench(config, ds, plan), models: new Map(), uses: 0 };
      })();
      this.runs.set(spec.run, r);
      r.catch(() => this.runs.delete(spec.run));
    }
    return r;
  }

  private model(r: OpenRun, file: RemoteModelFile, spec: RemoteSpec): Promise<Model> {
    let p = r.models.get(file.sha256);
    if (!p) {
      p = (async () => {
        if (spec.files && !this.opts.files) throw new ConfigError(`the coordinator sent the run's files through the queue, and this worker cannot fetch them`);
        const local = spec.files ? await this.opts.files!.model(spec.run, file) : file.path;
        const loaded = readModelFile(local);
        if (loaded.sha256 !== file.sha256) {
          throw new ModelError(`${local}: has sha256 ${loaded.sha256.slice(0, 12)}… on this worker, the run's model '${file.name}' is ${file.sha256.slice(0, 12)}…; workers must read the same files as the coordinator (shared storage, or 'gauntlet run --send-files')`);
        }
        return Model.fromProto(loaded.proto, local, loaded.sha256, { ...r.config.model, threads: this.opts.threads });
      })();
      r.models.set(file.sha256, p);
      p.catch(() => r.models.delete(file.sha256));
    }
    return p;
  }

  /** Keeps the run just used; closes other runs no job is using. */
  private async evict(keep: string): Promise<void> {
    for (const [key, p] of [...this.runs]) {
      if (key === keep) continue;
      const r = await p.catch(() => null);
      if (!r || r.uses === 0) await this.drop(key);
    }
  }

  private async drop(key: string): Promise<void> {
    const p = this.runs.get(key);
    this.runs.delete(key);
    const r = await p?.catch(() => null);
    if (!r) return;
    await r.bench.close();
    for (const m of r.models.values()) await (await m.catch(() => null))?.close();
  }
}

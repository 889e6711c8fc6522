/**
 * The coordinator's side of a queued run (`gauntlet run --queue URL`): `QueueCells` is the
 * runner's `RemoteCells` over BullMQ. It enqueues one job per group of cells that share an
 * expensive input (see `RemoteCells`), its id the run key and the group's hash (re-enqueueing is a
 * no-op, so a restarted coordinator reattaches to the jobs already queued, running or done), then
 * waits for the results — each cell's result as the worker finishes it (a job progress event),
 * the whole group's as the job's return value, and a sweep of every pending job's state every
 * `sweepMs` — handing each cell's result to the runner once. A job that failed for good stops the
 * run with the worker's one-line error; Redis unreachable for UNREACHABLE_MS stops it with a
 * QueueUnavailableError.
 */
import { Job, Queue, QueueEvents, type JobsOptions } from 'bullmq';
import { groupHash, type CellJob, type GroupResult, type RemoteCells, type RemoteHandlers, type RemoteSpec, type RemoteTrainHandlers, type TrainedModel, type TrainJob, type TrainSpec } from '../campaign/remote.js';
import type { TrainProgress } from '../train/trainer.js';
import { storeTrainedVariant } from '../campaign/variants.js';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { CellResult } from '../campaign/types.js';
import { CellJobError, GauntletError, QueueUnavailableError } from '../errors.js';
import path from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { cleanRun } from './admin.js';
import { clearDone, markDone } from './done.js';
import { fetchTrained, removeFiles, removeTrained, sendFiles, type FileToSend } from './files.js';
import { bullConnection, QUEUE_NAME, redisOptions, showUrl, watchdog, within } from './connection.js';

/** The data of one job: a group of cells that run together on one worker. */
export interface CellJobData {
  spec: RemoteSpec;
  cells: CellJob[];
}

/** A job's progress report: the result of the group's cell `cell` (its index in the group), sent as soon as it is done. */
export interface CellProgress {
  cell: number;
  result: CellResult;
}

/** The data of a training job: one model to train. */
export interface TrainJobData {
  spec: TrainSpec;
  train: TrainJob;
}

/** A training job's progress report. */
export interface TrainJobProgress {
  train: TrainProgress;
}

/** A training job's id: its variant cache key, so that any run that needs the same model names the same job. */
export function trainJobId(key: string): string {
  return `train-${key}`;
}

/** Tries per job for failures that may be transient (a crash, a lost lock); input errors fail at once. */
export const JOB_ATTEMPTS = 3;

export function jobId(run: string, hash: string): string {
  return `${run}-${hash}`;
}

/**
 * What both of the coordinator's waits (trainings, cells) hold while jobs run: the queue and its
 * events on one connection, the watchdog that notices Redis gone, a sleep that an event or an
 * abort cuts short, the idle-worker warning, the translation of a lost connection into one
 * QueueUnavailableError, and the teardown.
 */
class JobWatch<D, R> {
  readonly queue: Queue<D, R>;
  readonly events: QueueEvents;
  private lost: QueueUnavailableError | null = null;
  private lastError = '';
  private wakeUp: () => void = () => {};
  private warnedIdle = false;
  private readonly dog: { stop(): void };
  private readonly onAbort = () => this.wake();

  constructor(
    readonly url: string,
    private readonly signal: AbortSignal | undefined,
    private readonly onPhase: ((message: string) => void) | undefined,
  ) {
    const connection = bullConnection(url);
    this.queue = new Queue<D, R>(QUEUE_NAME, { connection });
    this.events = new QueueEvents(QUEUE_NAME, { connection });
    this.dog = watchdog(url, (e) => {
      this.lost = e;
      this.wake();
    });
    this.queue.on('error', (e: Error) => (this.lastError = e.message));
    this.events.on('error', (e: Error) => (this.lastError = e.message));
    signal?.addEventListener('abort', this.onAbort);
  }

  ready(): Promise<unknown> {
    return within(Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]), 10_000, this.url, 'connecting');
  }

  /**
   * The jobs `ids` to wait for: their index by id, the ones still pending, and the ones a worker
   * has started (`onStart` is told once per job, by its index).
   */
  follow(ids: readonly string[], onStart: (k: number) => void): { index: Map<string, number>; pending: Set<string>; started: Set<string> } {
    const index = new Map(ids.map((id, k) => [id, k]));
    const pending = new Set(ids);
    const started = new Set<string>();
    this.events.on('active', ({ jobId: id }) => {
      const k = index.get(id);
      if (k !== undefined && pending.has(id) && !started.has(id)) {
        started.add(id);
        onStart(k);
      }
    });
    return { index, pending, started };
  }

  /** Ends the sleep in progress (a job event, an abort, Redis lost). */
  wake(): void {
    this.wakeUp();
  }

  /** Throws when Redis was lost; false once the run is aborted (the caller returns). */
  going(): boolean {
    if (this.lost) throw this.lost;
    return !this.signal?.aborted;
  }

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** While no job has started: says once that no worker is connected, if none is. */
  async warnIfIdle(started: number): Promise<void> {
    if (started > 0 || this.warnedIdle) return;
    const workers = await within(this.queue.getWorkersCount(), 10_000, this.url, 'counting workers');
    if (workers === 0) {
      this.warnedIdle = true;
      this.onPhase?.(`waiting for workers: none is connected to ${showUrl(this.url)} (start one with: gauntlet worker --queue ${showUrl(this.url)})`);
    }
  }

  /** A failure of the wait as the error to throw: Gauntlet's own as they are, else Redis unreachable. */
  failure(e: unknown): Error {
    if (e instanceof GauntletError) return e;
    if (this.lost) return this.lost;
    const m = (e as Error).message;
    return new QueueUnavailableError(`redis at ${showUrl(this.url)}: unreachable (${m}${this.lastError && this.lastError !== m ? `; ${this.lastError}` : ''})`);
  }

  async close(): Promise<void> {
    this.signal?.removeEventListener('abort', this.onAbort);
    this.dog.stop();
    await Promise.race([Promise.allSettled([this.events.close(), this.queue.close()]), new Promise((r) => setTimeout(r, 3000).unref())]);
  }
}

export interface QueueCellsOptions {
  /** Retry the jobs of this run that failed for good in an earlier try (`--resume`). */
  retryFailed?: boolean;
  /** Send the model files and the loaded data through Redis, for workers without shared storage (`--send-files`). */
  sendFiles?: boolean;
  /** A line for the progress display (e.g. no worker is connected). */
  onPhase?: (message: string) => void;
  sweepMs?: number;
}

export class QueueCells implements RemoteCells {
  private doneCleared = false;
  constructor(
    readonly url: string,
    private readonly opts: QueueCellsOptions = {},
  ) {
    redisOptions(url); // a bad URL is a usage error before anything runs
  }

  /**
   * Once every cell of run `spec.run` is checkpointed: removes the files sent for it, and any job
   * of the run still in the queue — a job whose cells were all checkpointed (from its progress
   * events) by a coordinator killed before it removed the job, which `--resume` does not enqueue
   * again and so would never remove.
   */
  async finish(spec: RemoteSpec): Promise<void> {
    if (this.opts.sendFiles) await removeFiles(this.url, spec.run).catch(() => 0);
    await clearDone(this.url, spec.run).catch(() => 0);
    await cleanRun(this.url, spec.run).catch(() => 0);
  }

  /**
   * Training jobs, one per model to train (`TrainJob`), all enqueued at once (they are independent:
   * free workers take them in parallel); each finished model is fetched from Redis (verified by
   * sha256) into the coordinator's variant cache, then its chunks and its job are removed. The job
   * id is the variant key, so enqueueing again (a restarted coordinator, another run needing the
   * same model) is a no-op.
   */
  async train(spec0: TrainSpec, jobs: TrainJob[], cacheDir: string, on: RemoteTrainHandlers, inputs: { train: Dataset; val: Dataset | null }): Promise<void> {
    const url = this.url;
    let spec = spec0;
    if (this.opts.sendFiles) {
      const files: FileToSend[] = [
        ...jobs.map((j) => ({ kind: 'model' as const, name: j.base.name, sha256: j.base.sha256, path: j.base.path })),
        { kind: 'data', name: inputs.train.name, sha256: spec.train_sha256, dataset: inputs.train },
        ...(inputs.val && spec.val_sha256 ? [{ kind: 'data' as const, name: inputs.val.name, sha256: spec.val_sha256, dataset: inputs.val }] : []),
      ];
      const sent = await sendFiles(url, spec.run, files);
      if (sent.files) this.opts.onPhase?.(`sent ${sent.files} file(s) (${(sent.bytes / 2 ** 20).toFixed(1)} MiB) for training through ${showUrl(url)} for workers without shared storage`);
      spec = { ...spec, files: true };
    }
    const watch = new JobWatch<TrainJobData, TrainedModel>(url, on.signal, this.opts.onPhase);
    const { queue, events } = watch;
    const ids = jobs.map((j) => trainJobId(j.key));
    const { index, pending, started } = watch.follow(ids, (k) => on.start?.(k));
    try {
      await watch.ready();
      events.on('progress', ({ jobId: id, data }: { jobId: string; data: unknown }) => {
        const k = index.get(id);
        const p = (data as TrainJobProgress | null)?.train;
        if (k !== undefined && pending.has(id) && p && typeof p.epoch === 'number') on.progress(k, p);
      });
      const touch = ({ jobId: id }: { jobId: string }) => pending.has(id) && watch.wake();
      events.on('completed', touch);
      events.on('failed', touch);
      const jobOpts: JobsOptions = { attempts: JOB_ATTEMPTS, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false };
      const add = (k: number) => ({ name: 'train', data: { spec, train: jobs[k]! }, opts: { ...jobOpts, jobId: ids[k]! } });
      await within(queue.addBulk(jobs.map((_, k) => add(k))), 30_000, url, 'enqueueing');
      this.opts.onPhase?.(`queued ${jobs.length} training job(s) (${jobs.map((j) => j.name).join(', ')}) on ${showUrl(url)}; their models' cells are queued once they are trained`);
      const readded = new Map<string, number>();
      let first = true;
      while (pending.size) {
        if (!watch.going()) return;
        for (const id of [...pending]) {
          const k = index.get(id)!;
          const state = await within(queue.getJobState(id), 10_000, url, `reading job ${id}`);
          if (state === 'completed') {
            const job = await within(Job.fromId<TrainJobData, TrainedModel>(queue, id), 10_000, url, `reading job ${id}`);
            const rv = job?.returnvalue;
            if (!rv || typeof rv.sha256 !== 'string') continue;
            fs.mkdirSync(cacheDir, { recursive: true });
            const tmp = path.join(cacheDir, `${rv.key}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
            await fetchTrained(url, rv.key, rv.sha256, tmp, jobs[k]!.name);
            await storeTrainedVariant(cacheDir, rv.key, tmp, rv.record);
            pending.delete(id);
            on.trained(k, rv);
            await removeTrained(url, rv.key).catch(() => 0);
            await within(queue.remove(id), 10_000, url, 'removing finished jobs').catch(() => 0);
          } else if (state === 'failed') {
            const job = await within(Job.fromId<TrainJobData, TrainedModel>(queue, id), 10_000, url, `reading job ${id}`);
            if (first && this.opts.retryFailed && job) {
              await within(job.retry('failed'), 10_000, url, `retrying job ${id}`);
              continue;
            }
            throw new CellJobError(`training '${jobs[k]!.name}' failed on a worker${job ? ` after ${job.attemptsMade} attempt(s)` : ''}: ${job?.failedReason ?? 'no reason recorded'}`);
          } else if (state === 'unknown') {
            const n = (readded.get(id) ?? 0) + 1;
            if (n > 3) throw new CellJobError(`training '${jobs[k]!.name}': its job ${id} keeps disappearing from the queue (removed ${n - 1} times)`);
            readded.set(id, n);
            await within(queue.addBulk([add(k)]), 10_000, url, 'enqueueing');
          }
        }
        first = false;
        if (!pending.size) break;
        await watch.warnIfIdle(started.size);
        await watch.sleep(Math.min(this.opts.sweepMs ?? 2000, 1000));
      }
    } catch (e) {
      throw watch.failure(e);
    } finally {
      await watch.close();
    }
  }

  async run(spec0: RemoteSpec, jobs: CellJob[][], on0: RemoteHandlers, inputs: { data: Dataset; done?: ReadonlySet<string> }): Promise<void> {
    const url = this.url;
    let spec = spec0;
    // The checkpointed set (done.ts): a fresh run starts it empty; then it holds the cells already
    // checkpointed and each cell as its result arrives, so that a group that runs again skips them.
    if (!this.opts.retryFailed && !this.doneCleared) await clearDone(url, spec.run);
    this.doneCleared = true;
    const isDone = new Set(jobs.flatMap((g) => g.map((c) => c.hash)).filter((h) => inputs.done?.has(h)));
    await markDone(url, spec.run, [...isDone]);
    let marking: Promise<unknown> = Promise.resolve();
    const on: RemoteHandlers = {
      ...on0,
      result: (g, j, r) => {
        const h = jobs[g]![j]!.hash;
        if (!isDone.has(h) && jobs[g]!.length > 1) {
          isDone.add(h);
          marking = marking.then(() => markDone(url, spec.run, [h])).catch(() => {});
        }
        on0.result(g, j, r);
      },
    };
    if (this.opts.sendFiles) {
      const files: FileToSend[] = [
        ...[...spec.models, ...spec.arms].map((m) => ({ kind: 'model' as const, name: m.name, sha256: m.sha256, path: m.path })),
        { kind: 'data', name: path.basename(String((spec.config as { data?: { path?: string } }).data?.path ?? 'data')), sha256: spec.data_sha256, dataset: inputs.data },
      ];
      const sent = await sendFiles(url, spec.run, files);
      if (sent.files) this.opts.onPhase?.(`sent ${sent.files} file(s) (${(sent.bytes / 2 ** 20).toFixed(1)} MiB) through ${showUrl(url)} for workers without shared storage`);
      spec = { ...spec, files: true };
    }
    const watch = new JobWatch<CellJobData, GroupResult>(url, on.signal, this.opts.onPhase);
    const { queue, events } = watch;
    const ids = jobs.map((g) => jobId(spec.run, groupHash(g)));
    const { index, pending, started } = watch.follow(ids, (k) => on.start(k));
    const dirty = new Set<string>();
    try {
      await watch.ready();
      const touch = ({ jobId: id }: { jobId: string }) => {
        if (pending.has(id)) {
          dirty.add(id);
          watch.wake();
        }
      };
      events.on('completed', touch);
      events.on('failed', touch);
      // Each cell's result as soon as its worker has it, before the rest of its group is done.
      events.on('progress', ({ jobId: id, data }: { jobId: string; data: unknown }) => {
        const k = index.get(id);
        const p = data as CellProgress | null;
        if (k === undefined || !pending.has(id) || !p || typeof p !== 'object' || typeof p.cell !== 'number' || !p.result) return;
        if (p.cell >= 0 && p.cell < jobs[k]!.length && p.result.hash === jobs[k]![p.cell]!.hash) on.result(k, p.cell, p.result);
      });
      const jobOpts: JobsOptions = { attempts: JOB_ATTEMPTS, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false };
      const add = (k: number) => ({ name: 'cells', data: { spec, cells: jobs[k]! }, opts: { ...jobOpts, jobId: ids[k]! } });
      await within(queue.addBulk(jobs.map((_, k) => add(k))), 30_000, url, 'enqueueing');
      const cells = jobs.reduce((a, g) => a + g.length, 0);
      this.opts.onPhase?.(`queued ${cells} cell(s)${cells !== jobs.length ? ` in ${jobs.length} job(s) (cells that share an attack run together)` : ''} as run ${spec.run} on ${showUrl(url)}`);
      const readded = new Map<string, number>();
      let lastSweep = 0;
      let first = true;
      while (pending.size) {
        if (!watch.going()) return;
        const sweep = Date.now() - lastSweep >= (this.opts.sweepMs ?? 2000);
        const check = sweep ? [...pending] : [...dirty].filter((id) => pending.has(id));
        dirty.clear();
        if (sweep) lastSweep = Date.now();
        for (const id of check) {
          const k = index.get(id)!;
          const state = await within(queue.getJobState(id), 10_000, url, `reading job ${id}`);
          if (state === 'completed') {
            const job = await within(Job.fromId<CellJobData, GroupResult>(queue, id), 10_000, url, `reading job ${id}`);
            const rv = job?.returnvalue;
            if (!rv || !Array.isArray(rv.cells)) continue; // removed meanwhile: the next sweep re-adds it
            pending.delete(id);
            if (rv.context) on.context?.(k, rv.context);
            rv.cells.forEach((r, j) => r && on.result(k, j, r));
          } else if (state === 'failed') {
            const job = await within(Job.fromId<CellJobData, GroupResult>(queue, id), 10_000, url, `reading job ${id}`);
            if (first && this.opts.retryFailed && job) {
              await within(job.retry('failed'), 10_000, url, `retrying job ${id}`);
              continue;
            }
            const names = jobs[k]!.map((c) => `${c.variant ? `${c.variant}--` : ''}${c.cell}`);
            throw new CellJobError(`${names.length === 1 ? `cell ${names[0]}` : `the job of cells ${names.join(', ')}`} failed on a worker${job ? ` after ${job.attemptsMade} attempt(s)` : ''}: ${job?.failedReason ?? 'no reason recorded'}`);
          } else if (state === 'unknown') {
            // Removed while pending (e.g. `gauntlet queue clean`): enqueue it again, a bounded number of times.
            const n = (readded.get(id) ?? 0) + 1;
            if (n > 3) throw new CellJobError(`cell ${jobs[k]![0]!.cell}: its job ${id} keeps disappearing from the queue (removed ${n - 1} times)`);
            readded.set(id, n);
            await within(queue.addBulk([add(k)]), 10_000, url, 'enqueueing');
          }
        }
        first = first && !sweep ? first : false;
        if (sweep) await watch.warnIfIdle(started.size);
        if (!pending.size) break;
        await watch.sleep(250);
      }
      await marking;
      // Every result is checkpointed in the run directory now: the jobs are no longer needed.
      for (const id of ids) await within(queue.remove(id), 10_000, url, 'removing finished jobs').catch(() => 0);
    } catch (e) {
      throw watch.failure(e);
    } finally {
      await watch.close();
    }
  }
}

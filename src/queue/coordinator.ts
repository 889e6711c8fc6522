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
import { groupHash, type CellJob, type GroupResult, type RemoteCells, type RemoteHandlers, type RemoteSpec } from '../campaign/remote.js';
import type { CellResult } from '../campaign/types.js';
import { CellJobError, QueueUnavailableError } from '../errors.js';
import path from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { cleanRun } from './admin.js';
import { removeFiles, sendFiles, type FileToSend } from './files.js';
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

/** Tries per job for failures that may be transient (a crash, a lost lock); input errors fail at once. */
export const JOB_ATTEMPTS = 3;

export function jobId(run: string, hash: string): string {
  return `${run}-${hash}`;
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
    await cleanRun(this.url, spec.run).catch(() => 0);
  }

  async run(spec0: RemoteSpec, jobs: CellJob[][], on: RemoteHandlers, inputs: { data: Dataset }): Promise<void> {
    const url = this.url;
    let spec = spec0;
    if (this.opts.sendFiles) {
      const files: FileToSend[] = [
        ...[...spec.models, ...spec.arms].map((m) => ({ kind: 'model' as const, name: m.name, sha256: m.sha256, path: m.path })),
        { kind: 'data', name: path.basename(String((spec.config as { data?: { path?: string } }).data?.path ?? 'data')), sha256: spec.data_sha256, dataset: inputs.data },
      ];
      const sent = await sendFiles(url, spec.run, files);
      if (sent.files) this.opts.onPhase?.(`sent ${sent.files} file(s) (${(sent.bytes / 2 ** 20).toFixed(1)} MiB) through ${showUrl(url)} for workers without shared storage`);
      spec = { ...spec, files: true };
    }
    const connection = bullConnection(url);
    const queue = new Queue<CellJobData, GroupResult>(QUEUE_NAME, { connection });
    const events = new QueueEvents(QUEUE_NAME, { connection });
    let lost: QueueUnavailableError | null = null;
    let wake: () => void = () => {};
    const dog = watchdog(url, (e) => {
      lost = e;
      wake();
    });
    let lastError = '';
    queue.on('error', (e: Error) => (lastError = e.message));
    events.on('error', (e: Error) => (lastError = e.message));
    const ids = jobs.map((g) => jobId(spec.run, groupHash(g)));
    const index = new Map(ids.map((id, k) => [id, k]));
    const pending = new Set(ids);
    const started = new Set<string>();
    const dirty = new Set<string>();
    const onAbort = () => wake();
    on.signal?.addEventListener('abort', onAbort);
    try {
      await within(Promise.all([queue.waitUntilReady(), events.waitUntilReady()]), 10_000, url, 'connecting');
      events.on('active', ({ jobId: id }) => {
        const k = index.get(id);
        if (k !== undefined && pending.has(id) && !started.has(id)) {
          started.add(id);
          on.start(k);
        }
      });
      const touch = ({ jobId: id }: { jobId: string }) => {
        if (pending.has(id)) {
          dirty.add(id);
          wake();
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
      let warnedIdle = false;
      let first = true;
      while (pending.size) {
        if (lost) throw lost;
        if (on.signal?.aborted) return;
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
            rv.cells.forEach((r, j) => on.result(k, j, r));
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
        if (sweep && started.size === 0 && !warnedIdle) {
          const workers = await within(queue.getWorkersCount(), 10_000, url, 'counting workers');
          if (workers === 0) {
            warnedIdle = true;
            this.opts.onPhase?.(`waiting for workers: none is connected to ${showUrl(url)} (start one with: gauntlet worker --queue ${showUrl(url)})`);
          }
        }
        if (!pending.size) break;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 250);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      // Every result is checkpointed in the run directory now: the jobs are no longer needed.
      for (const id of ids) await within(queue.remove(id), 10_000, url, 'removing finished jobs').catch(() => 0);
    } catch (e) {
      if (e instanceof QueueUnavailableError || e instanceof CellJobError) throw e;
      if (lost) throw lost;
      throw new QueueUnavailableError(`redis at ${showUrl(url)}: unreachable (${(e as Error).message}${lastError && lastError !== (e as Error).message ? `; ${lastError}` : ''})`);
    } finally {
      on.signal?.removeEventListener('abort', onAbort);
      dog.stop();
      await Promise.race([Promise.allSettled([events.close(), queue.close()]), new Promise((r) => setTimeout(r, 3000).unref())]);
    }
  }
}

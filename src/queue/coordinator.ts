/**
 * The coordinator's side of a queued run (`gauntlet run --queue URL`): `QueueCells` is the
 * runner's `RemoteCells` over BullMQ. It enqueues one job per cell, its id the run key and the
 * cell's content hash (re-enqueueing is a no-op, so a restarted coordinator reattaches to the jobs
 * already queued, running or done), then waits for the results — events from Redis, and a sweep of
 * every pending job's state every `sweepMs` — handing each result to the runner once. A job that
 * failed for good stops the run with the worker's one-line error; Redis unreachable for
 * UNREACHABLE_MS stops it with a QueueUnavailableError.
 */
import { Job, Queue, QueueEvents, type JobsOptions } from 'bullmq';
import type { CellJob, RemoteCells, RemoteSpec } from '../campaign/remote.js';
import type { CellResult } from '../campaign/types.js';
import { CellJobError, QueueUnavailableError } from '../errors.js';
import { bullConnection, QUEUE_NAME, redisOptions, showUrl, watchdog, within } from './connection.js';

/** The data of one cell job. */
export interface CellJobData {
  spec: RemoteSpec;
  job: CellJob;
}

/** Tries per job for failures that may be transient (a crash, a lost lock); input errors fail at once. */
export const JOB_ATTEMPTS = 3;

export function jobId(run: string, hash: string): string {
  return `${run}-${hash}`;
}

export interface QueueCellsOptions {
  /** Retry the jobs of this run that failed for good in an earlier try (`--resume`). */
  retryFailed?: boolean;
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

  async run(spec: RemoteSpec, jobs: CellJob[], on: { signal?: AbortSignal; start: (k: number) => void; result: (k: number, r: CellResult) => void }): Promise<void> {
    const url = this.url;
    const connection = bullConnection(url);
    const queue = new Queue<CellJobData, CellResult>(QUEUE_NAME, { connection });
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
    const ids = jobs.map((j) => jobId(spec.run, j.hash));
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
      const jobOpts: JobsOptions = { attempts: JOB_ATTEMPTS, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false };
      const add = (k: number) => ({ name: 'cell', data: { spec, job: jobs[k]! }, opts: { ...jobOpts, jobId: ids[k]! } });
      await within(queue.addBulk(jobs.map((_, k) => add(k))), 30_000, url, 'enqueueing');
      this.opts.onPhase?.(`queued ${jobs.length} cell(s) as run ${spec.run} on ${showUrl(url)}`);
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
            const job = await within(Job.fromId<CellJobData, CellResult>(queue, id), 10_000, url, `reading job ${id}`);
            if (!job || !job.returnvalue) continue; // removed meanwhile: the next sweep re-adds it
            pending.delete(id);
            on.result(k, job.returnvalue);
          } else if (state === 'failed') {
            const job = await within(Job.fromId<CellJobData, CellResult>(queue, id), 10_000, url, `reading job ${id}`);
            if (first && this.opts.retryFailed && job) {
              await within(job.retry('failed'), 10_000, url, `retrying job ${id}`);
              continue;
            }
            throw new CellJobError(`cell ${jobs[k]!.variant ? `${jobs[k]!.variant}--` : ''}${jobs[k]!.cell} failed on a worker${job ? ` after ${job.attemptsMade} attempt(s)` : ''}: ${job?.failedReason ?? 'no reason recorded'}`);
          } else if (state === 'unknown') {
            // Removed while pending (e.g. `gauntlet queue clean`): enqueue it again, a bounded number of times.
            const n = (readded.get(id) ?? 0) + 1;
            if (n > 3) throw new CellJobError(`cell ${jobs[k]!.cell}: its job ${id} keeps disappearing from the queue (removed ${n - 1} times)`);
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

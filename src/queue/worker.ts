/**
 * A queue worker (`gauntlet worker --queue URL`): takes cell jobs from Redis and runs each with
 * `CellWorkbench` (the same `CellBench.run` as a local run), returning the cell's result as the
 * job's return value. A Gauntlet input error (a file whose sha256 differs, a bad config) fails the
 * job at once (BullMQ UnrecoverableError) with its one-line message; any other error is retried
 * up to JOB_ATTEMPTS times. The job lock is renewed every `lockSeconds / 2`; a worker killed
 * mid-job loses it and the job goes back to the queue for another worker (after `lockSeconds` plus
 * at most one stalled-check interval), at most `maxStalled` times.
 */
import os from 'node:os';
import { UnrecoverableError, Worker } from 'bullmq';
import { CellWorkbench } from '../campaign/remote.js';
import type { CellResult } from '../campaign/types.js';
import { jsonReplacer } from '../campaign/store.js';
import { GauntletError, QueueUnavailableError } from '../errors.js';
import { bullConnection, QUEUE_NAME, showUrl, watchdog, within } from './connection.js';
import type { CellJobData } from './coordinator.js';

export type WorkerEvent =
  | { type: 'ready'; name: string }
  | { type: 'job_start'; id: string; cell: string; attempt: number }
  | { type: 'job_done'; id: string; cell: string; seconds: number }
  | { type: 'job_failed'; id: string; cell: string; message: string; final: boolean };

export interface WorkerOptions {
  concurrency?: number;
  /** ONNX Runtime intra-op threads per model (0 = all cores). */
  threads?: number;
  /** Job lock duration; a killed worker's job is taken up again after about this long. */
  lockSeconds?: number;
  /** Times a job may be recovered from a dead worker before it fails. */
  maxStalled?: number;
  /** Stops the worker: the jobs in progress finish, then it returns. */
  signal?: AbortSignal;
  onEvent?: (e: WorkerEvent) => void;
  version: string;
}

/** Runs jobs until the signal fires; resolves with the number of jobs done, rejects when Redis is lost. */
export async function runWorker(url: string, opts: WorkerOptions): Promise<{ done: number; failed: number }> {
  const emit = opts.onEvent ?? (() => {});
  const bench = new CellWorkbench({ threads: opts.threads, version: opts.version });
  const lockMs = Math.round((opts.lockSeconds ?? 60) * 1000);
  const name = `gauntlet@${os.hostname()}:${process.pid}`;
  let done = 0;
  let failed = 0;
  const worker = new Worker<CellJobData, CellResult>(
    QUEUE_NAME,
    async (job) => {
      const { spec, job: cj } = job.data;
      const cell = cj.variant ? `${cj.variant}--${cj.cell}` : cj.cell;
      const t0 = performance.now();
      emit({ type: 'job_start', id: job.id!, cell, attempt: job.attemptsMade + 1 });
      try {
        const result = await bench.run(spec, cj);
        emit({ type: 'job_done', id: job.id!, cell, seconds: (performance.now() - t0) / 1000 });
        done++;
        // As the run directory stores it: non-finite numbers as null, typed arrays as arrays.
        return JSON.parse(JSON.stringify(result, jsonReplacer)) as CellResult;
      } catch (e) {
        const input = e instanceof GauntletError;
        const message = (e as Error)?.message ?? String(e);
        failed++;
        emit({ type: 'job_failed', id: job.id!, cell, message, final: input || job.attemptsMade + 1 >= (job.opts.attempts ?? 1) });
        if (input) throw new UnrecoverableError(message);
        throw e;
      }
    },
    { connection: bullConnection(url), concurrency: opts.concurrency ?? 1, lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: opts.maxStalled ?? 2, name, autorun: false },
  );
  let lastError = '';
  worker.on('error', (e: Error) => (lastError = e.message));
  let lost: QueueUnavailableError | null = null;
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const dog = watchdog(url, (e) => {
    lost = e;
    stop();
  });
  const onAbort = () => stop();
  opts.signal?.addEventListener('abort', onAbort);
  if (opts.signal?.aborted) stop();
  try {
    await within(worker.waitUntilReady(), 10_000, url, 'connecting').catch((e: Error) => {
      throw e instanceof QueueUnavailableError ? e : new QueueUnavailableError(`redis at ${showUrl(url)}: ${e.message}${lastError ? ` (${lastError})` : ''}`);
    });
    const running = worker.run();
    emit({ type: 'ready', name });
    await Promise.race([stopped, running]);
    // Stop: finish the jobs in progress (Redis lost: give them up, their locks expire and another worker takes them).
    if (lost) await Promise.race([worker.close(true), new Promise((r) => setTimeout(r, 3000).unref())]);
    else await worker.close();
    if (lost) throw lost;
    return { done, failed };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    dog.stop();
    await bench.close();
  }
}

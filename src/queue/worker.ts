/**
 * A queue worker (`gauntlet worker --queue URL`): takes jobs (groups of cells that share an
 * attack's inputs) from Redis and runs each group's cells with `CellWorkbench` (the same
 * `CellBench.run` as a local run), reporting each cell's result as job progress and returning the
 * group's results as the job's return value. A Gauntlet input error (a file whose sha256 differs, a bad config) fails the
 * job at once (BullMQ UnrecoverableError) with its one-line message; any other error is retried
 * up to JOB_ATTEMPTS times. The job lock is renewed every `lockSeconds / 2`; a worker killed
 * mid-job loses it and the job goes back to the queue for another worker (after `lockSeconds` plus
 * at most one stalled-check interval), at most `maxStalled` times.
 */
import os from 'node:os';
import { UnrecoverableError, Worker } from 'bullmq';
import { CellWorkbench } from '../campaign/remote.js';
import type { GroupResult } from '../campaign/remote.js';
import { jsonReplacer } from '../campaign/store.js';
import { GauntletError, QueueUnavailableError } from '../errors.js';
import { putTrained, RedisFiles } from './files.js';
import { doneOf } from './done.js';
import { bullConnection, QUEUE_NAME, showUrl, watchdog, within } from './connection.js';
import type { CellJobData, CellProgress, TrainJobData, TrainJobProgress } from './coordinator.js';
import type { TrainedModel } from '../campaign/remote.js';
import path from 'node:path';

export type WorkerEvent =
  | { type: 'ready'; name: string }
  | { type: 'job_start'; id: string; cell: string; attempt: number }
  | { type: 'job_done'; id: string; cell: string; seconds: number }
  | { type: 'job_skipped'; id: string; cell: string }
  | { type: 'job_failed'; id: string; cell: string; message: string; final: boolean };

export interface WorkerOptions {
  concurrency?: number;
  /** ONNX Runtime intra-op threads per model (0 = all cores). */
  threads?: number;
  /** Job lock duration; a killed worker's job is taken up again after about this long. */
  lockSeconds?: number;
  /** Times a job may be recovered from a dead worker before it fails. */
  maxStalled?: number;
  /** Where files the coordinator sends through Redis are kept, by hash (default: `defaultCacheDir()`). */
  cacheDir?: string;
  /** Stops the worker: the jobs in progress finish, then it returns. */
  signal?: AbortSignal;
  onEvent?: (e: WorkerEvent) => void;
  version: string;
}

/** Runs jobs until the signal fires; resolves with the number of jobs done, rejects when Redis is lost. */
export async function runWorker(url: string, opts: WorkerOptions): Promise<{ done: number; trained: number; failed: number; fetched: { files: number; bytes: number } }> {
  const emit = opts.onEvent ?? (() => {});
  const files = new RedisFiles(url, opts.cacheDir);
  const bench = new CellWorkbench({ threads: opts.threads, version: opts.version, files });
  const lockMs = Math.round((opts.lockSeconds ?? 60) * 1000);
  const name = `gauntlet@${os.hostname()}:${process.pid}`;
  let done = 0;
  let trained = 0;
  let failed = 0;
  // Trained models go to this worker's own variant cache (with their epoch checkpoints) before they are sent back.
  const variantCache = path.join(files.cacheDir, 'variants');
  /**
   * A training job: the model trained with the same code as a local run, sent back through Redis
   * (chunks, by its variant key), its sha256 and training record as the return value. Progress
   * (epoch, step, loss) goes to the coordinator as job progress, at most every 500 ms and at each
   * epoch's end.
   */
  const runTraining = async (job: import('bullmq').Job<TrainJobData, TrainedModel>): Promise<TrainedModel> => {
    const { spec, train: t } = job.data;
    const label = `train ${t.name}`;
    const t0 = performance.now();
    emit({ type: 'job_start', id: job.id!, cell: label, attempt: job.attemptsMade + 1 });
    let last = 0;
    let sending: Promise<unknown> = Promise.resolve();
    try {
      const r = await bench.train(spec, t, variantCache, (p) => {
        const now = performance.now();
        if (now - last < 500 && p.step !== p.stepsPerEpoch) return;
        last = now;
        sending = sending.then(() => job.updateProgress({ train: p } satisfies TrainJobProgress as unknown as object)).catch(() => {});
      });
      await sending;
      const sent = await putTrained(url, t.key, r.file, t.name);
      if (sent.sha256 !== r.sha256) throw new Error(`${r.file}: changed while it was sent (sha256 ${sent.sha256.slice(0, 12)}…, trained ${r.sha256.slice(0, 12)}…)`);
      if (spec.files) files.adopt(r.file, r.sha256);
      trained++;
      emit({ type: 'job_done', id: job.id!, cell: label, seconds: (performance.now() - t0) / 1000 });
      return { key: t.key, sha256: r.sha256, bytes: sent.bytes, record: plain(r.record) };
    } catch (e) {
      throw failure(job, label, e, null);
    }
  };
  /**
   * A job's error as thrown to BullMQ, counted and reported: a Gauntlet input error fails the job
   * at once (UnrecoverableError), any other is retried. `prefix` names the cell of a group it came from.
   */
  const failure = (job: import('bullmq').Job, label: string, e: unknown, prefix: string | null): unknown => {
    const input = e instanceof GauntletError;
    const message = (e as Error)?.message ?? String(e);
    failed++;
    emit({ type: 'job_failed', id: job.id!, cell: label, message, final: input || job.attemptsMade + 1 >= (job.opts.attempts ?? 1) });
    const reason = prefix ? `${prefix}: ${message}` : message;
    if (input) return new UnrecoverableError(reason);
    if (prefix && e instanceof Error) e.message = reason;
    return e;
  };
  // As the run directory stores it: non-finite numbers as null, typed arrays as arrays.
  const plain = <T>(x: T): T => JSON.parse(JSON.stringify(x, jsonReplacer)) as T;
  const worker = new Worker<CellJobData | TrainJobData, GroupResult | TrainedModel>(
    QUEUE_NAME,
    async (anyJob) => {
      if (anyJob.name === 'train') return runTraining(anyJob as import('bullmq').Job<TrainJobData, TrainedModel>);
      const job = anyJob as import('bullmq').Job<CellJobData, GroupResult>;
      const { spec, cells } = job.data;
      const names = cells.map((c) => (c.variant ? `${c.variant}--${c.cell}` : c.cell));
      // A group that runs again (a retry, a --resume) skips the cells its coordinator has checkpointed.
      const skip = cells.length > 1 ? await doneOf(url, spec.run, cells.map((c) => c.hash)) : [];
      skip.forEach((s, j) => s && emit({ type: 'job_skipped', id: job.id!, cell: names[j]! }));
      let current = 0;
      let t0 = performance.now();
      try {
        const r = await bench.runGroup(
          spec,
          cells,
          async (j, result) => {
            emit({ type: 'job_done', id: job.id!, cell: names[j]!, seconds: (performance.now() - t0) / 1000 });
            done++;
            // The coordinator checkpoints each cell of a group as it is done, not at the group's end.
            if (cells.length > 1 && j < cells.length - 1) await job.updateProgress({ cell: j, result: plain(result) } satisfies CellProgress as unknown as object);
          },
          (j) => {
            current = j;
            t0 = performance.now();
            emit({ type: 'job_start', id: job.id!, cell: names[j]!, attempt: job.attemptsMade + 1 });
          },
          skip,
        );
        return plain(r);
      } catch (e) {
        // A group's error names the cell it came from.
        throw failure(job, names[current]!, e, cells.length > 1 ? `cell ${names[current]}` : null);
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
    return { done, trained, failed, fetched: { ...files.fetched } };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    dog.stop();
    await bench.close();
  }
}

/** `gauntlet queue status` and `gauntlet queue clean`: the queue's jobs per run and its workers; removing a run's jobs. */
import { Job, Queue } from 'bullmq';
import { QueueUnavailableError } from '../errors.js';
import { bullConnection, QUEUE_NAME, showUrl, within } from './connection.js';

export const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;
export type JobStateName = (typeof JOB_STATES)[number];

export interface QueueStatus {
  url: string;
  runs: { run: string; counts: Record<JobStateName, number> }[];
  workers: { name: string; addr: string; age_seconds: number; idle_seconds: number }[];
}

/** Cell job ids are `<run>-<cell hash>`; a training job's (`train-<variant key>`) run is in its data. */
async function runOf(q: Queue, id: string): Promise<string> {
  if (!id.startsWith('train-')) return id.split('-')[0]!;
  const job = await Job.fromId<{ spec?: { run?: string } }>(q, id);
  return job?.data?.spec?.run ?? 'train';
}

async function withQueue<T>(url: string, what: string, f: (q: Queue) => Promise<T>): Promise<T> {
  const q = new Queue(QUEUE_NAME, { connection: bullConnection(url) });
  let lastError = '';
  q.on('error', (e: Error) => (lastError = e.message));
  try {
    await within(q.waitUntilReady(), 10_000, url, 'connecting');
    return await within(f(q), 30_000, url, what);
  } catch (e) {
    if (e instanceof QueueUnavailableError) throw new QueueUnavailableError(`${e.message}${lastError ? ` (${lastError})` : ''}`);
    throw new QueueUnavailableError(`redis at ${showUrl(url)}: unreachable (${(e as Error).message})`);
  } finally {
    await Promise.race([q.close(), new Promise((r) => setTimeout(r, 3000).unref())]);
  }
}

export function queueStatus(url: string, limit = 100_000): Promise<QueueStatus> {
  return withQueue(url, 'reading the queue', async (q) => {
    const runs = new Map<string, Record<JobStateName, number>>();
    for (const state of JOB_STATES) {
      const types = state === 'waiting' ? (['waiting', 'prioritized', 'waiting-children'] as const) : ([state] as const);
      for (const id of await q.getRanges([...types], 0, limit - 1)) {
        const r = await runOf(q, id);
        const c = runs.get(r) ?? Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobStateName, number>;
        c[state]++;
        runs.set(r, c);
      }
    }
    const workers = (await q.getWorkers()).map((w) => ({ name: String(w.rawname ?? w.name ?? '').replace(/^.*:w:/, ''), addr: w.addr ?? '', age_seconds: Number(w.age ?? NaN), idle_seconds: Number(w.idle ?? NaN) }));
    return { url: showUrl(url), runs: [...runs].map(([run, counts]) => ({ run, counts })).sort((a, b) => a.run.localeCompare(b.run)), workers };
  });
}

/** Removes every job of run `run` that is not being processed; returns how many were removed and how many are active (kept). */
export function cleanRun(url: string, run: string): Promise<{ removed: number; active: number }> {
  return withQueue(url, 'removing jobs', async (q) => {
    let removed = 0;
    let active = 0;
    const ids = await q.getRanges(['waiting', 'prioritized', 'waiting-children', 'delayed', 'completed', 'failed', 'active'], 0, -1);
    for (const id of new Set(ids)) {
      if ((await runOf(q, id)) !== run) continue;
      if ((await q.remove(id)) === 1) removed++;
      else active++;
    }
    return { removed, active };
  });
}

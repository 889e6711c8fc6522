/**
 * Which cells of a queued run the coordinator has checkpointed, in Redis (a set of cell hashes per
 * run), so that a group job that runs again — retried after a worker died partway, or sent again
 * by `--resume` after it failed partway — skips its cells already done instead of recomputing them.
 * The coordinator adds each cell as it checkpoints it (and, on `--resume`, those found in the run
 * directory); the set lives a week at most and goes with the run (`finish`, `gauntlet queue clean`).
 */
import { withClient } from './files.js';
import { within } from './connection.js';

const TTL_SECONDS = 7 * 24 * 3600;
const keyOf = (run: string) => `gauntlet-done:${run}`;

/** Adds cell hashes to run `run`'s checkpointed set. */
export function markDone(url: string, run: string, hashes: readonly string[]): Promise<void> {
  if (!hashes.length) return Promise.resolve();
  return withClient(url, async (c) => {
    await within(c.multi().sadd(keyOf(run), ...hashes).expire(keyOf(run), TTL_SECONDS).exec(), 10_000, url, 'recording checkpointed cells');
  });
}

/** For each hash, whether run `run`'s coordinator has it checkpointed. */
export function doneOf(url: string, run: string, hashes: readonly string[]): Promise<boolean[]> {
  if (!hashes.length) return Promise.resolve([]);
  return withClient(url, async (c) => (await within(c.smismember(keyOf(run), ...hashes), 10_000, url, 'reading checkpointed cells')).map((x) => x === 1));
}

/** Forgets run `run`'s checkpointed set (a fresh run, or the run is over). */
export function clearDone(url: string, run: string): Promise<number> {
  return withClient(url, (c) => within(c.del(keyOf(run)), 10_000, url, 'removing checkpointed cells'));
}

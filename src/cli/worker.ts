import path from 'node:path';
import { GAUNTLET_VERSION } from '../campaign/runner.js';
import { UsageError } from '../errors.js';
import { runWorker } from '../queue/worker.js';
import { showUrl } from '../queue/connection.js';
import { numberOpt, parse, required } from './args.js';
import { onInterrupt, signalExitCode } from './interrupt.js';

export const help = `gauntlet worker --queue URL [--concurrency N] [--threads T] [--lock-seconds S] [--cache DIR]

Runs campaign cells from a queue (Redis, through BullMQ) until stopped: the jobs 'gauntlet run
CONFIG --queue URL' enqueues, from any number of runs; a job is a group of cells that share an
attack's inputs, which this worker computes once. Each cell runs exactly as in a local run; its
result goes back to the coordinator as soon as it is done. The model, variant and data
files are read from the paths the coordinator gives (shared storage) and their sha256 checked, or,
when the coordinator sends them ('gauntlet run --send-files'), fetched once through Redis, their
hash verified, and kept in the cache directory by hash.

Options:
  --queue URL          Redis: redis://[user:password@]HOST:PORT[/DB] or unix:///PATH.sock
  --concurrency N      jobs (groups of cells) run at once in this process (default 1)
  --threads T          ONNX Runtime intra-op threads per model (0 = all cores; default 0)
  --lock-seconds S     job lock, renewed every S/2 s while the cell runs; when this worker dies
                       (kill -9, a lost machine) its cell goes to another worker after about S
                       to 2S seconds (default 60; at most 2 such recoveries per cell)
  --cache DIR          where files sent through Redis are kept, by hash (default
                       $XDG_CACHE_HOME/gauntlet/files or ~/.cache/gauntlet/files)

SIGINT/SIGTERM: the jobs in progress finish (their results are delivered), then the worker exits;
a second signal exits at once (the job then goes to another worker when its lock expires).

A cell whose input is wrong here (a file whose sha256 differs from the coordinator's, another
Gauntlet version) fails at once with that one line, shown by the coordinator; other errors are
retried up to 3 times. Redis unreachable for 15 s stops the worker (exit 3).

Exit codes: 130/143 stopped by SIGINT/SIGTERM, 2 bad usage, 3 Redis unreachable.
`;

export async function workerVerb(argv: string[]): Promise<number> {
  const { values, positionals } = parse('worker', argv, { queue: { type: 'string' }, concurrency: { type: 'string' }, 'lock-seconds': { type: 'string' }, cache: { type: 'string' } });
  if (values.help) return (process.stdout.write(help), 0);
  if (positionals.length) throw new UsageError(`worker: takes no positional arguments, got '${positionals[0]}'`);
  const url = required('worker', 'queue', values.queue);
  const concurrency = numberOpt('concurrency', values.concurrency, 1, { min: 1, max: 64, integer: true });
  const threads = numberOpt('threads', values.threads, 0, { min: 0, max: 256, integer: true });
  const lockSeconds = numberOpt('lock-seconds', values['lock-seconds'], 60, { min: 1, max: 86_400 });
  if (values.cache !== undefined && values.cache.trim() === '') throw new UsageError(`'--cache' must be a directory, got ''`);
  const cacheDir = values.cache !== undefined ? path.resolve(values.cache) : undefined;
  const log = (s: string) => process.stderr.write(s + '\n');
  const stop = onInterrupt((sig) => `gauntlet: worker stopped at once (${sig}); its cells in progress go to other workers when their locks expire`, 24 * 3600 * 1000);
  try {
    const r = await runWorker(url, {
      concurrency,
      threads,
      lockSeconds,
      cacheDir,
      signal: stop.signal,
      version: GAUNTLET_VERSION,
      onEvent: (e) => {
        if (values.json) return;
        if (e.type === 'ready') log(`worker ${e.name} on ${showUrl(url)}: waiting for cells (concurrency ${concurrency})`);
        else if (e.type === 'job_start') log(`… ${e.cell}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`);
        else if (e.type === 'job_done') log(`done ${e.cell} ${e.seconds.toFixed(1)} s`);
        else if (e.type === 'job_skipped') log(`skipped ${e.cell} (checkpointed by the coordinator already)`);
        else log(`failed ${e.cell}${e.final ? '' : ' (will be retried)'}: ${e.message}`);
      },
    });
    const sig = stop.received();
    if (values.json) process.stdout.write(JSON.stringify({ done: r.done, trained: r.trained, failed: r.failed, fetched: r.fetched, signal: sig }) + '\n');
    else log(`worker stopped${sig ? ` (${sig})` : ''}: ${r.done} cell(s) done, ${r.trained ? `${r.trained} model(s) trained, ` : ''}${r.failed} failed${r.fetched.files ? `; fetched ${r.fetched.files} file(s) (${(r.fetched.bytes / 2 ** 20).toFixed(1)} MiB) through the queue` : ''}`);
    return sig ? signalExitCode(sig) : 0;
  } finally {
    stop.dispose();
  }
}

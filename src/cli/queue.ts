import { cleanRun, JOB_STATES, queueStatus } from '../queue/admin.js';
import { showUrl } from '../queue/connection.js';
import { removeFiles } from '../queue/files.js';
import { clearDone } from '../queue/done.js';
import { UsageError } from '../errors.js';
import { parse, required } from './args.js';

export const help = `gauntlet queue status --queue URL [--json]
gauntlet queue clean --queue URL --run ID

The cell queue that 'gauntlet run --queue' and 'gauntlet worker' share (Redis, through BullMQ).

  status   per run (the run ID 'gauntlet run --queue' prints): cells waiting, active, delayed
           (waiting to be retried), completed (not yet collected by the coordinator) and failed;
           and the workers connected, with their idle time
  clean    remove a run's jobs (waiting, delayed, completed, failed; a cell in progress is left to
           finish) and the files its coordinator sent ('run --send-files'): for a run whose
           coordinator will not come back

Options:
  --queue URL    Redis: redis://[user:password@]HOST:PORT[/DB] or unix:///PATH.sock
  --run ID       the run whose jobs 'clean' removes
  --json         status as one JSON object

Exit codes: 0 done, 2 bad usage, 3 Redis unreachable.
`;

export async function queueVerb(argv: string[]): Promise<number> {
  const { values, positionals } = parse('queue', argv, { queue: { type: 'string' }, run: { type: 'string' } }, true);
  if (values.help) return (process.stdout.write(help), 0);
  const [action, ...extra] = positionals;
  if (action !== 'status' && action !== 'clean') throw new UsageError(`queue: give 'status' or 'clean', got ${action === undefined ? 'nothing' : `'${action}'`} (see 'gauntlet queue --help')`);
  if (extra.length) throw new UsageError(`queue ${action}: unexpected argument '${extra[0]}'`);
  const url = required('queue', 'queue', values.queue);
  if (action === 'clean') {
    const run = required('queue clean', 'run', values.run);
    if (!/^[0-9a-f]{12}$/.test(run)) throw new UsageError(`'--run' must be a run ID (12 hex digits, as 'gauntlet queue status' lists), got '${run}'`);
    const r = { ...(await cleanRun(url, run)), files_removed: await removeFiles(url, run) };
    await clearDone(url, run);
    process.stdout.write(values.json ? JSON.stringify({ run, ...r }) + '\n' : `run ${run}: removed ${r.removed} job(s)${r.active ? `; ${r.active} in progress left to finish` : ''}${r.files_removed ? `; removed its files sent through the queue` : ''}\n`);
    return 0;
  }
  if (values.run !== undefined) throw new UsageError(`queue status: '--run' is for 'queue clean'`);
  const s = await queueStatus(url);
  if (values.json) {
    process.stdout.write(JSON.stringify(s) + '\n');
    return 0;
  }
  const out = [`queue ${showUrl(url)}: ${s.runs.length} run(s), ${s.workers.length} worker(s) connected`];
  if (s.runs.length) {
    const head = ['run', ...JOB_STATES];
    const rows = s.runs.map((r) => [r.run, ...JOB_STATES.map((k) => String(r.counts[k]))]);
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    const line = (cols: string[]) => cols.map((c, i) => (i ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ');
    out.push(line(head), ...rows.map(line));
  }
  for (const wk of s.workers) out.push(`worker ${wk.name || '(unnamed)'} ${wk.addr}, connected ${Math.round(wk.age_seconds)} s, idle ${Math.round(wk.idle_seconds)} s`);
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

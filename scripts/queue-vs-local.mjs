#!/usr/bin/env node
// Wall time of a campaign run locally (--threads L) against the same campaign queued on W workers
// (--threads 1 each) through a redis-server this script starts on a unix socket in a temporary
// directory; checks that both results.json files agree (timing fields aside) and prints the ratio,
// the summed cell seconds of each run and the per-worker cell seconds.
//
//   npm run build && node scripts/queue-vs-local.mjs [CONFIG.yaml] [--workers W] [--local-threads L] [--coordinator-threads C] [--out DIR] [--queued-first]
//
// Without CONFIG: the default campaign. The two runs go one after the other (local first, unless --queued-first).
// Each run has its own variant cache (beside its run directory), and each worker its own cache
// (--cache in DIR), so trained variants are trained by both runs. Workers train with the coordinator's --threads (C; default: unset, the workers' own 1): a
// trained model's bytes depend on ORT's thread count, so with C != L the trained variants' cells may
// differ from the local run's; the script says which parts of results.json agree.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const config = args.find((a, i) => !a.startsWith('--') && !['--workers', '--local-threads', '--coordinator-threads', '--out'].includes(args[i - 1]));
const coordinatorThreads = opt('--coordinator-threads', null);
const workers = Number(opt('--workers', '2'));
const localThreads = opt('--local-threads', '2');
const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'src', 'cli', 'bin.js');
const out = opt('--out', fs.mkdtempSync(path.join(os.tmpdir(), 'gauntlet-qvl-')));
fs.mkdirSync(out, { recursive: true });
const children = [];

function start(cmd, argv, log) {
  const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(p);
  const file = fs.createWriteStream(log);
  p.stdout.pipe(file);
  p.stderr.pipe(file);
  const exited = new Promise((resolve) => p.on('close', (code, sig) => resolve(code ?? sig)));
  return { p, exited };
}
const read = (f) => fs.readFileSync(f, 'utf8');
// Timing fields and the paths of each run's own variant cache aside.
const answersOf = (dir) => JSON.parse(read(path.join(dir, 'results.json')), (k, v) => (k === 'performance' || /seconds$/.test(k) || k === 'cache_path' || (k === 'path' && typeof v === 'string' && v.includes('.gauntlet')) ? undefined : v));
const answers = (dir) => JSON.stringify(answersOf(dir));
const cellSeconds = (dir) => JSON.parse(read(path.join(dir, 'results.json'))).cells.concat(...(JSON.parse(read(path.join(dir, 'results.json'))).variants ?? []).map((v) => v.cells)).reduce((a, c) => a + c.performance.seconds, 0);

const cfg = config ? [config] : [];
async function runLocal() {
  const t0 = performance.now();
  const local = start(process.execPath, [bin, 'run', ...cfg, '--out', path.join(out, 'local', 'run'), '--threads', localThreads, '--json'], path.join(out, 'local.log'));
  const lc = await local.exited;
  if (lc !== 0 && lc !== 1) throw new Error(`local run exited ${lc}; see ${out}/local.log`);
  return (performance.now() - t0) / 1000;
}

async function runQueued() {
  const sock = path.join(out, 'redis.sock');
  const redis = start('redis-server', ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', out], path.join(out, 'redis.log'));
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
  if (!fs.existsSync(sock)) throw new Error('redis-server did not start');
  const url = `unix://${sock}`;
  const ws = Array.from({ length: workers }, (_, k) => start(process.execPath, [bin, 'worker', '--queue', url, '--threads', '1', '--cache', path.join(out, `worker${k}-cache`)], path.join(out, `worker${k}.log`)));
  const t0 = performance.now();
  const coord = start(process.execPath, [bin, 'run', ...cfg, '--out', path.join(out, 'queued', 'run'), '--queue', url, ...(coordinatorThreads ? ['--threads', coordinatorThreads] : []), '--json'], path.join(out, 'queued.log'));
  const qc = await coord.exited;
  const queuedS = (performance.now() - t0) / 1000;
  for (const w of ws) w.p.kill('SIGTERM');
  await Promise.all(ws.map((w) => w.exited));
  redis.p.kill('SIGTERM');
  await redis.exited;
  if (qc !== 0 && qc !== 1) throw new Error(`queued run exited ${qc}; see ${out}/queued.log`);
  return queuedS;
}

try {
  let localS;
  let queuedS;
  if (args.includes('--queued-first')) {
    queuedS = await runQueued();
    localS = await runLocal();
  } else {
    localS = await runLocal();
    queuedS = await runQueued();
  }

  const same = answers(path.join(out, 'local', 'run')) === answers(path.join(out, 'queued', 'run'));
  const [la, qa] = [answersOf(path.join(out, 'local', 'run')), answersOf(path.join(out, 'queued', 'run'))];
  console.log(`base cells equal: ${JSON.stringify(la.cells) === JSON.stringify(qa.cells)}`);
  for (const [i, v] of (la.variants ?? []).entries()) console.log(`variant ${v.name}: sha256 equal ${v.sha256 === qa.variants?.[i]?.sha256}, cells equal ${JSON.stringify(v.cells) === JSON.stringify(qa.variants?.[i]?.cells)}`);
  console.log(`local --threads ${localThreads}: ${localS.toFixed(1)} s wall, cells ${cellSeconds(path.join(out, 'local', 'run')).toFixed(1)} s summed`);
  console.log(`queued, ${workers} workers x --threads 1: ${queuedS.toFixed(1)} s wall, cells ${cellSeconds(path.join(out, 'queued', 'run')).toFixed(1)} s summed`);
  for (let k = 0; k < workers; k++) {
    const log = read(path.join(out, `worker${k}.log`));
    const secs = [...log.matchAll(/^done (?!train )\S+ ([\d.]+) s$/gm)].map((m) => Number(m[1]));
    const trains = [...log.matchAll(/^done train (\S+) ([\d.]+) s$/gm)].map((m) => `${m[1]} ${m[2]} s`);
    console.log(`  worker ${k}: ${secs.length} cells, ${secs.reduce((a, b) => a + b, 0).toFixed(1)} s${trains.length ? `; trained ${trains.join(', ')}` : ''}`);
  }
  console.log(`ratio queued/local: ${(queuedS / localS).toFixed(2)}; results.json equal (timing aside): ${same}; load average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`logs and run directories: ${out}`);
  if (!same) process.exitCode = 1;
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

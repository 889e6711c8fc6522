/**
 * Campaign cells on BullMQ workers over a real redis-server (a child process on a unix socket in a
 * temporary directory, no persistence), stopped after each test. Tiny campaigns: 100 items, 7 cells,
 * sent as 5 jobs (the baseline; the cells that share the attack's inputs, adv and adv+ann, as one
 * job; drift and drift+ann as one; adv+drift; ann).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { defaultAssets } from '../src/defaults.js';
import { fixture, runCli, tmpDir } from './helpers.js';
import { gauntlet, noRedis, redis, until } from './redis-server.js';

const skip = noRedis;

function writeConfig(dir: string, model = defaultAssets.model, data = defaultAssets.data): string {
  const file = path.join(dir, 'campaign.yaml');
  fs.writeFileSync(
    file,
    [
      `model: ${model}`,
      `data: { path: ${data}, limit: 100 }`,
      'seed: 11',
      'bootstrap: 100',
      'stages: [baseline, isolated, pairwise]',
      'stresses:',
      '  adversarial: [ { attack: pgd, eps: 0.03, steps: 10 } ]',
      '  drift: [ { corruption: gaussian_noise, severity: 3 } ]',
      '  annotation: [ { model: symmetric, rate: 0.2 } ]',
    ].join('\n') + '\n',
  );
  return file;
}

/** results.json without its timing fields (every `performance` section and every `…seconds`). */
function answers(dir: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'), (k, v) => (k === 'performance' || /seconds$/.test(k) ? undefined : v));
}

/** The cell_done events of a run directory, by cell id. */
function cellEvents(dir: string): Map<string, number> {
  const n = new Map<string, number>();
  for (const line of fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').trim().split('\n')) {
    const e = JSON.parse(line) as { event: string; id?: string };
    if (e.event === 'cell_done') n.set(e.id!, (n.get(e.id!) ?? 0) + 1);
  }
  return n;
}

const work = tmpDir('gauntlet-queue-');
const config = writeConfig(work);
let local: unknown = null;
/** The same campaign run locally (once): the answers every queued run must give. */
function localAnswers(): unknown {
  if (local) return local;
  const out = path.join(work, 'local');
  const r = runCli(['run', config, '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (local = answers(out));
}

test('two workers, one killed (SIGKILL) mid-cell: the cell is retried on the other, each cell counted once, results equal the local run', { skip, timeout: 300_000 }, async () => {
  const dir = tmpDir('gauntlet-queue-kill-');
  const r = await redis(dir);
  try {
    const url = r.url(1);
    const a = gauntlet('worker', '--queue', url, '--lock-seconds', '4');
    const b = gauntlet('worker', '--queue', url, '--lock-seconds', '4');
    const out = path.join(dir, 'run');
    const coord = gauntlet('run', config, '--out', out, '--queue', url, '--json');
    // Kill worker a as soon as it starts a cell.
    await until(() => /^… c\d{3}/m.test(a.out()) || coord.p.exitCode !== null, 240_000, 'worker a to start a cell');
    a.p.kill('SIGKILL');
    const killedCell = /^… (c\d{3}\S*)/m.exec(a.out())?.[1];
    const code = await coord.exited;
    assert.equal(code, 0, coord.out());
    assert.ok(killedCell, `worker a started no cell before the run ended:\n${a.out()}`);
    assert.doesNotMatch(a.out(), new RegExp(`^done ${killedCell.replace('+', '\\+')} `, 'm'), 'worker a was killed before it finished its cell');
    // The killed worker's cell was taken up by the other worker.
    assert.match(b.out(), new RegExp(`^done ${killedCell.replace('+', '\\+')} `, 'm'), b.out());
    const events = cellEvents(out);
    assert.equal(events.size, 7);
    assert.ok([...events.values()].every((n) => n === 1), JSON.stringify([...events]));
    // The cells that share an attack's inputs went as one job: 1 baseline job, then 6 cells in 4 jobs.
    assert.match(coord.out(), /queued 6 cell\(s\) in 4 job\(s\)/);
    assert.deepEqual(answers(out), localAnswers());
    assert.deepEqual(fs.readdirSync(path.join(out, 'cells')).sort(), fs.readdirSync(path.join(work, 'local', 'cells')).sort());
    for (const f of ['report.md', 'report.html', 'junit.xml', 'manifest.json']) assert.ok(fs.existsSync(path.join(out, f)), f);
    // The coordinator removed its run's jobs once every result was checkpointed.
    const status = runCli(['queue', 'status', '--queue', url, '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(status.json!.runs, []);
    assert.equal(status.json!.workers.length, 1);
    b.p.kill('SIGTERM');
    assert.equal(await b.exited, 143);
    assert.match(b.out(), /worker stopped \(SIGTERM\): \d+ cell\(s\) done, 0 failed/);
  } finally {
    await r.stop();
  }
});

test('a killed coordinator reattaches with --resume and finishes with the same results', { skip, timeout: 300_000 }, async () => {
  const dir = tmpDir('gauntlet-queue-resume-');
  const r = await redis(dir);
  try {
    const url = r.url(2);
    const w = gauntlet('worker', '--queue', url);
    const out = path.join(dir, 'run');
    const first = gauntlet('run', config, '--out', out, '--queue', url);
    // Checkpoints only (an atomic write's temporary file sits beside them for a moment).
    const cells = () => (fs.existsSync(path.join(out, 'cells')) ? fs.readdirSync(path.join(out, 'cells')).filter((f) => /^c\d{3}-[^.]*\.json$/.test(f)).length : 0);
    await until(() => cells() >= 2 || first.p.exitCode !== null, 240_000, 'two checkpoints');
    first.p.kill('SIGKILL');
    await first.exited;
    const before = cells();
    assert.ok(before >= 2 && before < 7, `checkpoints before the kill: ${before}`);
    const second = gauntlet('run', config, '--out', out, '--queue', url, '--resume', '--json');
    assert.equal(await second.exited, 0, second.out());
    assert.match(second.out(), new RegExp(`resuming: ${before} of 7 cells already done`));
    const events = cellEvents(out);
    assert.equal(events.size, 7);
    assert.ok([...events.values()].every((n) => n === 1), JSON.stringify([...events]));
    assert.deepEqual(answers(out), localAnswers());
    // The restarted coordinator named the same jobs (a group is all its cells, checkpointed or not) and removed them: none is left behind.
    assert.deepEqual(runCli(['queue', 'status', '--queue', url, '--json']).json!.runs, []);
    w.p.kill('SIGTERM');
    await w.exited;
  } finally {
    await r.stop();
  }
});

test('a cell that fails on bad input fails once, the coordinator shows its one line; queue status and clean; Redis gone stops the coordinator', { skip, timeout: 300_000 }, async () => {
  const dir = tmpDir('gauntlet-queue-fail-');
  const r = await redis(dir);
  try {
    const url = r.url(3);
    const model = path.join(dir, 'model.onnx');
    fs.copyFileSync(defaultAssets.model, model);
    const cfg = writeConfig(dir, model);
    const out = path.join(dir, 'run');
    const coord = gauntlet('run', cfg, '--out', out, '--queue', url);
    await until(() => /waiting for workers: none is connected/.test(coord.out()), 120_000, 'the coordinator to enqueue');
    const status = runCli(['queue', 'status', '--queue', url, '--json']);
    assert.equal(status.code, 0, status.stderr);
    const run = status.json!.runs[0];
    assert.deepEqual(run.counts, { waiting: 1, active: 0, delayed: 0, completed: 0, failed: 0 });
    // The worker's model file differs from the coordinator's: an input error, never retried.
    fs.copyFileSync(fixture('autodiff', 'lenet.onnx'), model);
    const w = gauntlet('worker', '--queue', url);
    assert.equal(await coord.exited, 2, coord.out());
    const line = coord.out().trim().split('\n').at(-1)!;
    assert.match(line, /^gauntlet: cell c000-clean failed on a worker after 1 attempt\(s\): .*model\.onnx: has sha256 \w+… on this worker, the run's model 'base' is \w+…; workers must read the same files as the coordinator \(shared storage, or 'gauntlet run --send-files'\)$/);
    assert.doesNotMatch(coord.out(), /\n\s+at /, 'no stack trace');
    assert.equal(w.out().match(/^failed c000-clean/gm)?.length, 1, w.out());
    assert.doesNotMatch(w.out(), /will be retried/);
    assert.ok(!fs.existsSync(out), 'a run that checkpointed nothing leaves nothing behind');
    const failed = runCli(['queue', 'status', '--queue', url]);
    assert.match(failed.stdout, new RegExp(`^${run.run} +0 +0 +0 +0 +1$`, 'm'), failed.stdout);
    const clean = runCli(['queue', 'clean', '--queue', url, '--run', run.run]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stdout, new RegExp(`run ${run.run}: removed 1 job\\(s\\)`));
    assert.deepEqual(runCli(['queue', 'status', '--queue', url, '--json']).json!.runs, []);
    w.p.kill('SIGTERM');
    await w.exited;
    // Redis gone while a coordinator waits: it stops with one clear line (exit 3).
    fs.copyFileSync(defaultAssets.model, model);
    const lone = gauntlet('run', cfg, '--out', out, '--queue', url);
    await until(() => /waiting for workers/.test(lone.out()), 120_000, 'the coordinator to enqueue');
    await r.stop();
    const t0 = Date.now();
    assert.equal(await lone.exited, 3, lone.out());
    assert.ok(Date.now() - t0 < 60_000);
    assert.match(lone.out().trim().split('\n').at(-1)!, /^gauntlet: redis at unix:\/\/.*redis\.sock\?db=3: unreachable/);
  } finally {
    await r.stop();
  }
  const bad = runCli(['worker', '--queue', 'http://x']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^gauntlet: '--queue' must be redis:\/\/HOST:PORT\[\/DB\] or unix:\/\/\/PATH\.sock, got 'http:\/\/x'\n$/);
});

test('cells are grouped by the input set they share; attack groups first; a group job id is stable', async () => {
  const { groupBy, groupHash } = await import('../src/campaign/remote.js');
  const { makePlan } = await import('../src/campaign/plan.js');
  const { inputKey } = await import('../src/campaign/hooks/hook.js');
  const { loadConfig } = await import('../src/campaign/config.js');
  const plan = makePlan(loadConfig(config));
  const rest = plan.cells.slice(1);
  const groups = groupBy(rest, inputKey, (c) => (c.adversarial ? 1 : 0));
  assert.deepEqual(groups.map((g) => g.map((c) => c.id)), [['c001-adv', 'c005-adv+ann'], ['c004-adv+drift'], ['c002-drift', 'c006-drift+ann'], ['c003-ann']]);
  // Every attack input is computed in exactly one group.
  const attackGroups = new Map<string, number>();
  groups.forEach((g, k) => g.filter((c) => c.adversarial).forEach((c) => attackGroups.set(inputKey(c), (attackGroups.get(inputKey(c)) ?? k) === k ? k : -1)));
  assert.ok([...attackGroups.values()].every((k) => k >= 0));
  assert.equal(groupHash(groups[1]!), groups[1]![0]!.hash);
  assert.equal(groupHash(groups[0]!), groupHash([...groups[0]!]));
  assert.notEqual(groupHash(groups[0]!), groupHash([groups[0]![0]!]));
});

test('--send-files: a worker that cannot see the coordinator\'s files fetches them once through Redis into its cache, with the same results; a file damaged in Redis fails once with one line', { skip, timeout: 300_000 }, async () => {
  const dir = tmpDir('gauntlet-queue-files-');
  const r = await redis(dir);
  const { Redis } = await import('ioredis');
  const { createHash } = await import('node:crypto');
  const client = new Redis({ path: path.join(dir, 'redis.sock'), db: 4, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const url = r.url(4);
    const own = path.join(dir, 'coordinator-files');
    fs.mkdirSync(own);
    fs.copyFileSync(defaultAssets.model, path.join(own, 'model.onnx'));
    fs.copyFileSync(defaultAssets.data, path.join(own, 'data.npz'));
    const cfg = writeConfig(dir, path.join(own, 'model.onnx'), path.join(own, 'data.npz'));
    const local = runCli(['run', cfg, '--out', path.join(dir, 'local'), '--json']);
    assert.equal(local.code, 0, local.stderr);

    const out = path.join(dir, 'run');
    const coord = gauntlet('run', cfg, '--out', out, '--queue', url, '--send-files', '--json');
    await until(() => /waiting for workers: none is connected/.test(coord.out()) || coord.p.exitCode !== null, 120_000, 'the coordinator to send the files and enqueue');
    assert.match(coord.out(), /sent 2 file\(s\) \([\d.]+ MiB\) through unix:\/\/.* for workers without shared storage/);
    // The worker cannot see the coordinator's files: they are gone from their paths while it runs.
    fs.renameSync(own, `${own}-away`);
    const cache = path.join(dir, 'worker-cache');
    const w = gauntlet('worker', '--queue', url, '--cache', cache);
    assert.equal(await coord.exited, 0, coord.out() + w.out());
    w.p.kill('SIGTERM');
    assert.equal(await w.exited, 143);
    assert.match(w.out(), /worker stopped \(SIGTERM\): 7 cell\(s\) done, 0 failed; fetched 2 file\(s\) \([\d.]+ MiB\) through the queue/);
    assert.deepEqual(answers(out), answers(path.join(dir, 'local')));
    const modelSha = createHash('sha256').update(fs.readFileSync(defaultAssets.model)).digest('hex');
    const cached = fs.readdirSync(cache).sort();
    assert.equal(cached.length, 2, cached.join(' '));
    assert.ok(cached.includes(`${modelSha}.onnx`) && cached.some((f) => /^[0-9a-f]{64}\.gds$/.test(f)), cached.join(' '));
    // The coordinator removed its files from Redis with its jobs.
    assert.deepEqual(await client.keys('gauntlet-files:*'), []);
    fs.renameSync(`${own}-away`, own);

    // A model damaged in Redis: the worker's hash check fails the cell once; the coordinator shows the line.
    const out2 = path.join(dir, 'run2');
    const coord2 = gauntlet('run', cfg, '--out', out2, '--queue', url, '--send-files');
    await until(() => /waiting for workers: none is connected/.test(coord2.out()) || coord2.p.exitCode !== null, 120_000, 'the second coordinator to enqueue');
    const chunk = (await client.keys(`gauntlet-files:*:${modelSha}:0`))[0]!;
    const bytes = (await client.getBuffer(chunk))!;
    bytes[bytes.length - 1] ^= 0xff;
    await client.set(chunk, bytes);
    const w2 = gauntlet('worker', '--queue', url, '--cache', path.join(dir, 'cache2'));
    assert.equal(await coord2.exited, 2, coord2.out());
    assert.match(coord2.out().trim().split('\n').at(-1)!, /^gauntlet: cell c000-clean failed on a worker after 1 attempt\(s\): the run's model 'base' fetched from redis at unix:\/\/\S+ has sha256 [0-9a-f]{12}…, the run's is [0-9a-f]{12}…; not used$/);
    assert.equal(w2.out().match(/^failed c000-clean/gm)?.length, 1, w2.out());
    assert.ok(!fs.existsSync(path.join(dir, 'cache2', `${modelSha}.onnx`)), 'a file that fails its hash is not cached');
    w2.p.kill('SIGTERM');
    await w2.exited;
  } finally {
    client.disconnect();
    await r.stop();
  }
  const usage = runCli(['run', '--send-files']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^gauntlet: run: '--send-files' sends files to queue workers; give '--queue URL' too\n$/);
});

test('--resume of a run whose group is partly checkpointed: the group runs again, its worker skips the cells already done (told through Redis), same results', { skip, timeout: 300_000 }, async () => {
  const dir = tmpDir('gauntlet-queue-skip-');
  const r = await redis(dir);
  try {
    const url = r.url(5);
    // A run with every cell checkpointed but one of the group (adv, adv+ann) that shares the attack.
    const out = path.join(dir, 'run');
    const first = runCli(['run', config, '--out', out, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const gone = fs.readdirSync(path.join(out, 'cells')).find((f) => f.startsWith('c005-adv+ann'))!;
    fs.rmSync(path.join(out, 'cells', gone));
    const w = gauntlet('worker', '--queue', url);
    const again = gauntlet('run', config, '--out', out, '--queue', url, '--resume', '--json');
    assert.equal(await again.exited, 0, again.out() + w.out());
    w.p.kill('SIGTERM');
    await w.exited;
    assert.match(w.out(), /^skipped c001-adv \(checkpointed by the coordinator already\)$/m, w.out());
    assert.doesNotMatch(w.out(), /^… c001-adv$/m);
    assert.match(w.out(), /^done c005-adv\+ann /m);
    assert.match(w.out(), /worker stopped \(SIGTERM\): 1 cell\(s\) done, 0 failed/);
    assert.deepEqual(answers(out), localAnswers());
    // The run's checkpointed set went with it.
    const { Redis } = await import('ioredis');
    const client = new Redis({ path: path.join(dir, 'redis.sock'), db: 5, lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    assert.deepEqual(await client.keys('gauntlet-*'), []);
    client.disconnect();
  } finally {
    await r.stop();
  }
});

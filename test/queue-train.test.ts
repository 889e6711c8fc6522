/**
 * Training variants as queue jobs: a queued run trains each model (trained variants, training-time
 * models) as its own job on real workers (a real redis-server on a unix socket), stores each in the
 * coordinator's variant cache, then queues that model's cells. Tiny recipes: one epoch of 2 steps on
 * 200 training items; 100 test items, baseline and one drift cell.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { defaultAssets } from '../src/defaults.js';
import { runCli, tmpDir } from './helpers.js';
import { gauntlet, noRedis, redis, until, type Proc } from './redis-server.js';

const skip = noRedis;

/** A campaign with two trained variants (and, with `trainTime`, a training-time annotation setting: one more model per model). */
function writeConfig(dir: string, o: { model?: string; data?: string; trainData?: string; trainLimit?: number; epochs?: number; trainTime?: boolean } = {}): string {
  const file = path.join(dir, 'campaign.yaml');
  const recipe = (lr: number) => `{ epochs: ${o.epochs ?? 1}, batch_size: 100, optimizer: { name: adamw, lr: ${lr} } }`;
  fs.writeFileSync(
    file,
    [
      `model: ${o.model ?? defaultAssets.model}`,
      `data: { path: ${o.data ?? defaultAssets.data}, limit: 100 }`,
      `train_data: { path: ${o.trainData ?? defaultAssets.trainData}, limit: ${o.trainLimit ?? 200} }`,
      'seed: 5',
      'bootstrap: 50',
      'stages: [baseline, isolated]',
      'stresses:',
      '  drift: [ { corruption: gaussian_noise, severity: 3 } ]',
      ...(o.trainTime ? ['  annotation: [ { model: symmetric, rate: 0.3, at: train } ]', `retrain: ${recipe(2e-3)}`] : []),
      'models:',
      `  - { name: slow, train: ${recipe(1e-4)} }`,
      `  - { name: fast, train: ${recipe(1e-3)} }`,
    ].join('\n') + '\n',
  );
  return file;
}

/** results.json without timing fields and without the paths of the variant cache (each run has its own). */
function answers(dir: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'), (k, v) => (k === 'performance' || /seconds$/.test(k) || k === 'cache_path' || (k === 'path' && typeof v === 'string' && v.includes('.gauntlet')) ? undefined : v));
}

test('trainings are queue jobs: two variants and their training-time models trained in parallel on 2 workers, stored in the coordinator\'s cache, then their cells; results and model sha256 equal the local run\'s', { skip, timeout: 600_000 }, async () => {
  const dir = tmpDir('gauntlet-queue-train-');
  const r = await redis(dir);
  try {
    const cfg = writeConfig(dir, { trainTime: true });
    // Local and queued runs each have their own variant cache (beside their run directories). A
    // trained model's bytes depend on ORT's thread count: workers train with the coordinator's
    // --threads (worker b's own is all cores), so both runs give --threads 1.
    const local = runCli(['run', cfg, '--out', path.join(dir, 'local', 'run'), '--threads', '1', '--json']);
    assert.equal(local.code, 0, local.stderr);
    const url = r.url(1);
    const a = gauntlet('worker', '--queue', url, '--threads', '1', '--cache', path.join(dir, 'cache-a'));
    const b = gauntlet('worker', '--queue', url, '--cache', path.join(dir, 'cache-b'));
    const out = path.join(dir, 'queued', 'run');
    const coord = gauntlet('run', cfg, '--out', out, '--queue', url, '--threads', '1', '--json');
    assert.equal(await coord.exited, 0, coord.out() + a.out() + b.out());
    // 2 variants + 3 models (base, slow, fast) trained on the noisy labels: 5 training jobs.
    assert.match(coord.out(), /queued 5 training job\(s\) \(slow, fast, base trained on /);
    const trainedBy = (w: Proc) => w.out().match(/^done train /gm)?.length ?? 0;
    assert.equal(trainedBy(a) + trainedBy(b), 5, a.out() + b.out());
    assert.ok(trainedBy(a) > 0 && trainedBy(b) > 0, `both workers trained (in parallel):\n${a.out()}\n${b.out()}`);
    // Epoch progress reached the coordinator.
    const events = fs.readFileSync(path.join(out, 'events.jsonl'), 'utf8');
    assert.equal(events.match(/"event":"variant_trained"/g)?.length, 5);
    const q = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as { variants: { name: string; sha256: string; training: { cached: boolean } }[]; train_time: { sha256: string }[] };
    const l = JSON.parse(fs.readFileSync(path.join(dir, 'local', 'run', 'results.json'), 'utf8')) as typeof q;
    assert.deepEqual(q.variants.map((v) => [v.name, v.sha256]), l.variants.map((v) => [v.name, v.sha256]));
    assert.deepEqual(q.train_time.map((t) => t.sha256), l.train_time.map((t) => t.sha256));
    assert.ok(q.variants.every((v) => v.training.cached === false), 'trained by this run (on workers), not found in the cache');
    assert.deepEqual(answers(out), answers(path.join(dir, 'local', 'run')));
    // The coordinator's variant cache holds each model; Redis holds no trained model and no job.
    const cache = fs.readdirSync(path.join(dir, 'queued', '.gauntlet', 'variants')).sort();
    assert.equal(cache.filter((f) => f.endsWith('.onnx')).length, 5, cache.join(' '));
    assert.ok(!cache.some((f) => f.endsWith('.part')), cache.join(' '));
    assert.deepEqual(runCli(['queue', 'status', '--queue', url, '--json']).json!.runs, []);
    // Again: every model is in the coordinator's cache, no training job is queued.
    const again = gauntlet('run', cfg, '--out', path.join(dir, 'queued', 'run2'), '--queue', url);
    assert.equal(await again.exited, 0, again.out());
    assert.doesNotMatch(again.out(), /training job/);
    for (const w of [a, b]) {
      w.p.kill('SIGTERM');
      await w.exited;
    }
    assert.match(a.out() + b.out(), /model\(s\) trained/);
  } finally {
    await r.stop();
  }
});

test('a worker killed mid-training: the training job is retried on the other worker (from scratch); a training that fails on bad input fails once with one line', { skip, timeout: 600_000 }, async () => {
  const dir = tmpDir('gauntlet-queue-train-fault-');
  const r = await redis(dir);
  try {
    const url = r.url(2);
    const cfg = writeConfig(dir, { epochs: 3 });
    const a = gauntlet('worker', '--queue', url, '--threads', '1', '--lock-seconds', '3', '--cache', path.join(dir, 'cache-a'));
    const out = path.join(dir, 'run');
    const coord = gauntlet('run', cfg, '--out', out, '--queue', url);
    await until(() => /^… train \w+/m.test(a.out()) || coord.p.exitCode !== null, 240_000, 'worker a to start a training');
    a.p.kill('SIGKILL');
    const killed = /^… train (\w+)/m.exec(a.out())![1]!;
    const b = gauntlet('worker', '--queue', url, '--threads', '1', '--lock-seconds', '3', '--cache', path.join(dir, 'cache-b'));
    assert.equal(await coord.exited, 0, coord.out() + b.out());
    assert.match(b.out(), new RegExp(`^done train ${killed} `, 'm'), b.out());
    assert.match(coord.out(), /training (slow|fast): epoch/);
    b.p.kill('SIGTERM');
    await b.exited;

    // Training data that differs on the worker: an input error, one attempt, one line at the coordinator.
    const data = path.join(dir, 'train.npz');
    fs.copyFileSync(defaultAssets.trainData, data);
    const cfg2 = writeConfig(dir, { trainData: data });
    const coord2 = gauntlet('run', cfg2, '--out', path.join(dir, 'run2'), '--queue', url);
    await until(() => /waiting for workers: none is connected/.test(coord2.out()) || coord2.p.exitCode !== null, 120_000, 'the coordinator to enqueue its trainings');
    fs.copyFileSync(defaultAssets.data, data);
    const c = gauntlet('worker', '--queue', url, '--cache', path.join(dir, 'cache-c'));
    assert.equal(await coord2.exited, 2, coord2.out());
    const line = coord2.out().trim().split('\n').at(-1)!;
    assert.match(line, /^gauntlet: training '(slow|fast)' failed on a worker after 1 attempt\(s\): .*train\.npz: has sha256 \w+… on this worker, the run's training data is \w+…; workers must read the same files/);
    assert.doesNotMatch(coord2.out(), /\n\s+at /, 'no stack trace');
    assert.doesNotMatch(c.out(), /will be retried/);
    c.p.kill('SIGTERM');
    await c.exited;
  } finally {
    await r.stop();
  }
});

test('--send-files with trainings: workers that cannot see the coordinator\'s files fetch the base model and the training data (2 chunks) through Redis, streamed to their cache; same results; nothing left in Redis', { skip, timeout: 600_000 }, async () => {
  const dir = tmpDir('gauntlet-queue-train-files-');
  const r = await redis(dir);
  const { Redis } = await import('ioredis');
  const client = new Redis({ path: path.join(dir, 'redis.sock'), db: 3, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const url = r.url(3);
    const own = path.join(dir, 'coordinator-files');
    fs.mkdirSync(own);
    for (const [from, to] of [[defaultAssets.model, 'model.onnx'], [defaultAssets.data, 'data.npz'], [defaultAssets.trainData, 'train.npz']] as const) fs.copyFileSync(from, path.join(own, to));
    // 500 training items: 1.5 MiB packed, two chunks.
    const cfg = writeConfig(dir, { model: path.join(own, 'model.onnx'), data: path.join(own, 'data.npz'), trainData: path.join(own, 'train.npz'), trainLimit: 500 });
    const local = runCli(['run', cfg, '--out', path.join(dir, 'local', 'run'), '--threads', '1', '--json']);
    assert.equal(local.code, 0, local.stderr);
    const out = path.join(dir, 'queued', 'run');
    const coord = gauntlet('run', cfg, '--out', out, '--queue', url, '--send-files', '--threads', '1', '--json');
    await until(() => /waiting for workers: none is connected/.test(coord.out()) || coord.p.exitCode !== null, 120_000, 'the coordinator to send the files and enqueue its trainings');
    assert.match(coord.out(), /sent 2 file\(s\) \([\d.]+ MiB\) for training through unix:/);
    const keys = await client.keys('gauntlet-files:*');
    const metas = await Promise.all(keys.filter((k) => k.endsWith(':meta')).map(async (k) => JSON.parse((await client.get(k))!) as { kind: string; chunks: number; bytes: number }));
    assert.deepEqual(metas.map((m) => m.kind).sort(), ['data', 'model']);
    for (const m of metas) assert.equal(m.chunks, Math.ceil(m.bytes / 2 ** 20), JSON.stringify(m));
    assert.ok(metas.find((m) => m.kind === 'data')!.chunks >= 2, 'the training data went in several chunks');
    fs.renameSync(own, `${own}-away`);
    const cache = path.join(dir, 'worker-cache');
    const w = gauntlet('worker', '--queue', url, '--cache', cache);
    assert.equal(await coord.exited, 0, coord.out() + w.out());
    w.p.kill('SIGTERM');
    await w.exited;
    assert.match(w.out(), /worker stopped \(SIGTERM\): 6 cell\(s\) done, 2 model\(s\) trained, 0 failed; fetched 3 file\(s\)/);
    assert.deepEqual(answers(out), answers(path.join(dir, 'local', 'run')));
    assert.equal(fs.readdirSync(cache).filter((f) => f.endsWith('.gds')).length, 2);
    assert.ok(!fs.readdirSync(cache).some((f) => f.endsWith('.part')));
    assert.deepEqual(await client.keys('gauntlet-*'), [], 'the run\'s files and the trained models are gone from Redis');
  } finally {
    client.disconnect();
    await r.stop();
  }
});

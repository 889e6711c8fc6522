/**
 * Streamed campaign cells (src/campaign/stream.ts) and chunked attacks
 * (src/stress/adversarial/chunked.ts): the same bytes as the whole-set computation, at chunk sizes
 * that do not divide the set (and are smaller than a batch), with no whole drifted or attacked set
 * held.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { newCellCaches, runCell, type CellContext } from '../src/campaign/cell.js';
import { defaultConfig, resolveConfig } from '../src/campaign/config.js';
import { makePlan } from '../src/campaign/plan.js';
import { openCampaignInputs, runCampaign } from '../src/campaign/runner.js';
import { streamable } from '../src/campaign/stream.js';
import { subset } from '../src/data/dataset.js';
import { defaultAssets } from '../src/defaults.js';
import { toProbabilities } from '../src/metrics/classification.js';
import { bootstrapWeights } from '../src/metrics/suite.js';
import { Rng } from '../src/rng.js';
import { runAttack } from '../src/stress/adversarial/index.js';
import { runAttackChunked } from '../src/stress/adversarial/chunked.js';
import type { AttackSpec } from '../src/stress/adversarial/types.js';
import { corruptions } from '../src/stress/drift/registry.js';
import { Model } from '../src/engine/model.js';
import { loadDataset } from '../src/data/load.js';
import { repoRoot, runCli, tmpDir } from './helpers.js';

/** What two runs of the same cells cannot share: wall-clock times and ORT batch counts (a chunk ends with a partial batch). */
const ACCOUNTING = new Set(['performance', 'seconds', 'ort_seconds', 'gradient_batches', 'forward_batches', 'started', 'finished']);
const withoutAccounting = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(withoutAccounting) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => !ACCOUNTING.has(k)).map(([k, x]) => [k, withoutAccounting(x)])) : v;
const resultsText = (dir: string) => JSON.stringify(withoutAccounting(JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'))));

test('every corruption draws image after image: chunks through one generator give the whole set\'s bytes', async () => {
  const ds = subset(await loadDataset(defaultAssets.data), Int32Array.from({ length: 7 }, (_, i) => i));
  const per = ds.x.length / ds.size;
  for (const c of corruptions) {
    const shape = [ds.size, 1, 28, 28] as [number, number, number, number];
    const whole = c.apply(ds.x, shape, 3, new Rng('chunks'));
    const rng = new Rng('chunks');
    const parts: Float32Array[] = [];
    for (let s = 0; s < ds.size; s += 3) {
      const m = Math.min(3, ds.size - s);
      parts.push(c.apply(ds.x.subarray(s * per, (s + m) * per), [m, 1, 28, 28], 3, rng));
    }
    const chunked = new Float32Array(whole.length);
    parts.reduce((o, p) => (chunked.set(p, o), o + p.length), 0);
    assert.ok(Buffer.from(chunked.buffer).equals(Buffer.from(whole.buffer)), `${c.name}: chunked bytes differ from whole`);
  }
});

test('runAttackChunked gives runAttack\'s adversarial inputs, per-sample results, aggregates, members and flags', async () => {
  const model = await Model.open(defaultAssets.model);
  try {
    const ds = subset(await loadDataset(defaultAssets.data), Int32Array.from({ length: 45 }, (_, i) => i));
    const per = ds.x.length / ds.size;
    const specs = [
      { attack: 'pgd', norm: 'linf', eps: [0.01, 0.03], steps: 3 },
      { attack: 'fgsm', norm: 'l2', eps: 0.5 },
    ] as AttackSpec[];
    for (const spec of specs) {
      const whole = await runAttack(model, ds.x, ds.size, ds.labels!, spec, new Rng(5), { batchSize: 16 });
      const adv = new Float32Array(ds.x.length);
      const reads: number[] = [];
      const r = await runAttackChunked(model, ds.size, ds.labels!, spec, new Rng(5), { batchSize: 16 }, {
        chunkItems: 13,
        read: (s, e) => (reads.push(s), ds.x.subarray(s * per, e * per)),
        write: (s, a) => adv.set(a, s * per),
      });
      assert.deepEqual(reads, [0, 13, 26, 39], 'each chunk is read once, in order');
      assert.ok(Buffer.from(adv.buffer).equals(Buffer.from(whole.adversarial.buffer)), `${spec.attack}: adversarial inputs differ`);
      assert.deepEqual(r.samples, whole.samples);
      assert.deepEqual(r.minEps, whole.minEps);
      assert.deepEqual(r.flags, whole.flags);
      assert.deepEqual(withoutAccounting(r.summary), withoutAccounting(whole.summary));
      assert.deepEqual(r.perEps.map((p) => withoutAccounting(p.aggregate)), whole.perEps.map((p) => withoutAccounting(p.aggregate)));
      assert.ok(r.gradientBatches >= whole.gradientBatches, 'chunks end with partial batches: at least as many batches');
    }
  } finally {
    await model.close();
  }
});

test('the default campaign streamed in chunks of 23 items writes the results.json of whole sets (accounting aside)', async () => {
  const base = defaultConfig();
  const config = { ...base, data: { ...base.data, limit: 60 } };
  const whole = tmpDir('gauntlet-stream-whole-');
  const chunked = tmpDir('gauntlet-stream-chunked-');
  await runCampaign(config, { outDir: whole, chunkItems: 0 });
  const r = await runCampaign(config, { outDir: chunked, chunkItems: 23 });
  assert.equal(resultsText(chunked), resultsText(whole));
  // Streamed, the run reads the clean data from the file in chunks: it holds no clean set either.
  const lean = await openCampaignInputs(config, { lean: { chunkItems: 23 } });
  await lean.model.close();
  assert.ok(lean.source, 'an .npz campaign without explain/uncertainty reads its data in chunks');
  assert.equal(lean.ds.x.length, 0);
  assert.equal(lean.ds.size, 60);
  assert.equal(lean.source.gallery.x.length, lean.source.gallery.positions.length * 784);
  assert.equal(lean.dataSha(), JSON.parse(fs.readFileSync(path.join(whole, 'results.json'), 'utf8')).data.sha256, 'the data hash of the chunked pass');
  // The combined cells are there, and the gallery shows attacked pictures.
  const combined = r.cells.find((c) => Object.keys(c.stresses).length === 3)!;
  assert.ok(combined.gallery && combined.gallery.some((g) => g.stressed !== null));
});

test('a campaign with shifts (value-changing, resampling, and combined with corruption, attack and noise) streamed in chunks of 23 writes the results.json of whole sets', async () => {
  const config = resolveConfig(
    {
      model: defaultAssets.model,
      data: { path: defaultAssets.data, limit: 60 },
      seed: 5,
      bootstrap: 40,
      factorial: true,
      stresses: {
        adversarial: [{ attack: 'fgsm', norm: 'linf', eps: 0.03 }],
        drift: [
          { shift: 'prior', proportions: [4, 1, 1, 1, 1, 1, 1, 1, 1, 1], size: 75 },
          { shift: 'noise', amount: 0.5 },
          { shift: 'missing', rate: 0.1 },
          { shift: 'subpopulation', feature: 300, op: '>', value: 0.2, weight: 3 },
        ],
        annotation: [{ model: 'symmetric', rate: 0.2 }],
      },
    },
    'test',
    repoRoot,
  );
  const whole = tmpDir('gauntlet-stream-shift-whole-');
  const chunked = tmpDir('gauntlet-stream-shift-chunked-');
  await runCampaign(config, { outDir: whole, chunkItems: 0 });
  const r = await runCampaign(config, { outDir: chunked, chunkItems: 23 });
  assert.equal(resultsText(chunked), resultsText(whole));
  const resampled = r.cells.filter((c) => c.item_indices && Object.keys(c.stresses).length === 3);
  assert.ok(resampled.length >= 2, 'resampling shifts combined with the attack and the noise');
  assert.ok(resampled.some((c) => c.samples === 75));
  assert.ok(resampled.every((c) => c.gallery && c.gallery.some((g) => g.stressed !== null)));
});

test('a streamed cell holds no whole drifted or attacked set; explain sections stay whole', async () => {
  const config = resolveConfig(
    {
      model: defaultAssets.model,
      data: { path: defaultAssets.data, limit: 50 },
      seed: 3,
      bootstrap: 50,
      stresses: {
        adversarial: [{ attack: 'fgsm', norm: 'linf', eps: 0.03 }],
        drift: [{ corruption: 'contrast', severity: 2 }, { shift: 'prior', proportions: [4, 1, 1, 1, 1, 1, 1, 1, 1, 1] }],
        annotation: [{ model: 'symmetric', rate: 0.2 }],
      },
    },
    'test',
    repoRoot,
  );
  const { ds, model } = await openCampaignInputs(config);
  try {
    const p = await model.predictItems(ds.x, ds.size, { batchSize: config.batchSize });
    const rng = new Rng(config.seed);
    const ctx = (chunkItems: number): CellContext => ({
      model,
      data: ds,
      labels: ds.labels!,
      numClasses: p.numClasses,
      clean: { probs: toProbabilities(p.scores, p.numClasses, p.kind), batchMs: p.batchMs },
      rng,
      weights: bootstrapWeights(ds.size, config.bootstrap, rng.fork('bootstrap')),
      options: { batchSize: config.batchSize, bootstrap: config.bootstrap, abstainBelow: config.abstainBelow, explain: null, chunkItems },
      uncertainty: null,
      caches: newCellCaches(),
      counters: { forwardBatches: 0, gradientBatches: 0 },
      tabular: { immutable: [] },
    });
    const streamedCtx = ctx(7);
    const wholeCtx = ctx(0);
    const plan = makePlan(config);
    const baseline = await runCell(wholeCtx, plan.cells[0]!, null);
    for (const cell of plan.cells.slice(1)) {
      const a = await runCell(streamedCtx, cell, baseline);
      const b = await runCell(wholeCtx, cell, baseline);
      assert.equal(JSON.stringify(withoutAccounting(a)), JSON.stringify(withoutAccounting(b)), cell.id);
    }
    const shifted = plan.cells.filter((c) => c.drift && 'shift' in c.drift.spec);
    assert.ok(shifted.length > 0 && shifted.every((c) => streamable(c, streamedCtx)), 'shifts are streamed too (two passes)');
    assert.equal(streamable(plan.cells[0]!, streamedCtx), false, 'the clean cell has no inputs to stream');
    assert.equal(streamable(plan.cells.find((c) => c.adversarial && !c.drift)!, { ...streamedCtx, options: { ...streamedCtx.options, explain: { method: 'saliency' } as never } }), false, 'explain needs whole inputs');
    // Streamed: no drifted or attacked set is held whole.
    assert.deepEqual([...streamedCtx.caches.drift.keys()], []);
    assert.deepEqual([...streamedCtx.caches.attacks.keys()], []);
    assert.ok(streamedCtx.caches.streamed.size >= 5);
    for (const s of streamedCtx.caches.streamed.values()) {
      assert.equal(s.kept.x.length, s.kept.positions.length * 784, 'only the gallery items are kept');
      assert.equal(s.kept.clean.length, s.kept.x.length);
    }
  } finally {
    await model.close();
  }
});

test('bootstrap resamples are stored as bytes when their counts fit, with the counts of the two-byte draw', () => {
  const n = 300;
  const w = bootstrapWeights(n, 20, new Rng('boot'));
  const rng = new Rng('boot');
  for (const got of w) {
    const want = new Uint16Array(n);
    for (let i = 0; i < n; i++) want[rng.int(n)]!++;
    assert.ok(got instanceof Uint8Array);
    assert.deepEqual(Array.from(got), Array.from(want));
  }
});

test('gauntlet attack reads, attacks and saves image data chunk by chunk: the bytes of one chunk', () => {
  const dir = tmpDir('gauntlet-stream-attack-');
  const run = (chunk: string, out: string) => {
    const r = runCli(['attack', '--attack', 'pgd', '--eps', '0.03', '--steps', '2', '--limit', '40', '--batch-size', '8', '--chunk-items', chunk, '--save', path.join(dir, out), '--json', '--no-registry'], { cwd: repoRoot, timeout: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    return withoutAccounting({ ...r.json, saved: null });
  };
  const one = run('1000', 'one.npz');
  const many = run('7', 'many.npz');
  assert.deepEqual(many, one);
  assert.ok(fs.readFileSync(path.join(dir, 'many.npz')).equals(fs.readFileSync(path.join(dir, 'one.npz'))), 'the saved .npz files differ');
  // Read to its end in chunks, a damaged x is refused in one line (the entry's CRC-32) and nothing
  // is saved: the reader's end checks run before the output is renamed into place.
  const bad = path.join(dir, 'bad.npz');
  const bytes = fs.readFileSync(path.join(dir, 'one.npz'));
  bytes[Math.floor(bytes.length / 3)]! ^= 0x40;
  fs.writeFileSync(bad, bytes);
  const r = runCli(['attack', '--attack', 'fgsm', '--eps', '0.03', '--data', bad, '--chunk-items', '7', '--save', path.join(dir, 'out.npz'), '--no-registry'], { cwd: repoRoot, timeout: 120_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /bad\.npz: not a valid \.npz \(.*\)\n$/);
  assert.ok(!fs.existsSync(path.join(dir, 'out.npz')), 'an output was saved from damaged data');
});

test('a clean-data cursor reads items in order across chunk edges, may step back within its chunk, and refuses to go back further', async () => {
  const { chunkedFromDataset } = await import('../src/data/chunked.js');
  const { chunkedCursor } = await import('../src/campaign/source.js');
  const ds = subset(await loadDataset(defaultAssets.data), Int32Array.from({ length: 20 }, (_, i) => i));
  const per = ds.x.length / ds.size;
  const c = chunkedCursor(chunkedFromDataset(ds), 6);
  const rows = (a: number, b: number) => Buffer.from(ds.x.slice(a * per, b * per).buffer);
  assert.ok(Buffer.from((await c.read(0, 4)).buffer).equals(rows(0, 4)));
  assert.ok(Buffer.from((await c.read(4, 13)).buffer).equals(rows(4, 13)), 'across two chunk edges');
  assert.ok(Buffer.from((await c.read(12, 14)).buffer).equals(rows(12, 14)), 'one item back, inside the chunk held');
  await assert.rejects(c.read(3, 5), /read out of order/);
  await c.close();
});

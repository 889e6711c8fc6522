/**
 * Shifts applied chunk by chunk (ShiftKind.stream, startShift) and the streamed `gauntlet shift`:
 * the values, indices, weights and descriptions of the whole-set `applyDrift`, and the same output
 * bytes at any chunk size; bad input is one line and leaves no output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Rng } from '../src/rng.js';
import { makeDataset, type Dataset } from '../src/data/dataset.js';
import { datasetToArrays, saveNpz } from '../src/data/npz.js';
import { applyDrift, parseDriftSpec, startShift, type ShiftSpec } from '../src/stress/drift/index.js';
import { assertBadInput, runCli, tmpDir } from './helpers.js';
import { testImages } from './drift-helpers.js';

const dir = tmpDir('gauntlet-shift-stream-');

function imageSet(n: number): Dataset {
  return makeDataset({
    name: 'images',
    itemShape: [1, 12, 12],
    x: testImages(n, 1, 12, 12),
    labels: Int32Array.from({ length: n }, (_, i) => (i * 7) % 3),
    classNames: ['a', 'b', 'c'],
    extras: { source: { dtype: '<i4', shape: [n], data: Int32Array.from({ length: n }, (_, i) => 100 + i) } },
  });
}

function tabularSet(n: number): Dataset {
  const rng = new Rng(3);
  const x = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) (x[3 * i] = Math.round(rng.range(20, 70))), (x[3 * i + 1] = rng.normal()), (x[3 * i + 2] = 5);
  return makeDataset({ name: 'tab', itemShape: [3], x, labels: Int32Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 1 : 0)), featureNames: ['age', 'score', 'const'] });
}

/** A shift through its two passes in chunks of `items` (first pass, then map chunk after chunk). */
function chunked(ds: Dataset, spec: ShiftSpec, rng: Rng, items: number): { x: Float32Array; indices?: Int32Array; weights?: Float64Array; description: string } {
  const per = ds.x.length / ds.size;
  const pass = startShift(ds, spec);
  const chunks: Array<[number, Float32Array]> = [];
  for (let s = 0; s < ds.size; s += items) chunks.push([s, ds.x.subarray(s * per, Math.min(ds.size, s + items) * per)]);
  if (pass.needsInputs) for (const [, x] of chunks) pass.update(x);
  const stream = pass.finish(rng);
  const parts = chunks.map(([s, x]) => stream.map(x, s));
  const x = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((o, p) => (x.set(p, o), o + p.length), 0);
  assert.equal(x.length / per, stream.size);
  return { x, indices: stream.indices, weights: stream.weights, description: stream.description() };
}

const SPECS: Array<[string, Record<string, unknown>]> = [
  ['both', { shift: 'mean', amount: 0.7 }],
  ['both', { shift: 'scale', factor: 1.8 }],
  ['both', { shift: 'noise', amount: 0.4 }],
  ['both', { shift: 'missing', rate: 0.3 }],
  ['both', { shift: 'quantize', levels: 5 }],
  ['both', { shift: 'prior', proportions: [3, 1, 2] }],
  ['both', { shift: 'prior', proportions: [1, 5, 1], size: 130 }],
  ['tab', { shift: 'subpopulation', feature: 'age', op: '>', value: 40, weight: 3 }],
  ['tab', { shift: 'subpopulation', feature: 'age', op: '<=', value: 40, weight: 0.3 }],
  ['tab', { shift: 'subpopulation', feature: 'score', op: '>', value: 0, weight: 2, mode: 'reweight' }],
  ['img', { shift: 'subpopulation', feature: 70, op: '>', value: 0.5, weight: 2 }],
];

test('every shift applied in chunks (first pass, then chunk after chunk) gives applyDrift\'s values, items, weights and description', () => {
  const sets = { img: imageSet(61), tab: tabularSet(97) };
  for (const [which, raw] of SPECS) {
    for (const [name, ds0] of Object.entries(sets)) {
      if (which !== 'both' && which !== name) continue;
      const ds = name === 'tab' && raw.shift === 'prior' ? makeDataset({ ...ds0, labels: Int32Array.from(ds0.labels!, (y, i) => (y + i) % 3) }) : ds0;
      const spec = parseDriftSpec(raw, 'drift') as ShiftSpec;
      const whole = applyDrift(ds, spec, new Rng('s'));
      for (const items of [1, 7, 1000]) {
        const label = `${name} ${JSON.stringify(raw)} in chunks of ${items}`;
        const c = chunked(ds, spec, new Rng('s'), items);
        const wantX = whole.weights ? ds.x : whole.dataset.x;
        assert.ok(Buffer.from(c.x.buffer).equals(Buffer.from(wantX.buffer)), `${label}: values differ`);
        assert.deepEqual(c.indices, whole.indices, label);
        assert.deepEqual(c.weights, whole.weights, label);
        assert.equal(c.description, whole.description, label);
      }
    }
  }
});

test('startShift lets missing values be NaN only for export, as applyDrift refuses them', () => {
  const ds = tabularSet(40);
  const spec: ShiftSpec = { shift: 'missing', rate: 0.5, fill: 'nan' };
  assert.throws(() => startShift(ds, spec), /fill 'nan' gives NaN inputs/);
  const pass = startShift(ds, spec, { exportNan: true });
  pass.update(ds.x);
  const x = pass.finish(new Rng(1)).map(ds.x, 0);
  assert.ok(x.some(Number.isNaN));
  assert.ok(!ds.x.some(Number.isNaN), 'the input is not mutated');
});

test('gauntlet shift writes the same bytes and report at any --chunk-items', async () => {
  const images = path.join(dir, 'images.npz');
  const tab = path.join(dir, 'tab.npz');
  await saveNpz(images, datasetToArrays(imageSet(45)));
  await saveNpz(tab, datasetToArrays(tabularSet(80)));
  const cases: string[][] = [
    ['--data', images, '--kind', 'noise', '--amount', '0.5'],
    ['--data', images, '--kind', 'missing', '--rate', '0.2', '--fill', 'nan'],
    ['--data', images, '--kind', 'prior', '--proportions', '1,2,1', '--size', '70'],
    ['--data', tab, '--kind', 'missing', '--rate', '0.25'],
    ['--data', tab, '--kind', 'subpopulation', '--where', 'age>45', '--weight', '2'],
    ['--data', tab, '--kind', 'subpopulation', '--where', 'age>45', '--weight', '2', '--mode', 'reweight'],
  ];
  cases.forEach((args, k) => {
    const outs = ['1', '6', '100000'].map((chunk) => {
      const out = path.join(dir, `c${k}-${chunk}.npz`);
      const r = runCli(['shift', ...args, '--permutations', '10', '--chunk-items', chunk, '--out', out, '--json'], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      return { json: JSON.stringify({ ...r.json, out: null }), bytes: fs.readFileSync(out) };
    });
    for (const o of outs.slice(1)) {
      assert.equal(o.json, outs[0]!.json, args.join(' '));
      assert.ok(o.bytes.equals(outs[0]!.bytes), `${args.join(' ')}: the .npz files differ`);
    }
  });
});

test('gauntlet shift: a condition no item meets, or damaged data, is one line and no output', async () => {
  const images = path.join(dir, 'images2.npz');
  await saveNpz(images, datasetToArrays(imageSet(30)));
  const out = path.join(dir, 'none.npz');
  assertBadInput(runCli(['shift', '--data', images, '--kind', 'subpopulation', '--where', '3>2', '--weight', '2', '--chunk-items', '4', '--out', out], { cwd: dir }), /condition 3 > 2 matches none of 30 items/);
  assert.ok(!fs.existsSync(out));
  assertBadInput(runCli(['shift', '--data', images, '--kind', 'mean', '--amount', '1', '--mmd-units', 'std', '--out', out], { cwd: dir }), /MMD in std units applies to tabular data/);
  assert.ok(!fs.existsSync(out), 'refused before anything is written');
  const bad = path.join(dir, 'bad.npz');
  const bytes = fs.readFileSync(images);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x40;
  fs.writeFileSync(bad, bytes);
  assertBadInput(runCli(['shift', '--data', bad, '--kind', 'noise', '--amount', '0.5', '--chunk-items', '4', '--out', out], { cwd: dir }), /bad\.npz: not a valid \.npz/);
  assert.ok(!fs.existsSync(out), 'an output was written from damaged data');
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('.') || f.includes('tmp')), [], 'no temporary file left');
});

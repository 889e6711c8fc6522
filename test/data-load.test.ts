import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pngjs from 'pngjs';
import { batches, datasetHash, makeDataset, subset } from '../src/data/dataset.js';
import { writeIdx } from '../src/data/idx.js';
import { detectKind, loadDataset, takeFirst } from '../src/data/load.js';
import { writeNpy } from '../src/data/npy.js';
import { saveNpz } from '../src/data/npz.js';
import * as data from '../src/data/index.js';
import { DataError, UsageError } from '../src/errors.js';
import { fixture, scratchDirs } from './helpers.js';

/** A fresh empty folder under this file's one temporary directory. */
const fresh = scratchDirs('gauntlet-data-');

/** One small file of every kind, all holding the same 3 two-feature (or 1x1x2 image) items. */
async function everyKind(): Promise<Record<string, string>> {
  const dir = fresh();
  const f = (name: string): string => path.join(dir, name);
  await saveNpz(f('d.npz'), { x: { dtype: '<f4', shape: [3, 2], data: [0, 1, 2, 3, 4, 5] }, y: { dtype: '<i8', shape: [3], data: [0n, 1n, 0n] } });
  fs.writeFileSync(f('d.npy'), writeNpy({ dtype: '<f4', shape: [3, 2], data: [0, 1, 2, 3, 4, 5] }));
  fs.writeFileSync(f('d.csv'), 'a,b,label\n0,1,0\n2,3,1\n4,5,0\n');
  fs.writeFileSync(f('d.tsv'), 'a\tb\tlabel\n0\t1\t0\n2\t3\t1\n4\t5\t0\n');
  fs.writeFileSync(f('train-images-idx3-ubyte.gz'), writeIdx({ dtype: 'u1', shape: [3, 1, 2], data: Uint8Array.from([0, 51, 102, 153, 204, 255]) }, { gzip: true }));
  fs.writeFileSync(f('train-labels-idx1-ubyte.gz'), writeIdx({ dtype: 'u1', shape: [3], data: Uint8Array.from([0, 1, 0]) }, { gzip: true }));
  const img = (a: number, b: number): Buffer => {
    const p = new pngjs.PNG({ width: 2, height: 1 });
    p.data = Buffer.from([a, b]);
    return pngjs.PNG.sync.write(p, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
  };
  for (const [cls, name, a, b] of [['c0', 'i0.png', 0, 51], ['c1', 'i1.png', 102, 153], ['c0', 'i2.png', 204, 255]] as const) {
    fs.mkdirSync(f(`imgs/${cls}`), { recursive: true });
    fs.writeFileSync(f(`imgs/${cls}/${name}`), img(a, b));
  }
  fs.writeFileSync(f('m.jsonl'), ['c0/i0.png', 'c1/i1.png', 'c0/i2.png'].map((p, i) => JSON.stringify({ path: `imgs/${p}`, label: i % 2 })).join('\n'));
  return {
    npz: f('d.npz'),
    npy: f('d.npy'),
    csv: f('d.csv'),
    tsv: f('d.tsv'),
    idx: f('train-images-idx3-ubyte.gz'),
    images: f('imgs'),
    jsonl: f('m.jsonl'),
  };
}

test('loadDataset dispatches on the name (directory → images) and on kind', async () => {
  const files = await everyKind();
  const expect: Record<string, { shape: number[]; labels: number[] | null }> = {
    npz: { shape: [2], labels: [0, 1, 0] },
    npy: { shape: [2], labels: null },
    csv: { shape: [2], labels: [0, 1, 0] },
    tsv: { shape: [2], labels: [0, 1, 0] },
    idx: { shape: [1, 1, 2], labels: [0, 1, 0] }, // labels found beside the images
    images: { shape: [1, 1, 2], labels: [0, 0, 1] }, // sorted by class, then file
    jsonl: { shape: [1, 1, 2], labels: [0, 1, 0] },
  };
  for (const [kind, file] of Object.entries(files)) {
    const ds = await loadDataset(file);
    assert.deepEqual(ds.itemShape, expect[kind]!.shape, kind);
    assert.deepEqual(ds.labels && [...ds.labels], expect[kind]!.labels, kind);
    assert.equal(ds.size, 3, kind);
  }
  // The same pixels through idx, images and jsonl hash alike (jsonl shares idx's order and labels).
  const [idx, jsonl] = [await loadDataset(files.idx!), await loadDataset({ kind: 'jsonl', path: files.jsonl! })];
  assert.equal(datasetHash(idx), datasetHash(jsonl));
  // kind overrides the name.
  const copy = path.join(path.dirname(files.csv!), 'table.data');
  fs.copyFileSync(files.csv!, copy);
  assert.equal((await loadDataset({ kind: 'csv', path: copy })).size, 3);
});

test('limit keeps the first N items, for every kind', async () => {
  const files = await everyKind();
  for (const [kind, file] of Object.entries(files)) {
    const ds = await loadDataset({ path: file, limit: 2 });
    assert.equal(ds.size, 2, kind);
    assert.equal(ds.x.length, 2 * ds.itemShape.reduce((a, b) => a * b, 1), kind);
  }
});

test('labels: false drops labels; labels as a file feeds idx and npy', async () => {
  const files = await everyKind();
  assert.equal((await loadDataset({ path: files.csv!, labels: false })).labels, null);
  assert.equal((await loadDataset({ path: files.idx!, labels: false })).labels, null);
  const y = path.join(path.dirname(files.npy!), 'y.npy');
  fs.writeFileSync(y, writeNpy({ dtype: '<i4', shape: [3], data: [2, 2, 1] }));
  assert.deepEqual([...(await loadDataset({ path: files.npy!, labels: y })).labels!], [2, 2, 1]);
});

test('a missing path is "<path>: no such file or directory"', async () => {
  const missing = path.join(fresh(), 'nothing-here.npz');
  await assert.rejects(loadDataset(missing), (e: unknown) => e instanceof DataError && e.message === `${missing}: no such file or directory`);
});

test('bad specs are UsageErrors naming the option; unknown names are DataErrors', async () => {
  const files = await everyKind();
  const usage: [data.DataSpec, RegExp][] = [
    [{ path: files.csv!, limit: 0 }, /'limit' must be in \[1, inf\), got 0/],
    [{ path: files.csv!, limit: 1.5 }, /'limit' must be an integer/],
    [{ path: files.csv!, channels: 3 }, /'channels' applies to images and jsonl data, not csv/],
    [{ path: files.npz!, labelColumn: 'y' }, /'labelColumn' applies to csv data, not npz/],
    [{ path: files.csv!, labels: 'y.npy' }, /'labels' as a file applies to idx and npy data, not csv/],
    [{ path: files.images!, channels: 2 as 3 }, /'channels' must be 1 or 3, got 2/],
    [{ path: files.csv!, kind: 'parquet' as 'csv' }, /'kind' must be one of npz, npy, idx, csv, images, jsonl, got 'parquet'/],
  ];
  for (const [spec, message] of usage) await assert.rejects(loadDataset(spec), (e: unknown) => e instanceof UsageError && message.test(e.message));
  const odd = path.join(path.dirname(files.csv!), 'data.parquet');
  fs.writeFileSync(odd, '');
  await assert.rejects(loadDataset(odd), (e: unknown) => e instanceof DataError && /data\.parquet: cannot tell the data kind from the name/.test(e.message));
  await assert.rejects(loadDataset({ kind: 'csv', path: files.images! }), (e: unknown) => e instanceof DataError && /is a directory, but csv data is a file/.test(e.message));
});

test('detectKind reads names', () => {
  assert.equal(detectKind('a/t10k-images-idx3-ubyte', false), 'idx');
  assert.equal(detectKind('train-images.idx3-ubyte', false), 'idx');
  assert.equal(detectKind('x.idx', false), 'idx');
  assert.equal(detectKind('x.gz', false), 'idx');
  assert.equal(detectKind('X.NPZ', false), 'npz');
  assert.equal(detectKind('anything', true), 'images');
  assert.throws(() => detectKind('t.csv.gz', false), /gzipped csv files are not supported/);
});

test('datasetHash is stable across loads and sensitive to a one-value change', async () => {
  const file = fixture('data', 'numpy-savez.npz');
  const a = await loadDataset(file);
  const b = await loadDataset(fixture('data', 'numpy-savez-compressed.npz'));
  assert.equal(datasetHash(a), datasetHash(b));
  assert.match(datasetHash(a), /^[0-9a-f]{64}$/);
  const x = a.x.slice();
  x[17] = Math.fround(x[17]! + 1e-6);
  assert.notEqual(datasetHash({ ...a, x }), datasetHash(a));
  const labels = a.labels!.slice();
  labels[0] = 1;
  assert.notEqual(datasetHash({ ...a, labels }), datasetHash(a));
  assert.notEqual(datasetHash({ ...a, labels: null }), datasetHash(a));
});

test('batches() views cover the set exactly once, in order, without copying', () => {
  const n = 10;
  const ds = makeDataset({ name: 't', itemShape: [2, 2], x: Float32Array.from({ length: n * 4 }, (_, i) => i), labels: Int32Array.from({ length: n }, (_, i) => i % 3) });
  for (const size of [1, 3, 4, 10, 64]) {
    const seen: number[] = [];
    let next = 0;
    for (const b of batches(ds, size)) {
      assert.equal(b.start, next);
      assert.ok(b.size >= 1 && b.size <= size);
      assert.equal(b.x.buffer, ds.x.buffer, 'a view');
      assert.equal(b.x.length, b.size * 4);
      for (let k = 0; k < b.size; k++) {
        seen.push(b.x[k * 4]! / 4);
        assert.equal(b.y![k], (b.start + k) % 3);
      }
      next += b.size;
    }
    assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i), `batch size ${size}`);
  }
});

test('takeFirst and subset keep ids, labels and per-item extras consistent', async () => {
  const ds = await loadDataset(fixture('data', 'numpy-savez.npz'));
  const first = takeFirst(ds, 3);
  assert.deepEqual(first.ids, ['a', 'b', 'c']);
  assert.deepEqual([...first.labels!], [0, 2, 1]);
  assert.deepEqual(first.extras.flags!.shape, [3]); // flags had one value per item
  assert.deepEqual(first.extras.f!.shape, [2, 3]); // f did not: kept whole
  assert.equal(takeFirst(ds, 99), ds);
  const picked = subset(ds, [3, 1]);
  assert.deepEqual(picked.ids, ['dd', 'b']);
  assert.deepEqual([...picked.x.subarray(0, 6)], [...ds.x.subarray(18, 24)]);
});

test('the index exports every loader', () => {
  for (const name of ['loadDataset', 'loadNpz', 'loadNpy', 'loadIdx', 'loadCsv', 'loadImageFolder', 'loadJsonl', 'readNpy', 'writeNpy', 'saveNpy', 'saveNpz', 'datasetHash', 'batches']) {
    assert.equal(typeof (data as Record<string, unknown>)[name], 'function', name);
  }
});

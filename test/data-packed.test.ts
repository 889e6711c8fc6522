import { test } from 'node:test';
import assert from 'node:assert/strict';
import { datasetHash, makeDataset } from '../src/data/dataset.js';
import { packDataset, unpackDataset } from '../src/data/packed.js';
import { DataError } from '../src/errors.js';

test('a packed dataset comes back with the same hash, ids, class names, feature names and metadata', () => {
  const ds = makeDataset({ name: 't.csv', itemShape: [3], x: Float32Array.from([0.5, -1, 2, 3.25, 1e-7, 0]), labels: Int32Array.from([1, 0]), classNames: ['a', 'b'], ids: ['x1', 'x2'], featureNames: ['f', 'g', 'h'], metadata: [{ k: 1 }, null] });
  const back = unpackDataset(packDataset(ds), 'bytes');
  assert.equal(datasetHash(back), datasetHash(ds));
  assert.deepEqual([back.name, back.itemShape, back.classNames, back.ids, back.featureNames, back.metadata], ['t.csv', [3], ['a', 'b'], ['x1', 'x2'], ['f', 'g', 'h'], [{ k: 1 }, null]]);
  const unlabelled = makeDataset({ name: 'u', itemShape: [2], x: Float32Array.from([1, 2]) });
  assert.equal(unpackDataset(packDataset(unlabelled), 'u').labels, null);
});

test('bytes that are not a packed dataset, or are cut short, are a DataError naming them', () => {
  const bytes = packDataset(makeDataset({ name: 't', itemShape: [2], x: Float32Array.from([1, 2, 3, 4]), labels: Int32Array.from([0, 1]) }));
  assert.throws(() => unpackDataset(Buffer.from('nope'), 'blob'), (e: unknown) => e instanceof DataError && /^blob: not a packed dataset \(no GDS1 header\)$/.test((e as Error).message));
  assert.throws(() => unpackDataset(bytes.subarray(0, bytes.length - 1), 'blob'), (e: unknown) => e instanceof DataError && /bytes, the header says/.test((e as Error).message));
});

test('packedPieces gives packDataset\'s bytes in pieces of at most maxBytes; unpackDatasetFile reads a packed file straight into the arrays', async () => {
  const { packedPieces, unpackDatasetFile } = await import('../src/data/packed.js');
  const fs = await import('node:fs');
  const path = await import('node:path');
  const os = await import('node:os');
  const ds = makeDataset({ name: 'p', itemShape: [3], x: Float32Array.from({ length: 30 }, (_, i) => i / 7), labels: Int32Array.from({ length: 10 }, (_, i) => i % 3), classNames: ['a', 'b', 'c'] });
  const pieces = [...packedPieces(ds, 16)];
  assert.ok(pieces.length > 5);
  assert.ok(pieces.slice(1).every((p) => p.length <= 16));
  assert.deepEqual(Buffer.concat(pieces), packDataset(ds));
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gauntlet-packed-')), 'd.gds');
  fs.writeFileSync(file, packDataset(ds));
  const back = unpackDatasetFile(file, 'file');
  assert.deepEqual(Array.from(back.x), Array.from(ds.x));
  assert.deepEqual(Array.from(back.labels!), Array.from(ds.labels!));
  assert.deepEqual(back.classNames, ds.classNames);
  fs.writeFileSync(file, packDataset(ds).subarray(0, packDataset(ds).length - 4));
  assert.throws(() => unpackDatasetFile(file, 'cut'), (e: unknown) => e instanceof DataError && /^cut: not a packed dataset \(\d+ bytes, the header says \d+\)$/.test((e as Error).message));
});

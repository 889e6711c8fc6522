import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { datasetHash } from '../src/data/dataset.js';
import { writeNpy } from '../src/data/npy.js';
import { loadNpy, loadNpz, readNpz, saveDatasetNpz, saveNpz, writeNpz } from '../src/data/npz.js';
import { readZipEntries, writeZip } from '../src/data/zip.js';
import { DataError } from '../src/errors.js';
import { fixture, scratchDirs } from './helpers.js';

/** A fresh empty folder under this file's one temporary directory. */
const fresh = scratchDirs('gauntlet-data-');

/*
 * test/fixtures/data/numpy-savez.npz and numpy-savez-compressed.npz were made once with numpy 2.4
 * (Debian python3-numpy) by:
 *
 *   import numpy as np
 *   x = (np.arange(24, dtype=np.float32).reshape(4, 1, 2, 3) / 10).astype(np.float32)
 *   y = np.array([0, 2, 1, 2], dtype=np.int64)
 *   ids = np.array(['a', 'b', 'c', 'dd'])
 *   class_names = np.array(['cat', 'dog', 'ému'])
 *   f = np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3))
 *   big = np.array([1.5, -2.25], dtype='>f8')
 *   flags = np.array([True, False, True])
 *   np.savez('numpy-savez.npz', x=x, y=y, ids=ids, class_names=class_names, f=f, big=big, flags=flags)
 *   np.savez_compressed('numpy-savez-compressed.npz', x=x, y=y, ids=ids, class_names=class_names, f=f, big=big, flags=flags)
 *
 * numpy writes zip64 extra fields in every local header (force_zip64), so these also cover that.
 */
for (const name of ['numpy-savez.npz', 'numpy-savez-compressed.npz']) {
  test(`loads ${name} as numpy wrote it`, async () => {
    const ds = await loadNpz(fixture('data', name));
    assert.equal(ds.name, name);
    assert.equal(ds.size, 4);
    assert.deepEqual(ds.itemShape, [1, 2, 3]);
    assert.deepEqual([...ds.x], Array.from({ length: 24 }, (_, i) => Math.fround(Math.fround(i) / 10)));
    assert.deepEqual([...ds.labels!], [0, 2, 1, 2]);
    assert.deepEqual(ds.ids, ['a', 'b', 'c', 'dd']);
    assert.deepEqual(ds.classNames, ['cat', 'dog', 'ému']);
    assert.deepEqual(Object.keys(ds.extras).sort(), ['big', 'f', 'flags']);
    assert.deepEqual(ds.extras.f!.shape, [2, 3]);
    assert.deepEqual([...(ds.extras.f!.data as Int16Array)], [0, 1, 2, 3, 4, 5]);
    assert.equal(ds.extras.big!.dtype, '<f8');
    assert.deepEqual([...(ds.extras.big!.data as Float64Array)], [1.5, -2.25]);
    assert.equal(ds.extras.flags!.dtype, '|b1');
    assert.deepEqual([...(ds.extras.flags!.data as Uint8Array)], [1, 0, 1]);
  });
}

test('saveNpz → loadNpz round-trips, stored and deflated', async () => {
  const dir = fresh();
  const x = Float32Array.from({ length: 5 * 3 }, (_, i) => Math.sin(i));
  const arrays = {
    x: { dtype: '<f4', shape: [5, 3], data: x },
    y: { dtype: '<i8', shape: [5], data: new BigInt64Array([4n, 3n, 2n, 1n, 0n]) },
    ids: { dtype: '<i4', shape: [5], data: new Int32Array([10, 11, 12, 13, 14]) },
    feature_names: { dtype: '<U', shape: [3], data: ['a', 'b', 'c'] },
    mean: { dtype: '<f8', shape: [3], data: new Float64Array([0.5, 0.25, 0.125]) },
  };
  for (const compress of [false, true]) {
    const file = path.join(dir, `rt-${compress}.npz`);
    await saveNpz(file, arrays, { compress });
    const entries = readZipEntries(fs.readFileSync(file));
    assert.deepEqual(entries.map((e) => [e.name, e.method]), Object.keys(arrays).map((k) => [`${k}.npy`, compress ? 8 : 0]));
    const ds = await loadNpz(file);
    assert.deepEqual([...ds.x], [...x]);
    assert.deepEqual([...ds.labels!], [4, 3, 2, 1, 0]);
    assert.deepEqual(ds.ids, ['10', '11', '12', '13', '14']);
    assert.deepEqual(ds.featureNames, ['a', 'b', 'c']);
    assert.deepEqual([...(ds.extras.mean!.data as Float64Array)], [0.5, 0.25, 0.125]);
  }
});

test('a dataset saved with saveDatasetNpz loads back with the same hash, ids and class names', async () => {
  const file = path.join(fresh(), 'ds.npz');
  const src = await loadNpz(fixture('data', 'numpy-savez.npz'));
  await saveDatasetNpz(file, src, { compress: true });
  const back = await loadNpz(file);
  assert.equal(datasetHash(back), datasetHash(src));
  assert.deepEqual(back.ids, src.ids);
  assert.deepEqual(back.classNames, src.classNames);
  assert.deepEqual(Object.keys(back.extras).sort(), Object.keys(src.extras).sort());
});

test('zip64 archives (zip64 end records and central-directory extras) are read', () => {
  const x = writeNpy({ dtype: '<f4', shape: [1, 2], data: [1, 2] });
  for (const compress of [false, true]) {
    const bytes = writeZip([{ name: 'x.npy', data: x }], { compress, forceZip64: true });
    const arrays = readNpz(bytes, 'z.npz');
    assert.deepEqual([...(arrays.x!.data as Float32Array)], [1, 2]);
  }
});

test('float64 x is converted to float32', async () => {
  const file = path.join(fresh(), 'f8.npz');
  await saveNpz(file, { x: { dtype: '<f8', shape: [2, 2], data: [0.1, 1, -3.5e38 / 2, 1e-50] } });
  const ds = await loadNpz(file);
  assert.deepEqual([...ds.x], [Math.fround(0.1), 1, Math.fround(-1.75e38), 0]);
  assert.equal(ds.labels, null);
});

test('loadNpy reads a bare .npy of inputs, with labels from a second .npy', async () => {
  const dir = fresh();
  fs.writeFileSync(path.join(dir, 'x.npy'), writeNpy({ dtype: '<f4', shape: [3, 2], data: [1, 2, 3, 4, 5, 6] }));
  fs.writeFileSync(path.join(dir, 'y.npy'), writeNpy({ dtype: '|u1', shape: [3], data: [2, 0, 1] }));
  const ds = await loadNpy(path.join(dir, 'x.npy'), { labels: path.join(dir, 'y.npy') });
  assert.deepEqual(ds.itemShape, [2]);
  assert.deepEqual([...ds.labels!], [2, 0, 1]);
  assert.equal((await loadNpy(path.join(dir, 'x.npy'))).labels, null);
});

/** Writes `arrays` as an npz in a fresh folder and returns its path. */
function npz(arrays: Record<string, { dtype: string; shape: number[]; data: ArrayLike<number | bigint | string> }>): string {
  const file = path.join(fresh(), 'bad.npz');
  fs.writeFileSync(file, writeNpz(arrays));
  return file;
}

async function rejectsWith(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    assert.match(err.message, message);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

const x2 = { dtype: '<f4', shape: [2, 1], data: [0.5, 0.25] };

test('a file that is not a zip is "not a valid .npz"', async () => {
  const file = path.join(fresh(), 'text.npz');
  fs.writeFileSync(file, 'just some text, certainly not a zip archive');
  await rejectsWith(loadNpz(file), /text\.npz: not a valid \.npz \(not a zip archive/);
});

test('a truncated npz is "not a valid .npz"', async () => {
  const whole = writeNpz({ x: x2 }, { compress: true });
  const file = path.join(fresh(), 'cut.npz');
  fs.writeFileSync(file, whole.subarray(0, whole.length - 30));
  await rejectsWith(loadNpz(file), /cut\.npz: not a valid \.npz \(truncated/);
});

test('an npz entry that is not .npy, or not valid .npy, or corrupted, is "not a valid .npz"', async () => {
  const dir = fresh();
  const a = path.join(dir, 'a.npz');
  fs.writeFileSync(a, writeZip([{ name: 'readme.txt', data: Buffer.from('hi') }]));
  await rejectsWith(loadNpz(a), /a\.npz: not a valid \.npz \(entry 'readme\.txt' is not a \.npy file\)/);
  const b = path.join(dir, 'b.npz');
  fs.writeFileSync(b, writeZip([{ name: 'x.npy', data: Buffer.from('not numpy at all') }]));
  await rejectsWith(loadNpz(b), /b\.npz: not a valid \.npz \(entry 'x\.npy': bad magic/);
  const c = path.join(dir, 'c.npz');
  const bytes = Buffer.from(writeNpz({ x: x2 }));
  bytes[bytes.indexOf('NUMPY') + 100] ^= 0xff; // flip a data byte: the CRC no longer matches
  fs.writeFileSync(c, bytes);
  await rejectsWith(loadNpz(c), /c\.npz: not a valid \.npz \(entry 'x\.npy' fails its CRC-32 check\)/);
});

test('a missing file is a DataError naming it', async () => {
  const file = path.join(fresh(), 'nope.npz');
  await rejectsWith(loadNpz(file), new RegExp(`^${file.replace(/[.\\]/g, '\\$&')}: no such file or directory$`));
});

test('bad contents are DataErrors named for what is wrong', async () => {
  await rejectsWith(loadNpz(npz({ y: { dtype: '<i8', shape: [2], data: [0n, 1n] } })), /bad\.npz: has no 'x' array \(keys: y\)/);
  await rejectsWith(loadNpz(npz({ x: x2, y: { dtype: '<i8', shape: [3], data: [0n, 1n, 1n] } })), /bad\.npz: x has 2 items but y has 3 labels/);
  await rejectsWith(loadNpz(npz({ x: { dtype: '<f4', shape: [2, 1], data: [1, NaN] } })), /bad\.npz: input of item 1 has a non-finite value \(NaN\)/);
  await rejectsWith(loadNpz(npz({ x: { dtype: '<f8', shape: [2, 1], data: [1, 1e300] } })), /bad\.npz: x value 1e\+300 at index 1 does not fit float32/);
  await rejectsWith(loadNpz(npz({ x: { dtype: '<U', shape: [2, 1], data: ['a', 'b'] } })), /bad\.npz: x has dtype <U1; expected float32, float64, uint8 .* or integer token ids/);
  await rejectsWith(loadNpz(npz({ x: { dtype: '<i8', shape: [2, 1], data: [1n, 2n ** 25n] } })), /bad\.npz: x value 33554432 at index 1 is an integer \(token id\) beyond 2\^24/);
  await rejectsWith(loadNpz(npz({ x: { dtype: '<f4', shape: [2], data: [1, 2] } })), /bad\.npz: x has shape \(2,\); expected \[N, \.\.\.item shape\]/);
  await rejectsWith(loadNpz(npz({ x: x2, y: { dtype: '<f4', shape: [2], data: [0, 1] } })), /bad\.npz: y has dtype <f4; labels must be integers/);
  await rejectsWith(loadNpz(npz({ x: x2, y: { dtype: '<i8', shape: [2], data: [0n, 2n ** 40n] } })), /bad\.npz: y value 1099511627776 at index 1 does not fit int32/);
  await rejectsWith(loadNpz(npz({ x: x2, y: { dtype: '<i4', shape: [2], data: [0, -1] } })), /bad\.npz: label of item 1 is negative/);
  await rejectsWith(loadNpz(npz({ x: x2, ids: { dtype: '<U', shape: [2], data: ['a', 'a'] } })), /bad\.npz: id 'a' is used by items 0 and 1/);
  await rejectsWith(loadNpz(npz({ x: x2, ids: { dtype: '<U', shape: [1], data: ['a'] } })), /bad\.npz: ids has shape \(1,\); expected \(2,\)/);
  await rejectsWith(
    loadNpz(npz({ x: x2, y: { dtype: '<i4', shape: [2], data: [0, 2] }, class_names: { dtype: '<U', shape: [2], data: ['a', 'b'] } })),
    /bad\.npz: label 2 of item 1 is out of range for 2 class names/,
  );
  await rejectsWith(loadNpz(npz({ x: x2, class_names: { dtype: '<i4', shape: [2], data: [0, 1] } })), /class_names must be a 1-D string array/);
});

test('uint8 x is read as 8-bit images scaled to [0, 1] (v / 255 in float32, as torchvision ToTensor)', async () => {
  const ds = await loadNpz(npz({ x: { dtype: '|u1', shape: [2, 3], data: [0, 1, 128, 200, 254, 255] }, y: { dtype: '|u1', shape: [2], data: [1, 0] } }));
  assert.deepEqual(ds.itemShape, [3]);
  assert.ok(ds.x instanceof Float32Array);
  assert.deepEqual(Array.from(ds.x), [0, 1, 128, 200, 254, 255].map((v) => Math.fround(v / 255)));
  assert.equal(ds.x[5], 1);
  assert.deepEqual(Array.from(ds.labels!), [1, 0]);
});

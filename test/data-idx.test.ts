import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { idxLabelsPathFor, loadIdx, readIdx, writeIdx } from '../src/data/idx.js';
import { DataError } from '../src/errors.js';
import { scratchDirs } from './helpers.js';

/** A fresh empty folder under this file's one temporary directory. */
const fresh = scratchDirs('gauntlet-data-');

/** Three 2x3 ubyte images and their labels, written gzipped (or not) to a fresh folder. */
function writeMnistLike(gzip: boolean): { images: string; labels: string; pixels: number[] } {
  const dir = fresh();
  const pixels = Array.from({ length: 18 }, (_, i) => (i * 15) % 256);
  const suffix = gzip ? '.gz' : '';
  const images = path.join(dir, `t10k-images-idx3-ubyte${suffix}`);
  const labels = path.join(dir, `t10k-labels-idx1-ubyte${suffix}`);
  fs.writeFileSync(images, writeIdx({ dtype: 'u1', shape: [3, 2, 3], data: Uint8Array.from(pixels) }, { gzip }));
  fs.writeFileSync(labels, writeIdx({ dtype: 'u1', shape: [3], data: Uint8Array.from([7, 0, 9]) }, { gzip }));
  return { images, labels, pixels };
}

for (const gzip of [true, false]) {
  test(`IDX images and labels round-trip (${gzip ? 'gzipped' : 'plain'}): [1, H, W] items scaled to [0, 1]`, async () => {
    const { images, labels, pixels } = writeMnistLike(gzip);
    const ds = await loadIdx(images, labels);
    assert.equal(ds.size, 3);
    assert.deepEqual(ds.itemShape, [1, 2, 3]);
    assert.deepEqual([...ds.x], pixels.map((v) => Math.fround(v / 255)));
    assert.deepEqual([...ds.labels!], [7, 0, 9]);
    assert.equal(ds.name, path.basename(images));
    const first2 = await loadIdx(images, labels, { limit: 2 });
    assert.equal(first2.size, 2);
    assert.deepEqual([...first2.labels!], [7, 0]);
  });
}

test('the gzip magic, not the file name, decides decompression', () => {
  const bytes = writeIdx({ dtype: 'i2', shape: [2], data: Int16Array.from([-5, 300]) });
  assert.deepEqual([...readIdx(zlib.gzipSync(bytes), 'no-extension').data], [-5, 300]);
  assert.deepEqual([...readIdx(bytes, 'a.gz').data], [-5, 300]);
});

test('every IDX element type round-trips big-endian', () => {
  const cases = [
    { dtype: 'u1', data: Uint8Array.from([0, 255]) },
    { dtype: 'i1', data: Int8Array.from([-128, 127]) },
    { dtype: 'i2', data: Int16Array.from([-32768, 32767]) },
    { dtype: 'i4', data: Int32Array.from([-(2 ** 31), 2 ** 31 - 1]) },
    { dtype: 'f4', data: Float32Array.from([1.5, -0.25]) },
    { dtype: 'f8', data: Float64Array.from([Math.PI, -1e300]) },
  ] as const;
  for (const c of cases) {
    const bytes = writeIdx({ dtype: c.dtype, shape: [2], data: c.data });
    const back = readIdx(bytes, 'x.idx');
    assert.equal(back.dtype, c.dtype);
    assert.deepEqual([...back.data], [...c.data]);
  }
  // The header really is big-endian: dimension 258 is 00 00 01 02.
  const big = writeIdx({ dtype: 'u1', shape: [258], data: new Uint8Array(258) });
  assert.deepEqual([...big.subarray(0, 8)], [0, 0, 0x08, 1, 0, 0, 1, 2]);
});

test('float IDX inputs are taken as they are, [N, d] gives [d] items', async () => {
  const file = path.join(fresh(), 'rows.idx');
  fs.writeFileSync(file, writeIdx({ dtype: 'f4', shape: [2, 2], data: Float32Array.from([0.5, 2, -1, 3]) }));
  const ds = await loadIdx(file);
  assert.deepEqual(ds.itemShape, [2]);
  assert.deepEqual([...ds.x], [0.5, 2, -1, 3]);
  assert.equal(ds.labels, null);
});

test('count mismatch between images and labels is a DataError naming both files', async () => {
  const { images } = writeMnistLike(true);
  const labels = path.join(fresh(), 'labels-idx1-ubyte');
  fs.writeFileSync(labels, writeIdx({ dtype: 'u1', shape: [4], data: new Uint8Array(4) }));
  await assert.rejects(loadIdx(images, labels), (e: unknown) => e instanceof DataError && e.message === `${labels}: 4 labels, but ${images} has 3 items`);
});

test('malformed IDX files are DataErrors saying what is wrong', () => {
  const good = writeIdx({ dtype: 'u1', shape: [2, 2], data: new Uint8Array(4) });
  const cases: [Uint8Array, RegExp][] = [
    [Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 1, 5]), /m\.idx: not a valid IDX file \(the magic number does not start with two zero bytes\)/],
    [Uint8Array.from([0, 0, 0x0a, 1, 0, 0, 0, 1, 5]), /unknown type byte 0x0a/],
    [good.subarray(0, good.length - 1), /truncated data: shape \(2, 2\) needs 4 bytes, 3 present/],
    [good.subarray(0, 6), /truncated header: 2 dimensions announced/],
    [Uint8Array.from([0x1f, 0x8b, 1, 2, 3]), /m\.idx: not a valid gzip file/],
  ];
  for (const [bytes, message] of cases) assert.throws(() => readIdx(bytes, 'm.idx'), (e: unknown) => e instanceof DataError && message.test(e.message));
});

test('idxLabelsPathFor finds the conventional labels file beside the images', () => {
  const { images, labels } = writeMnistLike(true);
  assert.equal(idxLabelsPathFor(images), labels);
  assert.equal(idxLabelsPathFor(path.join(path.dirname(images), 'other.idx')), null);
});

const FASHION = '/usr/share/datasets/fashion-mnist';
const haveFashion = fs.existsSync(path.join(FASHION, 't10k-labels-idx1-ubyte.gz'));

test('reads the real Fashion-MNIST test labels', { skip: haveFashion ? false : `${FASHION} is absent` }, () => {
  const file = path.join(FASHION, 't10k-labels-idx1-ubyte.gz');
  const labels = readIdx(fs.readFileSync(file), file);
  assert.equal(labels.dtype, 'u1');
  assert.deepEqual(labels.shape, [10000]);
  const counts = new Array<number>(10).fill(0);
  for (const v of labels.data) counts[v]!++;
  assert.deepEqual(counts, new Array<number>(10).fill(1000));
});

const haveFashionImages = haveFashion && fs.existsSync(path.join(FASHION, 't10k-images-idx3-ubyte.gz'));

test('loads the real Fashion-MNIST test set', { skip: haveFashionImages ? false : `${FASHION} is absent` }, async () => {
  const ds = await loadIdx(path.join(FASHION, 't10k-images-idx3-ubyte.gz'), path.join(FASHION, 't10k-labels-idx1-ubyte.gz'));
  assert.equal(ds.size, 10000);
  assert.deepEqual(ds.itemShape, [1, 28, 28]);
  let min = Infinity;
  let max = -Infinity;
  for (const v of ds.x) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';
import { probeImage } from '../src/data/decode.js';
import { loadImageFolder } from '../src/data/images.js';
import { DataError } from '../src/errors.js';
import { scratchDirs } from './helpers.js';

/** A fresh empty folder under this file's one temporary directory. */
const fresh = scratchDirs('gauntlet-data-');

/** PNG bytes: `samples` holds 1 (gray) or 3 (RGB) interleaved values per pixel, 8- or 16-bit. */
function png(width: number, height: number, samples: ArrayLike<number>, channels: 1 | 3, bitDepth: 8 | 16 = 8): Buffer {
  const img = new pngjs.PNG({ width, height });
  const colorType = channels === 1 ? 0 : 2;
  img.data = bitDepth === 8 ? Buffer.from(Uint8Array.from(samples)) : Buffer.from(Uint16Array.from(samples).buffer);
  return pngjs.PNG.sync.write(img, { colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth });
}

/** A JPEG (always 3-component from jpeg-js) of one solid colour. */
function solidJpeg(width: number, height: number, rgb: [number, number, number]): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let p = 0; p < width * height; p++) data.set([...rgb, 255], p * 4);
  return jpeg.encode({ width, height, data }, 100).data;
}

function put(root: string, rel: string, bytes: Uint8Array | string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), bytes);
}

const ramp = (n: number, step: number): number[] => Array.from({ length: n }, (_, i) => (i * step) % 256);

test('a folder of grayscale PNGs: classes sorted, [1, H, W] items in [0, 1], posix ids', async () => {
  const root = fresh();
  put(root, 'dog/c.png', png(4, 3, ramp(12, 20), 1));
  put(root, 'cat/b.png', png(4, 3, ramp(12, 7), 1));
  put(root, 'cat/a.png', png(4, 3, ramp(12, 11), 1));
  put(root, 'cat/notes.txt', 'ignored');
  put(root, '.cache/x.png', png(4, 3, ramp(12, 1), 1));
  fs.mkdirSync(path.join(root, 'emu')); // empty class: keeps its place
  const ds = await loadImageFolder(root);
  assert.deepEqual(ds.classNames, ['cat', 'dog', 'emu']);
  assert.deepEqual(ds.ids, ['cat/a.png', 'cat/b.png', 'dog/c.png']);
  assert.deepEqual([...ds.labels!], [0, 0, 1]);
  assert.deepEqual(ds.itemShape, [1, 3, 4]);
  const expected = [...ramp(12, 11), ...ramp(12, 7), ...ramp(12, 20)].map((v) => Math.fround(v / 255));
  assert.deepEqual([...ds.x], expected);
  const first2 = await loadImageFolder(root, { limit: 2 });
  assert.deepEqual(first2.ids, ['cat/a.png', 'cat/b.png']);
});

test('class folders sort by code point, as Python does', async () => {
  const root = fresh();
  for (const c of ['a', 'Z', 'B', 'é']) put(root, `${c}/1.png`, png(1, 1, [0], 1));
  assert.deepEqual((await loadImageFolder(root)).classNames, ['B', 'Z', 'a', 'é']);
});

test('colour makes 3 channels by default (gray repeated); channels: 1 converts with BT.601 luma', async () => {
  const root = fresh();
  const rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]; // 2x2: red, green, blue, dark
  put(root, 'a/rgb.png', png(2, 2, rgb, 3));
  put(root, 'b/gray.png', png(2, 2, [0, 51, 102, 255], 1));
  const ds = await loadImageFolder(root);
  assert.deepEqual(ds.itemShape, [3, 2, 2]);
  const planes = (k: number): number[][] => [0, 1, 2].map((c) => [...ds.x.subarray(k * 12 + c * 4, k * 12 + c * 4 + 4)]);
  assert.deepEqual(planes(0), [0, 1, 2].map((c) => [0, 1, 2, 3].map((p) => Math.fround(rgb[p * 3 + c]! / 255))));
  assert.deepEqual(planes(1), [0, 1, 2].map(() => [0, 51, 102, 255].map((v) => Math.fround(v / 255))));

  const gray = await loadImageFolder(root, { channels: 1 });
  assert.deepEqual(gray.itemShape, [1, 2, 2]);
  const luma = (r: number, g: number, b: number): number => Math.fround((0.299 * r + 0.587 * g + 0.114 * b) / 255);
  assert.deepEqual([...gray.x.subarray(0, 4)], [luma(255, 0, 0), luma(0, 255, 0), luma(0, 0, 255), luma(10, 20, 30)]);
  assert.deepEqual([...gray.x.subarray(4)], [0, 51, 102, 255].map((v) => Math.fround(v / 255)));
});

test('JPEG and PNG files mix; 16-bit PNGs scale by 1/65535', async () => {
  const root = fresh();
  put(root, 'j/solid.jpg', solidJpeg(8, 8, [200, 100, 50]));
  put(root, 'p/sixteen.png', png(8, 8, Array.from({ length: 64 }, (_, i) => i * 1000), 1, 16));
  const ds = await loadImageFolder(root);
  assert.deepEqual(ds.itemShape, [3, 8, 8]);
  const mean = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / a.length;
  [200, 100, 50].forEach((v, c) => assert.ok(Math.abs(mean(ds.x.subarray(c * 64, (c + 1) * 64)) - v / 255) < 3 / 255, `channel ${c}`));
  const sixteen = ds.x.subarray(192, 256);
  assert.deepEqual([...sixteen], Array.from({ length: 64 }, (_, i) => Math.fround((i * 1000) / 65535)));
});

test('probeImage reads sizes and gray-ness from PNG and JPEG headers without decoding', () => {
  assert.deepEqual(probeImage(png(5, 2, ramp(10, 1), 1), 'a.png'), { format: 'png', width: 5, height: 2, gray: true });
  assert.deepEqual(probeImage(solidJpeg(16, 9, [1, 2, 3]), 'b.jpg'), { format: 'jpeg', width: 16, height: 9, gray: false });
  // A baseline frame header with one component: a grayscale JPEG.
  const sof = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff, 0xc0, 0, 11, 8, 0, 7, 0, 6, 1, 1, 0x11, 0]);
  assert.deepEqual(probeImage(sof, 'g.jpg'), { format: 'jpeg', width: 6, height: 7, gray: true });
  assert.equal(probeImage(sof.subarray(0, 12), 'g.jpg'), null); // needs more bytes
});

async function rejectsWith(p: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DataError, String(e));
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

test('images of different sizes are a DataError naming the first mismatching file and both sizes', async () => {
  const root = fresh();
  put(root, 'a/1.png', png(4, 3, new Array(12).fill(0), 1));
  put(root, 'a/2.png', png(4, 3, new Array(12).fill(0), 1));
  put(root, 'b/3.jpg', solidJpeg(5, 3, [0, 0, 0]));
  put(root, 'b/4.png', png(2, 2, new Array(4).fill(0), 1));
  const first = path.join(root, 'a', '1.png');
  await rejectsWith(
    loadImageFolder(root),
    `${path.join(root, 'b', '3.jpg')}: image is 5x3 (width x height) but ${first} is 4x3; all images must share one size (images are not resized)`,
  );
});

test('bad folders and files are DataErrors naming them', async () => {
  const root = fresh();
  await rejectsWith(loadImageFolder(root), `${root}: no class folders; expected <root>/<class>/<image>`);
  put(root, 'loose.png', png(1, 1, [0], 1));
  await rejectsWith(loadImageFolder(root), /no class folders \(images lie directly in it/);
  put(root, 'a/readme.md', '# not an image');
  await rejectsWith(loadImageFolder(root), `${root}: no .png, .jpg or .jpeg images in its 1 class folders`);
  put(root, 'a/fake.png', 'this is text with a .png name');
  await rejectsWith(loadImageFolder(root), `${path.join(root, 'a', 'fake.png')}: not a PNG or JPEG image`);
  const cut = png(4, 4, new Array(16).fill(9), 1);
  put(root, 'a/fake.png', cut.subarray(0, cut.length - 20));
  await rejectsWith(loadImageFolder(root), new RegExp(`^${path.join(root, 'a', 'fake.png').replace(/[.\\]/g, '\\$&')}: not a valid PNG`));
  await rejectsWith(loadImageFolder(path.join(root, 'missing')), `${path.join(root, 'missing')}: no such file or directory`);
});

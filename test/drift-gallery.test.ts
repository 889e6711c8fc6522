/** Gallery PNGs: layout, pixels, atomic write. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { Rng } from '../src/rng.js';
import { corruptionGallery, getCorruption, renderGallery, writeGalleryPng } from '../src/stress/drift/index.js';
import { tmpDir } from './helpers.js';
import { testImages } from './drift-helpers.js';

test('a corruption gallery: clean and 5 severities, one row per image, labelled', async () => {
  const x = testImages(3, 1, 28, 28);
  const g = corruptionGallery(x, [3, 1, 28, 28], getCorruption('contrast'), new Rng(0), 2);
  assert.deepEqual(g.columns.map((c) => c.label), ['clean', 's1', 's2', 's3', 's4', 's5']);
  assert.deepEqual(g.shape, [2, 1, 28, 28]);
  const png = PNG.sync.read(Buffer.from(renderGallery(g.columns, g.shape)));
  // scale 3 (96 / 28), tiles 84 px, gaps 2 px, header 5·font + 4
  assert.equal(png.width, 6 * (84 + 2) + 2);
  assert.equal(png.height, 5 * 1 + 4 + 2 * (84 + 2) + 2);
  // the clean tile's first pixel is the first image's first pixel
  const header = 9;
  const o = 4 * (header * png.width + 2);
  assert.equal(png.data[o], Math.round(x[0]! * 255));
  const dir = tmpDir();
  const file = path.join(dir, 'g.png');
  await writeGalleryPng(file, g.columns, g.shape);
  assert.deepEqual(fs.readdirSync(dir), ['g.png'], 'no temporary file left behind');
  assert.equal(fs.readFileSync(file).subarray(1, 4).toString(), 'PNG');
});

test('RGB galleries keep colour; a bad column is a UsageError', () => {
  const x = testImages(1, 3, 16, 16);
  const png = PNG.sync.read(Buffer.from(renderGallery([{ label: 'rgb', x }], [1, 3, 16, 16], { scale: 1 })));
  const o = 4 * ((5 + 4) * png.width + 2);
  assert.deepEqual([png.data[o], png.data[o + 1], png.data[o + 2]], [0, 1, 2].map((c) => Math.round(x[c * 256]! * 255)));
  assert.throws(() => renderGallery([{ label: 'bad', x: new Float32Array(5) }], [1, 3, 16, 16]), { name: 'UsageError' });
});

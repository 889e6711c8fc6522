import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pngjs from 'pngjs';
import { loadJsonl } from '../src/data/jsonl.js';
import { DataError } from '../src/errors.js';
import { scratchDirs } from './helpers.js';

/** A fresh empty folder under this file's one temporary directory. */
const fresh = scratchDirs('gauntlet-data-');

function grayPng(values: number[]): Buffer {
  const img = new pngjs.PNG({ width: 2, height: 1 });
  img.data = Buffer.from(values);
  return pngjs.PNG.sync.write(img, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}

/** A folder with img/0.png … img/3.png (2x1 gray) and a manifest of the given lines. */
function manifest(lines: string[]): string {
  const dir = fresh();
  fs.mkdirSync(path.join(dir, 'img'));
  for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(dir, 'img', `${i}.png`), grayPng([i * 10, 255 - i]));
  const file = path.join(dir, 'manifest.jsonl');
  fs.writeFileSync(file, lines.join('\n'));
  return file;
}

test('string labels, ids and metadata; paths relative to the manifest', async () => {
  const file = manifest([
    '{"path": "img/0.png", "label": "Coat", "id": "a", "annotator": 3}',
    '',
    '{"path": "img/1.png", "label": "Bag", "id": "b"}',
    '{"path": "img/2.png", "label": "Coat", "id": "c", "split": "test", "votes": [1, 2]}',
  ]);
  const ds = await loadJsonl(file);
  assert.equal(ds.name, 'manifest.jsonl');
  assert.deepEqual(ds.itemShape, [1, 1, 2]);
  assert.deepEqual([...ds.x], [0, 255, 10, 254, 20, 253].map((v) => Math.fround(v / 255)));
  assert.deepEqual(ds.classNames, ['Bag', 'Coat']);
  assert.deepEqual([...ds.labels!], [1, 0, 1]);
  assert.deepEqual(ds.ids, ['a', 'b', 'c']);
  assert.deepEqual(ds.metadata, [{ annotator: 3 }, null, { split: 'test', votes: [1, 2] }]);
});

test('integer labels, the classNames option, limit, no ids', async () => {
  const file = manifest(['{"path": "img/0.png", "label": 2}', '{"path": "img/1.png", "label": "Bag"}', '{"path": "img/3.png", "label": 0}']);
  const ds = await loadJsonl(file, { classNames: ['T-shirt', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag'], limit: 2 });
  assert.deepEqual([...ds.labels!], [2, 8]);
  assert.equal(ds.classNames!.length, 9);
  assert.equal(ds.ids, null);
  assert.equal(ds.metadata, null);
  const unlabelled = await loadJsonl(manifest(['{"path": "img/0.png"}']));
  assert.equal(unlabelled.labels, null);
});

test('bad manifests are DataErrors naming the manifest and line', async () => {
  const cases: [string[], (file: string) => string | RegExp][] = [
    [['{"path": "img/0.png", "label": 0}', '{"path": "img/1.png", label: 1}'], (f) => new RegExp(`^${esc(f)}: line 2: bad JSON \\(`)],
    [['{"path": "img/0.png"}', '[1, 2]'], (f) => `${f}: line 2: expected a JSON object`],
    [['{"label": 1}'], (f) => `${f}: line 1: missing 'path' (a non-empty string)`],
    [['{"path": "img/0.png", "label": 1}', '{"path": "img/9.png", "label": 1}'], (f) => `${f}: line 2: image 'img/9.png': no such file or directory`],
    [['{"path": "img/0.png", "label": 1}', '{"path": "img/1.png"}'], (f) => `${f}: line 2: no 'label', though line 1 has one`],
    [['{"path": "img/0.png", "label": "Bag"}', '{"path": "img/1.png", "label": 1}'], (f) => new RegExp(`^${esc(f)}: line 2: 'label': label 1 is a number but other labels are class names`)],
    [['{"path": "img/0.png", "label": 1.5}'], (f) => `${f}: line 1: 'label': label 1.5 is not an integer`],
    [['{"path": "img/0.png", "label": [1]}'], (f) => `${f}: line 1: 'label' must be an integer or a class name, got [1]`],
    [['{"path": "img/0.png", "id": 1}', '{"path": "img/1.png", "id": "1"}'], (f) => `${f}: id '1' is used by items 0 and 1; ids must be unique`],
    [[''], (f) => `${f}: no items (the manifest has no non-blank lines)`],
  ];
  for (const [lines, expected] of cases) {
    const file = manifest(lines);
    const want = expected(file);
    await assert.rejects(loadJsonl(file), (e: unknown) => {
      assert.ok(e instanceof DataError, String(e));
      if (typeof want === 'string') assert.equal(e.message, want);
      else assert.match(e.message, want);
      return true;
    });
  }
});

test('images in a manifest must share one size', async () => {
  const file = manifest(['{"path": "img/0.png"}', '{"path": "big.png"}']);
  const img = new pngjs.PNG({ width: 3, height: 1 });
  img.data = Buffer.alloc(3);
  fs.writeFileSync(path.join(path.dirname(file), 'big.png'), pngjs.PNG.sync.write(img, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
  await assert.rejects(loadJsonl(file), (e: unknown) => e instanceof DataError && e.message.startsWith(`${file}: line 2: image 'big.png': image is 3x1 (width x height) but ${file}: line 1: image 'img/0.png' is 2x1`));
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { loadDataset } from '../src/data/load.js';
import { defaultAssets } from '../src/defaults.js';
import { Model } from '../src/engine/model.js';
import { ConfigError, UsageError } from '../src/errors.js';
import { attributionPng, explainCell, parseExplainSpec, renderAttributionPng } from '../src/explain/index.js';
import { Rng } from '../src/rng.js';
import { getCorruption } from '../src/stress/drift/index.js';
import { tmpDir } from './helpers.js';

test('parseExplainSpec fills defaults and round-trips through JSON', () => {
  const s = parseExplainSpec({ method: 'ig', samples: 32 }, 'explain');
  assert.deepEqual(s, { method: 'ig', samples: 32, steps: 64, target: 'true', layers: true });
  assert.deepEqual(parseExplainSpec(JSON.parse(JSON.stringify(s)), 'explain'), s);
  assert.deepEqual(parseExplainSpec({}, 'explain'), s);
  assert.deepEqual(parseExplainSpec({ method: 'shap', samples: 4, target: 3, layers: false }, 'explain'), { method: 'shap', samples: 4, target: 3, layers: false });
  assert.deepEqual(parseExplainSpec({ method: 'smoothgrad', steps: 10, target: 'pred' }, 'x'), { method: 'smoothgrad', samples: 32, steps: 10, target: 'pred', layers: true });
  assert.equal(parseExplainSpec({ target: true }, 'explain').target, 'true');
});

test('parseExplainSpec names the key path and the allowed values', () => {
  const fails = (obj: unknown, message: string) =>
    assert.throws(
      () => parseExplainSpec(obj, 'explain'),
      (e: Error) => e instanceof ConfigError && e.message === message,
    );
  fails({ method: 'lime' }, `'explain.method' must be one of saliency, gxi, ig, smoothgrad, shap, occlusion, got 'lime'`);
  fails({ samples: 0 }, `'explain.samples' must be an integer in [1, 100000], got 0`);
  fails({ samples: 2.5 }, `'explain.samples' must be an integer in [1, 100000], got 2.5`);
  fails({ method: 'ig', steps: 1 }, `'explain.steps' must be an integer in [2, 4096] (for ig), got 1`);
  fails({ method: 'shap', steps: 8 }, `'explain.steps' applies to methods ig and smoothgrad only, not 'shap'`);
  fails({ target: 'label' }, `'explain.target' must be true, pred or a class number >= 0, got 'label'`);
  fails({ layers: 'yes' }, `'explain.layers' must be true or false, got 'yes'`);
  fails({ sample: 3 }, `'explain' has unknown key 'sample' (did you mean 'samples'?); allowed keys are method, samples, steps, target, layers`);
  fails([1], `'explain' must be a mapping like {method: ig, samples: 32}, got [1]`);
});

test('explainCell: drift and layer sensitivity for one stress cell, plain JSON, with an optional PNG', async () => {
  const n = 20;
  const ds = await loadDataset({ path: defaultAssets.data, limit: n });
  const model = await Model.open(defaultAssets.model);
  try {
    const stressed = getCorruption('contrast').apply(ds.x, [n, 1, 28, 28], 3, new Rng(1));
    const spec = parseExplainSpec({ method: 'ig', samples: 6, steps: 16 }, 'explain');
    const png = path.join(tmpDir(), 'cell.png');
    const s = await explainCell(model, { x: ds.x, n, itemShape: [1, 28, 28] }, { x: stressed }, ds.labels!, spec, new Rng(5), { png });
    assert.equal(s.samples, 6);
    assert.equal(s.method, 'ig');
    assert.equal(s.steps, 16);
    assert.equal(s.drift.perItem.spearman.length, 6);
    assert.ok(s.drift.spearman.mean < 1 && s.drift.spearman.lo <= s.drift.spearman.mean);
    assert.ok(s.completeness !== null && s.completeness.clean.meanRelError < 0.5);
    assert.ok(s.layers !== null && s.layers.layers.length === model.valueNames().length);
    assert.ok(s.meanAbsAttribution.clean > 0);
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s, 'numbers, strings, arrays and objects only');
    const img = PNG.sync.read(fs.readFileSync(png));
    assert.ok(img.width > img.height / 2 && img.height > 0);
    // Same seed, same summary (timing aside).
    const again = await explainCell(model, { x: ds.x, n, itemShape: [1, 28, 28] }, { x: stressed }, ds.labels!, spec, new Rng(5));
    assert.deepEqual({ ...again, seconds: 0 }, { ...s, seconds: 0 });
    // Seeded methods draw the same noise for clean and stressed: no stress, no drift.
    const sg = await explainCell(model, { x: ds.x, n, itemShape: [1, 28, 28] }, { x: ds.x }, ds.labels!, parseExplainSpec({ method: 'smoothgrad', samples: 3, steps: 4, layers: false }, 'explain'), new Rng(2));
    assert.equal(sg.drift.spearman.mean, 1);
    assert.equal(sg.drift.massShift.mean, 0);
    assert.equal(sg.layers, null);
    await assert.rejects(
      explainCell(model, { x: ds.x, n, itemShape: [1, 28, 28] }, { x: stressed.subarray(0, 784) }, ds.labels!, spec, new Rng(0)),
      (e: Error) => e instanceof UsageError && /stressed inputs must be shaped like the clean ones/.test(e.message),
    );
  } finally {
    await model.close();
  }
});

test('attributionPng draws input / heatmap pairs (and stressed pairs) and writes atomically', async () => {
  const x = Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => (i % 7) / 7);
  const a = Float32Array.from({ length: x.length }, (_, i) => Math.sin(i));
  const two = PNG.sync.read(Buffer.from(renderAttributionPng(x, a, [2, 3, 4, 5], { scale: 2 })));
  assert.equal(two.width, 2 * (5 * 2 + 2) + 2);
  assert.equal(two.height, 2 * (4 * 2 + 2) + 2);
  const four = PNG.sync.read(Buffer.from(renderAttributionPng(x, a, [2, 3, 4, 5], { scale: 2, stressed: { x, attributions: a } })));
  assert.equal(four.width, 4 * (5 * 2 + 2) + 2);
  const file = path.join(tmpDir(), 'a.png');
  await attributionPng(file, x, a, [2, 60]);
  assert.ok(fs.readFileSync(file).subarray(1, 4).toString() === 'PNG');
  assert.throws(() => renderAttributionPng(x, a.subarray(1), [2, 3, 4, 5]), (e: Error) => e instanceof UsageError && /'attributions' must hold 120 values/.test(e.message));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Model } from '../src/engine/model.js';
import { loadNpz } from '../src/data/npz.js';
import { subset } from '../src/data/dataset.js';
import { defaultAssets } from '../src/defaults.js';
import { modelBytes, train } from '../src/train/trainer.js';
import { scratchDirs } from './helpers.js';

const fresh = scratchDirs();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const RECIPE = { epochs: 2, batch_size: 100, optimizer: { name: 'adamw', lr: 2e-3 }, schedule: { name: 'cosine' }, seed: 3 };

test('train: same seed, same bytes; a run aborted after epoch 1 resumes from its checkpoint to the same bytes', async () => {
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  const all = await loadNpz(defaultAssets.trainData);
  const ds = subset(all, Array.from({ length: 256 }, (_, i) => i * 37)); // 2 full batches + one of 56
  try {
    const a = await train(model, ds, RECIPE, { threads: 1 });
    const b = await train(model, ds, RECIPE, { threads: 1 });
    assert.equal(sha(modelBytes(a.model)), sha(modelBytes(b.model)));
    assert.equal(a.steps, 6);
    assert.equal(a.history.length, 2);
    assert.ok(a.history[1]!.loss < a.history[0]!.loss + 0.5);
    assert.deepEqual(a.model.graph.initializer.map((t) => t.name), model.original.graph.initializer.map((t) => t.name));
    assert.deepEqual(a.model.graph.node, model.original.graph.node);
    const meta = Object.fromEntries((a.model.metadata_props ?? []).map((p) => [p.key, p.value]));
    assert.equal(meta['gauntlet.train.parent_sha256'], model.sha256);
    assert.equal(meta['gauntlet.train.seed'], '3');
    assert.equal(JSON.parse(meta['gauntlet.train.recipe']!).optimizer.name, 'adamw');

    const ckpt = path.join(fresh(), 'run.ckpt.npz');
    const ac = new AbortController();
    await assert.rejects(train(model, ds, RECIPE, { threads: 1, checkpoint: ckpt, onProgress: (p) => p.epoch === 2 && ac.abort(new Error('killed')), signal: ac.signal }), /killed/);
    assert.ok(fs.existsSync(ckpt));
    const c = await train(model, ds, RECIPE, { threads: 1, checkpoint: ckpt, resume: true });
    assert.equal(sha(modelBytes(c.model)), sha(modelBytes(a.model)));
    assert.deepEqual(c.history.map((h) => h.loss), a.history.map((h) => h.loss));
  } finally {
    await model.close();
  }
});

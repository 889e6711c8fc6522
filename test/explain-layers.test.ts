import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { loadDataset } from '../src/data/load.js';
import { loadNpz } from '../src/data/npz.js';
import { defaultAssets } from '../src/defaults.js';
import { Model } from '../src/engine/model.js';
import { UsageError } from '../src/errors.js';
import { layerSensitivity, layerStressMatrix } from '../src/explain/index.js';
import { Rng } from '../src/rng.js';
import { getCorruption } from '../src/stress/drift/index.js';
import { fixture } from './helpers.js';

test('layer sensitivity on the default model: every node output, named as in the graph, in graph order', async () => {
  const n = 10;
  const ds = await loadDataset({ path: defaultAssets.data, limit: n });
  const model = await Model.open(defaultAssets.model);
  try {
    const noisy = getCorruption('gaussian_noise').apply(ds.x, [n, 1, 28, 28], 3, new Rng(3));
    const r = await layerSensitivity(model, ds.x, noisy, n, { batchSize: 4 });
    assert.deepEqual(
      r.layers.map((l) => l.name),
      model.valueNames(),
    );
    const byName = new Map(r.layers.map((l) => [l.name, l]));
    assert.equal(byName.get('/bn1/BatchNormalization_output_0')!.component, 'normalization');
    assert.equal(byName.get('/conv1/Conv_output_0')!.component, 'early_features');
    assert.equal(byName.get('/conv1/Conv_output_0')!.node, '/conv1/Conv');
    for (const name of ['/fc1/Gemm_output_0', '/Relu_2_output_0', 'logits']) assert.equal(byName.get(name)!.component, 'head', name);
    assert.equal(byName.get('logits')!.elements, 10);
    for (const l of r.layers) {
      assert.ok(l.relChange > 0 && Number.isFinite(l.relChange), `${l.name}: ${l.relChange}`);
      assert.ok(l.gain > 0 && Number.isFinite(l.gain), `${l.name}: gain ${l.gain}`);
      assert.ok(l.perItem);
    }
    // Flatten only reshapes: same relative change as its input, gain 1.
    assert.ok(Math.abs(byName.get('/flatten/Flatten_output_0')!.relChange - byName.get('/MaxPool_1_output_0')!.relChange) < 1e-9);
    assert.ok(r.inputRelChange > 0);
    assert.equal(r.flips.perItem.length, r.flips.flipped);
    assert.equal(r.flips.firstLayer.reduce((s, f) => s + f.count, 0) + r.flips.undetermined, r.flips.flipped);
    assert.deepEqual(
      r.components.map((c) => c.component),
      ['early_features', 'normalization', 'late_features', 'head'],
    );
    // Nothing changes between an input and itself.
    const self = await layerSensitivity(model, ds.x, ds.x.slice(), n);
    for (const l of self.layers) assert.equal(l.relChange, 0, l.name);
    assert.equal(self.flips.flipped, 0);
    // The layer x stress matrix is ready for a heatmap and survives JSON.
    const mat = layerStressMatrix([
      { stress: 'none', result: self },
      { stress: 'gaussian_noise:3', result: r },
    ]);
    assert.deepEqual(mat.layers, model.valueNames());
    assert.deepEqual(mat.stresses, ['none', 'gaussian_noise:3']);
    assert.deepEqual(
      mat.relChange.map((row) => row[1]),
      r.layers.map((l) => l.relChange),
    );
    assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
  } finally {
    await model.close();
  }
});

test('layer sensitivity on the ResNet-style fixture: BatchNorm and residual adds, any memory budget gives the same numbers', async (t) => {
  const onnx = fixture('autodiff', 'resnet_bn.onnx');
  if (!fs.existsSync(onnx)) return t.skip('fixture missing');
  const data = await loadNpz(fixture('autodiff', 'resnet_bn.npz'));
  const model = await Model.open(onnx, { output: 'logits' });
  try {
    const n = data.size;
    const shape = [n, 3, 16, 16] as const;
    const stressed = getCorruption('contrast').apply(data.x, shape, 4, new Rng(0));
    const r = await layerSensitivity(model, data.x, stressed, n);
    const names = model.valueNames();
    assert.deepEqual(
      r.layers.map((l) => l.name),
      names,
    );
    const comp = (name: string) => r.layers.find((l) => l.name === name)!.component;
    for (const l of r.layers) if (l.op === 'BatchNormalization') assert.equal(l.component, 'normalization', l.name);
    assert.equal(comp('/layer1/Add_output_0'), 'early_features');
    assert.equal(comp('/layer2/Add_output_0'), 'late_features');
    assert.equal(comp('/gap/GlobalAveragePool_output_0'), 'late_features');
    assert.equal(comp('logits'), 'head');
    assert.ok(r.layers.every((l) => l.relChange > 0));
    // A budget of one layer per session and one item per run: same per-layer numbers.
    const small = await layerSensitivity(model, data.x, stressed, n, { maxValues: 4096, batchSize: 1 });
    r.layers.forEach((l, i) => assert.ok(Math.abs(small.layers[i]!.relChange - l.relChange) < 1e-6 * Math.max(1, l.relChange), `${l.name}: ${small.layers[i]!.relChange} vs ${l.relChange}`));
  } finally {
    await model.close();
  }
});

test('folded preprocessing shows up as its own component', async () => {
  const n = 4;
  const ds = await loadDataset({ path: defaultAssets.data, limit: n });
  const model = await Model.open(defaultAssets.model, { preprocess: { mean: [0.25], std: [0.5] } });
  try {
    const stressed = getCorruption('brightness').apply(ds.x, [n, 1, 28, 28], 2, new Rng(0));
    const r = await layerSensitivity(model, ds.x, stressed, n);
    const pre = r.layers.filter((l) => l.component === 'preprocessing');
    assert.ok(pre.length >= 2, JSON.stringify(r.layers.map((l) => l.name)));
    assert.ok(pre.every((l) => l.name.startsWith('gauntlet_pre_')));
    assert.equal(r.components[0]!.component, 'preprocessing');
    assert.deepEqual(
      r.layers.filter((l) => l.component !== 'preprocessing').map((l) => l.name),
      model.valueNames(),
    );
  } finally {
    await model.close();
  }
});

test('where flips first show: an input replaced by another item reads as the other class from the first layer on', async () => {
  const n = 30;
  const ds = await loadDataset({ path: defaultAssets.data, limit: n });
  const model = await Model.open(defaultAssets.model);
  try {
    // Each stressed item is another clean item (7 places on): the class changes at the input itself.
    const swapped = new Float32Array(ds.x.length);
    for (let i = 0; i < n; i++) swapped.set(ds.x.subarray(((i + 7) % n) * 784, ((i + 7) % n + 1) * 784), i * 784);
    const r = await layerSensitivity(model, ds.x, swapped, n);
    assert.equal(r.flips.criterion, 'centroid-probe');
    assert.ok(r.flips.flipped >= 20, `flipped ${r.flips.flipped}`);
    const atFirst = r.flips.firstLayer.find((f) => f.layer === '/conv1/Conv_output_0')!.count;
    assert.ok(atFirst >= 0.8 * r.flips.flipped, JSON.stringify(r.flips));
    assert.equal(r.components.find((c) => c.component === 'early_features')!.firstFlips >= atFirst, true);
    for (const p of r.flips.perItem) assert.ok(p.layer === null || model.valueNames().includes(p.layer));
  } finally {
    await model.close();
  }
});

test('layer sensitivity rejects mismatched inputs', async () => {
  const ds = await loadDataset({ path: defaultAssets.data, limit: 2 });
  const model = await Model.open(defaultAssets.model);
  try {
    await assert.rejects(layerSensitivity(model, ds.x, ds.x.subarray(0, 784), 2), (e: Error) => e instanceof UsageError && /'stressed' must be shaped like 'clean'/.test(e.message));
    await assert.rejects(layerSensitivity(model, ds.x, ds.x, 2, { maxValues: 0 }), (e: Error) => e instanceof UsageError && /'maxValues' must be in \[1, inf\), got 0/.test(e.message));
  } finally {
    await model.close();
  }
});

test('layer-sensitivity CIs: with an rng every layer, component and the input get a bootstrap CI around their figure; none without one', async () => {
  const n = 8;
  const ds = await loadDataset({ path: defaultAssets.data, limit: n });
  const model = await Model.open(defaultAssets.model);
  try {
    const noisy = getCorruption('gaussian_noise').apply(ds.x, [n, 1, 28, 28], 3, new Rng(4));
    const r = await layerSensitivity(model, ds.x, noisy, n, { rng: new Rng(9), resamples: 200 });
    const plain = await layerSensitivity(model, ds.x, noisy, n);
    // The point figures do not depend on whether CIs are asked for.
    assert.deepEqual(r.layers.map((l) => [l.relChange, l.gain]), plain.layers.map((l) => [l.relChange, l.gain]));
    assert.ok(plain.inputRelChangeCi === undefined && plain.layers.every((l) => l.relChangeCi === undefined));
    const inside = (v: number, ci: [number, number] | undefined, what: string) => assert.ok(ci && ci[0] <= v + 1e-12 && v <= ci[1] + 1e-12 && ci[0] < ci[1], `${what}: ${v} outside ${JSON.stringify(ci)}`);
    inside(r.inputRelChange, r.inputRelChangeCi, 'input');
    for (const l of r.layers) inside(l.relChange, l.relChangeCi, l.name);
    for (const c of r.components) inside(c.meanRelChange, c.meanRelChangeCi, c.component);
    assert.deepEqual(await layerSensitivity(model, ds.x, noisy, n, { rng: new Rng(9), resamples: 200 }), r, 'same rng, same CIs');
    // An input against itself: no change, gain 1, and intervals of zero width.
    const self = await layerSensitivity(model, ds.x, ds.x.slice(), n, { rng: new Rng(9), resamples: 50 });
    for (const l of self.layers) assert.deepEqual([l.relChangeCi, l.gainCi], [[0, 0], [1, 1]], l.name);
  } finally {
    await model.close();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readModelFile } from '../src/onnx/load.js';
import { decodeTensor } from '../src/onnx/tensor.js';
import { defaultAssets } from '../src/defaults.js';
import { reinitModel } from '../src/train/init.js';
import { mergeRecipeFlags, optimizerSpec, parseRecipe, recipeFlagSpec, recipeHelp, recipeToYaml, scheduleSpec } from '../src/train/recipe.js';
import { OptionError, FlagError } from '../src/options/schema.js';
import { loadNpz } from '../src/data/npz.js';

test('the default recipe is the issue\'s: keep, 2 epochs, batch 128, SGD 0.05 momentum 0.9, constant, ce, seed 0', () => {
  const r = parseRecipe({});
  assert.equal(r.init, 'keep');
  assert.equal(r.epochs, 2);
  assert.equal(r.batchSize, 128);
  assert.equal(r.shuffle, true);
  assert.deepEqual(optimizerSpec(r), { name: 'sgd', lr: 0.05, momentum: 0.9, nesterov: false, weightDecay: 0 });
  assert.deepEqual(scheduleSpec(r), { spec: { name: 'constant', every: undefined, gamma: undefined, maxLr: undefined }, warmupEpochs: 0 });
  assert.equal(r.clipGradNorm, null);
  assert.deepEqual(recipeToYaml(r).optimizer, { name: 'sgd', lr: 0.05, momentum: 0.9, nesterov: false, weight_decay: 0 });
});

test('nested objects are checked against the map their name selects', () => {
  const r = parseRecipe({ optimizer: { name: 'adamw', lr: 0.01 }, schedule: { name: 'onecycle', max_lr: 0.1 }, loss: { name: 'label_smoothing', eps: 0.05 } });
  assert.deepEqual(optimizerSpec(r), { name: 'adamw', lr: 0.01, betas: [0.9, 0.999], weightDecay: 0.01, eps: 1e-8 });
  assert.equal(scheduleSpec(r).spec.maxLr, 0.1);
  assert.throws(() => parseRecipe({ optimizer: { name: 'adamw', momentum: 0.9 } }), (e: unknown) => e instanceof OptionError && /'optimizer' has unknown key 'momentum'/.test(e.message));
  assert.throws(() => parseRecipe({ optimizer: { name: 'adam' } }), /'optimizer\.name' must be one of sgd, adamw, got 'adam'/);
});

test('bad recipes name the key: unknown key, lr ≤ 0, clip ≤ 0', () => {
  assert.throws(() => parseRecipe({ epoch: 3 }), (e: unknown) => e instanceof OptionError && /unknown key 'epoch' \(did you mean 'epochs'\?\)/.test(e.message));
  assert.throws(() => parseRecipe({ optimizer: { name: 'sgd', lr: 0 } }), /'optimizer\.lr' must be a number in \(0, inf\), got 0/);
  assert.throws(() => parseRecipe({ optimizer: { name: 'sgd', lr: -1 } }), /'optimizer\.lr' must be/);
  assert.throws(() => parseRecipe({ clip_grad_norm: 0 }), /'clip_grad_norm' must be null or a number in \(0, inf\), got 0/);
});

test('flags merge over the YAML recipe: --optimizer replaces the object, --lr sets its lr, --no-shuffle', () => {
  const spec = recipeFlagSpec();
  for (const f of ['epochs', 'batch-size', 'lr', 'optimizer', 'seed', 'no-shuffle', 'init']) assert.ok(spec[f], f);
  const raw = mergeRecipeFlags({ epochs: 5, optimizer: { name: 'sgd', momentum: 0.5 } }, { epochs: '3', lr: '0.2', 'no-shuffle': true, 'batch-size': '64' });
  const r = parseRecipe(raw);
  assert.equal(r.epochs, 3);
  assert.equal(r.batchSize, 64);
  assert.equal(r.shuffle, false);
  assert.deepEqual(optimizerSpec(r), { name: 'sgd', lr: 0.2, momentum: 0.5, nesterov: false, weightDecay: 0 });
  assert.equal(optimizerSpec(parseRecipe(mergeRecipeFlags({ optimizer: { name: 'sgd', momentum: 0.5 } }, { optimizer: 'adamw' }))).name, 'adamw');
  assert.throws(() => mergeRecipeFlags({}, { lr: '0' }), (e: unknown) => e instanceof FlagError && /'--lr' must be a number in \(0, inf\), got 0/.test(e.message));
  assert.throws(() => mergeRecipeFlags({}, { 'batch-size': '0' }), /'--batch-size' must be an integer in \[1, 65536\], got 0/);
  assert.match(recipeHelp(), /--no-shuffle/);
  assert.match(recipeHelp(), /--lr LR/);
});

test('reinit draws torch defaults from the seed: U(±1/√fan_in) weights and biases, BatchNorm 1/0/0/1', () => {
  const m = readModelFile(defaultAssets.model).proto;
  const names = m.graph.initializer.map((t) => t.name!);
  const conv1 = m.graph.node.find((n) => n.op_type === 'Conv')!;
  const bn = m.graph.node.find((n) => n.op_type === 'BatchNormalization')!;
  const gemm = m.graph.node.find((n) => n.op_type === 'Gemm')!;
  const params = [conv1.input[1]!, conv1.input[2]!, bn.input[1]!, bn.input[2]!, gemm.input[1]!, gemm.input[2]!];
  const a = reinitModel(m, params, 3);
  const b = reinitModel(m, params, 3);
  const c = reinitModel(m, params, 4);
  const get = (mm: typeof m, name: string) => decodeTensor(mm.graph.initializer.find((t) => t.name === name)!).data as Float32Array;
  const w = get(a, conv1.input[1]!);
  assert.ok(w.every((v) => Math.abs(v) <= 1 / 3)); // fan_in 1·3·3
  assert.ok(Math.max(...w) > 0.3 && Math.min(...w) < -0.3);
  assert.deepEqual(w, get(b, conv1.input[1]!));
  assert.notDeepEqual(w, get(c, conv1.input[1]!));
  assert.ok(get(a, gemm.input[2]!).every((v) => Math.abs(v) <= 1 / Math.sqrt(3136)));
  assert.ok(get(a, gemm.input[1]!).every((v) => Math.abs(v) <= 1 / Math.sqrt(3136)));
  assert.ok(get(a, bn.input[1]!).every((v) => v === 1) && get(a, bn.input[2]!).every((v) => v === 0));
  assert.ok(get(a, bn.input[3]!).every((v) => v === 0) && get(a, bn.input[4]!).every((v) => v === 1));
  assert.deepEqual(get(m, conv1.input[1]!), decodeTensor(readModelFile(defaultAssets.model).proto.graph.initializer.find((t) => t.name === conv1.input[1])!).data, 'input not mutated');
  assert.deepEqual(a.graph.initializer.map((t) => t.name), names);
});

test('the shipped training slice: 10,000 uint8 images read as [0, 1], 1,000 per class', async () => {
  const ds = await loadNpz(defaultAssets.trainData);
  assert.equal(ds.size, 10000);
  assert.deepEqual(ds.itemShape, [1, 28, 28]);
  let max = 0;
  for (let i = 0; i < ds.x.length; i++) if (ds.x[i]! > max) max = ds.x[i]!;
  assert.equal(max, 1);
  const counts = new Array(10).fill(0);
  for (const y of ds.labels!) counts[y]++;
  assert.deepEqual(counts, new Array(10).fill(1000));
  assert.equal(ds.classNames?.[0], 'T-shirt/top');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { resolveConfig } from '../src/campaign/config.js';
import { makePlan } from '../src/campaign/plan.js';
import { runCampaign } from '../src/campaign/runner.js';
import { makeDataset } from '../src/data/dataset.js';
import { loadDataset } from '../src/data/load.js';
import { Model } from '../src/engine/model.js';
import { ConfigError, UsageError } from '../src/errors.js';
import { makeModel, node } from '../src/onnx/make.js';
import { encodeModel } from '../src/onnx/proto.js';
import { makeTensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';
import { runAttack } from '../src/stress/adversarial/index.js';
import { applyDrift, datasetDistances, parseDriftSpec } from '../src/stress/drift/index.js';
import { assertBadInput, repoRoot, runCli, scratchDirs } from './helpers.js';

const scratch = scratchDirs('gauntlet-tabular-');

/**
 * 60 rows of age (years), income (dollars) and score ([0, 1]); the label is age > 50, and the
 * model looks at age only: logit_1 − logit_0 = 0.2·(age − 50). No age is within 5 of 50.
 */
function fixture(): { dir: string; csv: string; model: string; noHeader: string } {
  const dir = scratch();
  const rng = new Rng('tabular-fixture');
  const rows: string[] = ['age,income,score,label'];
  const bare: number[][] = [];
  for (let i = 0; i < 60; i++) {
    const age = i % 2 === 0 ? 20.5 + rng.uniform() * 24 : 55.5 + rng.uniform() * 24;
    const income = 10000 + rng.uniform() * 90000;
    const score = rng.uniform();
    rows.push(`${age.toFixed(3)},${income.toFixed(2)},${score.toFixed(4)},${age > 50 ? 1 : 0}`);
    bare.push([age, income, score]);
  }
  const csv = path.join(dir, 'people.csv');
  fs.writeFileSync(csv, rows.join('\n') + '\n');
  const noHeader = path.join(dir, 'people.npz');
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', 3] }],
    outputs: ['y'],
    nodes: [node('Gemm', ['x', 'W', 'B'], ['y'], { transB: 1 })],
    initializers: [makeTensor('W', [2, 3], Float32Array.from([0, 0, 0, 0.2, 0, 0])), makeTensor('B', [2], Float32Array.from([0, -10]))],
    opset: 13,
  });
  const model = path.join(dir, 'age.onnx');
  fs.writeFileSync(model, encodeModel(proto));
  return { dir, csv, model, noHeader };
}

test('MMD on tabular data is in standardised units by default: a shift of a small-scale feature is not drowned by a large one', () => {
  const rng = new Rng('mmd-units');
  const n = 120;
  const mk = (shift: number) =>
    makeDataset({
      name: 'rows',
      itemShape: [3],
      // feature 0 in thousands, feature 1 in units (shifted by 1.5 std), feature 2 constant
      x: Float32Array.from({ length: n * 3 }, (_, k) => (k % 3 === 0 ? 1000 * rng.normal() : k % 3 === 1 ? rng.normal() + shift : 7)),
    });
  const ref = mk(0);
  const cur = mk(1.5);
  const std = datasetDistances(ref, cur, new Rng(0), { permutations: 50 });
  assert.equal(std.mmd!.units, 'std');
  assert.equal(std.mmd!.dims, 2, 'the constant feature is skipped');
  assert.ok(std.mmd!.pValue < 0.05, `std units see the shift: p = ${std.mmd!.pValue}`);
  const raw = datasetDistances(ref, cur, new Rng(0), { permutations: 50, units: 'raw' });
  assert.equal(raw.mmd!.units, 'raw');
  assert.ok(raw.mmd!.pValue > 0.05, `raw units: the thousands drown the shift, p = ${raw.mmd!.pValue}`);
  const img = makeDataset({ name: 'img', itemShape: [1, 2, 2], x: Float32Array.from({ length: 40 }, () => rng.uniform()) });
  assert.equal(datasetDistances(img, img, new Rng(0), { permutations: 5 }).mmd!.units, 'raw', 'images stay in raw units');
});

test('two covariate shifts with different amounts get different cell names, with their parameters', () => {
  const cfg = resolveConfig(
    {
      model: 'm.onnx',
      data: 'd.csv',
      stresses: { drift: [{ shift: 'mean', features: ['age'], amount: 2 }, { shift: 'mean', features: ['age'], amount: -1 }, { shift: 'noise', amount: 0.5 }, { shift: 'noise', amount: 1 }], adversarial: [{ attack: 'pgd', eps: 0.1, steps: 10 }, { attack: 'pgd', eps: 0.1, steps: 50 }] },
    },
    't',
    repoRoot,
  );
  const plan = makePlan(cfg);
  const drift = plan.settings.drift.map((s) => s.label);
  assert.deepEqual(drift, ['mean(features=[age], amount=2)', 'mean(features=[age], amount=-1)', 'noise(amount=0.5)', 'noise(amount=1)']);
  const adv = plan.settings.adversarial.map((s) => s.label);
  assert.equal(new Set(adv).size, 2, `pgd settings differing only in steps are told apart: ${adv.join(' | ')}`);
  assert.match(adv[1]!, /steps=50/);
});

test('an unknown immutable feature names the known features', async () => {
  const { csv } = fixture();
  await assert.rejects(loadDataset({ path: csv, immutable: ['agee'] }), (e: unknown) => e instanceof ConfigError && e.message === `'immutable' names unknown feature 'agee'; features of people.csv: age, income, score`);
  await assert.rejects(loadDataset({ path: csv, immutable: [7] }), /'immutable' names feature index 7, outside 0 to 2; features of people.csv: age, income, score/);
  const cfg = resolveConfig({ model: 'm.onnx', data: { path: csv, immutable: ['age', 1] } }, 't', repoRoot);
  assert.deepEqual(cfg.data.immutable, ['age', 1]);
});

test('feature_names name the columns of data without headers; a wrong count is an error', async () => {
  const { dir } = fixture();
  const file = path.join(dir, 'rows.npz');
  const { saveNpz } = await import('../src/data/npz.js');
  await saveNpz(file, { x: { dtype: '<f4', shape: [4, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }, y: { dtype: '<i8', shape: [4], data: BigInt64Array.from([0n, 1n, 0n, 1n]) } });
  const ds = await loadDataset({ path: file, featureNames: ['height', 'weight'], immutable: ['height'] });
  assert.deepEqual(ds.featureNames, ['height', 'weight']);
  await assert.rejects(loadDataset({ path: file, featureNames: ['height'] }), /'feature_names' has 1 names, but rows\.npz has 2 features/);
  await assert.rejects(loadDataset({ path: file, immutable: ['height'] }), /'immutable' names unknown feature 'height'; features of rows\.npz: unnamed \(declare feature_names, or use indices 0 to 1\)/);
});

test('a shift leaves immutable features alone, and naming one is refused', async () => {
  const { csv } = fixture();
  const ds = await loadDataset(csv);
  const r = applyDrift(ds, parseDriftSpec({ shift: 'noise', amount: 1 }, 'drift[0]'), new Rng(0), { immutable: [0] });
  for (let i = 0; i < ds.size; i++) {
    assert.equal(r.dataset.x[i * 3], ds.x[i * 3], 'age never moves');
    assert.notEqual(r.dataset.x[i * 3 + 1], ds.x[i * 3 + 1]);
  }
  assert.throws(() => applyDrift(ds, parseDriftSpec({ shift: 'mean', features: ['age'], amount: 1 }, 'drift[0]'), new Rng(0), { immutable: [0] }), (e: unknown) => e instanceof ConfigError && /names immutable feature 'age'/.test((e as Error).message));
  // Resampling shifts change no value and may select by an immutable feature.
  applyDrift(ds, parseDriftSpec({ shift: 'subpopulation', feature: 'age', op: '>', value: 50, weight: 2 }, 'drift[0]'), new Rng(0), { immutable: [0] });
});

test('eps_units std is refused on images, which keep data-domain units', async () => {
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', 1, 2, 2] }],
    outputs: ['y'],
    nodes: [node('Flatten', ['x'], ['f']), node('Gemm', ['f', 'W'], ['y'], { transB: 1 })],
    initializers: [makeTensor('W', [2, 4], Float32Array.from([1, -1, 1, -1, -1, 1, -1, 1]))],
    opset: 13,
  });
  const model = await Model.fromProto(proto, 'img', 'img');
  try {
    const x = Float32Array.from({ length: 8 }, (_, i) => (i + 1) / 10);
    const r = await runAttack(model, x, 2, Int32Array.from([0, 0]), { attack: 'fgsm', norm: 'linf', eps: 0.05 }, new Rng(0));
    assert.equal(r.summary.eps_units, 'raw');
    await assert.rejects(runAttack(model, x, 2, Int32Array.from([0, 0]), { attack: 'fgsm', norm: 'linf', eps: 0.05, epsUnits: 'std' }, new Rng(0)), (e: unknown) => e instanceof UsageError && /'eps_units: std' applies to tabular data/.test((e as Error).message));
  } finally {
    await model.close();
  }
});

test('a campaign on tabular data never moves an immutable feature: a model that reads only age keeps its accuracy in every cell; explanations name the features', async () => {
  const { dir, csv, model } = fixture();
  const stresses = { adversarial: [{ attack: 'pgd', eps: 2, steps: 5 }], drift: [{ shift: 'mean', amount: 3 }, { shift: 'mean', amount: -3 }], annotation: [] };
  const base = { model, seed: 0, bootstrap: 20, stages: ['isolated'], stresses, explain: { method: 'gxi', samples: 8, layers: false } };
  const frozen = await runCampaign(resolveConfig({ ...base, data: { path: csv, immutable: ['age'] } }, 't', dir), { outDir: path.join(dir, 'frozen') });
  for (const c of frozen.cells) assert.equal(c.metrics.accuracy.value, 1, `${c.id} ${JSON.stringify(c.labels)}`);
  const adv = frozen.cells.find((c) => c.labels.adversarial)!;
  assert.equal((adv.details.adversarial as { eps_units: string }).eps_units, 'std');
  assert.deepEqual(
    frozen.cells.filter((c) => c.labels.drift).map((c) => c.labels.drift),
    ['mean(amount=3)', 'mean(amount=-3)'],
  );
  assert.deepEqual(adv.explanations!.features!.map((f) => f.feature), ['age', 'income', 'score'], 'features by name, most important first');
  assert.ok(adv.explanations!.features![0]!.clean > 0 && adv.explanations!.features![1]!.clean === 0);
  // The control: without immutable, 2 std of age (≈ 35 years) breaks most points.
  const free = await runCampaign(resolveConfig({ ...base, data: csv }, 't', dir), { outDir: path.join(dir, 'free') });
  const freeAdv = free.cells.find((c) => c.labels.adversarial)!;
  assert.ok(freeAdv.metrics.accuracy.value < 0.5, `accuracy ${freeAdv.metrics.accuracy.value}`);
});

test('gauntlet attack --immutable with an unknown feature is one line naming the known features; explain names features', () => {
  const { csv, model } = fixture();
  assertBadInput(runCli(['attack', '--model', model, '--data', csv, '--attack', 'pgd', '--eps', '0.5', '--immutable', 'agee']), "'immutable' names unknown feature 'agee'; features of people.csv: age, income, score");
  const ok = runCli(['attack', '--model', model, '--data', csv, '--attack', 'fgsm', '--eps', '1', '--immutable', 'age', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.json!.eps_units, 'std');
  assert.equal(ok.json!.robust_accuracy, 1, 'age is immutable, and the model reads nothing else');
  const text = runCli(['attack', '--model', model, '--data', csv, '--attack', 'fgsm', '--eps', '1']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /ε units +std: ε and the norms are in standard deviations of each feature/);
  const ex = runCli(['explain', '--model', model, '--data', csv, '--method', 'gxi', '--limit', '4', '--json']);
  assert.equal(ex.code, 0, ex.stderr);
  assert.equal(ex.json!.features[0].feature, 'age');
  assert.equal(ex.json!.per_item[0].top_features[0].feature, 'age');
  const exText = runCli(['explain', '--model', model, '--data', csv, '--method', 'gxi', '--limit', '4']);
  assert.match(exText.stdout, /features +by mean \|A\|: age /);
  assert.match(exText.stdout, /top age [+−]/);
});

test('gauntlet shift --immutable leaves the feature alone and refuses --features naming it', async () => {
  const { dir, csv } = fixture();
  const out = path.join(dir, 'noisy.npz');
  const r = runCli(['shift', '--data', csv, '--kind', 'noise', '--amount', '1', '--immutable', 'age', '--out', out, '--permutations', '0', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.json!.description, /features income, score/);
  const { readNpz } = await import('../src/data/npz.js');
  const x = readNpz(fs.readFileSync(out), out).x!.data as Float32Array;
  const ds = await loadDataset(csv);
  for (let i = 0; i < ds.size; i++) assert.equal(x[i * 3], ds.x[i * 3]);
  assertBadInput(runCli(['shift', '--data', csv, '--kind', 'mean', '--amount', '1', '--features', 'age', '--immutable', 'age', '--out', out]), /names immutable feature 'age'/);
});

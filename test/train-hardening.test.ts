/**
 * Training against noise (the hardening recipe keys): noisy training labels with provenance,
 * adversarial training's attack step, corruption augmentation, curriculum, early stopping, and
 * their bad-input errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Model } from '../src/engine/model.js';
import { loadNpz } from '../src/data/npz.js';
import { subset, type Dataset } from '../src/data/dataset.js';
import { defaultAssets } from '../src/defaults.js';
import { foldPreprocessing } from '../src/engine/declaration.js';
import { Rng } from '../src/rng.js';
import { epochAttack, TrainingAttack } from '../src/train/adversarial.js';
import { TradesStep, tradesSeeds } from '../src/train/trades.js';
import { augmentBatch, augmix, jsdBatch } from '../src/train/augment.js';
import { foldSplit } from '../src/train/clean.js';
import { forgetRateAt, smallLoss } from '../src/train/coteaching.js';
import { initialParams, trainableParams } from '../src/train/graph.js';
import { drawTrainingLabels } from '../src/train/labels.js';
import { parseRecipe } from '../src/train/recipe.js';
import { modelBytes, train } from '../src/train/trainer.js';
import { applyAnnotation, parseAnnotationSpec } from '../src/stress/annotation/index.js';
import { assertBadInput, lastJson, runCliAsync, scratchDirs } from './helpers.js';

const fresh = scratchDirs();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
let cached: Dataset | null = null;
async function slice(n: number, stride = 37): Promise<Dataset> {
  cached ??= await loadNpz(defaultAssets.trainData);
  return subset(cached, Array.from({ length: n }, (_, i) => (i * stride) % cached!.size));
}

test('labels: a noise spec draws the same flips as the annotation stress with the same seed; soft targets are Dawid–Skene posteriors', async () => {
  const ds = await slice(500);
  const spec = parseRecipe({ labels: { noise: { model: 'symmetric', rate: 0.4 } }, seed: 5 }).labels!;
  const a = drawTrainingLabels(spec, ds.labels!, 10, 5);
  const b = drawTrainingLabels(spec, ds.labels!, 10, 5);
  assert.deepEqual(a.observed, b.observed);
  assert.ok(Math.abs(a.annotation.realisedRate - 0.4) < 0.07, `realised ${a.annotation.realisedRate}`);
  assert.equal(a.annotation.provenance.length, 500);
  assert.deepEqual(ds.labels, (await slice(500)).labels, 'the true labels are not changed');
  const same = applyAnnotation(ds.labels!, 10, parseAnnotationSpec({ model: 'symmetric', rate: 0.4 }, 'x'), new Rng(5).fork('labels'));
  assert.deepEqual(a.observed, same.observed);

  const soft = parseRecipe({ labels: { annotators: 5, annotator_accuracy: 0.6, aggregate: 'soft' } }).labels!;
  const s = drawTrainingLabels(soft, ds.labels!, 10, 0);
  assert.ok(s.soft);
  for (let i = 0; i < 500; i += 97) {
    const row: number[] = Array.from(s.soft!.subarray(i * 10, i * 10 + 10));
    assert.ok(Math.abs(row.reduce((x, y) => x + y, 0) - 1) < 1e-5);
    assert.equal(row.indexOf(Math.max(...row)), s.observed[i]);
  }
  assert.equal(s.annotation.provenance.length, 500 * 5, 'one provenance record per (item, annotator) label');
  const maj = parseRecipe({ labels: { annotators: 5, aggregate: 'dawid_skene' } }).labels!;
  assert.equal(maj.noise.model === 'annotators' && maj.noise.aggregate, 'dawid-skene');
});

test('train on 40 % noisy labels: train accuracy is reported against the true labels and the observed ones, and differs', async () => {
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  try {
    const ds = await slice(512);
    const r = await train(model, ds, { epochs: 1, batch_size: 128, optimizer: { name: 'sgd', lr: 1e-3 }, labels: { noise: { model: 'symmetric', rate: 0.4 } } }, { threads: 1 });
    const h = r.history[0]!;
    assert.ok(r.labels);
    // The trained-from model is accurate on the true labels; the observed labels are 40 % wrong.
    assert.ok(h.train_accuracy > 0.85, `true ${h.train_accuracy}`);
    assert.ok(h.train_accuracy_observed! < h.train_accuracy - 0.25, `observed ${h.train_accuracy_observed}`);
  } finally {
    await model.close();
  }
});

test('adversarial training step: every example stays in the ε-ball and the bounds, raises the loss, and the same seed gives the same bytes', async () => {
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  try {
    const ds = await slice(64);
    const prepared = foldPreprocessing(model.original, model.decl);
    const params = trainableParams(prepared, model.decl.outputName);
    const bn = prepared.graph.node.filter((n) => n.op_type === 'BatchNormalization').flatMap((n) => [n.input[3]!, n.input[4]!]);
    const values = initialParams(prepared, [...params, ...bn]);
    const atk = new TrainingAttack(prepared, { input: model.decl.inputName, output: model.decl.outputName, outputKind: 'logits', params, fed: bn, itemShape: [1, 28, 28], bounds: [0, 1], threads: 1, label: 'm' });
    const targets = new Float32Array(64 * 10);
    ds.labels!.forEach((y, i) => (targets[i * 10 + y] = 1));
    const spec = parseRecipe({ adversarial: { method: 'pgd', eps: 0.1, steps: 5 } }).adversarial!;
    const a = epochAttack(spec, 0)!;
    assert.deepEqual(a, { eps: 0.1, steps: 5, stepSize: 0.05, severityCap: 5 });
    const x = ds.x.slice();
    const adv = await atk.perturb(x, 64, targets, values, a, spec, new Rng(1));
    const adv2 = await atk.perturb(x, 64, targets, values, a, spec, new Rng(1));
    await atk.close();
    assert.deepEqual(adv, adv2);
    assert.deepEqual(x, ds.x, 'the clean batch is not changed');
    let moved = 0;
    for (let j = 0; j < x.length; j++) {
      assert.ok(Math.abs(adv[j]! - x[j]!) <= 0.1 + 1e-7 && adv[j]! >= 0 && adv[j]! <= 1, `element ${j}`);
      if (adv[j] !== x[j]) moved++;
    }
    assert.ok(moved > x.length / 2);
    const clean = await model.predict(ds, { batchSize: 64 });
    const attacked = await model.predict({ ...ds, x: adv }, { batchSize: 64 });
    const acc = (s: Float32Array) => ds.labels!.filter((y, i) => s.subarray(i * 10, i * 10 + 10).indexOf(Math.max(...s.subarray(i * 10, i * 10 + 10))) === y).length;
    assert.ok(acc(attacked.scores) < acc(clean.scores) - 20, `clean ${acc(clean.scores)}, attacked ${acc(attacked.scores)} of 64`);
  } finally {
    await model.close();
  }
});

test('curriculum: ε, steps and the augmentation severity ramp linearly to epoch E; the step size follows ε', () => {
  const spec = parseRecipe({ adversarial: { method: 'pgd', eps: 0.1, steps: 7, curriculum: { eps: [0, 0.1], steps: [1, 7], severity: [1, 5], epochs: 3 } } }).adversarial!;
  const at = [0, 1, 2, 5].map((e) => epochAttack(spec, e)!);
  assert.deepEqual(at.map((a) => a.eps), [0, 0.05, 0.1, 0.1]);
  assert.deepEqual(at.map((a) => a.steps), [1, 4, 7, 7]);
  assert.deepEqual(at.map((a) => a.severityCap), [1, 3, 5, 5]);
  assert.ok(Math.abs(at[1]!.stepSize - (2.5 * 0.05) / 4) < 1e-12);
  const fast = parseRecipe({ adversarial: { method: 'fgsm_rs', eps: 0.1 } }).adversarial!;
  assert.deepEqual(epochAttack(fast, 0), { eps: 0.1, steps: 1, stepSize: 0.125, severityCap: 5 });
});

test('augment: about `fraction` of the items are corrupted, in [0, 1], deterministically, and never the dataset itself', async () => {
  const ds = await slice(200);
  const spec = parseRecipe({ augment: { corruptions: ['gaussian_noise', 'contrast'], severity: [2, 4], fraction: 0.5 } }).augment!;
  const x = ds.x.slice();
  const y = ds.x.slice();
  const n1 = augmentBatch(x, 200, [1, 28, 28], spec, new Rng(3));
  const n2 = augmentBatch(y, 200, [1, 28, 28], spec, new Rng(3));
  assert.equal(n1, n2);
  assert.deepEqual(x, y);
  assert.ok(n1 > 70 && n1 < 130, `${n1} of 200`);
  let changed = 0;
  for (let i = 0; i < 200; i++) if (x.subarray(i * 784, (i + 1) * 784).some((v, j) => v !== ds.x[i * 784 + j])) changed++;
  assert.equal(changed, n1);
  assert.ok(x.every((v) => v >= 0 && v <= 1));
  assert.equal(augmentBatch(ds.x.slice(), 200, [1, 28, 28], { ...spec, fraction: 0 }, new Rng(3)), 0);
});

test('PGD-AT with ELR, augmentation and a curriculum: same seed, same bytes; a killed run resumes to the same bytes', async () => {
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  try {
    const ds = await slice(160);
    const val = await slice(64, 101);
    const recipe = { epochs: 2, batch_size: 64, optimizer: { name: 'adamw', lr: 1e-3 }, loss: { name: 'elr' }, labels: { noise: { model: 'pairflip', rate: 0.2 } },
      adversarial: { method: 'pgd', eps: 0.05, steps: 2, curriculum: { eps: [0.02, 0.05], epochs: 2 } }, augment: { corruptions: ['contrast'], fraction: 0.5 }, seed: 2 };
    const a = await train(model, ds, recipe, { threads: 1, val });
    const b = await train(model, ds, recipe, { threads: 1, val });
    assert.equal(sha(modelBytes(a.model)), sha(modelBytes(b.model)));
    assert.deepEqual(a.history.map((h) => h.eps), [0.02, 0.05]);
    assert.ok(a.history.every((h) => h.pgd_val_accuracy !== null && h.augmented! > 0 && h.train_accuracy_observed !== null));
    const ckpt = path.join(fresh(), 'run.ckpt.npz');
    const ac = new AbortController();
    await assert.rejects(train(model, ds, recipe, { threads: 1, val, checkpoint: ckpt, onProgress: (p) => p.epoch === 2 && ac.abort(new Error('killed')), signal: ac.signal }), /killed/);
    const c = await train(model, ds, recipe, { threads: 1, val, checkpoint: ckpt, resume: true });
    assert.equal(sha(modelBytes(c.model)), sha(modelBytes(a.model)), 'ELR running targets and the best epoch survive the checkpoint');
  } finally {
    await model.close();
  }
});

test('early_stop: no improvement for `patience` epochs stops training and keeps the best epoch', async () => {
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  try {
    const ds = await slice(128);
    const val = await slice(64, 101);
    // A learning rate so small that nothing changes: validation accuracy never improves on epoch 1.
    const r = await train(model, ds, { epochs: 5, batch_size: 64, optimizer: { name: 'sgd', lr: 1e-12, momentum: 0 }, freeze_bn: true, early_stop: { on: 'val_accuracy', patience: 2 } }, { threads: 1, val });
    assert.equal(r.stopped, 'early_stop');
    assert.equal(r.history.length, 3);
    assert.equal(r.keptEpoch, 1);
    const meta = Object.fromEntries((r.model.metadata_props ?? []).map((p) => [p.key, p.value]));
    assert.equal(meta['gauntlet.train.kept_epoch'], '1');
  } finally {
    await model.close();
  }
});

test('FGSM-RS: PGD validation accuracy falling more than co_drop below its best stops training as catastrophic overfitting and keeps the best epoch', async () => {
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  try {
    const ds = await slice(128);
    const val = await slice(64, 101);
    // co_drop 0: any fall of PGD validation accuracy counts (a large lr makes one happen at epoch 2).
    const r = await train(model, ds, { epochs: 4, batch_size: 64, optimizer: { name: 'adamw', lr: 0.01 }, adversarial: { method: 'fgsm_rs', eps: 0.1, co_drop: 0 } }, { threads: 1, val });
    assert.equal(r.stopped, 'catastrophic_overfitting');
    const fell = r.history.findIndex((h) => h.catastrophic_overfitting);
    assert.equal(fell, r.history.length - 1);
    assert.ok(r.history[fell]!.pgd_val_accuracy! < Math.max(...r.history.slice(0, fell).map((h) => h.pgd_val_accuracy!)));
    const best = r.history.slice(0, fell).reduce((a, h) => (h.pgd_val_accuracy! > a.pgd_val_accuracy! ? h : a));
    assert.equal(r.keptEpoch, best.epoch);
  } finally {
    await model.close();
  }
});

test('hardening recipe errors name the key: soft labels from a noise model, an unknown method, early_stop without --val, ε beyond the bounds', async () => {
  assert.throws(() => parseRecipe({ labels: { noise: { model: 'symmetric', rate: 0.2 }, soft: true } }), /'labels\.soft' needs simulated annotators/);
  assert.throws(() => parseRecipe({ labels: { noise: { model: 'symmetric', rate: 2 } } }), /'labels\.noise\.rate'/);
  assert.throws(() => parseRecipe({ adversarial: { method: 'mart', eps: 0.1 } }), /'adversarial\.method' must be one of pgd, trades, fgsm_rs/);
  assert.throws(() => parseRecipe({ adversarial: { method: 'trades', eps: 0.1, random_start: false } }), /unknown key 'random_start'/);
  assert.throws(() => parseRecipe({ adversarial: { method: 'pgd' } }), /'adversarial\.eps' is required/);
  assert.throws(() => parseRecipe({ adversarial: { method: 'fgsm_rs', eps: 0.1, steps: 3 } }), /unknown key 'steps'/);
  assert.throws(() => parseRecipe({ augment: { corruptions: ['gaussian_nose'] } }), /'augment\.corruptions\[0\]' must be one of/);
  assert.throws(() => parseRecipe({ augment: { corruptions: ['fog'], severity: [4, 2] } }), /'augment\.severity'/);
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  try {
    const ds = await slice(128);
    await assert.rejects(train(model, ds, { early_stop: { on: 'val_accuracy' } }), /'early_stop' needs validation data \(--val; val_data: in a campaign\)/);
    await assert.rejects(train(model, ds, { early_stop: { on: 'pgd_val_accuracy' } }, { val: ds }), /needs 'adversarial:'/);
    await assert.rejects(train(model, ds, { adversarial: { method: 'pgd', eps: 3 } }), /'adversarial\.eps' 3 is larger than the data bounds' range \[0, 1\]/);
    await assert.rejects(train(model, ds, { adversarial: { method: 'trades', eps: 0.1 }, loss: { name: 'gce' } }), /'adversarial\.method: trades' has its own loss/);
  } finally {
    await model.close();
  }
});

test('gauntlet train with noisy labels writes OUT.labels.jsonl (provenance with the true label) and reports the realised noise', async () => {
  const dir = fresh();
  const recipe = path.join(dir, 'r.yaml');
  fs.writeFileSync(recipe, 'epochs: 1\nbatch_size: 100\noptimizer: { name: sgd, lr: 0.001 }\nlabels: { noise: { model: symmetric, rate: 0.3 } }\n');
  const out = path.join(dir, 'm.onnx');
  const r = await runCliAsync(['train', '--recipe', recipe, '--model', defaultAssets.model, '--limit', '300', '--out', out, '--threads', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = lastJson(r.stdout);
  const lines = fs.readFileSync(path.join(dir, 'm.labels.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 300);
  const flipped = lines.filter((l) => l.label !== l.true_label).length;
  assert.equal(j.label_noise.flipped, flipped);
  assert.ok(Math.abs(j.label_noise.realised_rate - flipped / 300) < 1e-12);
  assert.equal(lines[0].annotator, 'noise:symmetric');

  const onto = await runCliAsync(['train', '--out', path.join(dir, 'q.onnx'), '--val', path.join(dir, 'q.train.jsonl'), '--limit', '300']);
  assertBadInput(onto, /--out \(history\) .*q\.train\.jsonl is the same file as '--val'/);
});

test('ensemble: K members from seeds seed… share the noisy labels; the combined model outputs log of the mean member probability', async () => {
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  try {
    const ds = await slice(128);
    const recipe = { epochs: 1, batch_size: 64, optimizer: { name: 'adamw', lr: 1e-3 }, labels: { noise: { model: 'symmetric', rate: 0.3 } }, ensemble: { members: 2 }, seed: 4 };
    const r = await train(model, ds, recipe, { threads: 1 });
    assert.equal(r.members!.length, 2);
    assert.deepEqual(r.history.map((h) => h.member), [0, 1]);
    assert.notEqual(sha(modelBytes(r.members![0]!)), sha(modelBytes(r.members![1]!)));
    const solo = await train(model, ds, { ...recipe, ensemble: null, seed: 5 }, { threads: 1, labelSeed: 4 });
    assert.equal(sha(modelBytes(solo.model)), sha(modelBytes(r.members![1]!)), 'member 1 is the recipe at seed + 1 with the base seed\'s labels');
    const opened = await Promise.all([r.model, ...r.members!].map((m, i) => Model.fromProto(m, `m${i}`, '', { threads: 1 })));
    try {
      const [ens, a, b] = await Promise.all(opened.map((m) => m.predict(ds, { batchSize: 64 })));
      const softmax = (s: Float32Array, i: number) => {
        const row = Array.from(s.subarray(i * 10, i * 10 + 10));
        const mx = Math.max(...row);
        const e = row.map((v) => Math.exp(v - mx));
        const z = e.reduce((x, y) => x + y, 0);
        return e.map((v) => v / z);
      };
      for (const i of [0, 17, 127]) {
        const pa = softmax(a!.scores, i);
        const pb = softmax(b!.scores, i);
        for (let c = 0; c < 10; c++) assert.ok(Math.abs(ens!.scores[i * 10 + c]! - Math.log((pa[c]! + pb[c]!) / 2)) < 1e-4);
      }
    } finally {
      for (const m of opened) await m.close();
    }
  } finally {
    await model.close();
  }
});

test('TRADES: the loss seeds match central differences of CE + β·KL in both forwards\' scores', () => {
  const n = 3;
  const k = 4;
  const rng = new Rng('trades-seeds');
  const zn = Float32Array.from({ length: n * k }, () => 2 * rng.normal());
  const za = Float32Array.from({ length: n * k }, () => 2 * rng.normal());
  const t = new Float32Array(n * k);
  for (let i = 0; i < n; i++) t[i * k + rng.int(k)] = 1;
  const beta = 6;
  const r = tradesSeeds(zn, za, t, n, k, beta);
  const h = 1e-3;
  for (const [which, seed] of [['nat', r.seedNat], ['adv', r.seedAdv]] as const) {
    for (let j = 0; j < n * k; j++) {
      const up = (which === 'nat' ? zn : za).slice();
      const dn = up.slice();
      up[j]! += h;
      dn[j]! -= h;
      const lu = which === 'nat' ? tradesSeeds(up, za, t, n, k, beta).loss : tradesSeeds(zn, up, t, n, k, beta).loss;
      const ld = which === 'nat' ? tradesSeeds(dn, za, t, n, k, beta).loss : tradesSeeds(zn, dn, t, n, k, beta).loss;
      const fd = (lu - ld) / (2 * h);
      assert.ok(Math.abs(seed[j]! - fd) < 2e-4 * Math.max(1, Math.abs(fd)), `${which}[${j}]: ${seed[j]} vs ${fd}`);
    }
  }
});

test('TRADES: the parameter gradient (two train-mode forwards, one backward each) matches central differences of the TRADES loss along a random direction', async () => {
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  try {
    const ds = await slice(8);
    const prepared = foldPreprocessing(model.original, model.decl);
    const params = trainableParams(prepared, model.decl.outputName);
    const bn = prepared.graph.node.filter((n) => n.op_type === 'BatchNormalization').flatMap((n) => [n.input[3]!, n.input[4]!]);
    const values = initialParams(prepared, [...params, ...bn]);
    const io = { input: model.decl.inputName, output: model.decl.outputName, outputKind: 'logits' as const, itemShape: [1, 28, 28], threads: 1, label: 'm' };
    const atk = new TrainingAttack(prepared, { ...io, params, fed: bn, bounds: [0, 1] });
    const step = new TradesStep(prepared, { ...io, params, freezeBn: false }, atk);
    const t = new Float32Array(8 * 10);
    ds.labels!.forEach((y, i) => (t[i * 10 + y] = 1));
    const rng = new Rng('trades-grad');
    const x = ds.x.slice();
    const xAdv = Float32Array.from(x, (v) => Math.min(1, Math.max(0, v + 0.1 * (2 * rng.uniform() - 1))));
    const spec = { ...parseRecipe({ adversarial: { method: 'trades', eps: 0.1 } }).adversarial!, beta: 6 };
    const r = await step.step(x, 8, 10, t, values, epochAttack(spec, 0)!, spec, new Rng(0), new Rng(1), { xAdv });
    // The loss at θ ± h·d from the same forwards (train mode: outputs do not depend on the running statistics).
    // A unit direction: the gradient's own direction plus an equal random part (a wrong gradient moves the derivative).
    let gn = 0;
    for (const p of params) for (const g of r.grads.get(p)!) gn += g * g;
    const noise = new Map(params.map((p) => [p, Float32Array.from(values.get(p)!, () => rng.normal())]));
    let nn = 0;
    for (const v of noise.values()) for (const u of v) nn += u * u;
    const raw = new Map(params.map((p) => [p, Float32Array.from(r.grads.get(p)!, (g, j) => g / Math.sqrt(gn) + noise.get(p)![j]! / Math.sqrt(nn))]));
    let dn = 0;
    for (const v of raw.values()) for (const u of v) dn += u * u;
    const dir = new Map([...raw].map(([p, v]) => [p, Float32Array.from(v, (u) => u / Math.sqrt(dn))]));
    const lossAt = async (sgn: number, h: number) => {
      const moved = new Map(values);
      for (const p of params) moved.set(p, Float32Array.from(values.get(p)!, (v, j) => v + sgn * h * dir.get(p)![j]!));
      const z = await step.step(x, 8, 10, t, moved, epochAttack(spec, 0)!, spec, new Rng(0), new Rng(1), { xAdv });
      return z.loss;
    };
    let dot = 0;
    for (const p of params) r.grads.get(p)!.forEach((g, j) => (dot += g * dir.get(p)![j]!));
    const h = 3e-3;
    const fd = ((await lossAt(1, h)) - (await lossAt(-1, h))) / (2 * h);
    assert.ok(Math.abs(dot - fd) < 0.02 * Math.abs(fd), `directional derivative ${dot} vs central difference ${fd}`);
    assert.ok(Number.isFinite(r.loss) && r.loss > 0);
    for (const name of bn) assert.notDeepEqual(r.running.get(name), values.get(name), `running statistic ${name} updated`);
    await step.close();
    await atk.close();
  } finally {
    await model.close();
  }
});

test('clean_labels: folds partition the items; cross-fitted confident learning flags mostly the flipped labels and the recipe retrains on the kept items', async () => {
  const folds = foldSplit(103, 4, 9);
  const all = folds.flatMap((f) => [...f]).sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: 103 }, (_, i) => i));
  assert.deepEqual(foldSplit(103, 4, 9), folds);
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  try {
    const ds = await slice(300);
    // Fold models barely move from the (accurate) base model, so their out-of-sample probabilities find the flips.
    const r = await train(model, ds, { epochs: 1, batch_size: 100, optimizer: { name: 'sgd', lr: 1e-4 }, labels: { noise: { model: 'symmetric', rate: 0.4 } }, clean_labels: { folds: 3 } }, { threads: 1 });
    const c = r.cleaning!;
    assert.equal(c.kept + c.flagged, 300);
    assert.ok(c.precision > 0.8 && c.recall > 0.7, `precision ${c.precision}, recall ${c.recall}`);
    assert.ok(Math.abs(c.estimated_noise_rate - r.labels!.annotation.realisedRate) < 0.1, `estimated ${c.estimated_noise_rate} vs realised ${r.labels!.annotation.realisedRate}`);
    assert.equal(r.steps, Math.ceil(c.kept / 100));
    const meta = Object.fromEntries((r.model.metadata_props ?? []).map((p) => [p.key, p.value]));
    assert.equal(JSON.parse(meta['gauntlet.train.cleaning']!).flagged, c.flagged);
  } finally {
    await model.close();
  }
});

test('co-teaching: the forget rate ramps as the authors\' linspace; each network learns from its peer\'s small-loss items; same seed, same bytes; resume', async () => {
  assert.deepEqual([0, 1, 2, 3, 9].map((e) => forgetRateAt(0.4, { warmupEpochs: 3, exponent: 1 }, e)), [0, 0.2, 0.4, 0.4, 0.4]);
  assert.deepEqual(Array.from(smallLoss(Float32Array.of(3, 1, 2, 1, 5), 5, 3)), [0, 1, 1, 1, 0]);
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  try {
    const ds = await slice(192);
    const recipe = { init: 'reinit', epochs: 2, batch_size: 64, optimizer: { name: 'adamw', lr: 2e-3 }, labels: { noise: { model: 'symmetric', rate: 0.4 } }, coteaching: { forget_rate: 0.4, warmup_epochs: 2 }, seed: 1 };
    const a = await train(model, ds, recipe, { threads: 1 });
    const b = await train(model, ds, recipe, { threads: 1 });
    assert.equal(sha(modelBytes(a.model)), sha(modelBytes(b.model)));
    assert.deepEqual(a.history.map((h) => h.forget_rate), [0, 0.4]);
    // Epoch 1 forgets nothing: A's first epoch is plain CE on every item from the same start.
    const plain = await train(model, ds, { ...recipe, epochs: 1, coteaching: null }, { threads: 1 });
    const one = await train(model, ds, { ...recipe, epochs: 1 }, { threads: 1 });
    const weights = (m: typeof one.model) => m.graph.initializer.map((t) => [t.name, Buffer.from(t.raw_data ?? new Uint8Array()).toString('base64'), t.float_data ?? null]);
    assert.deepEqual(weights(one.model), weights(plain.model));
    const ckpt = path.join(fresh(), 'ct.ckpt.npz');
    const ac = new AbortController();
    await assert.rejects(train(model, ds, recipe, { threads: 1, checkpoint: ckpt, onProgress: (p) => p.epoch === 2 && ac.abort(new Error('killed')), signal: ac.signal }), /killed/);
    const c = await train(model, ds, recipe, { threads: 1, checkpoint: ckpt, resume: true });
    assert.equal(sha(modelBytes(c.model)), sha(modelBytes(a.model)), 'the peer network and its optimizer survive the checkpoint');
    await assert.rejects(train(model, ds, { ...recipe, init: 'keep' }), /'coteaching' needs init: reinit/);
  } finally {
    await model.close();
  }
});

test('AugMix: views mix chains of corruptions, stay in [0, 1], repeat with the seed; JSD training runs on [clean; view₁; view₂] deterministically', async () => {
  const ds = await slice(64);
  const spec = parseRecipe({ augment: { corruptions: ['gaussian_noise', 'contrast', 'fog'], severity: [1, 3], augmix: true, jsd: true } }).augment!;
  const item = ds.x.subarray(0, 784);
  const a = augmix(item, [1, 28, 28], spec, new Rng(5));
  assert.deepEqual(a, augmix(item, [1, 28, 28], spec, new Rng(5)));
  assert.notDeepEqual(a, augmix(item, [1, 28, 28], spec, new Rng(6)));
  assert.ok(a.every((v) => v >= 0 && v <= 1) && a.some((v, j) => v !== item[j]));
  const batch = jsdBatch(ds.x.subarray(0, 4 * 784), 4, [1, 28, 28], spec, new Rng(1));
  assert.equal(batch.length, 3 * 4 * 784);
  assert.deepEqual(batch.subarray(0, 4 * 784), ds.x.subarray(0, 4 * 784), 'the clean third is the batch as given');
  assert.throws(() => parseRecipe({ augment: { corruptions: ['fog'], jsd: true } }), /'augment\.jsd' needs 'augmix: true'/);
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  try {
    const recipe = { epochs: 1, batch_size: 32, optimizer: { name: 'adamw', lr: 1e-3 }, augment: { corruptions: ['gaussian_noise', 'contrast'], augmix: true, jsd: true } };
    const r1 = await train(model, ds, recipe, { threads: 1 });
    const r2 = await train(model, ds, recipe, { threads: 1 });
    assert.equal(sha(modelBytes(r1.model)), sha(modelBytes(r2.model)));
    assert.equal(r1.history[0]!.augmented, 128);
    await assert.rejects(train(model, ds, { ...recipe, loss: { name: 'gce' } }), /'augment\.jsd' has its own loss/);
  } finally {
    await model.close();
  }
});

test('recipe maxpool_ties: the default is PyTorch\u2019s first maximum; share changes the weights a step learns on tie-heavy images, for plain and adversarial training', async () => {
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  try {
    const ds = await slice(64);
    const base = { epochs: 1, batch_size: 64, shuffle: false, optimizer: { name: 'sgd', lr: 0.05 } };
    for (const extra of [{}, { adversarial: { method: 'pgd', eps: 0.05, steps: 2, random_start: false } }]) {
      const def = await train(model, ds, { ...base, ...extra }, { threads: 1 });
      const first = await train(model, ds, { ...base, ...extra, maxpool_ties: 'first' }, { threads: 1 });
      const share = await train(model, ds, { ...base, ...extra, maxpool_ties: 'share' }, { threads: 1 });
      assert.equal(sha(modelBytes(def.model)), sha(modelBytes(first.model)));
      assert.notEqual(sha(modelBytes(share.model)), sha(modelBytes(first.model)));
    }
    assert.throws(() => parseRecipe({ maxpool_ties: 'last' }), /'maxpool_ties' must be one of first, share, got 'last'/);
  } finally {
    await model.close();
  }
});

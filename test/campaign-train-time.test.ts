/**
 * Training-time annotation noise as a stress of the plan (`stresses.annotation: [{ ..., at: train }]`):
 * every model of the campaign is trained on the setting's noisy labels (a trained variant with its
 * own recipe, a model given as a file with `retrain:`), that model runs the setting's cells against
 * the true labels, and the plan crosses it with test-time attacks and drift like any other stress.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { resolveConfig, type CampaignConfig } from '../src/campaign/config.js';
import { runCampaign } from '../src/campaign/runner.js';
import { trainTimeRecipe } from '../src/campaign/variants.js';
import { parseAnnotationSpec } from '../src/stress/annotation/index.js';
import { loadDataset } from '../src/data/load.js';
import { Model } from '../src/engine/model.js';
import { defaultAssets } from '../src/defaults.js';
import { markdownReport } from '../src/report/markdown.js';
import { htmlReport } from '../src/report/html.js';
import { repoRoot, scratchDirs } from './helpers.js';

const fresh = scratchDirs();
const RECIPE = { epochs: 1, batch_size: 100, optimizer: { name: 'adamw', lr: 1e-3 } };

function config(dir: string, extra: Record<string, unknown> = {}): CampaignConfig {
  return resolveConfig(
    {
      model: defaultAssets.model,
      data: { path: defaultAssets.data, limit: 120 },
      train_data: { path: defaultAssets.trainData, limit: 200 },
      variant_cache: path.join(dir, 'cache'),
      seed: 5,
      bootstrap: 100,
      stages: ['baseline', 'isolated', 'pairwise'],
      retrain: { epochs: 1, batch_size: 50, optimizer: { name: 'adamw', lr: 3e-3 } },
      stresses: {
        adversarial: [{ attack: 'fgsm', eps: 0.03 }],
        annotation: [{ model: 'symmetric', rate: 0.2 }, { model: 'symmetric', rate: 0.6, at: 'train' }],
      },
      models: [{ name: 'gce', train: { ...RECIPE, loss: { name: 'gce', q: 0.7 } } }],
      ...extra,
    },
    'test',
    repoRoot,
  );
}

test('at: train — each model is trained on the noisy labels and runs that setting\u2019s cells, measured against the true labels', async () => {
  const dir = fresh();
  const cfg = config(dir);
  const trainingEvents = new Set<string>();
  const r = await runCampaign(cfg, { outDir: path.join(dir, 'run1'), threads: 1, onEvent: (e) => e.type === 'training' && trainingEvents.add(e.variant) });
  const label = 'trained on symmetric 0.6';
  assert.deepEqual(r.cells.map((c) => Object.values(c.labels).join(' + ') || 'clean'), ['clean', 'fgsm linf ε=0.03', 'symmetric 0.2', label, 'fgsm linf ε=0.03 + symmetric 0.2', `fgsm linf ε=0.03 + ${label}`]);
  // One model per (model, setting): the base fine-tuned with `retrain:`, the variant with its own recipe plus the labels.
  assert.deepEqual(r.train_time!.map((t) => [t.model, t.setting, t.recipe_from]), [['base', label, 'retrain'], ['gce', label, 'variant']]);
  assert.deepEqual((r.train_time![0]!.training.recipe.labels as { noise: unknown }).noise, { model: 'symmetric', rate: 0.6 });
  assert.equal((r.train_time![1]!.training.recipe.loss as { name: string }).name, 'gce');
  assert.equal(r.train_time![0]!.training.cached, false);
  assert.deepEqual([...trainingEvents].sort(), ['base trained on symmetric 0.6', 'gce', 'gce trained on symmetric 0.6']);

  const clean = r.cells[0]!;
  const trained = r.cells[3]!;
  const testTime = r.cells[2]!;
  // Test-time noise keeps the model and changes the labels it is measured against; training-time noise the reverse.
  assert.equal(testTime.correct, clean.correct);
  assert.ok(testTime.observed_metrics);
  assert.equal(trained.observed_metrics, null);
  assert.equal(trained.measurement_gap, null);
  assert.notEqual(trained.correct, clean.correct, 'a model trained on 60 % wrong labels predicts differently');
  assert.ok(trained.vs_baseline, 'paired against the base model\u2019s clean cell');
  assert.ok(Math.abs(trained.vs_baseline.accuracy_drop.value - (clean.metrics.accuracy.value - trained.metrics.accuracy.value)) < 1e-12);
  // The cell is exactly the trained model on the clean data.
  const ds = await loadDataset({ path: defaultAssets.data, limit: 120 });
  const arm = await Model.open(r.train_time![0]!.path);
  try {
    assert.equal(arm.sha256, r.train_time![0]!.sha256);
    const p = await arm.predict(ds);
    const K = p.numClasses;
    const correct = Array.from(ds.labels!, (y, i) => {
      const row = p.scores.subarray(i * K, (i + 1) * K);
      return row.indexOf(Math.max(...row)) === y ? '1' : '0';
    }).join('');
    assert.equal(trained.correct, correct);
  } finally {
    await arm.close();
  }
  // The cell's hash names the model it ran, so a retrained model is recomputed on --resume.
  const planHash = (await import('../src/campaign/plan.js')).makePlan(cfg).cells[3]!.hash;
  assert.notEqual(trained.hash, planHash);
  // Interactions: training-time noise × attack, on true labels only (there are no observed labels to measure with).
  const inter = r.interactions.filter((x) => x.cell === r.cells[5]!.id);
  assert.deepEqual(inter.map((x) => x.metric), ['accuracy']);
  assert.deepEqual(r.interactions.filter((x) => x.cell === r.cells[4]!.id).map((x) => x.metric), ['accuracy', 'measured_accuracy']);
  // The variant's training-time cells ran its own noisy-label model.
  const gce = r.variants![0]!;
  assert.notEqual(gce.cells[3]!.correct, gce.cells[0]!.correct);
  assert.notEqual(gce.cells[3]!.correct, trained.correct);
  assert.equal(r.mitigation!.rows[3]!.labels.annotation, label);

  const md = markdownReport(r);
  assert.match(md, /## Training-time label noise/);
  assert.match(md, /\| base \| trained on symmetric 0\.6 \| retrain \(fine-tuned from the file\) \| 0\.900 /);
  assert.match(htmlReport(r), /id="train-time"/);

  // Another campaign reuses every trained model from the cache: same bytes, same cells.
  const again = await runCampaign(cfg, { outDir: path.join(dir, 'run2'), threads: 1 });
  assert.ok(again.train_time!.every((t) => t.training.cached));
  assert.deepEqual(again.cells.map((c) => c.correct), r.cells.map((c) => c.correct));
  assert.deepEqual(again.variants![0]!.cells.map((c) => c.correct), gce.cells.map((c) => c.correct));
});

test('at: train — config errors: a bad at, a variant with labels of its own, retrain without a training-time stress or with labels', () => {
  const dir = fresh();
  assert.throws(() => config(dir, { stresses: { annotation: [{ model: 'symmetric', rate: 0.2, at: 'eval' }] } }), /'stresses\.annotation\[0\]\.at' must be test .* or train/);
  assert.throws(
    () => config(dir, { models: [{ name: 'noisy', train: { ...RECIPE, labels: { noise: { model: 'pairflip', rate: 0.3 } } } }] }),
    /variant 'noisy' trains on noisy labels of its own .* remove one of the two/,
  );
  assert.throws(() => config(dir, { stresses: { annotation: [{ model: 'symmetric', rate: 0.2 }] } }), /'retrain' is given but no annotation stress is 'at: train'/);
  assert.throws(() => config(dir, { retrain: { labels: { noise: { model: 'symmetric', rate: 0.1 } } } }), /'retrain\.labels' must not be given/);
  assert.throws(() => config(dir, { retrain: { epochs: 0 } }), /retrain\.epochs/);
  // A training-time stress needs no trained variant: the base is retrained on the shipped training slice.
  const plain = resolveConfig({ stresses: { annotation: [{ model: 'symmetric', rate: 0.4, at: 'train' }] } }, 'test', repoRoot);
  assert.equal(plain.trainData!.path, defaultAssets.trainData);
  assert.deepEqual(plain.retrain, {});
});

test('trainTimeRecipe: every annotation spec reaches the recipe\u2019s labels unchanged (annotators with entries, matrices, instance noise)', () => {
  const specs = [
    { model: 'symmetric', rate: 0.4 },
    { model: 'pairflip', rate: 0.3 },
    { model: 'instance', rate: 0.2 },
    { model: 'matrix', trace: 7 },
    { annotators: [{ kind: 'noisy', accuracy: 0.7, count: 2 }, { kind: 'swapper', swaps: [[0, 6]], swap_rate: 0.5 }, { kind: 'spammer' }], coverage: 2, aggregate: 'dawid-skene' },
    { annotators: 5, annotator_accuracy: 0.7 },
  ];
  for (const raw of specs) {
    const spec = { ...parseAnnotationSpec(raw, 'x'), at: 'train' as const };
    const recipe = trainTimeRecipe({ epochs: 3 }, spec);
    assert.equal(recipe.epochs, 3);
    const { at: _at, ...noise } = spec;
    assert.deepEqual(parseAnnotationSpec((recipe.labels as { noise: unknown }).noise, 'labels.noise'), noise);
  }
});

/**
 * Campaigns that compare models (`models:`): every variant runs the same cells as the base, trained
 * variants are cached by content and reused, the mitigation table pairs each variant with the base,
 * budgets name variants, and the reports show it all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, resolveConfig, type CampaignConfig } from '../src/campaign/config.js';
import { runCampaign } from '../src/campaign/runner.js';
import { defaultAssets } from '../src/defaults.js';
import { markdownReport } from '../src/report/markdown.js';
import { htmlReport } from '../src/report/html.js';
import { repoRoot, runCliAsync, scratchDirs } from './helpers.js';

const fresh = scratchDirs();
const RECIPE = { epochs: 1, batch_size: 100, optimizer: { name: 'adamw', lr: 1e-3 }, augment: { corruptions: ['gaussian_noise'], severity: [2, 4], fraction: 0.5 } };

function config(dir: string, extra: Record<string, unknown> = {}): CampaignConfig {
  return resolveConfig(
    {
      model: defaultAssets.model,
      data: { path: defaultAssets.data, limit: 120 },
      train_data: { path: defaultAssets.trainData, limit: 200 },
      variant_cache: path.join(dir, 'cache'),
      seed: 3,
      bootstrap: 100,
      stages: ['baseline', 'isolated'],
      stresses: { drift: [{ corruption: 'gaussian_noise', severity: 4 }], adversarial: [{ attack: 'fgsm', eps: 0.03 }] },
      ...extra,
    },
    'test',
    repoRoot,
  );
}

test('variants: a copy of the base model matches it cell for cell (Δ = 0); a trained variant is cached and reused with the same bytes', async () => {
  const dir = fresh();
  const copy = path.join(dir, 'copy.onnx');
  fs.copyFileSync(defaultAssets.model, copy);
  const cfg = config(dir, { models: [{ name: 'same', path: copy }, { name: 'aug', train: RECIPE }], budgets: [{ metric: 'accuracy', stage: 'baseline', variant: 'aug', min: 0.5 }] });
  const events: string[] = [];
  const a = await runCampaign(cfg, { outDir: path.join(dir, 'run1'), threads: 1, onEvent: (e) => e.type === 'training' && events.push(`${e.variant}:${e.progress.step}`) });
  assert.deepEqual(a.variants!.map((v) => v.name), ['same', 'aug']);
  assert.ok(events.length > 0 && events.every((x) => x.startsWith('aug:')), 'training progress is reported for the trained variant');
  const same = a.variants![0]!;
  assert.equal(same.cells.length, a.cells.length);
  same.cells.forEach((c, i) => {
    assert.equal(c.id, `same--${a.cells[i]!.id}`);
    assert.equal(c.correct, a.cells[i]!.correct, 'same model, same cell, same items → same predictions');
  });
  for (const row of a.mitigation!.rows) {
    const d = row.variants[0]!.diff_vs_base!;
    assert.deepEqual([d.value, ...d.ci], [0, 0, 0]);
    assert.notEqual(row.best, 'same', 'a variant with no gain is never the best');
  }
  const aug = a.variants![1]!;
  assert.equal(aug.training!.cached, false);
  assert.equal(aug.training!.history.length, 1);
  assert.equal(a.budgets[0]!.name.includes('for variant aug'), true);
  assert.deepEqual(a.budgets[0]!.cells.map((c) => c.id), ['aug--c000-clean']);
  assert.ok(fs.existsSync(path.join(dir, 'run1', 'cells', 'aug--c001-adv.json')));

  // A second campaign (another run directory) reuses the cached variant: no training, same model bytes, same cells.
  const b = await runCampaign(cfg, { outDir: path.join(dir, 'run2'), threads: 1 });
  assert.equal(b.variants![1]!.training!.cached, true);
  assert.equal(b.variants![1]!.sha256, aug.sha256);
  assert.deepEqual(b.variants![1]!.cells.map((c) => c.correct), aug.cells.map((c) => c.correct));
  assert.deepEqual(b.mitigation, a.mitigation);

  const md = markdownReport(a);
  assert.match(md, /## Mitigations/);
  assert.match(md, /\| cell \| stresses \| base \| same \| aug \| best \|/);
  assert.match(md, /\*\*aug\*\*: model sha256 [0-9a-f]{64}/);
  // A variant whose attack raised a reliability flag says so in its own name.
  const flagged = { ...a, variants: a.variants!.map((v) => (v.name !== 'aug' ? v : { ...v, cells: v.cells.map((c) => (c.id.endsWith('-adv') ? { ...c, details: { ...c.details, adversarial: { flags: ['gradient_masking'] } } } : c)) })) };
  assert.match(markdownReport(flagged), /- aug: gradient\\_masking in 1 attacked cell\(s\)/);
  assert.doesNotMatch(md, /Attack reliability flags by variant/);
  const html = htmlReport(a);
  assert.match(html, /<section id="mitigations"><h2>Mitigations: which variant helps/);
  assert.match(html, /id="mitigation-diff"/);
});

test('variants: a changed model file is recomputed on --resume, not taken from its old checkpoints', async () => {
  const dir = fresh();
  const file = path.join(dir, 'v.onnx');
  fs.copyFileSync(defaultAssets.model, file);
  const cfg = config(dir, { models: [{ name: 'v', path: file }], train_data: undefined });
  const out = path.join(dir, 'run');
  const a = await runCampaign(cfg, { outDir: out, threads: 1 });
  // Replace the variant with a retrained model (other weights) and resume: its cells must change.
  const r = await runCliAsync(['train', '--model', defaultAssets.model, '--limit', '200', '--epochs', '1', '--lr', '0.05', '--out', path.join(dir, 'other.onnx'), '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  fs.copyFileSync(path.join(dir, 'other.onnx'), file);
  let resumed: number | null = null;
  const b = await runCampaign(cfg, { outDir: out, threads: 1, resume: true, onEvent: (e) => e.type === 'plan' && (resumed = e.resumed) });
  assert.equal(resumed, a.cells.length, 'only the base cells count as already done: the variant’s checkpoints are of another model');
  assert.notEqual(b.variants![0]!.sha256, a.variants![0]!.sha256);
  assert.notDeepEqual(b.variants![0]!.cells.map((c) => c.correct), a.variants![0]!.cells.map((c) => c.correct));
  assert.deepEqual(b.cells.map((c) => c.correct), a.cells.map((c) => c.correct), 'the base cells come from their checkpoints');
});

test('models: config errors name the entry: both path and train, neither, a duplicate name, base, a bad recipe, an unknown budget variant, train_data without a trained variant', () => {
  const dir = fresh();
  const bad = (extra: Record<string, unknown>, re: RegExp) => assert.throws(() => config(dir, extra), re);
  bad({ models: [{ name: 'x', path: defaultAssets.model, train: {} }] }, /'models\[0\]' must give exactly one of 'path' \(a model file\) or 'train' \(a recipe\)/);
  bad({ models: [{ name: 'x' }] }, /'models\[0\]' must give exactly one of/);
  bad({ models: [{ name: 'x', train: {} }, { name: 'x', train: {} }] }, /'models\[1\]\.name' 'x' is used twice/);
  bad({ models: [{ name: 'base', train: {} }] }, /not 'base'/);
  bad({ models: [{ name: 'x', train: { loss: { name: 'gce', q: 2 } } }] }, /'models\[0\]\.train\.loss\.q'/);
  bad({ models: [{ name: 'x', train: {} }], budgets: [{ metric: 'accuracy', variant: 'y', min: 0.1 }] }, /'budgets\[0\]\.variant' 'y' is not a variant in 'models'; known: base, x/);
  assert.throws(() => resolveConfig({ train_data: defaultAssets.trainData, models: [{ name: 'f', path: defaultAssets.model }] }, 't', repoRoot), /'train_data' is given but no variant in 'models' has 'train'/);
});

test('gauntlet run --dry-run lists the variants and checks their inputs; a recipe ε beyond the bounds is refused before anything runs', async () => {
  const dir = fresh();
  const yaml = path.join(dir, 'c.yaml');
  fs.writeFileSync(yaml, `data: { path: ${defaultAssets.data}, limit: 50 }\nstages: [baseline]\nmodels:\n  - { name: pgd_at, train: { epochs: 1, adversarial: { method: pgd, eps: 0.1, steps: 3 } } }\n  - { name: mine, path: ${defaultAssets.model} }\n`);
  const r = await runCliAsync(['run', yaml, '--dry-run', '--out', path.join(dir, 'out')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /models: base \+ 2 variant\(s\), each running the 1 cells \(3 in all\)/);
  assert.match(r.stdout, /pgd_at\s+trained: epochs=1 adversarial=\{method:pgd,eps:0.1,steps:3\}/);
  assert.ok(!fs.existsSync(path.join(dir, 'out')));
  fs.writeFileSync(yaml, `data: { path: ${defaultAssets.data}, limit: 50 }\nstages: [baseline]\nmodels:\n  - { name: big, train: { adversarial: { method: pgd, eps: 1.5 } } }\n`);
  const e = await runCliAsync(['run', yaml, '--dry-run']);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /'models\[0\]\.train\.adversarial\.eps' 1\.5 is larger than the data bounds' range \[0, 1\]/);
});

test('examples/mitigations.yaml is a valid campaign: the base and four trained variants on the shipped data, label noise at test and at training time', () => {
  const cfg = loadConfig(path.join(repoRoot, 'examples', 'mitigations.yaml'));
  assert.deepEqual(cfg.variants.map((v) => v.name), ['gce', 'pgd_at', 'augment', 'ensemble3']);
  assert.deepEqual(cfg.stresses.annotation, [{ model: 'symmetric', rate: 0.2 }, { model: 'symmetric', rate: 0.4, at: 'train' }]);
  // The base's retrain recipe is gce's without the loss: under training-time noise the two differ only in the loss.
  const { loss: _loss, ...gceRest } = cfg.variants[0]!.train!;
  assert.deepEqual(cfg.retrain, gceRest);
  assert.ok(cfg.variants.every((v) => v.train !== null));
  assert.equal(cfg.trainData!.path, defaultAssets.trainData);
  assert.equal(cfg.budgets[1]!.variant, 'pgd_at');
});

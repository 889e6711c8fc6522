import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/campaign/config.js';
import { makePlan } from '../src/campaign/plan.js';
import { scaleRng } from '../src/campaign/text.js';
import type { CampaignResults } from '../src/campaign/types.js';
import { datasetHash } from '../src/data/dataset.js';
import { loadNpz } from '../src/data/npz.js';
import { EmbeddingView } from '../src/engine/embedding.js';
import { Model } from '../src/engine/model.js';
import { Rng } from '../src/rng.js';
import { runEmbeddingAttack } from '../src/stress/adversarial/embedding.js';
import { argmaxRow } from '../src/stress/adversarial/scores.js';
import { assertBadInput, fixture, runCli, scratchDirs } from './helpers.js';

/*
 * A campaign on a text classifier (test/fixtures/text/text_conv.onnx, token ids [48, 12], declared
 * wrt: embedding): its adversarial cells run the embedding-space attack of `gauntlet attack
 * --model-wrt embedding`, projected to tokens; annotation noise and the label-only shift run as for
 * any model; what makes no sense for token ids is refused in one line before anything runs.
 */

const scratch = scratchDirs('gauntlet-text-campaign-');
const text = (f: string) => fixture('text', f);

function writeConfig(dir: string, body: string): string {
  const file = path.join(dir, 'text.yaml');
  fs.writeFileSync(file, `model: { path: ${text('text_conv.onnx')}, wrt: embedding }\ndata: ${text('text_conv.npz')}\nseed: 7\nbootstrap: 100\n${body}`);
  return file;
}

const STRESSES = `stages: [baseline, isolated, pairwise]
stresses:
  adversarial: { attack: pgd, norm: linf, eps: [0.5, 1.5], steps: 10 }
  drift: { shift: prior, proportions: [0.6, 0.2, 0.2] }
  annotation: { model: symmetric, rate: 0.2 }
`;

test('text campaign end to end: attacks in embedding space projected to tokens (the library attack, item for item), noise and a label shift; reports and provenance', async () => {
  const dir = scratch();
  const cfg = writeConfig(dir, STRESSES);
  const out = path.join(dir, 'run');
  const r = runCli(['run', cfg, '--out', out, '--no-registry']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^text: {2}token ids \(int64\); attacked in embedding space at \/emb\/Gather_output_0 \(table emb\.weight \[32, 8\]\), projected to the nearest tokens; ε is a distance between embeddings: a token to its nearest other token is L2 \d/m);
  const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as CampaignResults;

  // Traceable: seed, the data's and the model's hashes.
  const ds = await loadNpz(text('text_conv.npz'));
  assert.equal(res.seed, 7);
  assert.equal(res.data.sha256, datasetHash(ds));
  assert.equal(res.model.sha256, crypto.createHash('sha256').update(fs.readFileSync(text('text_conv.onnx'))).digest('hex'));
  assert.equal(res.text?.wrt, 'embedding');
  assert.deepEqual(res.text?.embedding, { output: '/emb/Gather_output_0', table: 'emb.weight', vocab: 32, dim: 8 });

  const model = await Model.open(text('text_conv.onnx'), { wrt: 'embedding' });
  const view = await EmbeddingView.open(model);
  try {
    const scale = await view.scale(scaleRng(7));
    assert.deepEqual(res.text?.scale, scale);
    // Each isolated attack cell is the library's embedding attack (same generator, same spec),
    // its accuracy that of the whole model on the projected token ids, item for item.
    const plan = makePlan(loadConfig(cfg));
    const advCells = plan.cells.filter((c) => c.stage === 'isolated' && c.adversarial);
    assert.equal(advCells.length, 2);
    let broken = 0;
    for (const planned of advCells) {
      const cell = res.cells.find((c) => c.id === planned.id)!;
      const a = await runEmbeddingAttack(view, ds.x, ds.size, ds.labels!, planned.adversarial!.spec as never, new Rng(7).fork(`adversarial|${planned.adversarial!.key}|`), { batchSize: 256, scale });
      const p = a.perEps[0]!;
      const correct = Array.from(p.predicted, (k, i) => (k === ds.labels![i] ? '1' : '0')).join('');
      assert.equal(cell.correct, correct, planned.id);
      // The projected ids are what the whole model classified.
      const pr = await model.predictItems(p.ids, ds.size);
      assert.equal(Array.from({ length: ds.size }, (_, i) => (argmaxRow(pr.scores, i, pr.numClasses) === ds.labels![i] ? '1' : '0')).join(''), correct);
      const d = cell.details.adversarial as Record<string, number>;
      assert.equal(d.token_accuracy, cell.metrics.accuracy.value);
      assert.equal(d.robust_accuracy, cell.metrics.accuracy.value);
      assert.equal(d.embedding_accuracy, p.embeddingAccuracy);
      assert.equal(d.tokens_changed, p.tokensChanged);
      assert.ok(Math.abs(d.eps_over_scale! - p.eps / scale.linf) < 1e-12);
      broken += ds.size - correct.split('').filter((c) => c === '1').length;
    }
    assert.ok(broken > 0, 'the larger ε breaks some sequences (the check is not vacuous)');
  } finally {
    await view.close();
    await model.close();
  }
  // Annotation noise and the label shift ran as for any model.
  const ann = res.cells.find((c) => c.id === 'c004-ann')!;
  assert.ok(ann.observed_metrics && ann.observed_metrics.accuracy.value < ann.metrics.accuracy.value);
  assert.ok(res.cells.find((c) => c.id === 'c003-drift')!.item_indices);
  // Both reports show the text section; the adversarial curve's ε is in embedding space.
  const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
  assert.match(md, /^## Text model$/m);
  assert.match(md, /^\| cell \| attack \| ε \| ε \/ token scale \| accuracy \(token ids\) \| accuracy \(embeddings\) \| tokens changed \| items changed \|$/m);
  assert.match(md, /^\| c002-adv \| pgd linf \| 1\.5 \| \d+\.\d\d \| \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] \| /m);
  const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
  assert.match(html, /<section id="text"><h2>Text model: attacks in embedding space<\/h2>/);
  assert.match(html, /ε \(distance in embedding space; accuracy on the projected token ids\)/);

  // Same config and seed, another directory: the same cells.
  const again = path.join(dir, 'again');
  assert.equal(runCli(['run', cfg, '--out', again, '--no-registry']).code, 0);
  const res2 = JSON.parse(fs.readFileSync(path.join(again, 'results.json'), 'utf8')) as CampaignResults;
  assert.deepEqual(res2.cells.map((c) => [c.id, c.correct, c.correct_observed]), res.cells.map((c) => [c.id, c.correct, c.correct_observed]));
});

test('text campaign: stresses that make no sense for token ids are refused in one line at validation, naming the stress and why; nothing is written', () => {
  const dir = scratch();
  const out = path.join(dir, 'run');
  const refused = (body: string, expected: RegExp) => {
    assertBadInput(runCli(['run', writeConfig(dir, body), '--out', out, '--no-registry']), expected);
    assert.equal(fs.existsSync(out), false, 'no run directory');
  };
  refused('stresses: { drift: { corruption: gaussian_noise, severity: 2 } }', /^gauntlet: 'stresses\.drift\[0\]' \(corruption gaussian_noise\): .*text_conv\.onnx reads integer token ids \(input ids, int64\); image corruptions act on pixel values in \[0, 1\], not on token ids \(the shifts prior and subpopulation choose items and run on text\)$/);
  refused('stresses: { drift: { shift: mean, amount: 1 } }', /^gauntlet: 'stresses\.drift\[0\]' \(shift mean\): .*; the mean shift changes values, which would turn token ids into numbers that name no token/);
  refused('stresses: { adversarial: { attack: pgd, eps: 0.5 } }\nexplain: { method: saliency }', /^gauntlet: 'explain': .*token ids/);
  refused('stresses: { adversarial: { attack: pgd, norm: linf, eps: 1000 } }', /^gauntlet: 'stresses\.adversarial\[0\]\.eps' must be in \[0, \d+(\.\d+)?\] for linf in embedding space \(the diameter of the box holding the embedding table's values; a token to its nearest other token is L2 /);
  // Token ids without wrt: embedding: an attack is refused with what to declare.
  fs.writeFileSync(path.join(dir, 'plain.yaml'), `model: ${text('text_conv.onnx')}\ndata: ${text('text_conv.npz')}\nstresses: { adversarial: { attack: fgsm, eps: 0.1 } }\n`);
  assertBadInput(runCli(['run', path.join(dir, 'plain.yaml'), '--out', out, '--no-registry']), /^gauntlet: 'stresses\.adversarial\[0\]' \(fgsm\): .*text_conv\.onnx reads integer token ids \(input ids, int64\), which cannot be perturbed continuously; declare 'wrt: embedding' under 'model:'/);
  assert.equal(fs.existsSync(out), false);
});

/** `gauntlet calibrate` end to end (spawned): JSON last line, the written model, exit codes and one-line errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../src/data/load.js';
import { saveNpz } from '../src/data/npz.js';
import { defaultAssets } from '../src/defaults.js';
import { Model } from '../src/engine/model.js';
import { Rng } from '../src/rng.js';
import { assertBadInput, runCli, tmpDir } from './helpers.js';

const dir = tmpDir('gauntlet-calibrate-');
const gauntlet = (...args: string[]) => runCli(args, { cwd: dir, timeout: 120_000 });

const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

test('calibrate writes a model whose logits are the original ones over T, reports before → after, and leaves the original alone', async () => {
  // A 600-item slice (faster) and a heavy-noise copy of it as a stressed set.
  const ds = await loadDataset({ path: defaultAssets.data, limit: 600 });
  const rng = new Rng(7);
  const noisy = Float32Array.from(ds.x, (v) => Math.min(1, Math.max(0, v + 0.5 * rng.normal())));
  const y = { dtype: '<i4' as const, shape: [ds.size], data: ds.labels! };
  await saveNpz(path.join(dir, 'clean.npz'), { x: { dtype: '<f4', shape: [ds.size, 1, 28, 28], data: ds.x }, y });
  await saveNpz(path.join(dir, 'noisy.npz'), { x: { dtype: '<f4', shape: [ds.size, 1, 28, 28], data: noisy }, y });
  const modelCopy = path.join(dir, 'model.onnx');
  fs.copyFileSync(defaultAssets.model, modelCopy);
  const before = sha(modelCopy);
  const r = gauntlet('calibrate', '--model', 'model.onnx', '--data', 'clean.npz', '--out', 'model.calibrated.onnx', '--seed', '3', '--holdout', '0.6', '--stressed', 'noisy.npz', '--json', '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  const j = r.json!;
  assert.ok(j, r.stdout);
  assert.equal(sha(modelCopy), before, 'original untouched');
  assert.equal(j.calibration_items, 360);
  assert.equal(j.evaluation_items, 240);
  assert.equal(j.seed, 3);
  assert.equal(j.output_kind, 'logits');
  assert.ok(j.temperature > 0.5 && j.temperature < 3, String(j.temperature));
  assert.ok(j.fit_nll_after <= j.fit_nll_before);
  assert.equal(j.evaluation.before.items, 240);
  assert.equal(j.evaluation.before.accuracy, j.evaluation.after.accuracy);
  assert.equal(j.stressed.length, 1);
  assert.equal(j.stressed[0].before.items, 600);
  assert.ok(j.stressed[0].before.accuracy < 0.5);
  const out = path.join(dir, 'model.calibrated.onnx');
  assert.equal(j.out_sha256, sha(out));
  const a = await Model.open(modelCopy, { threads: 1 });
  const b = await Model.open(out, { threads: 1 });
  const x = ds.x.subarray(0, 50 * 784);
  const za = (await a.predictBatch(x, 50)).scores;
  const zb = (await b.predictBatch(x, 50)).scores;
  for (let i = 0; i < za.length; i++) assert.ok(Math.abs(zb[i]! - Math.fround(za[i]! / j.temperature)) <= 1e-6 * Math.max(1, Math.abs(zb[i]!)));
  await a.close();
  await b.close();
  // Same seed, same bytes; no temporary files left behind.
  const r2 = gauntlet('calibrate', '--model', 'model.onnx', '--data', 'clean.npz', '--out', 'again.onnx', '--seed', '3', '--holdout', '0.6', '--json', '--threads', '1');
  assert.equal(r2.json!.temperature, j.temperature);
  assert.equal(sha(path.join(dir, 'again.onnx')), j.out_sha256);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  // The human-readable form.
  const h = gauntlet('calibrate', '--model', 'model.onnx', '--data', 'clean.npz', '--out', 'h.onnx', '--threads', '1');
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /temperature {2}T = \d\.\d{4}/);
  assert.match(h.stdout, /clean \(evaluation split\) +300 {2}ECE/);
});

test('calibrate: bad options exit 2 with one stderr line naming the option', () => {
  assertBadInput(gauntlet('calibrate', '--data', 'clean.npz'), /^gauntlet: calibrate: '--out' is required/);
  assertBadInput(gauntlet('calibrate', '--out', 'x.onnx', '--holdout', '1'), /^gauntlet: '--holdout' must be in \(0, 1\), got 1$/);
  assertBadInput(gauntlet('calibrate', '--out', 'x.onnx', '--holdout', '0'), /^gauntlet: '--holdout' must be in \(0, 1\), got 0$/);
  assertBadInput(gauntlet('calibrate', '--out', 'x.onnx', '--holdout', 'half'), /^gauntlet: '--holdout' must be a number, got 'half'$/);
  assertBadInput(gauntlet('calibrate', '--out', 'x.onnx', '--seed=-1'), /^gauntlet: '--seed' must be in \[0, /);
  assertBadInput(gauntlet('calibrate', '--out', 'x.onnx', '--temperature', '2'), /^gauntlet: calibrate: Unknown option '--temperature'/);
  assertBadInput(gauntlet('calibrate', '--model', 'model.onnx', '--out', 'model.onnx'), /^gauntlet: calibrate: '--out' must differ from '--model'/);
  assertBadInput(gauntlet('calibrate', '--model', 'missing.onnx', '--out', 'x.onnx'), /^gauntlet: (.*\/)?missing\.onnx: no such file$/);
  assert.ok(!fs.existsSync(path.join(dir, 'x.onnx')));
});

test('conformal reports clean coverage near 1 − α and its fall on a stressed set; bad options exit 2', () => {
  const r = gauntlet('conformal', '--model', 'model.onnx', '--data', 'clean.npz', '--alpha', '0.1', '--score', 'aps', '--stressed', 'noisy.npz', '--seed', '1', '--json', '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  const j = r.json!;
  assert.equal(j.evaluation_items, 300);
  assert.equal(j.randomized, true);
  assert.ok(Math.abs(j.clean.coverage - 0.9) < 0.06, JSON.stringify(j.clean));
  assert.ok(j.stressed[0].coverage < j.clean.coverage - 0.05, JSON.stringify(j.stressed));
  const again = gauntlet('conformal', '--model', 'model.onnx', '--data', 'clean.npz', '--alpha', '0.1', '--score', 'aps', '--stressed', 'noisy.npz', '--seed', '1', '--json', '--threads', '1');
  assert.equal(again.stdout, r.stdout, 'same seed, same bytes');
  assertBadInput(gauntlet('conformal', '--alpha', '0'), /^gauntlet: '--alpha' must be in \(0, 1\), got 0$/);
  assertBadInput(gauntlet('conformal', '--score', 'raps'), /^gauntlet: '--score' must be one of lac, aps, got 'raps'$/);
  assertBadInput(gauntlet('conformal', '--no-randomize'), /^gauntlet: '--no-randomize' applies to '--score aps' only$/);
});

test('calibrate --help prints the usage and exits 0', () => {
  const r = gauntlet('calibrate', '--help');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^gauntlet calibrate --model M.onnx --data D --out M.calibrated.onnx/);
});

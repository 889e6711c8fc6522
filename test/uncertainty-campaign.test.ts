/** The campaign hook: parseUncertaintySpec, prepareUncertainty and uncertaintyCell. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../src/data/load.js';
import { defaultAssets } from '../src/defaults.js';
import { Model } from '../src/engine/model.js';
import { ConfigError, DataError } from '../src/errors.js';
import { encodeModel } from '../src/onnx/proto.js';
import { bootstrapWeights } from '../src/metrics/suite.js';
import { Rng } from '../src/rng.js';
import { parseUncertaintySpec, predictProbabilities, prepareUncertainty, uncertaintyCell, uncertaintyContextSummary, type UncertaintyCellSummary } from '../src/uncertainty/index.js';
import { dropoutData, dropoutModel } from './fixtures/uncertainty/dropout-model.js';
import { tmpDir } from './helpers.js';

const dir = tmpDir('gauntlet-uncertainty-');
const mlpFile = path.join(dir, 'mlp.onnx');
fs.writeFileSync(mlpFile, encodeModel(dropoutModel()));
const mlp2File = path.join(dir, 'mlp2.onnx');
fs.writeFileSync(mlp2File, encodeModel(dropoutModel({ seed: 9 })));

const configError = (re: RegExp) => (e: unknown) => e instanceof ConfigError && re.test(e.message) && !e.message.includes('\n');

test('parseUncertaintySpec fills defaults, resolves ensemble paths against the base dir, and round-trips through JSON', () => {
  const spec = parseUncertaintySpec(
    { temperature: true, conformal: { alpha: 0.1, score: 'aps' }, ensemble: ['mlp2.onnx'], mc_dropout: 20, selective: { target_risk: 0.05 } },
    'uncertainty',
    dir,
  );
  assert.deepEqual(spec, {
    temperature: true,
    conformal: { alpha: 0.1, score: 'aps', randomized: true },
    ensemble: [mlp2File],
    mc_dropout: 20,
    selective: { target_risk: 0.05 },
    calibration_fraction: 0.5,
  });
  assert.deepEqual(parseUncertaintySpec(JSON.parse(JSON.stringify(spec)), 'uncertainty', '/elsewhere'), spec);
  const empty = parseUncertaintySpec({}, 'uncertainty');
  assert.deepEqual(empty, { temperature: false, conformal: null, ensemble: [], mc_dropout: 0, selective: null, calibration_fraction: 0.5 });
  assert.deepEqual(parseUncertaintySpec(JSON.parse(JSON.stringify(empty)), 'uncertainty'), empty);
  assert.equal(parseUncertaintySpec({ conformal: { alpha: 0.2 } }, 'u').conformal?.score, 'lac');
});

test('bad uncertainty specs are named by key path and allowed values', () => {
  const bad: [unknown, RegExp][] = [
    [[1], /'uncertainty' must be an object like/],
    [{ temprature: true }, /'uncertainty' has unknown key 'temprature'; allowed keys are temperature, conformal, ensemble, mc_dropout, selective, calibration_fraction/],
    [{ temperature: 'yes' }, /'uncertainty.temperature' must be true or false, got 'yes'/],
    [{ conformal: { alpha: 1.5 } }, /'uncertainty.conformal.alpha' must be a number in \(0, 1\), got 1.5/],
    [{ conformal: {} }, /'uncertainty.conformal.alpha' is required: a number in \(0, 1\)/],
    [{ conformal: { alpha: 0.1, score: 'raps' } }, /'uncertainty.conformal.score' must be one of 'lac', 'aps', got 'raps'/],
    [{ conformal: { alpha: 0.1, score: 'lac', randomized: true } }, /'uncertainty.conformal.randomized' applies to score 'aps' only/],
    [{ conformal: { alpha: 0.1, level: 2 } }, /'uncertainty.conformal' has unknown key 'level'; allowed keys are alpha, score, randomized/],
    [{ ensemble: 'm2.onnx' }, /'uncertainty.ensemble' must be a list of .onnx paths, got 'm2.onnx'/],
    [{ ensemble: ['mlp2.onnx', 'missing.onnx'] }, /'uncertainty.ensemble\[1\]': no such model file .*missing.onnx/],
    [{ ensemble: [3] }, /'uncertainty.ensemble\[0\]' must be a path to an .onnx model, got 3/],
    [{ mc_dropout: 1 }, /'uncertainty.mc_dropout' must be the number of passes, an integer in \[2, 1000\] \(0 or false: off\), got 1/],
    [{ mc_dropout: 2.5 }, /'uncertainty.mc_dropout' must be the number of passes/],
    [{ selective: { target_risk: -0.1 } }, /'uncertainty.selective.target_risk' must be a number in \[0, 1\), got -0.1/],
    [{ selective: {} }, /'uncertainty.selective.target_risk' is required/],
    [{ calibration_fraction: 1 }, /'uncertainty.calibration_fraction' must be a number in \(0, 1\), got 1/],
  ];
  for (const [obj, re] of bad) assert.throws(() => parseUncertaintySpec(obj, 'uncertainty', dir), configError(re), JSON.stringify(obj));
});

// The default model and data, with a heavy-noise cell made with the Rng.
const ds = await loadDataset(defaultAssets.data);
const model = await Model.open(defaultAssets.model);
const labels = ds.labels!;
const clean = { x: ds.x, n: ds.size, labels, probs: (await predictProbabilities(model, ds.x, ds.size)).probs };
const noiseRng = new Rng(7);
const xNoisy = Float32Array.from(ds.x, (v) => Math.min(1, Math.max(0, v + 0.5 * noiseRng.normal())));
const noisy = { x: xNoisy, n: ds.size, labels, probs: (await predictProbabilities(model, xNoisy, ds.size)).probs };

const isJsonNumbers = (s: UncertaintyCellSummary): boolean =>
  Object.values(s).every((v) => (typeof v === 'number' && Number.isFinite(v)) || (Array.isArray(v) && v.every((u) => typeof u === 'number' && Number.isFinite(u))));

test('prepare + cells on the default model: calibrated on one split, evaluated on the other, coverage and risk degrade under noise', async () => {
  const spec = parseUncertaintySpec({ temperature: true, conformal: { alpha: 0.1 }, selective: { target_risk: 0.02 }, ensemble: [defaultAssets.model] }, 'uncertainty');
  const ctx = await prepareUncertainty(model, clean, spec, new Rng(42));
  const cs = uncertaintyContextSummary(ctx);
  assert.equal(cs.calibration_items + cs.evaluation_items, ds.size);
  assert.deepEqual(cs.calibration_indices, Array.from(ctx.split.calibration));
  const evalSet = new Set(ctx.split.evaluation);
  assert.ok(ctx.split.calibration.every((i) => !evalSet.has(i)), 'splits are disjoint');
  const base = await uncertaintyCell(ctx, clean);
  const stressed = await uncertaintyCell(ctx, noisy);
  for (const s of [base, stressed]) {
    assert.ok(isJsonNumbers(s), JSON.stringify(s));
    assert.equal(s.evaluated, ctx.split.evaluation.length, 'only the evaluation split is scored');
    assert.ok(s.rc_coverage.length <= 50 && s.rc_risk.length === s.rc_coverage.length);
    // An ensemble of the model with itself is the model: same accuracy and NLL, zero MI.
    assert.equal(s.ensemble_members, 2);
    assert.equal(s.ensemble_accuracy, s.accuracy);
    assert.equal(s.ensemble_nll, s.nll);
    assert.equal(s.ensemble_mean_mutual_information, 0);
  }
  assert.ok(Math.abs(base.conformal_coverage! - 0.9) < 0.04, `clean coverage ${base.conformal_coverage}`);
  assert.ok(stressed.conformal_coverage! < base.conformal_coverage! - 0.2, `noisy coverage ${stressed.conformal_coverage}`);
  assert.ok(stressed.selective_risk! > base.selective_risk! + 0.2);
  assert.ok(stressed.aurc > base.aurc && stressed.mean_entropy > base.mean_entropy);
  assert.ok(base.nll_after! <= base.nll_before! + 0.01 && stressed.nll_after! < stressed.nll_before!);
  // Same seed, same bytes — whatever ran before.
  const ctx2 = await prepareUncertainty(model, clean, spec, new Rng(42));
  const stressed2 = await uncertaintyCell(ctx2, noisy);
  assert.equal(JSON.stringify(stressed2), JSON.stringify(stressed));
  // A resampled cell (e.g. prior shift) maps its items to clean items; calibration items are dropped.
  const idx = Int32Array.from({ length: 300 }, (_, j) => (j * 7) % ds.size);
  const per = 784;
  const sub = {
    x: Float32Array.from({ length: 300 * per }, (_, t) => ds.x[idx[Math.floor(t / per)]! * per + (t % per)]!),
    n: 300,
    labels: Int32Array.from(idx, (i) => labels[i]!),
    probs: Float64Array.from({ length: 300 * 10 }, (_, t) => clean.probs[idx[Math.floor(t / 10)]! * 10 + (t % 10)]!),
    itemIndices: idx,
  };
  const r = await uncertaintyCell(ctx, sub);
  assert.equal(r.evaluated, Array.from(idx).filter((i) => evalSet.has(i)).length);
  assert.equal((await uncertaintyCell(ctx, { ...sub, itemIndices: null })).evaluated, 300);
  await assert.rejects(uncertaintyCell(ctx, { ...sub, itemIndices: undefined }), (e: unknown) => e instanceof DataError && /300 items but the clean set has 2000; give 'itemIndices'/.test(e.message));
  await assert.rejects(uncertaintyCell(ctx, { ...sub, probs: sub.probs.subarray(0, 2990) }), (e: unknown) => e instanceof DataError && /do not form 300 rows of 10 classes/.test(e.message));
  await ctx.close();
  await ctx2.close();
});

test('MC dropout and an ensemble in the campaign hook (fixture MLP): non-zero epistemic figures, deterministic', async () => {
  const N = 400;
  const d = dropoutData(N);
  const m = await Model.open(mlpFile);
  const c = { x: d.x, n: N, labels: d.labels, probs: (await predictProbabilities(m, d.x, N)).probs };
  const spec = parseUncertaintySpec({ mc_dropout: 10, ensemble: ['mlp2.onnx'], conformal: { alpha: 0.2, score: 'aps' } }, 'uncertainty', dir);
  const ctx = await prepareUncertainty(m, c, spec, new Rng(3), { batchSize: 64 });
  const s = await uncertaintyCell(ctx, c);
  assert.ok(isJsonNumbers(s));
  assert.equal(s.mc_passes, 10);
  assert.ok(s.mc_mean_variance! > 0 && s.mc_mean_mutual_information! > 0, JSON.stringify(s));
  assert.ok(s.ensemble_mean_mutual_information! > 0);
  assert.equal(uncertaintyContextSummary(ctx).mc_dropout_sites, 1);
  const again = await uncertaintyCell(ctx, c);
  assert.equal(JSON.stringify(again), JSON.stringify(s));
  await ctx.close();
  // mc_dropout on a model without Dropout is a ConfigError at prepare time.
  const plain = await Model.fromProto(dropoutModel({ dropout: false }), 'plain.onnx', 'sha');
  await assert.rejects(prepareUncertainty(plain, c, parseUncertaintySpec({ mc_dropout: 5 }, 'uncertainty'), new Rng(1)), configError(/mc_dropout: plain.onnx has no Dropout nodes/));
  // Ensemble members must agree on the class count.
  const three = path.join(dir, 'three.onnx');
  const p3 = dropoutModel();
  p3.graph.initializer = p3.graph.initializer.map((t) => (t.name === 'w2' ? { ...t, dims: [16, 3], raw_data: t.raw_data!.slice(0, 16 * 3 * 4) } : t.name === 'b2' ? { ...t, dims: [3], raw_data: t.raw_data!.slice(0, 12) } : t));
  fs.writeFileSync(three, encodeModel(p3));
  await assert.rejects(prepareUncertainty(m, c, parseUncertaintySpec({ ensemble: [three] }, 'uncertainty'), new Rng(1)), configError(/ensemble member .*three.onnx has 3 classes, the campaign model has 4/));
  await plain.close();
  await m.close();
});

test('uncertainty CIs measure the figures themselves: resamples that are the full sample collapse every <figure>_ci onto its value; resampled CIs bracket it', async () => {
  const N = 400;
  const d = dropoutData(N);
  const m = await Model.open(mlpFile);
  const c = { x: d.x, n: N, labels: d.labels, probs: (await predictProbabilities(m, d.x, N)).probs };
  const spec = parseUncertaintySpec({ temperature: true, mc_dropout: 4, ensemble: ['mlp2.onnx'], conformal: { alpha: 0.2 }, selective: { target_risk: 0.2 } }, 'uncertainty', dir);
  const ctx = await prepareUncertainty(m, c, spec, new Rng(3), { batchSize: 64 });
  try {
    const ones = Array.from({ length: 3 }, () => new Uint16Array(N).fill(1));
    const s = (await uncertaintyCell(ctx, { ...c, weights: ones })) as unknown as Record<string, unknown>;
    const cis = Object.keys(s).filter((k) => k.endsWith('_ci'));
    assert.equal(cis.length, 27, cis.join(', '));
    for (const k of cis) {
      const v = s[k.slice(0, -3)] as number;
      const [lo, hi] = s[k] as [number, number];
      assert.ok(Math.abs(lo - v) < 1e-9 && Math.abs(hi - v) < 1e-9, `${k}: [${lo}, ${hi}] vs ${v}`);
    }
    // With real resamples the interval has width and holds the point value; without weights there are no CIs.
    const boot = await uncertaintyCell(ctx, { ...c, weights: bootstrapWeights(N, 200, new Rng('w')) });
    assert.ok(boot.accuracy_ci![0] < boot.accuracy && boot.accuracy < boot.accuracy_ci![1], JSON.stringify(boot.accuracy_ci));
    assert.ok(boot.conformal_coverage_ci![0] < boot.conformal_coverage! && boot.conformal_coverage! < boot.conformal_coverage_ci![1]);
    assert.ok(Object.keys(await uncertaintyCell(ctx, c)).every((k) => !k.endsWith('_ci')));
  } finally {
    await ctx.close();
    await m.close();
  }
});

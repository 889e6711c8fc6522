/** Temperature scaling: the fit, before → after figures, and folding T into the ONNX graph. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset } from '../src/data/load.js';
import { defaultAssets } from '../src/defaults.js';
import { Model } from '../src/engine/model.js';
import { ModelError, UsageError } from '../src/errors.js';
import { classificationMetrics, toProbabilities } from '../src/metrics/classification.js';
import { makeModel, node } from '../src/onnx/make.js';
import { decodeModel, encodeModel } from '../src/onnx/proto.js';
import { Rng } from '../src/rng.js';
import { applyTemperature, calibrationSplit, fitTemperature, foldTemperature, pickRows, predictProbabilities, temperatureEffect } from '../src/uncertainty/index.js';
import { dropoutModel } from './fixtures/uncertainty/dropout-model.js';

const ds = await loadDataset(defaultAssets.data);
const labels = ds.labels!;
const model = await Model.open(defaultAssets.model);
const { probs, numClasses: K } = await predictProbabilities(model, ds.x, ds.size);

test('temperature scaling never raises the NLL of the held-out split it is fitted on (10 seeds)', () => {
  for (let seed = 0; seed < 10; seed++) {
    const sp = calibrationSplit(ds.size, 0.5, new Rng(seed));
    const cp = pickRows(probs, K, sp.calibration);
    const cl = pickRows(labels, 1, sp.calibration);
    const fit = fitTemperature(cp, K, cl);
    assert.ok(fit.nllAfter <= fit.nllBefore, `seed ${seed}: ${fit.nllBefore} -> ${fit.nllAfter}`);
    const eff = temperatureEffect(cp, K, cl, fit.temperature);
    assert.ok(eff.after.nll <= eff.before.nll + 1e-12, `seed ${seed}: metric NLL ${eff.before.nll} -> ${eff.after.nll}`);
    assert.equal(eff.after.accuracy, eff.before.accuracy, 'T does not reorder classes');
    assert.equal(fit.temperature, Math.fround(fit.temperature), 'T is a float32 value');
  }
});

test('on the complementary evaluation split, the fitted T lowers NLL on average over seeds (the default model is overconfident)', () => {
  let gain = 0;
  const ts: number[] = [];
  for (let seed = 0; seed < 10; seed++) {
    const sp = calibrationSplit(ds.size, 0.5, new Rng(seed));
    const fit = fitTemperature(pickRows(probs, K, sp.calibration), K, pickRows(labels, 1, sp.calibration));
    const eff = temperatureEffect(pickRows(probs, K, sp.evaluation), K, pickRows(labels, 1, sp.evaluation), fit.temperature);
    gain += eff.before.nll - eff.after.nll;
    ts.push(fit.temperature);
  }
  assert.ok(gain / 10 > 0, `mean held-out NLL gain ${gain / 10}`);
  assert.ok(ts.every((t) => t > 1 && t < 1.6), `T per seed: ${ts.join(', ')}`);
});

test('fitTemperature recovers a known temperature from sharpened probabilities', () => {
  // Labels drawn from softmax(z); a model reporting softmax(3 z) is overconfident by T = 3.
  const rng = new Rng(11);
  const n = 4000;
  const k = 5;
  const z = Float64Array.from({ length: n * k }, () => rng.normal());
  const truth = toProbabilities(z, k, 'logits');
  const y = Int32Array.from({ length: n }, (_, i) => rng.categorical(truth.subarray(i * k, (i + 1) * k)));
  const sharp = toProbabilities(z.map((v) => 3 * v), k, 'logits');
  const fit = fitTemperature(sharp, k, y);
  assert.ok(Math.abs(fit.temperature - 3) < 0.25, `T = ${fit.temperature}`);
  // applyTemperature on probabilities equals softmax(logits / T).
  const back = applyTemperature(sharp, k, 3);
  for (let j = 0; j < back.length; j++) assert.ok(Math.abs(back[j]! - truth[j]!) < 1e-12);
});

test('fitTemperature and applyTemperature reject bad input, naming it', () => {
  assert.throws(() => fitTemperature(new Float64Array(0), 3, []), /needs at least one labelled item/);
  assert.throws(() => fitTemperature(probs.subarray(0, 20), K, [0, 1, 2]), /2 probability rows for 3 labels/);
  assert.throws(() => fitTemperature(probs.subarray(0, 10), K, [0], { tMin: 0 }), (e: unknown) => e instanceof UsageError && /'tMin' must be in \(0, inf\), got 0/.test(e.message));
  assert.throws(() => applyTemperature(probs, K, -1), (e: unknown) => e instanceof UsageError && /'temperature' must be in \(0, inf\), got -1/.test(e.message));
});

test('the folded model outputs exactly logits / T (both run in ONNX Runtime), and the input model is untouched', async () => {
  const T = Math.fround(1.2345);
  const before = encodeModel(model.original);
  const folded = foldTemperature(model.original, model.decl.outputName, T);
  assert.deepEqual(encodeModel(model.original), before, 'input model not mutated');
  const reloaded = decodeModel(encodeModel(folded));
  assert.equal(reloaded.metadata_props?.find((p) => p.key === 'gauntlet.temperature')?.value, String(T));
  const m2 = await Model.fromProto(reloaded, 'folded', 'sha');
  const n = 300;
  const x = ds.x.subarray(0, n * 784);
  const a = await model.predictBatch(x, n);
  const b = await m2.predictBatch(x, n);
  let maxRel = 0;
  let exact = 0;
  for (let j = 0; j < a.scores.length; j++) {
    const want = Math.fround(a.scores[j]! / T);
    if (want === b.scores[j]) exact++;
    maxRel = Math.max(maxRel, Math.abs(b.scores[j]! - want) / Math.max(1e-6, Math.abs(want)));
  }
  assert.ok(maxRel < 1e-6, `max relative difference ${maxRel}`);
  assert.ok(exact / a.scores.length > 0.99, `bit-exact share ${exact / a.scores.length}`);
  // Its probabilities are the temperature-scaled ones.
  const pa = applyTemperature(toProbabilities(a.scores, K, 'logits'), K, T);
  const pb = toProbabilities(b.scores, K, 'logits');
  for (let j = 0; j < pa.length; j++) assert.ok(Math.abs(pa[j]! - pb[j]!) < 1e-6);
  await m2.close();
});

test('a probability-output model is folded as softmax(log p / T) and stays a probability model', async () => {
  const base = dropoutModel({ dropout: false });
  base.graph.node = base.graph.node.map((nd) => (nd.output[0] === 'logits' ? { ...nd, output: ['z'], name: 'z' } : nd));
  base.graph.node.push(node('Softmax', ['z'], ['logits'], { axis: 1 }));
  const pm = await Model.fromProto(base, 'probs', 'sha');
  const x = Float32Array.from({ length: 40 * 6 }, (_, i) => (i * 0.37) % 1);
  const p = await predictProbabilities(pm, x, 40);
  assert.equal(p.kind, 'probabilities');
  const folded = await Model.fromProto(foldTemperature(base, 'logits', 2, 'probabilities'), 'folded', 'sha');
  const q = await predictProbabilities(folded, x, 40);
  assert.equal(q.kind, 'probabilities');
  const want = applyTemperature(p.probs, 4, 2);
  for (let j = 0; j < want.length; j++) assert.ok(Math.abs(q.probs[j]! - want[j]!) < 1e-6);
  await pm.close();
  await folded.close();
});

test('foldTemperature refuses unknown outputs, pass-through outputs and bad temperatures', () => {
  assert.throws(() => foldTemperature(model.original, 'nope', 2), (e: unknown) => e instanceof UsageError && /'outputName' must be one of logits, got nope/.test(e.message));
  assert.throws(() => foldTemperature(model.original, 'logits', 0), (e: unknown) => e instanceof UsageError && /'temperature' must be in \(0, inf\), got 0/.test(e.message));
  const passthrough = makeModel({ inputs: [{ name: 'x', shape: ['N', 3] }], outputs: ['x', 'y'], nodes: [node('Relu', ['x'], ['y'])] });
  assert.throws(() => foldTemperature(passthrough, 'x', 2), (e: unknown) => e instanceof ModelError && /not produced by a node/.test(e.message));
});

test('on a stressed set (heavy Gaussian noise, σ = 0.5) the clean-fitted T changes ECE and NLL but not accuracy', async () => {
  const sp = calibrationSplit(ds.size, 0.5, new Rng(0));
  const fit = fitTemperature(pickRows(probs, K, sp.calibration), K, pickRows(labels, 1, sp.calibration));
  const n = 500;
  const rng = new Rng(7);
  const xn = Float32Array.from(ds.x.subarray(0, n * 784), (v) => Math.min(1, Math.max(0, v + 0.5 * rng.normal())));
  const pn = (await predictProbabilities(model, xn, n)).probs;
  const ln = labels.subarray(0, n);
  const eff = temperatureEffect(pn, K, ln, fit.temperature);
  const m = classificationMetrics(pn, K, ln);
  assert.equal(eff.before.ece, m.ece);
  assert.equal(eff.before.nll, m.nll);
  assert.equal(eff.after.accuracy, eff.before.accuracy);
  assert.ok(eff.before.accuracy < 0.5, `accuracy under noise ${eff.before.accuracy}`);
  // Overconfident and wrong under noise: softening (T > 1) lowers both.
  assert.ok(eff.after.nll < eff.before.nll && eff.after.ece < eff.before.ece, JSON.stringify(eff));
});

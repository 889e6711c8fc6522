import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { saveNpz } from '../src/data/npz.js';
import { defaultAssets } from '../src/defaults.js';
import { assertBadInput, repoRoot, runCli, tmpDir } from './helpers.js';

const gauntlet = (...args: string[]) => runCli(args, { cwd: repoRoot, timeout: 120_000 });

const dir = tmpDir();
const f = (name: string) => path.join(dir, name);
const x784 = (n: number, v = 0.5) => ({ dtype: '<f4', shape: [n, 1, 28, 28], data: new Float32Array(n * 784).fill(v) });

test('--help for the tool and for each verb', () => {
  const r = gauntlet('--help');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: gauntlet <verb>/);
  for (const verb of ['run', 'eval', 'inspect', 'grad', 'bench']) {
    const v = gauntlet(verb, '--help');
    assert.equal(v.code, 0, verb);
    assert.match(v.stdout, new RegExp(`gauntlet ${verb}`));
  }
  assertBadInput(gauntlet('frobnicate'), /unknown verb 'frobnicate'/);
});

test('inspect reports inputs, outputs, opset and op types', () => {
  const r = gauntlet('inspect', '--model', defaultAssets.model, '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(j.opset, 13);
  assert.deepEqual(j.inputs[0].shape.slice(1), [1, 28, 28]);
  assert.equal(j.outputKind, 'logits');
  assert.ok(j.opTypes.Conv === 2 && j.opTypes.MaxPool === 2);
});

test('eval --json on the default model: last line has the metrics and matches the recipe', () => {
  const r = gauntlet('eval', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  for (const k of ['accuracy', 'ece', 'nll', 'brier', 'samples', 'seconds']) assert.ok(k in j, k);
  const meta = JSON.parse(fs.readFileSync(defaultAssets.meta, 'utf8'));
  assert.ok(Math.abs(j.accuracy - meta.reference_metrics.accuracy) < 1e-3);
  assert.equal(j.samples, 2000);
});

test('bad input: an unreadable or non-ONNX model file', () => {
  fs.writeFileSync(f('junk.onnx'), 'definitely not protobuf \x00\x01\x02');
  assertBadInput(gauntlet('eval', '--model', f('junk.onnx')), /junk\.onnx: not an ONNX model/);
});

test('bad input: a missing file (model and data)', () => {
  assertBadInput(gauntlet('eval', '--model', f('nope.onnx')), /nope\.onnx: no such file/);
  assertBadInput(gauntlet('eval', '--data', f('nope.npz')), /nope\.npz: no such file/);
});

test('bad input: data whose shape does not fit the model input', async () => {
  await saveNpz(f('shape.npz'), { x: { dtype: '<f4', shape: [2, 1, 5, 5], data: new Float32Array(50) }, y: { dtype: '<i8', shape: [2], data: [0n, 1n] } });
  assertBadInput(gauntlet('eval', '--data', f('shape.npz')), /shape\.npz: items have shape \[1, 5, 5\] but .* expects \[1, 28, 28\]/);
});

test('bad input: NaN or Inf in inputs', async () => {
  const x = x784(2);
  x.data[100] = NaN;
  await saveNpz(f('nan.npz'), { x, y: { dtype: '<i8', shape: [2], data: [0n, 1n] } });
  assertBadInput(gauntlet('eval', '--data', f('nan.npz')), /nan\.npz: .*non-finite/);
  const y = x784(2);
  y.data[5] = Infinity;
  await saveNpz(f('inf.npz'), { x: y, y: { dtype: '<i8', shape: [2], data: [0n, 1n] } });
  assertBadInput(gauntlet('eval', '--data', f('inf.npz')), /inf\.npz: .*non-finite/);
});

test('bad input: labels outside the model class range', async () => {
  await saveNpz(f('labels.npz'), { x: x784(2), y: { dtype: '<i8', shape: [2], data: [0n, 12n] } });
  assertBadInput(gauntlet('eval', '--data', f('labels.npz')), /labels\.npz: label 12 of item 1 is outside the model's 10 classes/);
});

test('bad input: data with no labels where labels are needed', async () => {
  await saveNpz(f('nolabels.npz'), { x: x784(2) });
  assertBadInput(gauntlet('eval', '--data', f('nolabels.npz')), /nolabels\.npz: has no labels/);
});

test('bad input: a file that is not a valid npz', () => {
  fs.writeFileSync(f('bad.npz'), 'PK but not really a zip file');
  assertBadInput(gauntlet('eval', '--data', f('bad.npz')), /bad\.npz: not a valid \.npz/);
});

test('bad input: negative or absurd parameters', () => {
  assertBadInput(gauntlet('eval', '--batch-size', '-1'), /'--batch-size' must be .*got -1/);
  assertBadInput(gauntlet('eval', '--batch-size', 'lots'), /'--batch-size' must be a number, got 'lots'/);
  assertBadInput(gauntlet('grad', '--out', f('g.npy'), '--loss', 'hinge'), /'--loss' must be one of ce, cw, dlr, logit/);
  assertBadInput(gauntlet('eval', '--bogus'), /Unknown option '--bogus'/);
});

test('bad input: a malformed YAML config', () => {
  fs.writeFileSync(f('bad.yaml'), 'model: [unclosed\nseed: 0\n');
  assertBadInput(gauntlet('run', f('bad.yaml'), '--dry-run'), /bad\.yaml: malformed YAML/);
});

test('bad input: unknown attack and corruption names in a config', () => {
  fs.writeFileSync(f('attack.yaml'), 'stresses:\n  adversarial: [ { attack: zap, norm: linf, eps: 0.1 } ]\n');
  assertBadInput(gauntlet('run', f('attack.yaml'), '--dry-run'), /stresses\.adversarial\[0\].*zap/);
  fs.writeFileSync(f('corr.yaml'), 'stresses:\n  drift: [ { corruption: glitter, severity: 2 } ]\n');
  assertBadInput(gauntlet('run', f('corr.yaml'), '--dry-run'), /stresses\.drift\[0\].*glitter/);
  fs.writeFileSync(f('key.yaml'), 'modle: x.onnx\n');
  assertBadInput(gauntlet('run', f('key.yaml'), '--dry-run'), /unknown key 'modle' \(did you mean 'model'\?\); allowed keys are .*model, data/);
});

test('--verbose adds the stack trace to the error line', () => {
  const r = gauntlet('eval', '--model', f('nope.onnx'), '--verbose');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no such file/);
  assert.match(r.stderr, /\n\s+at /);
});

test('grad writes the summed cross-entropy gradient with the data shape', () => {
  const out = f('g.npy');
  const r = gauntlet('grad', '--out', out, '--limit', '16');
  assert.equal(r.code, 0, r.stderr);
  const bytes = fs.readFileSync(out);
  assert.match(bytes.subarray(0, 128).toString('latin1'), /'shape': \(16, 1, 28, 28\)/);
});

test('grad and bench take --maxpool-ties: first is the default; share changes the gradient on the embedded images (their flat backgrounds tie); a bad value is one usage line', () => {
  const npy = (name: string, ...args: string[]) => {
    const r = gauntlet('grad', '--out', f(name), '--limit', '16', ...args);
    assert.equal(r.code, 0, r.stderr);
    return fs.readFileSync(f(name));
  };
  const dflt = npy('ties-default.npy');
  assert.ok(dflt.equals(npy('ties-first.npy', '--maxpool-ties', 'first')), 'first is the default');
  assert.ok(!dflt.equals(npy('ties-share.npy', '--maxpool-ties', 'share')), 'share differs where windows tie');
  const params = (name: string, ...args: string[]) => {
    const r = gauntlet('grad', '--wrt', 'params', '--out', f(name), '--limit', '16', ...args);
    assert.equal(r.code, 0, r.stderr);
    return fs.readFileSync(f(name));
  };
  // Weight gradients barely move (tied elements of a flat region see the same patch), but the
  // route and the summation order do: the bytes differ, and the default run is reproducible.
  const firstParams = params('wties-first.npz');
  assert.ok(firstParams.equals(params('wties-default.npz', '--maxpool-ties', 'first')), '--wrt params: first is the default, reproducibly');
  assert.ok(!firstParams.equals(params('wties-share.npz', '--maxpool-ties', 'share')), '--wrt params: share reaches the training graph');
  const b = gauntlet('bench', '--batch-size', '4', '--repeats', '1', '--json', '--maxpool-ties', 'share');
  assert.equal(b.code, 0, b.stderr);
  assert.equal(JSON.parse(b.stdout.trim().split('\n').pop()!).maxpool_ties, 'share');
  assertBadInput(gauntlet('grad', '--out', f('g.npy'), '--maxpool-ties', 'last'), /'--maxpool-ties' must be one of first, share, got 'last'/);
  assertBadInput(gauntlet('bench', '--maxpool-ties', 'random'), /'--maxpool-ties' must be one of first, share, got 'random'/);
});

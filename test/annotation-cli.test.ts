import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { saveNpz, readNpz } from '../src/data/npz.js';
import { defaultAssets } from '../src/defaults.js';
import { Rng } from '../src/rng.js';
import { assertBadInput, runCli, tmpDir } from './helpers.js';

const gauntlet = (...args: string[]) => runCli(args, { timeout: 60_000 });

const dir = tmpDir('gauntlet-annotation-cli-');
const N = 300;
const small = path.join(dir, 'small.npz');
const unlabelled = path.join(dir, 'unlabelled.npz');

test('setup: a small labelled npz with an extra key', async () => {
  const r = new Rng(0);
  const x = Float32Array.from({ length: N * 4 }, () => r.uniform());
  const y = Array.from({ length: N }, (_, i) => BigInt(i % 4));
  await saveNpz(small, {
    x: { dtype: '<f4', shape: [N, 4], data: x },
    y: { dtype: '<i8', shape: [N], data: y },
    source_index: { dtype: '<i4', shape: [N], data: Int32Array.from({ length: N }, (_, i) => 1000 + i) },
  });
  await saveNpz(unlabelled, { x: { dtype: '<f4', shape: [N, 4], data: x } });
});

test('noise --model symmetric is deprecated in favour of --noise-model', () => {
  const out = path.join(tmpDir('gauntlet-noise-dep-'), 'o.npz');
  const r = gauntlet('noise', '--data', small, '--model', 'symmetric', '--rate', '0.2', '--out', out, '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /'noise --model symmetric' is deprecated; write '--noise-model symmetric'/);
});

test('noise --noise-model symmetric writes y, y_true, keeps other keys, and a provenance sidecar', () => {
  const out = path.join(dir, 'sym.npz');
  const r = gauntlet('noise', '--data', small, '--noise-model', 'symmetric', '--rate', '0.2', '--seed', '4', '--out', out, '--copy-images', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const j = r.json!;
  assert.equal(j.items, N);
  assert.equal(j.classes, 4);
  assert.ok(Math.abs((j.realised_rate as number) - 0.2) < 0.06);
  const inArr = readNpz(fs.readFileSync(small), small);
  const outArr = readNpz(fs.readFileSync(out), out);
  assert.deepEqual(Object.keys(outArr).sort(), ['source_index', 'x', 'y', 'y_true']);
  assert.deepEqual(outArr.x!.data, inArr.x!.data);
  assert.deepEqual(outArr.source_index!.data, inArr.source_index!.data);
  assert.deepEqual(outArr.y_true!.data, inArr.y!.data);
  assert.equal(outArr.y!.dtype, '<i8');
  let flips = 0;
  for (let i = 0; i < N; i++) flips += outArr.y!.data[i] !== outArr.y_true!.data[i] ? 1 : 0;
  assert.equal(flips / N, j.realised_rate);
  const side = JSON.parse(fs.readFileSync(`${out}.provenance.json`, 'utf8')) as Record<string, unknown>;
  assert.deepEqual(side.spec, { model: 'symmetric', rate: 0.2 });
  assert.equal(side.seed, 4);
  assert.equal((side.labels as unknown[]).length, N);
  assert.deepEqual((side.labels as unknown[])[5], { item: '5', annotator: 'noise:symmetric', label: Number(outArr.y!.data[5]), timestamp: null, spec: { model: 'symmetric', rate: 0.2 }, seed: 4 });
  // Same seed, same bytes.
  const again = path.join(dir, 'sym2.npz');
  assert.equal(gauntlet('noise', '--data', small, '--noise-model', 'symmetric', '--rate', '0.2', '--seed', '4', '--out', again, '--copy-images').code, 0);
  assert.deepEqual(fs.readFileSync(again), fs.readFileSync(out));
  assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')).length, 0, 'no temporary files left');
});

test('noise: bad options are one-line usage errors with exit code 2', () => {
  const out = path.join(dir, 'bad.npz');
  assertBadInput(gauntlet('noise', '--data', small, '--noise-model', 'symmetric', '--rate', '1.5', '--out', out), "'--rate' must be a number in [0, 1), got 1.5");
  assertBadInput(gauntlet('noise', '--data', small, '--noise-model', 'symmetric', '--rate', 'lots', '--out', out), "'--rate' must be a number in [0, 1), got 'lots'");
  assertBadInput(gauntlet('noise', '--data', small, '--noise-model', 'gaussian', '--rate', '0.1', '--out', out), "'--noise-model' must be one of symmetric, pairflip, matrix, instance, got 'gaussian'");
  assertBadInput(gauntlet('noise', '--data', small, '--noise-model', 'symmetric', '--out', out), "noise: '--rate' is required (see 'gauntlet noise --help')");
  assertBadInput(gauntlet('noise', '--data', small, '--noise-model', 'symmetric', '--rate', '0.1'), "noise: '--out' is required (see 'gauntlet noise --help')");
  assertBadInput(gauntlet('noise', '--data', small, '--noise-model', 'symmetric', '--rate', '0.1', '--annotators', '3', '--out', out), "noise: give exactly one of --noise-model, --annotators and --spec, got --noise-model and --annotators (see 'gauntlet noise --help')");
  assertBadInput(gauntlet('noise', '--data', small, '--annotators', '3', '--coverage', '4', '--out', out), "'--coverage' must be an integer in [1, 3] (the number of annotators), got 4");
  assertBadInput(gauntlet('noise', '--data', small, '--noise-model', 'matrix', '--matrix', '[[0.5,0.6],[0,1]]', '--out', out), "'--matrix[0]' must sum to 1 (a row of P(observed | true)), got 1.1");
  assertBadInput(gauntlet('noise', '--data', small, '--noise-model', 'symmetric', '--rate', '0.1', '--coverage', '2', '--out', out), 'noise: --coverage applies to --annotators, not --noise-model');
  assertBadInput(gauntlet('noise', '--data', unlabelled, '--noise-model', 'symmetric', '--rate', '0.1', '--out', out), `${unlabelled}: has no labels ('y'), which noise needs as the true labels`);
  assertBadInput(gauntlet('noise', '--data', path.join(dir, 'missing.npz'), '--noise-model', 'symmetric', '--rate', '0.1', '--out', out), `${path.join(dir, 'missing.npz')}: no such file or directory`);
  assert.equal(fs.existsSync(out), false);
});

test('noise --annotators, then aggregate --method dawid-skene and majority', () => {
  const out = path.join(dir, 'ann.npz');
  const r = gauntlet('noise', '--data', small, '--annotators', '5', '--annotator-accuracy', '0.7', '--coverage', '3', '--seed', '2', '--out', out, '--json');
  assert.equal(r.code, 0, r.stderr);
  const arr = readNpz(fs.readFileSync(out), out);
  assert.deepEqual(arr.annotations!.shape, [N, 5]);
  assert.deepEqual(arr.annotator_ids!.data, ['a0', 'a1', 'a2', 'a3', 'a4']);
  const ann = arr.annotations!.data as Int32Array;
  assert.equal(ann.filter((v) => v === -1).length, N * 2);
  const side = JSON.parse(fs.readFileSync(`${out}.provenance.json`, 'utf8')) as { labels: { timestamp: string; annotator: string }[]; annotators: unknown[] };
  assert.equal(side.labels.length, N * 3);
  assert.match(side.labels[0]!.timestamp, /^2024-01-01T/);
  assert.equal(side.annotators.length, 5);

  for (const method of ['dawid-skene', 'majority']) {
    const a = gauntlet('aggregate', '--data', out, '--method', method, '--json');
    assert.equal(a.code, 0, a.stderr);
    const j = a.json!;
    assert.equal((j.labels as number[]).length, N);
    assert.equal((j.annotator_accuracy as number[]).length, 5);
    assert.deepEqual(j.annotator_ids, ['a0', 'a1', 'a2', 'a3', 'a4']);
    assert.ok((j.accuracy as number) > 0.7, `${method}: ${j.accuracy}`);
    // Dawid-Skene estimates accuracies; majority vote reports agreement with the consensus (biased up).
    const tol = method === 'dawid-skene' ? 0.1 : 0.25;
    (j.annotator_accuracy as number[]).forEach((v, k) => assert.ok(Math.abs(v - (j.annotator_realised_accuracy as number[])[k]!) < tol, `${method} annotator ${k}: ${v}`));
  }
  const human = gauntlet('aggregate', '--data', out, '--method', 'dawid-skene');
  assert.equal(human.code, 0);
  assert.match(human.stdout, /accuracy {4}0\.\d{4} of consensus labels equal y_true/);
});

test('aggregate: labels from a CSV file, and errors', () => {
  const csv = path.join(dir, 'labels.csv');
  fs.writeFileSync(csv, 'item,annotator,label\n0,ann,1\n0,bob,1\n1,ann,0\n1,bob,2\n1,cy,0\n');
  const a = gauntlet('aggregate', '--annotations', csv, '--method', 'majority', '--json');
  assert.equal(a.code, 0, a.stderr);
  assert.deepEqual(a.json!.labels, [1, 0]);
  assert.deepEqual(a.json!.annotator_ids, ['ann', 'bob', 'cy']);
  assert.equal(a.json!.accuracy, null);
  assertBadInput(gauntlet('aggregate', '--data', small, '--method', 'dawid-skene'), `${small}: has no 'annotations' array (N x K int, -1 unlabelled); make one with 'gauntlet noise --annotators K' or pass --annotations F.csv`);
  assertBadInput(gauntlet('aggregate', '--data', small, '--method', 'median'), "'--method' must be one of majority, dawid-skene, got 'median'");
  assertBadInput(gauntlet('aggregate', '--method', 'majority'), "aggregate: '--data' or '--annotations' is required (see 'gauntlet aggregate --help')");
  const stray = path.join(dir, 'stray.csv');
  fs.writeFileSync(stray, 'item,annotator,label\n999,ann,1\n');
  assertBadInput(gauntlet('aggregate', '--data', small, '--annotations', stray, '--method', 'majority'), `${stray}: line 2: item '999' is not in the dataset`);
});

test('audit-labels: missing y is a one-line DataError', () => {
  assertBadInput(gauntlet('audit-labels', '--data', unlabelled), `unlabelled.npz: has no labels, which the label audit (the observed labels 'y') needs`);
  assertBadInput(gauntlet('audit-labels', '--data', small, '--method', 'both-ways'), "'--method' must be one of prune-by-noise-rate, both, got 'both-ways'");
});

const haveDefault = fs.existsSync(defaultAssets.model) && fs.existsSync(defaultAssets.data);

test('noise then audit-labels on the default model and data: flags with precision and recall', { skip: haveDefault ? false : 'assets/default/model.onnx is missing' }, () => {
  const out = path.join(dir, 'default-noisy.npz');
  const n = gauntlet('noise', '--noise-model', 'symmetric', '--rate', '0.1', '--seed', '0', '--out', out, '--copy-images');
  assert.equal(n.code, 0, n.stderr);
  const r = gauntlet('audit-labels', '--data', out, '--threads', '2', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = r.json!;
  assert.ok(Array.isArray(j.flagged) && (j.flagged as number[]).length > 100);
  assert.ok((j.precision as number) >= 0.6 && (j.recall as number) >= 0.7, JSON.stringify({ p: j.precision, r: j.recall }));
  const m = j.metrics as { vs_true: { accuracy: number }; vs_observed: { accuracy: number }; gap: { accuracy: number } };
  assert.ok(m.vs_true.accuracy > m.vs_observed.accuracy);
  const inst = gauntlet('noise', '--noise-model', 'instance', '--rate', '0.2', '--threads', '2', '--out', path.join(dir, 'inst.npz'), '--json');
  assert.equal(inst.code, 0, inst.stderr);
  assert.ok(Math.abs((inst.json!.realised_rate as number) - 0.2) < 0.04);
});

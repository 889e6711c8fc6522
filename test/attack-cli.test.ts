import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../src/data/load.js';
import { loadNpz, writeNpz } from '../src/data/npz.js';
import { defaultAssets } from '../src/defaults.js';
import { makeModel, node } from '../src/onnx/make.js';
import { encodeModel } from '../src/onnx/proto.js';
import { makeTensor } from '../src/onnx/tensor.js';
import { assertBadInput, lastJson, repoRoot, runCli, tmpDir } from './helpers.js';

const gauntlet = (...args: string[]) => runCli(args, { cwd: repoRoot, timeout: 120_000 });

const dir = tmpDir('gauntlet-attack-cli-');

test('attack --json: the last stdout line has clean/robust accuracy, samples, seconds, flags; --save writes the adversarial set', async () => {
  const out = path.join(dir, 'adv.npz');
  const r = gauntlet('attack', '--attack', 'pgd', '--eps', '0,0.05', '--steps', '5', '--limit', '24', '--batch-size', '16', '--save', out, '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = lastJson(r.stdout);
  for (const k of ['clean_accuracy', 'robust_accuracy', 'samples', 'seconds', 'flags', 'curve', 'attack_success_rate', 'model_sha256', 'data_sha256']) assert.ok(k in j, `missing ${k}`);
  assert.equal(j.samples, 24);
  assert.ok(Array.isArray(j.flags));
  assert.equal((j.curve as unknown[]).length, 2);
  assert.ok((j.robust_accuracy as number) <= (j.clean_accuracy as number));
  assert.ok((j.seconds as number) > 0);

  const clean = await loadDataset({ path: defaultAssets.data, limit: 24 });
  const saved = await loadNpz(out);
  assert.deepEqual(saved.itemShape, [1, 28, 28]);
  assert.equal(saved.size, 24);
  assert.deepEqual(saved.labels, clean.labels);
  let linf = 0;
  for (let i = 0; i < saved.x.length; i++) linf = Math.max(linf, Math.abs(saved.x[i]! - clean.x[i]!));
  assert.ok(linf <= 0.05 + 1e-7 && linf > 0.04, `‖δ‖∞ = ${linf}`);
  assert.deepEqual(Array.from(saved.extras.eps!.data as Float64Array), [0, 0.05]);
  assert.equal((saved.extras.adv_success!.data as Uint8Array).length, 24);
  assert.ok(saved.extras.x_eps0, 'a curve saves the inputs of every ε');
});

test('attack autoattack --preset quick prints a table with its members', () => {
  const r = gauntlet('attack', '--attack', 'autoattack', '--preset', 'quick', '--steps', '5', '--queries', '50', '--targets', '2', '--eps', '0.03', '--limit', '12');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /clean accuracy/);
  assert.match(r.stdout, /member\s+apgd-ce/);
  assert.match(r.stdout, /member\s+square/);
});

test('attack: bad input is one line on stderr and exit 2', () => {
  assertBadInput(gauntlet('attack', '--attack', 'pgd', '--eps', '-1', '--limit', '2'), /'--eps' must be a number in \[0, inf\), got -1$/);
  assertBadInput(gauntlet('attack', '--attack', 'pgd', '--norm', 'l2', '--eps', '30', '--limit', '2'), /'--eps' must be in \[0, 28\], got 30$/);
  assertBadInput(gauntlet('attack', '--attack', 'cw', '--eps', '0.1'), /'--attack' must be one of fgsm, pgd, apgd-ce, apgd-dlr, square, autoattack, got 'cw'/);
  assertBadInput(gauntlet('attack', '--attack', 'pgd', '--norm', 'l1', '--eps', '0.1'), /'--norm' must be one of linf, l2, got 'l1'/);
  assertBadInput(gauntlet('attack', '--attack', 'pgd', '--eps', '0.1,abc'), /'--eps\[1\]' must be a number in \[0, inf\), got 'abc'/);
  assertBadInput(gauntlet('attack', '--attack', 'pgd', '--eps', '0.1', '--queries', '10'), /'--queries' does not apply to attack 'pgd'/);
  assertBadInput(gauntlet('attack', '--attack', 'pgd', '--eps', '0.1', '--steps', '0'), /'--steps' must be an integer in \[1, 100000\], got 0/);
  assertBadInput(gauntlet('attack', '--eps', '0.1'), /'--attack' is required/);
  assertBadInput(gauntlet('attack', '--attack', 'pgd'), /'--eps' is required/);
  assertBadInput(gauntlet('attack', '--attack', 'pgd', '--eps', '0.1', '--bogus'), /Unknown option '--bogus'/);
});

test('list attacks prints the registry with defaults', () => {
  const r = gauntlet('list', 'attacks');
  assert.equal(r.code, 0, r.stderr);
  for (const name of ['fgsm', 'pgd', 'apgd-ce', 'apgd-dlr', 'square', 'autoattack']) assert.match(r.stdout, new RegExp(`^${name}\\s`, 'm'));
  assert.match(r.stdout, /queries=5000/);
});

test('attack on a model with a MaxPool of storage_order 1: pgd is one line, exit 2, naming the node, the reason and --attack square (not an internal error); autoattack runs Square and flags it', () => {
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', 16] }],
    outputs: ['y'],
    nodes: [node('Reshape', ['x', 'shape4'], ['x4']), node('MaxPool', ['x4'], ['p'], { kernel_shape: [1, 2], strides: [1, 2], storage_order: 1 }), node('Flatten', ['p'], ['h']), node('MatMul', ['h', 'W'], ['y'])],
    initializers: [makeTensor('shape4', [4], BigInt64Array.from([-1n, 1n, 2n, 8n])), makeTensor('W', [8, 3], Float32Array.from({ length: 24 }, (_, i) => Math.sin(i + 1)))],
    opset: 13,
  });
  const model = path.join(dir, 'pool1d.onnx');
  const data = path.join(dir, 'pool1d.npz');
  fs.writeFileSync(model, encodeModel(proto));
  fs.writeFileSync(data, writeNpz({ x: { dtype: '<f4', shape: [6, 16], data: Float32Array.from({ length: 96 }, (_, i) => (i % 11) / 11) }, y: { dtype: '<i4', shape: [6], data: Int32Array.from([0, 1, 2, 0, 1, 2]) } }));
  assertBadInput(
    gauntlet('attack', '--model', model, '--data', data, '--attack', 'pgd', '--eps', '0.1', '--steps', '2'),
    'no gradient rule for op MaxPool at node MaxPool (p) [storage_order=1 has no gradient rule]; only black-box (score-based) methods can run on this model (for attacks: --attack square)',
  );
  const aa = gauntlet('attack', '--model', model, '--data', data, '--attack', 'autoattack', '--preset', 'quick', '--queries', '20', '--eps', '0.1', '--json');
  assert.equal(aa.code, 0, aa.stderr);
  const flags = lastJson(aa.stdout).flags as string[];
  assert.ok(flags.some((f) => f.startsWith('square-only: no gradients: no gradient rule for op MaxPool at node MaxPool (p) [storage_order')), flags.join(' | '));
});

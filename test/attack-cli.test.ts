import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadDataset } from '../src/data/load.js';
import { loadNpz } from '../src/data/npz.js';
import { defaultAssets } from '../src/defaults.js';
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

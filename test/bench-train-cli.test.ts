import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertBadInput, repoRoot, runCliAsync } from './helpers.js';

const gauntlet = (...args: string[]) => runCliAsync(args, { cwd: repoRoot, timeout: 120_000 });

test('bench --train --json: step and forward times of the same batch size, their ratio (no speed assertion)', async () => {
  const r = await gauntlet('bench', '--train', '--batch-size', '32', '--repeats', '4', '--optimizer', 'adamw', '--lr', '2e-3', '--threads', '1', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = r.json!;
  assert.ok(j, r.stdout);
  assert.equal(j.batch_size, 32);
  assert.equal(j.steps, 4);
  assert.equal(j.optimizer, 'adamw');
  assert.equal(j.lr, 2e-3);
  assert.equal(j.threads, 1);
  for (const k of ['step_ms', 'forward_ms', 'ratio', 'first_step_ms', 'epoch_seconds_estimate']) assert.ok(Number.isFinite(j[k]) && j[k] > 0, `${k}: ${j[k]}`);
  assert.ok(Math.abs(j.ratio - j.step_ms / j.forward_ms) < 1e-9);
  assert.equal(j.steps_per_epoch, Math.ceil(10000 / 32)); // the shipped training slice
  assert.ok(j.step_ms_range[0] <= j.step_ms && j.step_ms <= j.step_ms_range[1]);
});

test('bench --train: the text form names step, forward and ratio; recipe flags without --train are refused', async () => {
  const r = await gauntlet('bench', '--train', '--batch-size', '16', '--repeats', '2', '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /training step\s+\d+\.\d+ ms/);
  assert.match(r.stdout, /forward\s+\d+\.\d+ ms/);
  assert.match(r.stdout, /ratio\s+\d+\.\d+×/);
  assertBadInput(await gauntlet('bench', '--optimizer', 'adamw'), "bench: '--optimizer' applies to --train only");
  assertBadInput(await gauntlet('bench', '--train', '--attack', 'pgd'), /'--train' and '--attack' are two different benchmarks/);
  assertBadInput(await gauntlet('bench', '--train', '--optimizer', 'adam'), /optimizer/);
});

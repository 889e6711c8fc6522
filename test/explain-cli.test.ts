import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readNpy } from '../src/data/npy.js';
import { assertBadInput, runCli, tmpDir } from './helpers.js';

const gauntlet = (...args: string[]) => runCli(args, { timeout: 60_000 });

test('gauntlet explain --method ig on the embedded model: JSON last line, .npy and PNG written', () => {
  const dir = tmpDir();
  const out = path.join(dir, 'a.npy');
  const png = path.join(dir, 'a.png');
  const r = gauntlet('explain', '--method', 'ig', '--limit', '3', '--steps', '32', '--out', out, '--png', png, '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = r.json!;
  assert.equal(j.method, 'ig');
  assert.equal(j.items, 3);
  assert.equal(j.steps, 32);
  assert.equal(j.target, 'true');
  assert.ok((j.mean_abs_attribution as number) > 0);
  assert.ok((j.seconds as number) > 0);
  const items = j.per_item as { completeness_error: number; relative_completeness_error: number; delta: number; sum: number }[];
  assert.equal(items.length, 3);
  for (const it of items) {
    assert.ok(Math.abs(Math.abs(it.sum - it.delta) - it.completeness_error) < 1e-4, JSON.stringify(it));
    assert.ok(it.relative_completeness_error < 0.5);
  }
  const a = readNpy(fs.readFileSync(out), out);
  assert.deepEqual(a.shape, [3, 1, 28, 28]);
  assert.equal(a.dtype, '<f4');
  assert.equal(fs.readFileSync(png).subarray(1, 4).toString(), 'PNG');
});

test('gauntlet explain --method shap is seeded: same --seed, same attributions', () => {
  const dir = tmpDir();
  const run = (seed: string, file: string) => gauntlet('explain', '--method', 'shap', '--limit', '1', '--target', 'pred', '--seed', seed, '--out', path.join(dir, file), '--json');
  const a = run('3', 'a.npy');
  const b = run('3', 'b.npy');
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.json!.seed, 3);
  assert.equal(a.json!.completeness, null);
  assert.ok(fs.readFileSync(path.join(dir, 'a.npy')).equals(fs.readFileSync(path.join(dir, 'b.npy'))));
  assert.equal(b.code, 0);
});

test('gauntlet explain: bad --method, --target and --steps exit 2 with one stderr line', () => {
  assertBadInput(gauntlet('explain', '--method', 'lime'), `'--method' must be one of saliency, gxi, ig, smoothgrad, shap, occlusion, got 'lime'`);
  assertBadInput(gauntlet('explain'), `explain: '--method' is required (see 'gauntlet explain --help')`);
  assertBadInput(gauntlet('explain', '--method', 'gxi', '--limit', '1', '--target', '10'), `'target' must be 'true', 'pred' or a class in [0, 9], got 10`);
  assertBadInput(gauntlet('explain', '--method', 'occlusion', '--steps', '4'), `'--steps' applies to --method ig and smoothgrad, not 'occlusion'`);
  const help = gauntlet('explain', '--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /gauntlet explain --method <saliency\|gxi\|ig\|smoothgrad\|shap\|occlusion>/);
});

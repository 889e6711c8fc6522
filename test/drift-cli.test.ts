/** The drift verbs end to end: gauntlet corrupt, shift and list (spawned), exit codes and one-line errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Rng } from '../src/rng.js';
import { makeDataset } from '../src/data/dataset.js';
import { datasetToArrays, readNpz, saveNpz } from '../src/data/npz.js';
import { assertBadInput, runCli, tmpDir } from './helpers.js';
import { testImages } from './drift-helpers.js';

const dir = tmpDir('gauntlet-drift-cli-');
const gauntlet = (...args: string[]) => runCli(args, { cwd: dir });

/** Asserts exit code 2 and exactly one line on stderr matching `re`. */
function failsWith(args: string[], re: RegExp): void {
  assertBadInput(gauntlet(...args), re);
}

const images = path.join(dir, 'images.npz');
const tabular = path.join(dir, 'tabular.npz');
{
  const n = 12;
  const ds = makeDataset({
    name: 'images',
    itemShape: [1, 28, 28],
    x: testImages(n, 1, 28, 28),
    labels: Int32Array.from({ length: n }, (_, i) => i % 3),
    classNames: ['a', 'b', 'c'],
    extras: { source: { dtype: '<i4', shape: [n], data: Int32Array.from({ length: n }, (_, i) => 100 + i) } },
  });
  await saveNpz(images, datasetToArrays(ds));
  const rng = new Rng(3);
  const m = 300;
  const x = new Float32Array(m * 2);
  for (let i = 0; i < m; i++) (x[2 * i] = rng.range(20, 70)), (x[2 * i + 1] = rng.normal());
  const tab = makeDataset({ name: 'tab', itemShape: [2], x, labels: Int32Array.from({ length: m }, (_, i) => (i % 4 === 0 ? 1 : 0)), featureNames: ['age', 'score'] });
  await saveNpz(tabular, datasetToArrays(tab));
}

test('corrupt writes x in the data domain, keeps every other key, and a gallery; same seed, same bytes', () => {
  const out = path.join(dir, 'fog.npz');
  const r = gauntlet('corrupt', '--data', images, '--corruption', 'fog', '--severity', '3', '--seed', '5', '--out', out, '--gallery', 'fog.png', '--permutations', '20', '--json');
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(res.corruption, 'fog');
  assert.equal(res.severity, 3);
  assert.equal(res.items, 12);
  assert.ok(res.mean_abs_change > 0.01 && res.mmd_p_value > 0 && res.mmd_p_value <= 1);
  const a = readNpz(fs.readFileSync(out), out);
  const src = readNpz(fs.readFileSync(images), images);
  assert.deepEqual(Object.keys(a).sort(), Object.keys(src).sort());
  assert.deepEqual(a.x!.shape, [12, 1, 28, 28]);
  assert.equal(a.x!.dtype, '<f4');
  assert.deepEqual(a.y!.data, src.y!.data);
  assert.deepEqual(a.source!.data, src.source!.data);
  assert.deepEqual(a.class_names!.data, ['a', 'b', 'c']);
  const x = a.x!.data as Float32Array;
  assert.ok(x.every((v) => v >= 0 && v <= 1));
  assert.notDeepEqual(x, src.x!.data);
  assert.ok(fs.statSync(path.join(dir, 'fog.png')).size > 100);
  const again = path.join(dir, 'fog2.npz');
  assert.equal(gauntlet('corrupt', '--data', images, '--corruption', 'fog', '--severity', '3', '--seed', '5', '--out', again, '--permutations', '0').code, 0);
  assert.deepEqual(readNpz(fs.readFileSync(again), again).x!.data, x);
  // the text report
  const t = gauntlet('corrupt', '--data', images, '--corruption', 'jpeg_compression', '--severity', '1', '--out', path.join(dir, 'j.npz'), '--permutations', '10');
  assert.equal(t.code, 0);
  assert.match(t.stdout, /corruption +jpeg_compression severity 1/);
  assert.match(t.stdout, /distance +MMD² /);
});

test('corrupt: bad input is exit code 2 with one line', () => {
  const out = path.join(dir, 'o.npz');
  failsWith(['corrupt', '--data', images, '--corruption', 'fog', '--severity', '6', '--out', out], /^gauntlet: '--severity' must be an integer in \[1, 5\], got 6$/m);
  failsWith(['corrupt', '--data', images, '--corruption', 'fgo', '--severity', '1', '--out', out], /^gauntlet: unknown corruption 'fgo'; known: gaussian_noise, /);
  failsWith(['corrupt', '--data', images, '--corruption', 'fog', '--severity', '1'], /'--out' is required/);
  failsWith(['corrupt', '--data', tabular, '--corruption', 'fog', '--severity', '1', '--out', out], /need images of shape \[C, H, W\]/);
  failsWith(['corrupt', '--data', path.join(dir, 'nope.npz'), '--corruption', 'fog', '--severity', '1', '--out', out], /nope\.npz: no such file/);
  failsWith(['corrupt', '--data', images, '--corruption', 'fog', '--severity', '1', '--out', out, '--bogus'], /Unknown option '--bogus'/);
  assert.ok(!fs.existsSync(out));
});

test('shift prior, mean, subpopulation and missing on tabular data, with KS/PSI/MMD in the report', () => {
  const out = path.join(dir, 'prior.npz');
  const r = gauntlet('shift', '--data', tabular, '--kind', 'prior', '--proportions', '0.5,0.5', '--out', out, '--permutations', '20', '--json');
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(res.items_out, 300);
  const a = readNpz(fs.readFileSync(out), out);
  const y = Array.from(a.y!.data as Int32Array);
  assert.equal(y.filter((v) => v === 1).length, 150);
  assert.equal((a.source_index!.data as Int32Array).length, 300);
  assert.equal(res.distance.kind, 'tabular');
  assert.equal(res.distance.features.length, 2);

  const mean = gauntlet('shift', '--data', tabular, '--kind', 'mean', '--features', 'age', '--amount', '2', '--out', path.join(dir, 'mean.npz'), '--permutations', '20', '--json');
  assert.equal(mean.code, 0, mean.stderr);
  const m = JSON.parse(mean.stdout.trim().split('\n').pop()!);
  const age = m.distance.features.find((f: { feature: string }) => f.feature === 'age');
  assert.ok(age.ks > 0.5 && age.psi > 1);
  assert.equal(m.distance.features.find((f: { feature: string }) => f.feature === 'score').ks, 0);
  assert.equal(m.distance.mmd_units, 'std', 'MMD on tabular data is in standardised units by default');

  const sub = gauntlet('shift', '--data', tabular, '--kind', 'subpopulation', '--where', 'age > 50', '--weight', '0', '--out', path.join(dir, 'sub.npz'), '--permutations', '0');
  assert.equal(sub.code, 0, sub.stderr);
  const s = readNpz(fs.readFileSync(path.join(dir, 'sub.npz')), 'sub');
  const xs = s.x!.data as Float32Array;
  for (let i = 0; i < xs.length; i += 2) assert.ok(xs[i]! <= 50);
  assert.match(sub.stdout, /KS +max/);

  const nan = gauntlet('shift', '--data', tabular, '--kind', 'missing', '--rate', '0.3', '--fill', 'nan', '--out', path.join(dir, 'nan.npz'));
  assert.equal(nan.code, 0, nan.stderr);
  const n = readNpz(fs.readFileSync(path.join(dir, 'nan.npz')), 'nan');
  const nanCount = Array.from(n.x!.data as Float32Array).filter(Number.isNaN).length;
  assert.ok(nanCount > 100 && nanCount < 260);
  assert.equal((n.missing_mask!.data as Uint8Array).reduce((p, v) => p + v, 0), nanCount);
  assert.match(nan.stdout, /MMD +not computed \(NaN values\)/);

  const rw = gauntlet('shift', '--data', tabular, '--kind', 'subpopulation', '--where', 'score>=0', '--weight', '3', '--mode', 'reweight', '--out', path.join(dir, 'rw.npz'), '--permutations', '0');
  assert.equal(rw.code, 0, rw.stderr);
  assert.equal((readNpz(fs.readFileSync(path.join(dir, 'rw.npz')), 'rw').weights!.data as Float64Array).length, 300);
});

test('shift: bad options are exit code 2 with one line naming the flag', () => {
  const out = path.join(dir, 'x.npz');
  failsWith(['shift', '--data', tabular, '--kind', 'drift', '--out', out], /unknown shift 'drift'; known: mean, scale, noise, missing, quantize, subpopulation, prior/);
  failsWith(['shift', '--data', tabular, '--kind', 'mean', '--factor', '2', '--out', out], /'--factor' does not apply to --kind mean \(it takes --features, --amount\)/);
  failsWith(['shift', '--data', tabular, '--kind', 'mean', '--out', out], /--kind mean needs '--amount'/);
  failsWith(['shift', '--data', tabular, '--kind', 'missing', '--rate', '0.1', '--fill', 'zero', '--out', out], /^gauntlet: '--fill' must be one of 'mean', 'nan', got 'zero'$/m);
  failsWith(['shift', '--data', tabular, '--kind', 'missing', '--rate', '2', '--out', out], /'--rate' must be in \[0, 1\], got 2/);
  failsWith(['shift', '--data', tabular, '--kind', 'subpopulation', '--where', 'age ~ 3', '--weight', '2', '--out', out], /'--where' must be FEATURE OP NUMBER/);
  failsWith(['shift', '--data', tabular, '--kind', 'mean', '--amount', '1', '--features', 'agee', '--out', out], /no feature named 'agee'; feature names: age, score/);
  failsWith(['shift', '--data', tabular, '--kind', 'prior', '--proportions', '1,1,1', '--out', out], /'proportions' has 3 entries but the data have 2 classes/);
});

test('list corruptions prints the registry; unknown sections are usage errors', () => {
  const r = gauntlet('list', 'corruptions');
  assert.equal(r.code, 0);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 20);
  assert.match(lines[0]!, /^name +deterministic +summary$/);
  assert.match(r.stdout, /^jpeg_compression +yes +JPEG round trip/m);
  const j = JSON.parse(gauntlet('list', 'corruptions', '--json').stdout);
  assert.equal(j.length, 19);
  assert.deepEqual(Object.keys(j[0]), ['name', 'deterministic', 'summary']);
  assert.match(gauntlet('list').stdout, /^corruptions /m);
  failsWith(['list', 'attackz'], /unknown section 'attackz'; sections are corruptions, shifts/);
});

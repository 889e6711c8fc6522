import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { chunkedHash, openChunked } from '../src/data/chunked.js';
import { datasetHash } from '../src/data/dataset.js';
import { writeIdx } from '../src/data/idx.js';
import { loadDataset } from '../src/data/load.js';
import { datasetToArrays, readNpz, saveNpz, writeNpz } from '../src/data/npz.js';
import { NpzFileWriter, withNpzWriter } from '../src/data/npz-writer.js';
import { saveNpy } from '../src/data/npy.js';
import { defaultAssets } from '../src/defaults.js';
import { Model } from '../src/engine/model.js';
import { evaluate, evaluateChunked } from '../src/engine/evaluate.js';
import { Rng } from '../src/rng.js';
import { applyAnnotation, parseAnnotationSpec } from '../src/stress/annotation/index.js';
import { applyDrift, corruptionNames, getCorruption, mmdTest, corruptionGallery } from '../src/stress/drift/index.js';
import { outputArrays } from '../src/cli/noise.js';
import { DataError } from '../src/errors.js';
import { runCli, tmpDir } from './helpers.js';

const dir = tmpDir('gauntlet-chunked-');
const N = 37;

/** A small labelled image set with ids, class names and an extra per-item array, values in [0, 1]. */
function smallArrays(): Record<string, { dtype: string; shape: number[]; data: ArrayLike<number | string> }> {
  const rng = new Rng(11);
  const x = new Float32Array(N * 1 * 8 * 8).map(() => rng.uniform());
  const y = Int32Array.from({ length: N }, (_, i) => i % 4);
  return {
    source_index: { dtype: '<i8', shape: [N], data: Array.from({ length: N }, (_, i) => 100 + i) },
    x: { dtype: '<f4', shape: [N, 1, 8, 8], data: x },
    y: { dtype: '<i4', shape: [N], data: y },
    ids: { dtype: '<U', shape: [N], data: Array.from({ length: N }, (_, i) => `item-${i}`) },
    class_names: { dtype: '<U', shape: [4], data: ['a', 'b', 'c', 'd'] },
  };
}

const stored = path.join(dir, 'small.npz');
const deflated = path.join(dir, 'small-deflated.npz');
const bytesU8 = path.join(dir, 'small-u8.npz');
fs.writeFileSync(stored, writeNpz(smallArrays()));
fs.writeFileSync(deflated, writeNpz(smallArrays(), { compress: true }));
{
  const a = smallArrays();
  const u8 = Uint8Array.from(a.x!.data as Float32Array, (v) => Math.round(v * 255));
  fs.writeFileSync(bytesU8, writeNpz({ ...a, x: { dtype: '|u1', shape: a.x!.shape, data: u8 } }));
}
const idx = path.join(dir, 'small-images-idx3-ubyte.gz');
fs.writeFileSync(idx, writeIdx({ dtype: 'u1', shape: [N, 8, 8], data: Uint8Array.from({ length: N * 64 }, (_, i) => (i * 37) % 256) }, { gzip: true }));
fs.writeFileSync(path.join(dir, 'small-labels-idx1-ubyte.gz'), writeIdx({ dtype: 'u1', shape: [N], data: Uint8Array.from({ length: N }, (_, i) => i % 3) }, { gzip: true }));

describe('openChunked gives exactly what loadDataset gives, piece by piece', () => {
  for (const [file, kind] of [[stored, 'stored npz'], [deflated, 'deflated npz'], [bytesU8, 'uint8 npz'], [idx, 'gzipped IDX']] as const) {
    for (const limit of [undefined, 20]) {
      it(`${kind}${limit ? ` (limit ${limit})` : ''}`, async () => {
        const d = await openChunked({ path: file, limit });
        const ds = await loadDataset({ path: file, limit });
        assert.equal(d.streamed, true);
        assert.equal(d.size, ds.size);
        assert.deepEqual(d.itemShape, ds.itemShape);
        assert.deepEqual(d.labels, ds.labels);
        assert.deepEqual(d.ids, ds.ids);
        assert.deepEqual(d.extras, ds.extras);
        const x = new Float32Array(ds.x.length);
        let next = 0;
        for await (const c of d.chunks(6)) {
          assert.equal(c.start, next);
          assert.ok(c.size <= 6);
          x.set(c.x, c.start * 64);
          next += c.size;
        }
        assert.equal(next, ds.size);
        assert.deepEqual(x, ds.x);
        assert.equal(await chunkedHash(d, 5), datasetHash(ds));
      });
    }
  }

  it('a bare .npy with a labels file; a folder source is loaded whole and still handed out in pieces', async () => {
    const npy = path.join(dir, 'x.npy');
    const a = smallArrays();
    await saveNpy(npy, a.x as never);
    const d = await openChunked({ path: npy });
    assert.equal(d.streamed, true);
    assert.equal(await chunkedHash(d, 4), datasetHash(await loadDataset({ path: npy })));
  });

  it('a truncated deflated x is a one-line DataError, not a crash', async () => {
    const bad = path.join(dir, 'bad.npz');
    const b = fs.readFileSync(deflated);
    const ents = readNpz(b, deflated);
    assert.ok(ents.x);
    // Flip bytes in the middle of the archive (inside x's deflate stream).
    const c = Buffer.from(b);
    for (let i = 600; i < 700; i++) c[i] = c[i]! ^ 0x5a;
    fs.writeFileSync(bad, c);
    await assert.rejects(async () => {
      const d = await openChunked(bad);
      for await (const _ of d.chunks(5)) void _;
    }, DataError);
  });
});

describe('NpzFileWriter', () => {
  it('writes the bytes saveNpz writes, and leaves nothing behind when it fails', async () => {
    const a = smallArrays();
    const whole = path.join(dir, 'whole.npz');
    await saveNpz(whole, a);
    const piece = path.join(dir, 'piece.npz');
    await withNpzWriter(piece, async (w) => {
      for (const [k, arr] of Object.entries(a)) {
        if (k !== 'x') {
          await w.array(k, arr);
          continue;
        }
        await w.begin('x', '<f4', arr.shape);
        const x = arr.data as Float32Array;
        for (let s = 0; s < x.length; s += 640) await w.write(x.subarray(s, s + 640));
        await w.end();
      }
    });
    assert.deepEqual(fs.readFileSync(piece), fs.readFileSync(whole));

    const failed = path.join(dir, 'failed.npz');
    await assert.rejects(
      withNpzWriter(failed, async (w) => {
        await w.begin('x', '<f4', [4]);
        await w.write(new Float32Array(2));
        throw new Error('stopped half way');
      }),
      /stopped half way/,
    );
    assert.equal(fs.existsSync(failed), false);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
    const short = await NpzFileWriter.create(path.join(dir, 'short.npz'));
    await short.begin('x', '<f4', [4]);
    await short.write(new Float32Array(2));
    await assert.rejects(short.end());
    assert.equal(fs.existsSync(path.join(dir, 'short.npz')), false);
  });
});

describe('chunked verbs write the bytes the whole-set computation writes (same seed, chunks smaller than the data)', () => {
  const big = path.join(dir, 'fm-600.npz');
  const haveDefault = fs.existsSync(defaultAssets.data);

  it('corrupt: every corruption, with the gallery and the MMD picking rows', { skip: haveDefault ? false : 'no default data', timeout: 600_000 }, async () => {
    const ds = await loadDataset({ path: defaultAssets.data, limit: 600 });
    await saveNpz(big, datasetToArrays(ds));
    for (const name of corruptionNames) {
      const c = getCorruption(name);
      const out = path.join(dir, `c-${name}.npz`);
      // Small sets for the slow corruptions; 600 (> 500 MMD rows a side) for one.
      const n = name === 'gaussian_noise' ? 600 : 23;
      const r = runCli(['corrupt', '--data', big, '--limit', String(n), '--corruption', name, '--severity', '4', '--seed', '9', '--permutations', '3', '--chunk-items', '5', '--out', out, '--gallery', `${out}.png`, '--json']);
      assert.equal(r.code, 0, r.stderr);
      // The whole-set computation (what corrupt did before it streamed).
      const whole = await loadDataset({ path: big, limit: n });
      const rng = new Rng(9);
      const x = applyDrift(whole, { corruption: name, severity: 4 }, rng.fork(`corrupt:${name}:4`)).dataset.x;
      const expected = path.join(dir, `e-${name}.npz`);
      await saveNpz(expected, datasetToArrays({ ...whole, x }));
      assert.deepEqual(fs.readFileSync(out), fs.readFileSync(expected), name);
      const g = corruptionGallery(whole.x, [n, 1, 28, 28], c, rng);
      assert.equal(g.columns.length, 6);
      const mmd = mmdTest(whole.x, x, 784, rng.fork('distance'), { permutations: 3 });
      assert.equal(r.json!.mmd2, mmd.mmd2, name);
      assert.equal(r.json!.mmd_p_value, mmd.pValue, name);
      let change = 0;
      for (let i = 0; i < x.length; i++) change += Math.abs(x[i]! - whole.x[i]!);
      assert.equal(r.json!.mean_abs_change, change / x.length, name);
      assert.equal(r.json!.data_sha256, datasetHash(whole));
    }
  });

  it('noise --copy-images: the whole-set output byte for byte; without it, no x and the rest the same', async () => {
    const out = path.join(dir, 'n.npz');
    const labelsOnly = path.join(dir, 'n-labels.npz');
    const args = ['noise', '--data', stored, '--annotators', '4', '--annotator-accuracy', '0.6', '--coverage', '2', '--seed', '3', '--chunk-items', '5'];
    const r = runCli([...args, '--out', out, '--copy-images', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const raw = readNpz(fs.readFileSync(stored), stored);
    const ds = await loadDataset(stored);
    const spec = (JSON.parse(fs.readFileSync(`${out}.provenance.json`, 'utf8')) as { spec: never }).spec;
    const res = applyAnnotation(ds.labels!, 4, spec, new Rng(3), { ids: ds.ids, probs: null });
    const expected = path.join(dir, 'n-expected.npz');
    await saveNpz(expected, outputArrays({ ...raw }, res));
    assert.deepEqual(fs.readFileSync(out), fs.readFileSync(expected));
    const side = JSON.parse(fs.readFileSync(`${out}.provenance.json`, 'utf8')) as Record<string, unknown>;
    assert.equal(side.data_sha256, datasetHash(ds));
    assert.equal(side.images_copied, true);

    const l = runCli([...args, '--out', labelsOnly, '--json']);
    assert.equal(l.code, 0, l.stderr);
    const got = readNpz(fs.readFileSync(labelsOnly), labelsOnly);
    const want = readNpz(fs.readFileSync(out), out);
    assert.deepEqual(Object.keys(got), Object.keys(want).filter((k) => k !== 'x'));
    for (const k of Object.keys(got)) assert.deepEqual(got[k], want[k], k);
    assert.equal((JSON.parse(fs.readFileSync(`${labelsOnly}.provenance.json`, 'utf8')) as Record<string, unknown>).images_copied, false);
    assert.ok(fs.statSync(labelsOnly).size < fs.statSync(out).size / 3);
  });

  it('noise on a gzipped IDX input (streamed, x written as float32): the whole-set output byte for byte', async () => {
    const out = path.join(dir, 'n-idx.npz');
    const r = runCli(['noise', '--data', idx, '--noise-model', 'symmetric', '--rate', '0.3', '--seed', '8', '--chunk-items', '4', '--copy-images', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const ds = await loadDataset(idx);
    const res = applyAnnotation(ds.labels!, 3, parseAnnotationSpec({ model: 'symmetric', rate: 0.3 }, 'spec'), new Rng(8), { ids: ds.ids, probs: null });
    const expected = path.join(dir, 'n-idx-expected.npz');
    await saveNpz(expected, outputArrays(datasetToArrays(ds), res));
    assert.deepEqual(fs.readFileSync(out), fs.readFileSync(expected));
  });

  it('eval: evaluateChunked gives evaluate\'s figures and the data hash', { skip: haveDefault ? false : 'no default data' }, async () => {
    const model = await Model.open(defaultAssets.model, { threads: 1 });
    try {
      const ds = await loadDataset({ path: defaultAssets.data, limit: 150 });
      const whole = await evaluate(model, ds, { batchSize: 16 });
      const p = path.join(dir, 'eval.npz');
      await saveNpz(p, datasetToArrays(ds));
      const chunked = await evaluateChunked(model, await openChunked(p), { batchSize: 16, chunkItems: 20 });
      for (const k of ['accuracy', 'macroF1', 'ece', 'nll', 'brier', 'samples', 'numClasses', 'outputKind'] as const) assert.equal(chunked[k], whole[k], k);
      assert.equal(chunked.dataSha256, datasetHash(ds));
    } finally {
      await model.close();
    }
  });
});

describe('Ctrl-C during a chunked write', () => {
  it('corrupt exits 130 and leaves neither the output nor its temporary file', { skip: fs.existsSync(defaultAssets.data) ? false : 'no default data', timeout: 120_000 }, async () => {
    const { spawn } = await import('node:child_process');
    const { cliBin } = await import('./helpers.js');
    const work = tmpDir('gauntlet-sigint-');
    const out = path.join(work, 'c.npz');
    const p = spawn(process.execPath, [cliBin, 'corrupt', '--corruption', 'glass_blur', '--severity', '5', '--data', defaultAssets.data, '--chunk-items', '20', '--permutations', '0', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
    // Wait (bounded: 60 s) until the temporary output exists, then interrupt.
    let seen = false;
    for (let i = 0; i < 600 && !seen && p.exitCode === null; i++) {
      seen = fs.readdirSync(work).some((f) => f.endsWith('.tmp'));
      if (!seen) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(seen, `no temporary file appeared (${stderr})`);
    p.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.match(stderr, /corrupt interrupted \(SIGINT\); nothing was written/);
    assert.deepEqual(fs.readdirSync(work), []);
  });
});

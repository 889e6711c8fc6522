import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadNpz } from '../src/data/npz.js';
import { readNpy } from '../src/data/npy.js';
import { EmbeddingView } from '../src/engine/embedding.js';
import { Model } from '../src/engine/model.js';
import { explainTokens, getMethod } from '../src/explain/index.js';
import { Rng } from '../src/rng.js';
import { assertBadInput, fixture, runCli, scratchDirs } from './helpers.js';

/*
 * explain on a text classifier (wrt: embedding): gradient methods at the embedding output, summed
 * per token. On the fixture task (scripts/make_text_fixtures.py: each sequence holds 3 keywords of
 * its class, ids 2c and 2c+1, among filler) the keywords must carry the attribution.
 */

const scratch = scratchDirs('gauntlet-text-explain-');
const text = (f: string) => fixture('text', f);

test('gxi per token is the derivative of the target score along each token\'s own embedding (central differences through the forward pass)', async () => {
  const ds = await loadNpz(text('text_conv.npz'));
  const model = await Model.open(text('text_conv.onnx'), { wrt: 'embedding' });
  const view = await EmbeddingView.open(model);
  try {
    const n = 6;
    const T = 12;
    const D = view.dim;
    const ids = ds.x.subarray(0, n * T);
    const r = await explainTokens(view, ids, n, 'true', ds.labels, getMethod('gxi'), {}, new Rng(0));
    assert.equal(r.attributions.length, n * T);
    assert.equal(r.tokens, T);
    // d/dα f_t(e with token p's embedding scaled by α) at α = 1 is e_p · ∂f_t/∂e_p, the per-token gxi.
    const emb = view.embed(ids);
    const h = 1e-2;
    let maxErr = 0;
    let maxRef = 0;
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < T; p++) {
        const scaled = (alpha: number) => {
          const e = emb.slice(i * T * D, (i + 1) * T * D);
          for (let d = 0; d < D; d++) e[p * D + d]! *= alpha;
          return e;
        };
        const f = async (alpha: number) => {
          const pr = await view.tail.predictItems(scaled(alpha), 1);
          return pr.scores[r.targets[i]!]!;
        };
        const numeric = ((await f(1 + h)) - (await f(1 - h))) / (2 * h);
        maxErr = Math.max(maxErr, Math.abs(numeric - r.attributions[i * T + p]!));
        maxRef = Math.max(maxRef, Math.abs(numeric));
      }
    }
    assert.ok(maxRef > 0.5, `the derivatives are not negligible (${maxRef})`);
    // The tail is piecewise linear (Conv, ReLU, mean, Linear): exact up to float32 rounding, unless a ReLU kink lies within ±h.
    assert.ok(maxErr <= 1e-3 * maxRef, `max |gxi − numeric| ${maxErr} (largest ${maxRef})`);
  } finally {
    await view.close();
    await model.close();
  }
});

for (const method of ['gxi', 'ig'] as const) {
  test(`${method} per token: the three keywords of each item's class carry its three largest attributions (all 48 items)`, async () => {
    const ds = await loadNpz(text('text_conv.npz'));
    const model = await Model.open(text('text_conv.onnx'), { wrt: 'embedding' });
    const view = await EmbeddingView.open(model);
    try {
      const r = await explainTokens(view, ds.x, ds.size, 'true', ds.labels, getMethod(method), {}, new Rng(0));
      const T = r.tokens;
      for (let i = 0; i < ds.size; i++) {
        const order = Array.from({ length: T }, (_, t) => t).sort((a, b) => Math.abs(r.attributions[i * T + b]!) - Math.abs(r.attributions[i * T + a]!));
        const top = order.slice(0, 3).map((t) => ds.x[i * T + t]!);
        for (const id of top) assert.ok(id < 6 && Math.floor(id / 2) === ds.labels![i], `item ${i} (class ${ds.labels![i]}): top tokens ${top.join(', ')}`);
      }
      if (method === 'ig') {
        // Completeness: the tokens' attributions add up to f(e) − f(0).
        const c = r.completeness!;
        for (let i = 0; i < ds.size; i++) assert.ok(c.relError[i]! < 0.01, `item ${i}: completeness error ${c.relError[i]}`);
      } else assert.equal(r.completeness, null);
    } finally {
      await view.close();
      await model.close();
    }
  });
}

test('CLI: explain --model-wrt embedding writes [N, T] and lists top tokens; --png, occlusion and the blur baseline are refused in one line', () => {
  const dir = scratch();
  const out = path.join(dir, 'a.npy');
  const base = ['explain', '--model', text('text_conv.onnx'), '--model-wrt', 'embedding', '--data', text('text_conv.npz')];
  const r = runCli([...base, '--method', 'ig', '--limit', '5', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = r.json!;
  assert.deepEqual(j.attribution_shape, [5, 12]);
  assert.equal(j.wrt, 'embedding');
  assert.equal(j.per_item.length, 5);
  assert.equal(j.per_item[0].top_tokens.length, 5);
  assert.ok(j.completeness.max_relative_error < 0.01);
  const a = readNpy(fs.readFileSync(out), 'a.npy');
  assert.equal(a.dtype, '<f4');
  assert.deepEqual(a.shape, [5, 12]);
  const sum0 = Array.from((a.data as Float32Array).subarray(0, 12)).reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(sum0 - j.per_item[0].sum) < 1e-4 * (1 + Math.abs(sum0)));
  const t = runCli([...base, '--method', 'gxi', '--limit', '2']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^ {2}item 0 +class 0 +ΣA \d+\.\d{4} {2}top tokens \(position=id\) #\d+=[01] \+/m);
  const png = path.join(dir, 'a.png');
  assertBadInput(runCli([...base, '--method', 'gxi', '--png', png]), /^gauntlet: '--png' draws images; a text model's attributions are per token/);
  assertBadInput(runCli([...base, '--method', 'occlusion']), /^gauntlet: method 'occlusion' perturbs input values; a text model \(wrt: embedding\) is explained at its embedding output by a gradient method/);
  assertBadInput(runCli([...base, '--method', 'ig', '--baseline', 'blur']), /^gauntlet: the 'blur' baseline blurs images/);
  assert.equal(fs.existsSync(png), false);
});

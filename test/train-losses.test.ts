/**
 * The noise-robust loss heads (GCE, SCE, bootstrapping, ELR) against float64 references written
 * from the papers' formulas and the authors' code: ORT's per-item and batch loss must match the
 * reference, and the head's closed-form seed d loss/d z must match central differences of the
 * reference (targets that the method holds constant — bootstrapping's prediction, ELR's running
 * target — are computed once from the unperturbed scores, as the methods detach them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSession } from '../src/engine/session.js';
import { makeNode } from '../src/onnx/graph.js';
import { makeModel } from '../src/onnx/make.js';
import { Rng } from '../src/rng.js';
import { buildTrainingGraph, runTrainingGraph } from '../src/train/graph.js';
import { softTargetCrossEntropy, type TrainingLossHead } from '../src/train/loss.js';
import { bootstrap, elr, gce, sce } from '../src/train/losses/index.js';
import { lossHead } from '../src/train/losses/index.js';
import { augmixJsd } from '../src/train/losses/jsd.js';
import { parseRecipe } from '../src/train/recipe.js';

const N = 6;
const K = 4;

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

/** Per-item reference losses: (scores row, target row, held-constant row) → ℓ. */
type Ref = { head: TrainingLossHead; item: (z: number[], t: number[], fixed: number[] | null, state: number[]) => number; fixed?: (z: number[], t: number[], state: number[]) => number[] };

const ce = (z: number[], t: number[]) => -softmax(z).reduce((a, p, k) => a + t[k]! * Math.log(p), 0);
const REFS: Record<string, Ref> = {
  ce: { head: softTargetCrossEntropy, item: (z, t) => ce(z, t) },
  'gce q=0.7': { head: gce(0.7), item: (z, t) => softmax(z).reduce((a, p, k) => a + (t[k]! * (1 - Math.pow(p, 0.7))) / 0.7, 0) },
  'gce q=0.3': { head: gce(0.3), item: (z, t) => softmax(z).reduce((a, p, k) => a + (t[k]! * (1 - Math.pow(p, 0.3))) / 0.3, 0) },
  'sce α=0.1 β=1': {
    head: sce(0.1, 1),
    item: (z, t) => 0.1 * ce(z, t) + 1 * -softmax(z).reduce((a, p, k) => a + clamp(p, 1e-7, 1) * Math.log(clamp(t[k]!, 1e-4, 1)), 0),
  },
  'bootstrap soft β=0.95': {
    head: bootstrap(0.95, 'soft'),
    fixed: (z) => softmax(z),
    item: (z, t, q) => ce(z, t.map((v, k) => 0.95 * v + 0.05 * q![k]!)),
  },
  'bootstrap hard β=0.8': {
    head: bootstrap(0.8, 'hard'),
    fixed: (z) => z.map((_, k) => (k === z.indexOf(Math.max(...z)) ? 1 : 0)),
    item: (z, t, q) => ce(z, t.map((v, k) => 0.8 * v + 0.2 * q![k]!)),
  },
  'elr λ=3 β=0.7': {
    head: elr(3, 0.7),
    fixed: (z, _t, state) => {
      const pc = softmax(z).map((p) => clamp(p, 1e-4, 1 - 1e-4));
      const s = pc.reduce((a, b) => a + b, 0);
      return state.map((v, k) => 0.7 * v + 0.3 * (pc[k]! / s));
    },
    item: (z, t, tNew) => ce(z, t) + 3 * Math.log(1 - softmax(z).reduce((a, p, k) => a + tNew![k]! * clamp(p, 1e-4, 1 - 1e-4), 0)),
  },
};

async function runHead(head: TrainingLossHead, z: Float32Array, t: Float32Array, state: Float32Array) {
  const m = makeModel({ inputs: [{ name: 'z', shape: [N, K] }], outputs: ['scores'], nodes: [makeNode('Identity', ['z'], ['scores'], {}, 'id')] });
  const tg = await buildTrainingGraph(m, { input: 'z', output: 'scores', outputKind: 'logits', params: [], paramGrads: false, inputGrad: true, trainMode: false, batch: N, itemShape: [K], loss: head });
  const session = await createSession(tg.model, 'loss-head', { threads: 1 });
  try {
    return await runTrainingGraph(session, tg, { x: z, targets: t, params: new Map(), ...(tg.feeds.state ? { state } : {}) });
  } finally {
    await session.release();
  }
}

for (const [name, ref] of Object.entries(REFS)) {
  test(`loss head ${name}: ORT loss equals the float64 reference and its seed equals central differences`, async () => {
    const rng = new Rng(`loss:${name}`);
    const z = Float32Array.from({ length: N * K }, () => 2 * rng.normal());
    // Hard rows, soft rows (a Dawid–Skene posterior) and a smoothed row.
    const t = new Float32Array(N * K);
    for (let i = 0; i < N; i++) {
      if (i < 3) t[i * K + rng.int(K)] = 1;
      else if (i < 5) {
        const w = Array.from({ length: K }, () => rng.uniform() + 0.05);
        const s = w.reduce((a, b) => a + b, 0);
        w.forEach((v, k) => (t[i * K + k] = v / s));
      } else for (let k = 0; k < K; k++) t[i * K + k] = k === 1 ? 0.925 : 0.025;
    }
    const state = Float32Array.from({ length: N * K }, () => rng.uniform() / K);
    const r = await runHead(ref.head, z, t, state);
    const row = (a: ArrayLike<number>, i: number) => Array.from(a).slice(i * K, (i + 1) * K);
    let mean = 0;
    for (let i = 0; i < N; i++) {
      const zi = row(z, i);
      const fixed = ref.fixed ? ref.fixed(zi, row(t, i), row(state, i)) : null;
      const want = ref.item(zi, row(t, i), fixed, row(state, i));
      mean += want / N;
      assert.ok(Math.abs(r.perItemLoss[i]! - want) <= 1e-5 * Math.max(1, Math.abs(want)), `item ${i}: ORT ${r.perItemLoss[i]} vs reference ${want}`);
      const h = 1e-5;
      for (let k = 0; k < K; k++) {
        const up = [...zi];
        const dn = [...zi];
        up[k]! += h;
        dn[k]! -= h;
        const fd = (ref.item(up, row(t, i), fixed, row(state, i)) - ref.item(dn, row(t, i), fixed, row(state, i))) / (2 * h) / N;
        assert.ok(Math.abs(r.inputGrad![i * K + k]! - fd) <= 2e-6 + 1e-4 * Math.abs(fd), `item ${i} class ${k}: seed ${r.inputGrad![i * K + k]} vs central difference ${fd}`);
      }
      if (ref.fixed && name.startsWith('elr')) for (let k = 0; k < K; k++) assert.ok(Math.abs(r.state![i * K + k]! - fixed![k]!) < 1e-6, 'ELR running target update');
    }
    assert.ok(Math.abs(r.loss - mean) <= 1e-5 * Math.max(1, Math.abs(mean)), `batch loss ${r.loss} vs ${mean}`);
  });
}

test('recipe loss names pick their heads; bad loss parameters are one-line errors naming the key', () => {
  for (const loss of [{ name: 'gce', q: 0.5 }, { name: 'sce', alpha: 0.2, beta: 0.5 }, { name: 'bootstrap', mode: 'hard', beta: 0.8 }, { name: 'elr', lambda: 1, beta: 0.5 }]) {
    const r = parseRecipe({ loss });
    assert.equal(r.loss.name, loss.name);
    assert.equal(typeof lossHead(r.loss as { name: string }), 'function');
  }
  assert.equal(lossHead(parseRecipe({ loss: { name: 'elr' } }).loss as { name: string }).stateful, true);
  assert.throws(() => parseRecipe({ loss: { name: 'gce', q: 0 } }), /'loss\.q' must be a number in \(0, 1\], got 0/);
  assert.throws(() => parseRecipe({ loss: { name: 'bootstrap', mode: 'medium' } }), /'loss\.mode' must be one of soft, hard/);
  assert.throws(() => parseRecipe({ loss: { name: 'elr', beta: 1 } }), /'loss\.beta'/);
  assert.throws(() => parseRecipe({ loss: { name: 'mae' } }), /'loss\.name' must be one of ce, label_smoothing, gce, sce, bootstrap, elr/);
});

test('AugMix JSD head: CE on the clean third + λ·JS over the three views equals the float64 reference; its seed equals central differences in every view', async () => {
  const B = 2;
  const rng = new Rng('jsd');
  const z = Float32Array.from({ length: 3 * B * K }, () => 2 * rng.normal());
  const t = new Float32Array(3 * B * K);
  for (let i = 0; i < B; i++) t[i * K + rng.int(K)] = 1;
  const ref = (zz: ArrayLike<number>): number => {
    let total = 0;
    for (let i = 0; i < B; i++) {
      const rows = [0, 1, 2].map((j) => softmax(Array.from(zz).slice((j * B + i) * K, (j * B + i + 1) * K)));
      const m = rows[0]!.map((_, k) => clamp((rows[0]![k]! + rows[1]![k]! + rows[2]![k]!) / 3, 1e-7, 1));
      const js = rows.reduce((a, p) => a + p.reduce((s, v, k) => s + v * (Math.log(v) - Math.log(m[k]!)), 0), 0) / 3;
      const ce = -rows[0]!.reduce((a, p, k) => a + t[i * K + k]! * Math.log(p), 0);
      total += (ce + 12 * js) / B;
    }
    return total;
  };
  const m = makeModel({ inputs: [{ name: 'z', shape: [3 * B, K] }], outputs: ['scores'], nodes: [makeNode('Identity', ['z'], ['scores'], {}, 'id')] });
  const tg = await buildTrainingGraph(m, { input: 'z', output: 'scores', outputKind: 'logits', params: [], paramGrads: false, inputGrad: true, trainMode: false, batch: 3 * B, itemShape: [K], loss: augmixJsd(12, B) });
  const session = await createSession(tg.model, 'jsd', { threads: 1 });
  try {
    const r = await runTrainingGraph(session, tg, { x: z, targets: t, params: new Map() });
    const want = ref(z);
    assert.ok(Math.abs(r.loss - want) < 1e-5 * Math.max(1, want), `loss ${r.loss} vs ${want}`);
    const h = 1e-5;
    for (let j = 0; j < z.length; j++) {
      const up = Float64Array.from(z);
      const dn = Float64Array.from(z);
      up[j]! += h;
      dn[j]! -= h;
      const fd = (ref(up) - ref(dn)) / (2 * h);
      assert.ok(Math.abs(r.inputGrad![j]! - fd) <= 5e-6 + 1e-4 * Math.abs(fd), `z[${j}]: seed ${r.inputGrad![j]} vs ${fd}`);
    }
  } finally {
    await session.release();
  }
});

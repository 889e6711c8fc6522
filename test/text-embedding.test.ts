import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GradientEngine } from '../src/autodiff/gradient.js';
import { loadNpz, readNpz } from '../src/data/npz.js';
import { EmbeddingView } from '../src/engine/embedding.js';
import { Model } from '../src/engine/model.js';
import { makeModel, node } from '../src/onnx/make.js';
import { floatTensor, int64Tensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';
import { runEmbeddingAttack } from '../src/stress/adversarial/embedding.js';
import { runAttack } from '../src/stress/adversarial/index.js';
import { argmaxRow } from '../src/stress/adversarial/scores.js';
import { assertBadInput, fixture, runCli, scratchDirs } from './helpers.js';

/*
 * Text classifiers (scripts/make_text_fixtures.py: token ids [N, 12] over a vocabulary of 32,
 * embedding [32, 8] -> Conv1d / LSTM -> Linear): gradients at the embedding output against
 * PyTorch's float64 autograd, the nearest-token projection, attacks in embedding space measured on
 * the projected token ids, and the one-line errors.
 */

const scratch = scratchDirs('gauntlet-text-');
const text = (f: string) => fixture('text', f);

async function openText(name: string): Promise<{ model: Model; view: EmbeddingView; ds: Awaited<ReturnType<typeof loadNpz>> }> {
  const ds = await loadNpz(text(`${name}.npz`));
  const model = await Model.open(text(`${name}.onnx`), { wrt: 'embedding' });
  model.checkData(ds);
  const view = await EmbeddingView.open(model);
  return { model, view, ds };
}

test('integer x in an .npz loads as float32 token ids, exactly', async () => {
  const ds = await loadNpz(text('text_conv.npz'));
  const raw = readNpz(fs.readFileSync(text('text_conv.npz')), 'text_conv.npz').x!;
  assert.equal(raw.dtype, '<i8');
  assert.deepEqual(ds.itemShape, [12]);
  assert.deepEqual(Array.from(ds.x), Array.from(raw.data as BigInt64Array, Number));
});

for (const name of ['text_conv', 'text_lstm']) {
  test(`${name}: the gradient at the embedding output matches PyTorch autograd within float32 rounding`, async () => {
    const { model, view, ds } = await openText(name);
    const engine = new GradientEngine(view.tail, { kind: 'ce' });
    try {
      assert.equal(model.embedding!.vocab, 32);
      assert.equal(model.embedding!.dim, 8);
      const yGrad = Int32Array.from(ds.extras.y_grad!.data as BigInt64Array, Number);
      const r = await engine.run(view.embed(ds.x), ds.size, yGrad);
      const ref = ds.extras.grad_emb!.data as Float32Array;
      assert.equal(r.grad.length, ds.size * 12 * 8);
      // The tail's logits are the whole model's (PyTorch's float32 logits).
      const logits = ds.extras.logits!.data as Float32Array;
      for (let i = 0; i < logits.length; i++) assert.ok(Math.abs(r.scores[i]! - logits[i]!) <= 1e-5 * (1 + Math.abs(logits[i]!)), `logit ${i}`);
      let maxRef = 0;
      for (const v of ref) maxRef = Math.max(maxRef, Math.abs(v));
      assert.ok(maxRef > 1e-3, `the reference gradient is not negligible (${maxRef})`);
      // float32 forward and backward against float64 autograd: a few ulps of the largest entry.
      for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(r.grad[i]! - ref[i]!) <= 2e-6 * maxRef, `grad[${i}] = ${r.grad[i]} vs PyTorch ${ref[i]}`);
    } finally {
      await engine.close();
      await view.close();
      await model.close();
    }
  });
}

test('the nearest-token projection gives back every clean sequence, and the table scale is the nearest-other-row distance', async () => {
  const { model, view, ds } = await openText('text_conv');
  try {
    assert.deepEqual(Array.from(await view.nearest(view.embed(ds.x))), Array.from(ds.x));
    const s = await view.scale(new Rng(0));
    // Reference: brute force in float64.
    const D = view.dim;
    const l2: number[] = [];
    for (let a = 0; a < view.vocab; a++) {
      let best = Infinity;
      for (let b = 0; b < view.vocab; b++) {
        if (a === b) continue;
        let ss = 0;
        for (let d = 0; d < D; d++) ss += (view.table[a * D + d]! - view.table[b * D + d]!) ** 2;
        best = Math.min(best, Math.sqrt(ss));
      }
      l2.push(best);
    }
    l2.sort((x, y) => x - y);
    assert.equal(s.rows, 32);
    assert.ok(Math.abs(s.l2 - (l2[15]! + l2[16]!) / 2) < 1e-5, `${s.l2}`);
    assert.ok(s.linf > 0 && s.linf <= s.l2);
  } finally {
    await view.close();
    await model.close();
  }
});

/** ids [N, 3] -> Gather on a [5, 2] table whose rows 1 and 3 are equal -> mean over tokens -> [2, 2] -> logits. */
function tiedModel() {
  return makeModel({
    inputs: [{ name: 'ids', dtype: 'int64', shape: ['n', 3] }],
    outputs: ['logits'],
    initializers: [floatTensor('table', [0, 0, 1, 0, 0, 1, 1, 0, 2, 2], [5, 2]), floatTensor('w', [1, -1, -1, 1], [2, 2]), int64Tensor('axes', [1])],
    nodes: [node('Gather', ['table', 'ids'], ['emb']), node('ReduceMean', ['emb'], ['pooled'], { axes: [1], keepdims: 0 }), node('MatMul', ['pooled', 'w'], ['logits'])],
    opset: 13,
  });
}

test('the projection breaks ties to the lowest id and excludes a row on request', async () => {
  const model = await Model.fromProto(tiedModel(), 'tied', 'sha', { wrt: 'embedding' });
  const view = await EmbeddingView.open(model);
  try {
    // Id 3's row equals id 1's: both project to 1. A point midway between rows 0 and 2 ([0, 0] and
    // [0, 1]) is equally near both: the lower id, 0.
    assert.deepEqual(Array.from(await view.nearest(view.embed(new Float32Array([3, 1, 4])))), [1, 1, 4]);
    assert.deepEqual(Array.from(await view.nearest(new Float32Array([0, 0.5]))), [0]);
    assert.deepEqual(Array.from(await view.nearest(new Float32Array([1, 0]), new Int32Array([1]))), [3]);
  } finally {
    await view.close();
    await model.close();
  }
});

for (const [attack, norm, eps] of [['pgd', 'linf', [0.25, 1]], ['pgd', 'l2', [2, 16]], ['fgsm', 'linf', [0.25, 1]], ['fgsm', 'l2', [2, 16]]] as const) {
  test(`${attack} ${norm} in embedding space: projected outputs are token ids, and accuracy is the whole model's on them`, async () => {
    const { model, view, ds } = await openText('text_conv');
    try {
      const labels = ds.labels!;
      const r = await runEmbeddingAttack(view, ds.x, ds.size, labels, { attack, norm, eps: [...eps] }, new Rng(3));
      assert.equal(r.cleanAccuracy, 1);
      assert.deepEqual(r.perEps.map((p) => p.eps), [...eps]);
      for (const p of r.perEps) {
        assert.equal(p.ids.length, ds.x.length);
        for (const id of p.ids) assert.ok(Number.isInteger(id) && id >= 0 && id < 32, `id ${id}`);
        // Accuracy and changed tokens, recomputed from the projected ids through the whole model.
        const pr = await model.predictItems(p.ids, ds.size);
        let correct = 0;
        for (let i = 0; i < ds.size; i++) {
          assert.equal(p.predicted[i], argmaxRow(pr.scores, i, pr.numClasses));
          if (p.predicted[i] === labels[i]) correct++;
        }
        assert.equal(p.accuracy, correct / ds.size);
        assert.equal(p.tokensChanged, p.ids.reduce((s, v, i) => s + (v !== ds.x[i] ? 1 : 0), 0) / ds.x.length);
      }
      // The small ε stays below the tokens' spacing (few changes); the large one changes tokens and breaks the model.
      assert.ok(r.perEps[0]!.tokensChanged < 0.05, `${r.perEps[0]!.tokensChanged}`);
      assert.ok(r.perEps[1]!.tokensChanged > 0.1 && r.perEps[1]!.accuracy < 0.9, JSON.stringify(r.perEps.map((p) => [p.accuracy, p.tokensChanged])));
      // Same seed, same tokens.
      const again = await runEmbeddingAttack(view, ds.x, ds.size, labels, { attack, norm, eps: [eps[1]] }, new Rng(3));
      assert.deepEqual(Array.from(again.perEps[0]!.ids), Array.from(r.perEps[1]!.ids));
    } finally {
      await view.close();
      await model.close();
    }
  });
}

test('token ids without wrt: embedding: the library refuses gradients and continuous attacks in one line', async () => {
  const ds = await loadNpz(text('text_conv.npz'));
  const model = await Model.open(text('text_conv.onnx'));
  try {
    model.checkData(ds);
    assert.throws(() => new GradientEngine(model, { kind: 'ce' }), /input ids holds integer token ids \(int64\), which have no gradient; declare 'wrt: embedding'/);
    await assert.rejects(runAttack(model, ds.x, ds.size, ds.labels!, { attack: 'pgd', norm: 'linf', eps: 0.1 }, new Rng(0)), /cannot be perturbed continuously; declare 'wrt: embedding'/);
  } finally {
    await model.close();
  }
});

test('data that are not token ids of the vocabulary are refused by name', async () => {
  const ds = await loadNpz(text('text_conv.npz'));
  const model = await Model.open(text('text_conv.onnx'), { wrt: 'embedding' });
  try {
    const bad = { ...ds, x: Float32Array.from(ds.x, (v, i) => (i === 5 ? 32 : v)) };
    assert.throws(() => model.checkData(bad), /text_conv\.npz: item 0 holds 32 at position 5, not a token id of .*text_conv\.onnx's input ids \(a whole number in \[0, 31\]\)/);
  } finally {
    await model.close();
  }
});

test('CLI: grad --wrt embedding writes [N, T, D]; attack --model-wrt embedding saves int64 token ids whose accuracy is the one printed', async () => {
  const dir = scratch();
  const g = path.join(dir, 'g.npy');
  const r = runCli(['grad', '--model', text('text_conv.onnx'), '--data', text('text_conv.npz'), '--out', g, '--wrt', 'embedding']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^wrote .*g\.npy {2}\[48, 12, 8\] float32 at the embedding output \/emb\/Gather_output_0/);
  const adv = path.join(dir, 'adv.npz');
  const a = runCli(['attack', '--model', text('text_conv.onnx'), '--model-wrt', 'embedding', '--data', text('text_conv.npz'), '--attack', 'pgd', '--norm', 'linf', '--eps', '0.25,1', '--save', adv, '--no-registry', '--json']);
  assert.equal(a.code, 0, a.stderr);
  const j = a.json!;
  assert.equal(j.wrt, 'embedding');
  assert.deepEqual(j.embedding, { output: '/emb/Gather_output_0', table: 'emb.weight', vocab: 32, dim: 8 });
  assert.ok(j.scale.l2 > 0 && j.scale.linf > 0);
  const saved = readNpz(fs.readFileSync(adv), 'adv.npz');
  assert.equal(saved.x!.dtype, '<i8');
  assert.deepEqual(saved.x!.shape, [48, 12]);
  const ds = await loadNpz(adv);
  const model = await Model.open(text('text_conv.onnx'));
  try {
    const pr = await model.predictItems(ds.x, ds.size);
    let correct = 0;
    for (let i = 0; i < ds.size; i++) if (argmaxRow(pr.scores, i, pr.numClasses) === ds.labels![i]) correct++;
    assert.equal(j.robust_accuracy, correct / ds.size);
    assert.equal(j.curve.at(-1).accuracy, j.robust_accuracy);
  } finally {
    await model.close();
  }
  const ins = runCli(['inspect', '--model', text('text_conv.onnx'), '--model-wrt', 'embedding']);
  assert.equal(ins.code, 0, ins.stderr);
  assert.match(ins.stdout, /^data {7}token ids \[12\] \(int64\); gradients and attacks at the embedding output \/emb\/Gather_output_0 \(table emb\.weight \[32, 8\]\)$/m);
  const t = runCli(['attack', '--model', text('text_conv.onnx'), '--model-wrt', 'embedding', '--data', text('text_conv.npz'), '--attack', 'fgsm', '--norm', 'l2', '--eps', '2', '--no-registry']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^ε scale {3}distance in embedding space; a token to its nearest other token \(median of 32 rows\): L2 \d+\.\d{4}, L∞ \d+\.\d{4}$/m);
  assert.match(t.stdout, /^ε +token acc +embed acc +tokens chg +items chg$/m);
});

test('CLI errors: no embedding lookup, token ids without wrt: embedding, wrt: embedding on a float model', () => {
  const dir = scratch();
  const out = path.join(dir, 'g.npy');
  assertBadInput(
    runCli(['grad', '--model', text('text_cast.onnx'), '--data', text('text_cast.npz'), '--out', out, '--wrt', 'embedding']),
    /^gauntlet: .*text_cast\.onnx: 'wrt: embedding' needs the token-id input 'ids' to go first into an embedding lookup \(a Gather on a \[V, D\] float initializer\); it goes into Cast \(node \/Cast\)$/,
  );
  assertBadInput(
    runCli(['attack', '--model', text('text_cast.onnx'), '--model-wrt', 'embedding', '--data', text('text_cast.npz'), '--attack', 'pgd', '--eps', '0.1', '--no-registry']),
    /it goes into Cast \(node \/Cast\)$/,
  );
  assertBadInput(
    runCli(['grad', '--model', text('text_conv.onnx'), '--data', text('text_conv.npz'), '--out', out]),
    /^gauntlet: .*text_conv\.onnx: input ids holds integer token ids \(int64\), which have no gradient; declare 'wrt: embedding' \(--model-wrt embedding\) to take gradients at the embedding output$/,
  );
  assertBadInput(
    runCli(['attack', '--model', text('text_conv.onnx'), '--data', text('text_conv.npz'), '--attack', 'pgd', '--eps', '0.1', '--no-registry']),
    /input ids holds integer token ids \(int64\), which cannot be perturbed continuously; declare 'wrt: embedding' \(--model-wrt embedding\)/,
  );
  assertBadInput(
    runCli(['grad', '--model', fixture('wild', 'two_outputs.onnx'), '--data', fixture('wild', 'two_outputs.npz'), '--out', out, '--model-wrt', 'embedding']),
    /^gauntlet: 'wrt: embedding' is for token-id inputs; .*two_outputs\.onnx: input input is float32/,
  );
  assertBadInput(runCli(['grad', '--model', text('text_conv.onnx'), '--data', text('text_conv.npz'), '--out', out, '--model-wrt', 'sideways']), /model-wrt|wrt/);
  assert.equal(fs.existsSync(out), false, 'no half-written output');
});

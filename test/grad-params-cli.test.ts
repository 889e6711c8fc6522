import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readNpz, saveNpz } from '../src/data/npz.js';
import { makeModel, node } from '../src/onnx/make.js';
import { encodeModel } from '../src/onnx/proto.js';
import { floatTensor } from '../src/onnx/tensor.js';
import { assertBadInput, fixture, repoRoot, runCliAsync, tmpDir } from './helpers.js';

const gauntlet = (...args: string[]) => runCliAsync(args, { cwd: repoRoot, timeout: 120_000 });
const dir = tmpDir();
const f = (name: string) => path.join(dir, name);

function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

for (const mode of ['infer', 'train'] as const) {
  test(`grad --wrt params${mode === 'train' ? ' --train-mode' : ''} on resnet_bn: one array per initializer, PyTorch's summed-CE gradients`, async () => {
    const out = f(`resnet_${mode}.npz`);
    const args = ['grad', '--wrt', 'params', '--model', fixture('autodiff', 'resnet_bn.onnx'), '--output', 'logits', '--data', fixture('autodiff', 'resnet_bn.npz'), '--out', out];
    // Train mode: one batch of all 4 items, as the fixture's PyTorch train-mode step; inference
    // mode in batches of 3 and 1 (the sum over batches is the same).
    const r = await gauntlet(...args, ...(mode === 'train' ? ['--train-mode', '--batch-size', '4'] : ['--batch-size', '3']));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote .*20 parameters/);
    const got = readNpz(fs.readFileSync(out), out);
    const ref = readNpz(fs.readFileSync(fixture('autodiff', 'resnet_bn.wgrad.npz')), 'ref');
    const names = Object.keys(ref).filter((k) => k.startsWith(`${mode}.`)).map((k) => k.slice(mode.length + 1));
    assert.deepEqual(Object.keys(got).sort(), names.sort());
    for (const p of names) {
      assert.deepEqual(got[p]!.shape, ref[`${mode}.${p}`]!.shape, p);
      const err = relL2(got[p]!.data as Float32Array, ref[`${mode}.${p}`]!.data as Float32Array);
      assert.ok(err < 1e-4, `${p}: relative L2 ${err}`);
    }
  });
}

test('bad input: --out equal to --model, a model with no trainable parameter, an op with no weight rule', async () => {
  const model = fixture('autodiff', 'mlp.onnx');
  const data = fixture('autodiff', 'mlp.npz');
  assertBadInput(await gauntlet('grad', '--wrt', 'params', '--model', model, '--data', data, '--out', model), /^gauntlet: grad: '--out' .* is the same file as '--model'/);
  assertBadInput(await gauntlet('grad', '--wrt', 'weights', '--model', model, '--data', data, '--out', f('g.npz')), /'--wrt' must be one of input, params, embedding, got 'weights'/);
  assertBadInput(await gauntlet('grad', '--train-mode', '--model', model, '--data', data, '--out', f('g.npy')), /'--train-mode' needs '--wrt params'/);

  await saveNpz(f('d.npz'), { x: { dtype: '<f4', shape: [2, 4], data: new Float32Array(8).fill(0.5) }, y: { dtype: '<i8', shape: [2], data: [0, 1] } });
  const relu = makeModel({ inputs: [{ name: 'x', shape: ['N', 4] }], outputs: ['z'], nodes: [node('Relu', ['x'], ['z'])], opset: 13 });
  fs.writeFileSync(f('relu.onnx'), encodeModel(relu));
  assertBadInput(await gauntlet('grad', '--wrt', 'params', '--model', f('relu.onnx'), '--data', f('d.npz'), '--out', f('g.npz')), /no trainable parameter .* on the path to output 'z'/);

  const einsum = makeModel({
    inputs: [{ name: 'x', shape: ['N', 4] }],
    outputs: ['z'],
    nodes: [node('Einsum', ['x', 'W'], ['z'], { equation: 'ij,kj->ik' })],
    initializers: [floatTensor('W', [0.1, 0.2, 0.3, 0.4, -0.1, -0.2, -0.3, -0.4], [2, 4])],
    opset: 13,
  });
  fs.writeFileSync(f('einsum.onnx'), encodeModel(einsum));
  assertBadInput(await gauntlet('grad', '--wrt', 'params', '--model', f('einsum.onnx'), '--data', f('d.npz'), '--out', f('g.npz')), /no gradient rule for op Einsum at node Einsum \(z\)/);
  assert.ok(!fs.existsSync(f('g.npz')), 'nothing written');
});

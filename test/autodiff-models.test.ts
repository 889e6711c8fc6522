import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { GradientEngine } from '../src/autodiff/gradient.js';
import { loadNpz } from '../src/data/npz.js';
import { Model } from '../src/engine/model.js';
import { UnsupportedOpError } from '../src/errors.js';
import { fixture } from './helpers.js';

/** Relative L2 error ‖a − b‖ / ‖b‖. */
function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

// Whole models exported from PyTorch with their autograd input gradients (scripts/make_grad_fixtures.py).
const MODELS = ['mlp', 'resnet_bn', 'mobilenet_v2', 'vit_op17', 'vit_op13', 'resize_pad_pool', 'lenet'];

for (const name of MODELS) {
  test(`${name}: input gradient of summed cross-entropy matches PyTorch autograd within 1e-3 relative L2`, async (t) => {
    const onnx = fixture('autodiff', `${name}.onnx`);
    if (!fs.existsSync(onnx)) return t.skip('fixture missing');
    const data = await loadNpz(fixture('autodiff', `${name}.npz`));
    const model = await Model.open(onnx, { output: 'logits' });
    const engine = new GradientEngine(model, { kind: 'ce' });
    try {
      const r = await engine.run(data.x, data.size, data.labels!);
      const logits = data.extras.logits!.data as Float32Array;
      assert.ok(relL2(r.scores, logits) < 1e-4, `logits differ from PyTorch: ${relL2(r.scores, logits)}`);
      const loss = r.loss.reduce((a, b) => a + b, 0);
      const refLoss = Number((data.extras.loss!.data as ArrayLike<number>)[0]);
      assert.ok(Math.abs(loss - refLoss) / Math.abs(refLoss) < 1e-4, `loss ${loss} vs PyTorch ${refLoss}`);
      const err = relL2(r.grad, data.extras.grad!.data as Float32Array);
      assert.ok(err < 1e-3, `gradient relative L2 error ${err}`);
    } catch (e) {
      if (e instanceof UnsupportedOpError) assert.fail(`rules missing: ${e.message}`);
      throw e;
    } finally {
      await engine.close();
      await model.close();
    }
  });
}

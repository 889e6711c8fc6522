import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GradientEngine } from '../src/autodiff/gradient.js';
import { rules } from '../src/autodiff/registry.js';
import { Model } from '../src/engine/model.js';
import { UnsupportedOpError } from '../src/errors.js';
import { makeModel, node } from '../src/onnx/make.js';
import type { NodeP } from '../src/onnx/proto.js';
import { makeTensor } from '../src/onnx/tensor.js';

// What the gradient engine cannot differentiate is always an UnsupportedOpError (exit code 2, a
// black-box fallback for AutoAttack), naming each node and why — never a plain Error (the CLI's
// "internal error", exit 70) or ONNX Runtime's type error on the built backward graph.

const D = 16;
const K = 3;

/** x [N, 16] → `pre` → 'h' [N, F] → logits h·W [N, 3]. */
async function model(label: string, pre: NodeP[], features: number, opset = 13, extra: ReturnType<typeof makeTensor>[] = []): Promise<Model> {
  const w = Float32Array.from({ length: features * K }, (_, i) => Math.sin(i + 1));
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', D] }],
    outputs: ['y'],
    nodes: [...pre, node('MatMul', ['h', 'W'], ['y'])],
    initializers: [makeTensor('W', [features, K], w), makeTensor('one', [1], BigInt64Array.from([1n])), ...extra],
    opset,
  });
  return Model.fromProto(proto, label, label);
}

async function gradientError(m: Model): Promise<UnsupportedOpError> {
  const engine = new GradientEngine(m, { kind: 'ce' });
  try {
    await engine.run(Float32Array.from({ length: 2 * D }, (_, i) => (i % 7) / 7), 2, [0, 1]);
  } catch (e) {
    assert.ok(e instanceof UnsupportedOpError, `expected an UnsupportedOpError, got ${String(e)}`);
    return e;
  } finally {
    await engine.close();
    await m.close();
  }
  assert.fail('the gradient engine differentiated the model');
}

const noRuleOp = ['Atan', 'Asinh', 'Softsign', 'Sinh'].find((o) => !(o in rules));

test('one UnsupportedOpError names every node the engine cannot differentiate: an op without a rule and a MaxPool of storage_order 1, each with its reason', async (t) => {
  if (!noRuleOp) return t.skip('every candidate op has a gradient rule now');
  const e = await gradientError(
    await model('two-limits', [
      node('Reshape', ['x', 'shape4'], ['x4']),
      node('MaxPool', ['x4'], ['p'], { kernel_shape: [1, 2], strides: [1, 2], storage_order: 1 }),
      node('Flatten', ['p'], ['f']),
      node(noRuleOp, ['f'], ['h']),
    ], D / 2, 13, [makeTensor('shape4', [4], BigInt64Array.from([-1n, 1n, 2n, 8n]))]),
  );
  assert.deepEqual(
    [...e.ops].sort((a, b) => a.opType.localeCompare(b.opType)),
    [
      { opType: noRuleOp, nodeName: 'h', reason: 'no gradient rule' },
      { opType: 'MaxPool', nodeName: 'p', reason: 'storage_order=1 has no gradient rule' },
    ].sort((a, b) => a.opType.localeCompare(b.opType)),
  );
  const types = [noRuleOp, 'MaxPool'].sort().join(', ');
  assert.match(e.message, new RegExp(`^no gradient rule for ops ${types} at nodes `));
  assert.ok(e.message.includes(`${noRuleOp} (h), `) || e.message.includes(`${noRuleOp} (h);`), e.message);
  assert.ok(e.message.includes('MaxPool (p) [storage_order=1 has no gradient rule]'), e.message);
  assert.equal(e.reasons, e.message.slice(0, e.message.indexOf('; only black-box')));
  assert.equal(e.exitCode, 2);
});

test('an op without a rule keeps the reason "no gradient rule" and the message it always had', async (t) => {
  if (!noRuleOp) return t.skip('every candidate op has a gradient rule now');
  const e = await gradientError(await model('no-rule', [node(noRuleOp, ['x'], ['h'])], D));
  assert.deepEqual(e.ops, [{ opType: noRuleOp, nodeName: 'h', reason: 'no gradient rule' }]);
  assert.equal(e.message, `no gradient rule for op ${noRuleOp} at node ${noRuleOp} (h); only black-box (score-based) methods can run on this model (for attacks: --attack square)`);
});

test('a model that computes in float16 is an UnsupportedOpError naming the float16 node, not an ONNX Runtime type error', async () => {
  const e = await gradientError(
    await model('half', [node('Cast', ['x'], ['x16'], { to: 10 }), node('Sigmoid', ['x16'], ['s16']), node('Reshape', ['s16', 'shape'], ['r16']), node('Cast', ['r16'], ['h'], { to: 1 })], D, 13, [
      makeTensor('shape', [2], BigInt64Array.from([-1n, BigInt(D)])),
    ]),
  );
  // The Casts and the Reshape only move values; the Sigmoid computes in float16.
  assert.deepEqual(e.ops, [{ opType: 'Sigmoid', nodeName: 's16', reason: 'it computes in float16; the gradient rules support float32 and float64 only' }]);
  assert.match(e.message, /^no gradient rule for op Sigmoid at node Sigmoid \(s16\) \[it computes in float16; /);
});

test('a model older than opset 7 is an UnsupportedOpError with a model-wide reason (not a ModelError), so AutoAttack can fall back', async () => {
  const e = await gradientError(await model('op6', [node('Relu', ['x'], ['h'])], D, 6));
  assert.deepEqual(e.ops, []);
  assert.equal(e.modelReason, 'op6 has opset 6; opsets 7–10 are upgraded to 11 in memory, older ones are not supported');
  assert.equal(e.message, 'no gradients for this model: op6 has opset 6; opsets 7–10 are upgraded to 11 in memory, older ones are not supported; only black-box (score-based) methods can run on this model (for attacks: --attack square)');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Model } from '../src/engine/model.js';
import { ConfigError, UsageError } from '../src/errors.js';
import { makeModel, node } from '../src/onnx/make.js';
import { makeTensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';
import { deprecations } from '../src/options/schema.js';
import { listAttacks, parseAttackSpec, resolveAttackSpec, runAttack } from '../src/stress/adversarial/index.js';

const where = 'stresses.adversarial[0]';

function rejects(obj: unknown, pattern: RegExp): void {
  assert.throws(
    () => parseAttackSpec(obj, where),
    (e: unknown) => e instanceof ConfigError && pattern.test(e.message) && !e.message.includes('\n'),
  );
}

test('a config entry parses to the spec it names, and round-trips through JSON', () => {
  const obj = { attack: 'pgd', norm: 'linf', eps: [0.01, 0.03], steps: 20 };
  const spec = parseAttackSpec(obj, where);
  assert.deepEqual(spec, obj);
  assert.deepEqual(parseAttackSpec(JSON.parse(JSON.stringify(spec)), where), spec);
  assert.equal(parseAttackSpec({ attack: 'fgsm', eps: 0.1 }, where).norm, 'linf');
});

test('unknown attack names list the known ones', () => rejects({ attack: 'cw', eps: 0.1 }, /^'stresses\.adversarial\[0\]\.attack' must be one of fgsm, pgd, apgd-ce, apgd-dlr, square, autoattack, got 'cw'$/));
test('an unknown key names the key and what the attack accepts', () => rejects({ attack: 'pgd', eps: 0.1, queries: 10 }, /unknown key 'queries' for attack 'pgd'; allowed keys are attack, norm, eps, eps_units, steps, step_size/));
test('a bad norm lists the allowed norms', () => rejects({ attack: 'pgd', norm: 'l1', eps: 0.1 }, /'stresses\.adversarial\[0\]\.norm' must be one of linf, l2, got 'l1'/));
test('a negative ε names its index in the list', () => rejects({ attack: 'pgd', eps: [0.1, -1] }, /'stresses\.adversarial\[0\]\.eps\[1\]' must be a number in \[0, inf\), got -1/));
test('a missing ε is required', () => rejects({ attack: 'pgd' }, /'stresses\.adversarial\[0\]\.eps' is required/));
test('an empty ε list is refused', () => rejects({ attack: 'pgd', eps: [] }, /'stresses\.adversarial\[0\]\.eps' must be a number in \[0, inf\), or a non-empty list of them, got \[\]/));
test('a fractional step count is refused with its range', () => rejects({ attack: 'pgd', eps: 0.1, steps: 2.5 }, /'stresses\.adversarial\[0\]\.steps' must be an integer in \[1, 100000\], got 2\.5/));
test('absolute and relative step sizes are exclusive', () => rejects({ attack: 'pgd', eps: 0.1, step_size: 0.01, rel_step_size: 0.1 }, /either step_size .* or rel_step_size/));
test('an unknown preset lists the presets', () => rejects({ attack: 'autoattack', eps: 0.1, preset: 'fast' }, /'stresses\.adversarial\[0\]\.preset' must be one of standard, quick, got 'fast'/));
test('a non-object entry is refused', () => rejects('pgd', /must be a mapping like/));
test('the old camelCase key stepSize still works for one release, with a deprecation naming step_size', () => {
  deprecations.length = 0;
  const spec = parseAttackSpec({ attack: 'pgd', eps: 0.1, stepSize: 0.01 }, where);
  assert.equal(spec.stepSize, 0.01);
  assert.deepEqual(deprecations, ["'stresses.adversarial[0].stepSize' is deprecated; write 'step_size' (snake_case in YAML)"]);
  deprecations.length = 0;
});
test('a snake_case YAML key and its camelCase spelling together are refused as given twice', () =>
  rejects({ attack: 'pgd', eps: 0.1, step_size: 0.01, stepSize: 0.02 }, /'stresses\.adversarial\[0\]\.step_size' is given twice/));

test('defaults come from the registry: PGD uses 2.5·ε/steps, AutoAttack presets fill in, explicit keys win', () => {
  const pgd = resolveAttackSpec({ attack: 'pgd', norm: 'linf', eps: [0.03, 0.01, 0.03] });
  assert.deepEqual(pgd.eps, [0.01, 0.03]);
  assert.equal(pgd.steps, 20);
  assert.equal(pgd.relStepSize, 2.5 / 20);
  assert.equal(resolveAttackSpec({ attack: 'pgd', norm: 'linf', eps: 0.1, stepSize: 0.01 }).relStepSize, undefined);
  const std = resolveAttackSpec({ attack: 'autoattack', norm: 'linf', eps: 0.1 });
  assert.deepEqual([std.preset, std.steps, std.nTargets, std.queries, std.restarts], ['standard', 100, 9, 5000, 1]);
  const quick = resolveAttackSpec({ attack: 'autoattack', norm: 'l2', eps: 0.5, preset: 'quick', queries: 50 });
  assert.deepEqual([quick.steps, quick.nTargets, quick.queries], [20, 3, 50]);
  const apgd = resolveAttackSpec({ attack: 'apgd-ce', norm: 'linf', eps: 0.1 });
  assert.deepEqual([apgd.steps, apgd.restarts], [100, 1]);
});

test('the listing shows every attack with its norms and defaults', () => {
  const rows = listAttacks();
  assert.equal(rows.length, 6);
  assert.match(rows.find((r) => r.name === 'autoattack')!.defaults, /quick = steps=20/);
  assert.match(rows.find((r) => r.name === 'square')!.defaults, /queries=5000/);
});

test('runAttack refuses an ε larger than the data bounds allow, naming the range', async () => {
  const proto = makeModel({
    inputs: [{ name: 'x', shape: ['N', 4] }],
    outputs: ['y'],
    nodes: [node('Gemm', ['x', 'W'], ['y'], { transB: 1 })],
    initializers: [makeTensor('W', [3, 4], Float32Array.from({ length: 12 }, (_, i) => Math.cos(i)))],
    opset: 13,
  });
  // Declared [0, 1] bounds and raw units: tabular data without declared bounds has no global box.
  const model = await Model.fromProto(proto, 'm', 'm', { bounds: [0, 1] });
  try {
    const x = new Float32Array(8).fill(0.5);
    await assert.rejects(runAttack(model, x, 2, new Int32Array(2), { attack: 'pgd', norm: 'linf', eps: 1.5, epsUnits: 'raw' }, new Rng(0)), (e: unknown) => e instanceof UsageError && /'eps' must be in \[0, 1\] for linf/.test(e.message));
    await assert.rejects(runAttack(model, x, 2, new Int32Array(2), { attack: 'pgd', norm: 'l2', eps: 3, epsUnits: 'raw' }, new Rng(0)), (e: unknown) => e instanceof UsageError && /'eps' must be in \[0, 2\] for l2/.test(e.message));
    await assert.rejects(runAttack(model, x, 2, new Int32Array(2), { attack: 'apgd-dlr', norm: 'linf', eps: 0.1, targeted: true }, new Rng(0)), /needs at least 4 classes; the model has 3/);
    await assert.rejects(runAttack(model, x, 2, new Int32Array(2), { attack: 'nope', norm: 'linf', eps: 0.1 } as never, new Rng(0)), ConfigError);
    await assert.rejects(runAttack(model, x, 2, Int32Array.from([0, 5]), { attack: 'pgd', norm: 'linf', eps: 0.1 }, new Rng(0)), /label 5 of item 1 is outside the model's 3 classes/);
  } finally {
    await model.close();
  }
});

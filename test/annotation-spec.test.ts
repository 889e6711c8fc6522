import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DataError } from '../src/errors.js';
import { Rng } from '../src/rng.js';
import { annotationModelNames, applyAnnotation, noisyLabelMetrics, parseAnnotationSpec } from '../src/stress/annotation/index.js';
import { classificationMetrics } from '../src/metrics/classification.js';

/** Asserts that parsing throws a ConfigError with exactly this message. */
function rejects(obj: unknown, message: string, where = 'stresses[0]'): void {
  assert.throws(
    () => parseAnnotationSpec(obj, where),
    (e: Error) => {
      assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e.constructor.name}: ${e.message}`);
      assert.equal(e.message, message);
      assert.ok(!e.message.includes('\n'));
      return true;
    },
  );
}

test('parse: normalised specs with defaults', () => {
  assert.deepEqual(parseAnnotationSpec({ model: 'symmetric', rate: 0.2 }, 'a'), { model: 'symmetric', rate: 0.2 });
  assert.deepEqual(parseAnnotationSpec({ model: 'pairflip', rate: 0.3 }, 'a'), { model: 'pairflip', rate: 0.3 });
  assert.deepEqual(parseAnnotationSpec({ model: 'instance', rate: 0.2 }, 'a'), { model: 'instance', rate: 0.2, uncertainty: 'entropy', flipTo: 'proportional' });
  assert.deepEqual(parseAnnotationSpec({ model: 'matrix', matrix: [[0.9, 0.1], [0.2, 0.8]] }, 'a'), { model: 'matrix', matrix: [[0.9, 0.1], [0.2, 0.8]] });
  assert.deepEqual(parseAnnotationSpec({ annotators: 5, annotator_accuracy: 0.7, coverage: 3, aggregate: 'dawid-skene' }, 'a'), {
    model: 'annotators',
    annotators: 5,
    annotatorAccuracy: 0.7,
    coverage: 3,
    aggregate: 'dawid-skene',
  });
  assert.deepEqual(parseAnnotationSpec({ annotators: 4 }, 'a'), { model: 'annotators', annotators: 4, annotatorAccuracy: 0.8, coverage: 4, aggregate: 'majority' });
  const mixed = parseAnnotationSpec({ annotators: [{ kind: 'reliable', count: 2 }, { kind: 'spammer' }, { kind: 'swapper', swaps: [[0, 6]] }], coverage: 2 }, 'a');
  assert.deepEqual(parseAnnotationSpec(JSON.parse(JSON.stringify(mixed)), 'b', { camelCase: true }), mixed);
  assert.deepEqual(annotationModelNames, ['symmetric', 'pairflip', 'matrix', 'instance', 'annotators']);
});

test('parse: bad specs are ConfigErrors naming the key path, the value and what is allowed', () => {
  rejects(3, "'stresses[0]' must be a mapping like {model: 'symmetric', rate: 0.2} or {annotators: 5, annotator_accuracy: 0.7}, got 3");
  rejects({ rate: 0.2 }, "'stresses[0]' must name a 'model' (one of symmetric, pairflip, matrix, instance) or give 'annotators'");
  rejects({ model: 'gaussian', rate: 0.2 }, "'stresses[0].model' must be one of symmetric, pairflip, matrix, instance, annotators, got 'gaussian'");
  rejects({ model: 'symmetric', rate: 1.5 }, "'stresses[0].rate' must be a number in [0, 1), got 1.5");
  rejects({ model: 'symmetric', rate: 1 }, "'stresses[0].rate' must be a number in [0, 1), got 1");
  rejects({ model: 'symmetric', rate: '0.2' }, "'stresses[0].rate' must be a number in [0, 1), got '0.2'");
  rejects({ model: 'symmetric' }, "'stresses[0].rate' is required: a number in [0, 1)");
  rejects({ model: 'symmetric', rate: 0.2, seed: 3 }, "'stresses[0]' has unknown key 'seed' for noise model 'symmetric'; allowed keys are rate, model");
  rejects({ model: 'pairflip', rate: 0.2, map: [1, 1, 0] }, "'stresses[0].map[1]' must differ from 1 (a pair flip sends each class to another class), got 1");
  rejects({ model: 'pairflip', rate: 0.2, map: [1, 5] }, "'stresses[0].map[1]' must be an integer in [0, 1] (a class of the 2 the map lists), got 5");
  rejects({ model: 'matrix' }, "'stresses[0]' must give exactly one of 'matrix' (rows of P(observed | true)) and 'trace' (a number in (1, K]), got neither");
  rejects({ model: 'matrix', matrix: [[0.9, 0.2], [0, 1]] }, "'stresses[0].matrix[0]' must sum to 1 (a row of P(observed | true)), got 1.1");
  rejects({ model: 'matrix', matrix: [[0.9, 0.1], [0, 1, 0]] }, "'stresses[0].matrix[1]' must be a row of 2 numbers (the matrix is 2x2), got [0,1,0]");
  rejects({ model: 'matrix', matrix: [[1.2, -0.2], [0, 1]] }, "'stresses[0].matrix[0][0]' must be a number in [0, 1], got 1.2");
  rejects({ model: 'matrix', trace: 0.5 }, "'stresses[0].trace' must be a number in (1, inf), got 0.5");
  rejects({ model: 'instance', rate: 0.2, uncertainty: 'margin' }, "'stresses[0].uncertainty' must be one of entropy, least-confidence, got 'margin'");
  rejects({ annotators: 0 }, "'stresses[0].annotators' must be an integer in [1, 1000], got 0");
  rejects({ annotators: 2.5 }, "'stresses[0].annotators' must be an integer in [1, 1000], got 2.5");
  rejects({ annotators: 5, coverage: 6 }, "'stresses[0].coverage' must be an integer in [1, 5] (the number of annotators), got 6");
  rejects({ annotators: 5, annotator_accuracy: 1.2 }, "'stresses[0].annotator_accuracy' must be a number in [0, 1], got 1.2");
  rejects({ annotators: 5, aggregate: 'mean' }, "'stresses[0].aggregate' must be one of majority, dawid-skene, got 'mean'");
  rejects({ annotators: 5, rate: 0.2 }, "'stresses[0]' has unknown key 'rate'; allowed keys are model, annotators, annotator_accuracy, coverage, aggregate");
  rejects({ annotators: [{ kind: 'oracle' }] }, "'stresses[0].annotators[0].kind' must be one of reliable, noisy, spammer, swapper, got 'oracle'");
  rejects({ annotators: [{ kind: 'spammer', accuracy: 0.5 }] }, "'stresses[0].annotators[0]' has unknown key 'accuracy'; allowed keys are kind, count");
  rejects({ annotators: [{ kind: 'noisy', accuracy: 0.5, confusion: [[1, 0], [0, 1]] }] }, "'stresses[0].annotators[0]' must give at most one of accuracy, class_accuracy, confusion, got accuracy and confusion");
  rejects({ annotators: [{ kind: 'swapper', swaps: [[0, 1], [1, 2]] }] }, "'stresses[0].annotators[0].swaps[1]' must pair two different classes not already swapped, got [1, 2]");
});

test('annotator-accuracy still works with a deprecation naming annotator_accuracy', () => {
  const warnings: string[] = [];
  const spec = parseAnnotationSpec({ annotators: 3, 'annotator-accuracy': 0.6 }, 'stresses.annotation[0]', { warn: (m) => warnings.push(m) });
  assert.deepEqual(spec, { model: 'annotators', annotators: 3, annotatorAccuracy: 0.6, coverage: 3, aggregate: 'majority' });
  assert.deepEqual(warnings, ["'stresses.annotation[0].annotator-accuracy' is deprecated; write 'annotator_accuracy' (snake_case in YAML)"]);
  const w2: string[] = [];
  assert.deepEqual(parseAnnotationSpec({ model: 'instance', rate: 0.2, 'flip-to': 'next' }, 'n', { warn: (m) => w2.push(m) }), { model: 'instance', rate: 0.2, uncertainty: 'entropy', flipTo: 'next' });
  assert.match(w2[0]!, /write 'flip_to'/);
});

test('apply: errors that need K name the key', () => {
  const y = Int32Array.from([0, 1, 2, 0]);
  assert.throws(
    () => applyAnnotation(y, 3, parseAnnotationSpec({ model: 'matrix', matrix: [[1, 0], [0, 1]] }, 'm'), new Rng(0)),
    (e: Error) => e instanceof ConfigError && e.message === "'matrix' is 2x2 but the labels have 3 classes",
  );
  assert.throws(
    () => applyAnnotation(y, 3, parseAnnotationSpec({ annotators: [{ class_accuracy: [0.9, 0.8] }] }, 'a'), new Rng(0)),
    (e: Error) => e instanceof ConfigError && e.message === "'annotators[0].class_accuracy' has 2 entries but the labels have 3 classes",
  );
  assert.throws(() => applyAnnotation(y, 3, { model: 'symmetric', rate: 0.1 }, new Rng(0), { ids: ['a'] }), (e: Error) => e instanceof DataError && e.message === '1 item ids for 4 labels');
});

test('apply: provenance uses item ids; the result depends on the seed only, not on earlier draws', () => {
  const y = Int32Array.from({ length: 50 }, (_, i) => i % 3);
  const ids = y.map((_, i) => i).reduce<string[]>((a, i) => (a.push(`img-${i}`), a), []);
  const used = new Rng(11);
  used.uniform();
  used.uniform();
  const a = applyAnnotation(y, 3, { model: 'symmetric', rate: 0.4 }, used, { ids });
  const b = applyAnnotation(y, 3, { model: 'symmetric', rate: 0.4 }, new Rng(11), { ids });
  assert.deepEqual(a.observed, b.observed);
  assert.equal(a.provenance[7]!.item, 'img-7');
  assert.equal(a.provenance[7]!.seed, 11);
  assert.deepEqual(a.provenance[7]!.spec, { model: 'symmetric', rate: 0.4 });
});

test('noisyLabelMetrics: metrics against true and observed labels, and the gap', () => {
  // Three items, two classes; the model is right on all three, the third label is flipped.
  const probs = Float64Array.from([0.9, 0.1, 0.2, 0.8, 0.7, 0.3]);
  const truth = Int32Array.from([0, 1, 0]);
  const observed = Int32Array.from([0, 1, 1]);
  const m = noisyLabelMetrics(probs, 2, truth, observed);
  assert.equal(m.true.accuracy, 1);
  assert.ok(Math.abs(m.observed.accuracy - 2 / 3) < 1e-12);
  assert.ok(Math.abs(m.gap.accuracy + 1 / 3) < 1e-12);
  assert.deepEqual(m.true, classificationMetrics(probs, 2, truth));
  assert.ok(Math.abs(m.gap.nll - (m.observed.nll - m.true.nll)) < 1e-15);
  assert.ok(Math.abs(m.labelNoiseRate - 1 / 3) < 1e-12);
  assert.throws(() => noisyLabelMetrics(probs, 2, truth, Int32Array.from([0])), (e: Error) => e instanceof DataError && e.message === '3 true labels but 1 observed labels');
});

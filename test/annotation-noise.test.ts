import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DataError } from '../src/errors.js';
import { Rng } from '../src/rng.js';
import {
  applyAnnotation,
  flipProbabilities,
  isDiagonalDominant,
  matrixFromTrace,
  noiseModels,
  parseAnnotationSpec,
  uncertaintyScores,
  type AnnotationSpec,
} from '../src/stress/annotation/index.js';

const K = 10;

/** Seeded labels, uniform over K classes. */
function labels(n: number, seed = 123, k = K): Int32Array {
  const r = new Rng(seed);
  return Int32Array.from({ length: n }, () => r.int(k));
}

/** Seeded probabilities [n, K]: softmax of scaled normals, peaked at the label for most items. */
function probsFor(y: Int32Array, seed = 7, k = K): Float64Array {
  const r = new Rng(seed);
  const p = new Float64Array(y.length * k);
  for (let i = 0; i < y.length; i++) {
    const sharp = r.range(0.2, 4);
    let s = 0;
    for (let c = 0; c < k; c++) {
      const v = Math.exp(sharp * (r.normal() + (c === y[i] ? 2 : 0)));
      p[i * k + c] = v;
      s += v;
    }
    for (let c = 0; c < k; c++) p[i * k + c]! /= s;
  }
  return p;
}

function bytes(a: Int32Array | Uint8Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

// ---- Conformance over the whole registry -------------------------------------------------------

for (const model of noiseModels) {
  const spec = parseAnnotationSpec(model.example, 'example');
  const y = labels(600);
  const probs = probsFor(y);
  const ctx = { probs };

  test(`${model.name}: same seed gives the same bytes`, () => {
    const a = applyAnnotation(y, K, spec, new Rng(42), ctx);
    const b = applyAnnotation(y, K, spec, new Rng(42), ctx);
    assert.deepEqual(bytes(a.observed), bytes(b.observed));
    assert.deepEqual(bytes(a.flipped), bytes(b.flipped));
    assert.equal(JSON.stringify(a.provenance), JSON.stringify(b.provenance));
    assert.equal(JSON.stringify(a.realisedMatrix), JSON.stringify(b.realisedMatrix));
    const c = applyAnnotation(y, K, spec, new Rng(43), ctx);
    assert.notDeepEqual(bytes(a.observed), bytes(c.observed), 'another seed draws other labels');
  });

  test(`${model.name}: does not mutate its inputs`, () => {
    const y0 = Int32Array.from(y);
    const p0 = Float64Array.from(probs);
    const specJson = JSON.stringify(spec);
    const r = applyAnnotation(y, K, spec, new Rng(1), ctx);
    assert.deepEqual(y, y0);
    assert.deepEqual(probs, p0);
    assert.equal(JSON.stringify(spec), specJson);
    assert.notEqual(r.trueLabels, y, 'trueLabels is a copy');
    assert.deepEqual(r.trueLabels, y0);
  });

  test(`${model.name}: output in bounds, flips consistent, realised matrix matches`, () => {
    const r = applyAnnotation(y, K, spec, new Rng(5), ctx);
    assert.equal(r.observed.length, y.length);
    let flips = 0;
    for (let i = 0; i < y.length; i++) {
      assert.ok(r.observed[i]! >= 0 && r.observed[i]! < K);
      assert.equal(r.flipped[i], r.observed[i] !== y[i] ? 1 : 0);
      flips += r.flipped[i]!;
    }
    assert.equal(r.realisedRate, flips / y.length);
    const counts = r.realisedMatrix.counts;
    assert.equal(counts.flat().reduce((a, b) => a + b, 0), y.length);
    const off = counts.reduce((s, row, i) => s + row.reduce((t, c, j) => t + (i === j ? 0 : c), 0), 0);
    assert.equal(off, flips);
    for (const row of r.realisedMatrix.normalised) {
      const s = row.reduce((a, b) => a + b, 0);
      assert.ok(s === 0 || Math.abs(s - 1) < 1e-12);
    }
    assert.equal(r.provenance.length, y.length);
    assert.deepEqual(r.provenance[3], { item: '3', annotator: `noise:${model.name}`, label: r.observed[3], timestamp: null, spec: r.spec, seed: 5 });
  });

  test(`${model.name}: spec round-trips through JSON`, () => {
    const again = parseAnnotationSpec(JSON.parse(JSON.stringify(spec)), 'again');
    assert.deepEqual(again, spec);
    const r = applyAnnotation(y, K, spec, new Rng(9), ctx);
    assert.deepEqual(parseAnnotationSpec(JSON.parse(JSON.stringify(r.spec)), 'result'), spec);
  });
}

// ---- Acceptance: symmetric and pair-flip -------------------------------------------------------

test('symmetric 30 % on 1,000 items realises 30 % ± 4 points and never flips to the same class', () => {
  const y = labels(1000);
  for (const seed of [0, 1, 2]) {
    const r = applyAnnotation(y, K, { model: 'symmetric', rate: 0.3 }, new Rng(seed));
    assert.ok(Math.abs(r.realisedRate - 0.3) <= 0.04, `seed ${seed}: realised ${r.realisedRate}`);
    assert.equal(r.expectedRate, 0.3);
    // Flips are exactly the items whose label changed: no "flip" to the same class.
    for (let i = 0; i < y.length; i++) assert.equal(r.flipped[i] === 1, r.observed[i] !== y[i]);
    // Flips spread over every other class.
    for (let t = 0; t < K; t++) {
      const dests = r.realisedMatrix.counts[t]!.filter((c, j) => j !== t && c > 0).length;
      assert.ok(dests >= 6, `class ${t} flips to ${dests} classes`);
    }
  }
});

test('symmetric: rates share draws, so lower-rate flips are a subset of higher-rate flips', () => {
  const y = labels(1000);
  const lo = applyAnnotation(y, K, { model: 'symmetric', rate: 0.1 }, new Rng(3));
  const hi = applyAnnotation(y, K, { model: 'symmetric', rate: 0.3 }, new Rng(3));
  for (let i = 0; i < y.length; i++) if (lo.flipped[i]) assert.equal(hi.flipped[i], 1);
});

test('pair-flip sends each class to exactly one destination (i -> i+1 mod K)', () => {
  const y = labels(1000);
  const r = applyAnnotation(y, K, { model: 'pairflip', rate: 0.3 }, new Rng(0));
  assert.ok(Math.abs(r.realisedRate - 0.3) <= 0.04, `realised ${r.realisedRate}`);
  for (let t = 0; t < K; t++) {
    const dests = r.realisedMatrix.counts[t]!.map((c, j) => (j !== t && c > 0 ? j : -1)).filter((j) => j >= 0);
    assert.deepEqual(dests, [(t + 1) % K], `class ${t}`);
  }
  assert.equal(r.expectedMatrix![3]![4], 0.3);
  assert.equal(r.expectedMatrix![3]![3], 0.7);
});

test('pair-flip with a given map', () => {
  const y = labels(500, 1, 4);
  const spec = parseAnnotationSpec({ model: 'pairflip', rate: 0.5, map: [2, 3, 0, 1] }, 'p');
  const r = applyAnnotation(y, 4, spec, new Rng(0));
  for (let i = 0; i < y.length; i++) if (r.flipped[i]) assert.equal(r.observed[i], [2, 3, 0, 1][y[i]!]);
  assert.throws(() => applyAnnotation(y, 5, spec, new Rng(0)), (e: Error) => e instanceof ConfigError && /'map' has 4 entries but the labels have 5 classes/.test(e.message));
});

// ---- Matrix ------------------------------------------------------------------------------------

test('matrix: a given transition matrix is followed', () => {
  const m = [
    [0.6, 0.4, 0],
    [0, 1, 0],
    [0.1, 0.1, 0.8],
  ];
  const y = labels(3000, 2, 3);
  const r = applyAnnotation(y, 3, parseAnnotationSpec({ model: 'matrix', matrix: m }, 'm'), new Rng(4));
  const n = r.realisedMatrix.normalised;
  assert.equal(n[0]![2], 0);
  assert.equal(n[1]![1], 1);
  assert.ok(Math.abs(n[0]![1]! - 0.4) < 0.04 && Math.abs(n[2]![2]! - 0.8) < 0.04, JSON.stringify(n));
  assert.ok(Math.abs(r.expectedRate! - (0.4 + 0 + 0.2) / 3) < 0.02);
});

test('matrix from a trace: diagonal trace/K, rows sum to 1, each true class the most likely, seeded', () => {
  for (const trace of [1.5, 5, 9]) {
    const a = matrixFromTrace(trace, K, new Rng(1));
    assert.deepEqual(a, matrixFromTrace(trace, K, new Rng(1)));
    assert.ok(isDiagonalDominant(a), `trace ${trace}`);
    a.forEach((row, i) => {
      assert.ok(Math.abs(row.reduce((s, x) => s + x, 0) - 1) < 1e-12);
      assert.ok(Math.abs(row[i]! - trace / K) < 1e-12);
      assert.ok(row.every((x) => x >= 0));
    });
  }
  const y = labels(2000);
  const r = applyAnnotation(y, K, { model: 'matrix', trace: 7 }, new Rng(2));
  assert.ok(Math.abs(r.realisedRate - 0.3) < 0.04, `realised ${r.realisedRate}`);
  assert.ok(Math.abs(r.expectedRate! - 0.3) < 1e-12);
  assert.throws(() => matrixFromTrace(1, K, new Rng(0)), (e: Error) => e instanceof DataError && /'trace' must be in \(1, 10\]/.test(e.message));
  assert.throws(() => applyAnnotation(y, K, { model: 'matrix', trace: 11 }, new Rng(0)), (e: Error) => e instanceof DataError && /got 11/.test(e.message));
});

// ---- Instance-dependent --------------------------------------------------------------------------

test('instance: flip probabilities average exactly the rate and are capped at 1', () => {
  const y = labels(1000);
  const u = uncertaintyScores(probsFor(y), K, 'entropy');
  for (const rate of [0, 0.05, 0.2, 0.6, 0.95]) {
    const f = flipProbabilities(u, rate);
    const mean = f.reduce((a, b) => a + b, 0) / f.length;
    assert.ok(Math.abs(mean - rate) < 1e-9, `rate ${rate}: mean ${mean}`);
    assert.ok(f.every((x) => x >= 0 && x <= 1));
  }
  // Capping: three items, one very uncertain.
  const f = flipProbabilities(Float64Array.from([1, 0.1, 0.1]), 0.5);
  assert.equal(f[0], 1);
  assert.ok(Math.abs(f[1]! - 0.25) < 1e-12);
  assert.throws(() => flipProbabilities(Float64Array.from([0, 0, 0.2]), 0.5), (e: Error) => e instanceof DataError && /needs at least 2 items with non-zero uncertainty/.test(e.message));
});

test('instance: uncertain items flip more, the realised rate is near the target, flips follow the model', () => {
  const y = labels(2000);
  const probs = probsFor(y);
  const spec = parseAnnotationSpec({ model: 'instance', rate: 0.2 }, 'i');
  const r = applyAnnotation(y, K, spec, new Rng(0), { probs });
  assert.ok(Math.abs(r.realisedRate - 0.2) < 0.03, `realised ${r.realisedRate}`);
  const u = uncertaintyScores(probs, K, 'entropy');
  const order = Array.from(u.keys()).sort((a, b) => u[a]! - u[b]!);
  const rateOf = (idx: number[]) => idx.reduce((s, i) => s + r.flipped[i]!, 0) / idx.length;
  assert.ok(rateOf(order.slice(-500)) > 2 * rateOf(order.slice(0, 500)), 'the most uncertain quarter flips far more');
  const next = applyAnnotation(y, K, parseAnnotationSpec({ model: 'instance', rate: 0.2, flip_to: 'next', uncertainty: 'least-confidence' }, 'i'), new Rng(0), { probs });
  for (let i = 0; i < y.length; i++) {
    if (!next.flipped[i]) continue;
    let best = -1;
    for (let k = 0; k < K; k++) if (k !== y[i] && (best < 0 || probs[i * K + k]! > probs[i * K + best]!)) best = k;
    assert.equal(next.observed[i], best);
  }
});

test('instance: missing or mis-sized probabilities are DataErrors', () => {
  const y = labels(10);
  const spec: AnnotationSpec = parseAnnotationSpec({ model: 'instance', rate: 0.2 }, 'i');
  assert.throws(() => applyAnnotation(y, K, spec, new Rng(0)), (e: Error) => e instanceof DataError && /instance noise needs the model's predicted probabilities/.test(e.message));
  assert.throws(
    () => applyAnnotation(y, K, spec, new Rng(0), { probs: new Float64Array(5) }),
    (e: Error) => e instanceof DataError && e.message === 'instance noise: 5 probabilities given for 10 items of 10 classes (expected 100)',
  );
});

test('labels outside [0, K) are DataErrors naming the item', () => {
  assert.throws(
    () => applyAnnotation(Int32Array.from([0, 1, 7]), 3, { model: 'symmetric', rate: 0.1 }, new Rng(0)),
    (e: Error) => e instanceof DataError && e.message === 'labels: label 7 of item 2 is outside [0, 2]',
  );
  assert.throws(() => applyAnnotation(Int32Array.from([0]), 1, { model: 'symmetric', rate: 0.1 }, new Rng(0)), (e: Error) => e instanceof DataError && /'numClasses' must be an integer in \[2, inf\), got 1/.test(e.message));
});

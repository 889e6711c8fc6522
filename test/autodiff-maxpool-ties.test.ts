import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GradientEngine } from '../src/autodiff/gradient.js';
import { MAXPOOL_TIES, type MaxpoolTies } from '../src/autodiff/options.js';
import { probe, type Feed } from '../src/autodiff/probe.js';
import { Model } from '../src/engine/model.js';
import type { AttrValue } from '../src/onnx/graph.js';
import { makeModel, node } from '../src/onnx/make.js';
import type { ModelP, NodeP } from '../src/onnx/proto.js';
import { makeTensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';
import { buildTrainingGraph, initialParams, runTrainingGraph } from '../src/train/graph.js';
import { createSession } from '../src/engine/session.js';
import { gradOfSumWithGraph } from './autodiff-helpers.js';

/*
 * MaxPool's tie rule on every gradient route, on hand-made inputs full of exact ties (2-, 3-, 4-,
 * 6- and 9-way, blocks of zeros, all-negative windows that a Relu flattens) and on seeded inputs
 * drawn from {−1, 0, 1, 2}, against a direct implementation of the rule:
 *
 * - first (the default): each window's gradient goes to its first maximum in row-major order, as in
 *   PyTorch; with Relu → MaxPool, a window whose maximum is ≤ 0 gets nothing.
 * - share: it is split equally among the window's exact maxima.
 *
 * The model is y = MaxPool(x) (or MaxPool(Relu(x))), out = y ⊙ G with G distinct small integers,
 * so a gradient sent to the wrong window, channel or image is caught, and the first-maximum
 * gradients are exact integers. Each case also asserts which route the rule took.
 */

type Geometry = { kernel_shape: number[]; strides?: number[]; pads?: number[]; dilations?: number[]; ceil_mode?: number };
type Route = 'reshape' | 'overlap' | 'scatter' | 'grouped' | 'unpool' | 'mask' | 'blocked' | 'stem';

/** The route a backward graph took, from the names its MaxPool rule gave its nodes. */
function routeOf(nodes: NodeP[]): Route | 'none' {
  const has = (hint: string) => nodes.some((n) => (n.name ?? '').includes(hint));
  if (has('stem_')) return 'stem';
  if (has('pool_im2col')) return 'overlap';
  if (has('pool_scatter')) return 'scatter';
  if (has('pool_grouped')) return 'grouped';
  if (nodes.some((n) => n.op_type === 'MaxUnpool')) return 'unpool';
  if (has('pool_shift')) return 'blocked';
  if (has('pool_up')) return 'mask';
  if (has('pool_grad')) return 'reshape';
  return 'none';
}

/**
 * d(Σ w ⊙ y)/dx for y = MaxPool(x) (or MaxPool(Relu(x))) under the tie rule `ties`: windows
 * visited in row-major order, cells outside the input (pads, ceil_mode) skipped.
 */
function reference(x: ArrayLike<number>, xs: number[], ys: number[], geo: Geometry, relu: boolean, ties: MaxpoolTies, w: ArrayLike<number>): number[] {
  const [n, c, h, wd] = xs as [number, number, number, number];
  const [oh, ow] = [ys[2]!, ys[3]!];
  const [kh, kw] = geo.kernel_shape as [number, number];
  const [sh, sw] = (geo.strides ?? [1, 1]) as [number, number];
  const [dh, dw] = (geo.dilations ?? [1, 1]) as [number, number];
  const [pt, pl] = (geo.pads ?? [0, 0, 0, 0]) as [number, number];
  const value = (k: number) => (relu ? Math.max(x[k]!, 0) : x[k]!);
  const g = new Array<number>(x.length).fill(0);
  for (let b = 0; b < n * c; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const cells: number[] = [];
        for (let u = 0; u < kh; u++) {
          for (let v = 0; v < kw; v++) {
            const [r, q] = [i * sh - pt + u * dh, j * sw - pl + v * dw];
            if (r >= 0 && r < h && q >= 0 && q < wd) cells.push((b * h + r) * wd + q);
          }
        }
        const best = Math.max(...cells.map(value));
        if (relu && best <= 0) continue;
        const weight = w[(b * oh + i) * ow + j]!;
        const at = cells.filter((k) => value(k) === best);
        if (ties === 'first') g[at[0]!]! += weight;
        else for (const k of at) g[k]! += weight / at.length;
      }
    }
  }
  return g;
}

interface Case {
  /** [N, C, H, W]; the plane is repeated over images and channels unless `random`. */
  x: number[];
  geo: Geometry;
  plane?: number[];
  /** Seeded values from {−1, 0, 1, 2} instead of the plane. */
  random?: boolean;
  opset?: number;
  dtype?: 'float32' | 'float64';
  /** Conv → MaxPool, the Conv copying the one input channel into 8 (the stem's phase route when tiling). */
  stem?: boolean;
}

function inputOf(c: Case): number[] {
  const size = c.x.reduce((a, b) => a * b, 1);
  if (c.random) {
    const rng = new Rng(`ties:${c.x.join('x')}:${JSON.stringify(c.geo)}`);
    return Array.from({ length: size }, () => rng.int(4) - 1);
  }
  return Array.from({ length: size }, (_, i) => c.plane![i % c.plane!.length]!);
}

async function run(c: Case, relu: boolean, ties: MaxpoolTies): Promise<{ grad: number[]; expected: number[]; route: string }> {
  const dtype = c.dtype ?? 'float32';
  const values = inputOf(c);
  const typed = dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
  const feeds: Record<string, Feed> = { x: { data: typed, dims: c.x } };
  const tensor = (name: string, dims: number[], v: number[]) => makeTensor(name, dims, dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v));
  const zc = c.stem ? 8 : c.x[1]!;
  const zs = [c.x[0]!, zc, c.x[2]!, c.x[3]!];
  const nodes: NodeP[] = c.stem ? [node('Conv', ['x', 'copy'], ['z'], { kernel_shape: [1, 1] })] : [];
  const z = c.stem ? 'z' : 'x';
  if (relu) nodes.push(node('Relu', [z], ['r']));
  nodes.push(node('MaxPool', [relu ? 'r' : z], ['y'], c.geo as Record<string, AttrValue>));
  const inits = c.stem ? [tensor('copy', [8, 1, 1, 1], new Array(8).fill(1))] : [];
  const spec = (more: NodeP[], outputs: string[], extra = inits): ModelP =>
    makeModel({ inputs: [{ name: 'x', dtype, shape: c.x }], outputs: outputs.map((name) => ({ name, dtype })), nodes: [...nodes, ...more], initializers: extra, opset: c.opset ?? 13 });
  const ys = (await probe(spec([], ['y']), feeds, 'test')).shapes.get('y')!;
  const w = Array.from({ length: ys.reduce((a, b) => a * b, 1) }, (_, i) => 1 + ((i * 7) % 13));
  const model = spec([node('Mul', ['y', 'w'], ['out'])], ['out'], [...inits, tensor('w', ys, w)]);
  const { grad, backward } = await gradOfSumWithGraph(model, feeds, 'x', dtype, { maxpoolTies: ties });
  let expected: number[];
  if (c.stem) {
    // The Conv copies x into 8 channels: dx is the sum of the 8 channels' gradients.
    const zv = Array.from({ length: zs.reduce((a, b) => a * b, 1) }, (_, i) => values[Math.floor(i / (zc * zs[2]! * zs[3]!)) * zs[2]! * zs[3]! + (i % (zs[2]! * zs[3]!))]!);
    const gz = reference(zv, zs, ys, c.geo, relu, ties, w);
    expected = values.map((_, i) => {
      const [b, p] = [Math.floor(i / (zs[2]! * zs[3]!)), i % (zs[2]! * zs[3]!)];
      let s = 0;
      for (let ch = 0; ch < zc; ch++) s += gz[(b * zc + ch) * zs[2]! * zs[3]! + p]!;
      return s;
    });
  } else expected = reference(values, c.x, ys, c.geo, relu, ties, w);
  return { grad, expected, route: routeOf(backward) };
}

/** Runs a case under one rule, with and without a Relu folded in, checking the route and the gradient. */
async function expectRule(c: Case, ties: MaxpoolTies, route: Route, label: string): Promise<void> {
  for (const relu of [false, true]) {
    const r = await run(c, relu, ties);
    const what = `${label}${relu ? ', Relu → MaxPool' : ''}, ${ties}`;
    assert.equal(r.route, route, `${what}: route`);
    assert.ok(r.expected.some((v) => v !== 0), `${what}: the reference gradient is not vacuous`);
    if (ties === 'first') assert.deepEqual(r.grad, r.expected, what);
    else r.grad.forEach((v, i) => assert.ok(Math.abs(v - r.expected[i]!) <= 1e-6 * (1 + Math.abs(r.expected[i]!)), `${what}, element ${i}: ${v} ≠ ${r.expected[i]}`));
  }
}

// Eight 2×2 windows (rows of 4×8), positions p0..p3 in row-major order:
// 4-way tie at 1; 2-way at p1, p2; 2-way at p2, p3; zeros; all negative with a tie at p0, p2
// (the Relu flattens it); 3-way at p0, p2, p3; negatives and zeros tied at p1, p3; unique at p3.
const PLANE_2x2 = [
  1, 1, 0, 2, 0, 0, 0, 0,
  1, 1, 2, 1, 3, 3, 0, 0,
  -1, -2, 5, -1, -1, 0, 1, 2,
  -1, -3, 5, 5, -2, 0, 3, 4,
];
// Six 3×3 windows (rows of 6×9): a 9-way tie at 7; zeros (9-way at 0); a tie at p4 and p8;
// a tie at p2 and p6; all negative, 4-way at −1; zeros and negatives, 5-way at 0.
const PLANE_3x3 = [
  7, 7, 7, 0, 0, 0, -1, -2, -1,
  7, 7, 7, 0, 0, 0, -3, -1, -4,
  7, 7, 7, 0, 0, 0, -2, -1, -5,
  1, 2, 0, -1, -1, 4, 0, -1, 0,
  1, 6, 2, -2, -1, -3, -2, 0, -3,
  0, 1, 6, 4, -5, -1, 0, 0, -1,
];
// Four 2×3 windows (rows of 4×6): 6-way tie at 2; a tie at p1 and p5; all negative, 3-way at −1;
// zeros.
const PLANE_2x3 = [
  2, 2, 2, 0, 3, 1,
  2, 2, 2, 2, 0, 3,
  -1, -1, -2, 0, 0, 0,
  -3, -1, -2, 0, 0, 0,
];

const TILE_2 = { kernel_shape: [2, 2], strides: [2, 2] };
const TILE_3 = { kernel_shape: [3, 3], strides: [3, 3] };
const TILE_2x3 = { kernel_shape: [2, 3], strides: [2, 3] };

test('MaxPool ties, windows that tile the input (2×2, 3×3, 2×3, 1×1): first maximum on the unpool route, shares on the mask (1–3 channels) and blocked (8) routes', async () => {
  for (const c of [1, 3, 8]) {
    const share: Route = c % 8 === 0 ? 'blocked' : 'mask';
    const cases: [string, Case][] = [
      ['2×2', { x: [2, c, 4, 8], geo: TILE_2, plane: PLANE_2x2 }],
      ['3×3', { x: [1, c, 6, 9], geo: TILE_3, plane: PLANE_3x3 }],
      ['2×3', { x: [1, c, 4, 6], geo: TILE_2x3, plane: PLANE_2x3 }],
      ['1×1', { x: [1, c, 4, 8], geo: { kernel_shape: [1, 1] }, plane: PLANE_2x2 }],
      ['2×2 random', { x: [2, c, 6, 8], geo: TILE_2, random: true }],
    ];
    for (const [label, k] of cases) {
      await expectRule(k, 'first', 'unpool', `${label}, ${c} channels`);
      await expectRule(k, 'share', share, `${label}, ${c} channels`);
    }
  }
});

test('MaxPool ties, Conv → MaxPool stems: first maximum on the phase route, shares on the blocked route', async () => {
  const cases: [string, Case][] = [
    ['2×2', { x: [2, 1, 4, 8], geo: TILE_2, plane: PLANE_2x2, stem: true }],
    ['3×3', { x: [1, 1, 6, 9], geo: TILE_3, plane: PLANE_3x3, stem: true }],
    ['2×2 random', { x: [2, 1, 8, 8], geo: TILE_2, random: true, stem: true }],
  ];
  for (const [label, k] of cases) {
    await expectRule(k, 'first', 'stem', label);
    await expectRule(k, 'share', 'blocked', label);
  }
});

test('MaxPool ties, windows with gaps, sizes not divisible, or opset 12: first maximum on the unpool route, shares on the im2col route', async () => {
  const cases: [string, Case][] = [
    ['kernel 2 stride 3', { x: [1, 3, 6, 9], geo: { kernel_shape: [2, 2], strides: [3, 3] }, plane: PLANE_3x3 }],
    ['2×2 on 5×9 (not divisible)', { x: [1, 8, 5, 9], geo: TILE_2, random: true }],
    ['2×2, opset 12', { x: [2, 8, 4, 8], geo: TILE_2, plane: PLANE_2x2, opset: 12 }],
    ['3×3, opset 12', { x: [1, 1, 6, 9], geo: TILE_3, plane: PLANE_3x3, opset: 12 }],
  ];
  for (const [label, k] of cases) {
    await expectRule(k, 'first', 'unpool', label);
    await expectRule(k, 'share', 'overlap', label);
  }
});

test('MaxPool ties, overlapping, padded, dilated and ceil_mode windows (also non-overlapping ones that run past the input): first maximum on the scatter route (opset 13, built at 16) and the grouped-unpool route (opset 12), shares on the im2col route, overlaps summed', async () => {
  const cases: [string, Case][] = [
    ['2×2 stride 1', { x: [2, 2, 4, 8], geo: { kernel_shape: [2, 2], strides: [1, 1] }, plane: PLANE_2x2 }],
    ['3×3 stride 1 pads 1', { x: [1, 8, 6, 9], geo: { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }, plane: PLANE_3x3 }],
    ['3×3 stride 2 pads 1', { x: [1, 3, 6, 9], geo: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, plane: PLANE_3x3 }],
    ['2×2 dilation 2', { x: [1, 2, 6, 9], geo: { kernel_shape: [2, 2], strides: [1, 1], dilations: [2, 2] }, plane: PLANE_3x3 }],
    ['3×3 stride 2 ceil_mode', { x: [1, 2, 4, 8], geo: { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }, plane: PLANE_2x2 }],
    ['2×2 stride 2 ceil_mode past the input', { x: [2, 3, 5, 9], geo: { ...TILE_2, ceil_mode: 1 }, random: true }],
    ['2×2 stride 3 ceil_mode past the input', { x: [1, 8, 7, 8], geo: { kernel_shape: [2, 2], strides: [3, 3], ceil_mode: 1 }, plane: PLANE_3x3 }],
    ['2×3 stride 1 random', { x: [2, 3, 5, 7], geo: { kernel_shape: [2, 3], strides: [1, 1] }, random: true }],
  ];
  for (const [label, k] of cases) {
    await expectRule(k, 'first', 'scatter', label);
    await expectRule({ ...k, opset: 12 }, 'first', 'grouped', `${label}, opset 12`);
    await expectRule(k, 'share', 'overlap', label);
  }
});

test('MaxPool ties, float64 windows that tile the input: first maximum and shares on the reshape route', async () => {
  const cases: [string, Case][] = [
    ['2×2', { x: [2, 3, 4, 8], geo: TILE_2, plane: PLANE_2x2, dtype: 'float64' }],
    ['3×3', { x: [1, 2, 6, 9], geo: TILE_3, plane: PLANE_3x3, dtype: 'float64' }],
    ['2×3', { x: [1, 2, 4, 6], geo: TILE_2x3, plane: PLANE_2x3, dtype: 'float64', opset: 11 }],
    ['1×1', { x: [1, 2, 4, 8], geo: { kernel_shape: [1, 1] }, plane: PLANE_2x2, dtype: 'float64' }],
    ['2×2 random', { x: [2, 2, 6, 8], geo: TILE_2, random: true, dtype: 'float64' }],
  ];
  for (const [label, k] of cases) {
    for (const ties of MAXPOOL_TIES) await expectRule(k, ties, 'reshape', label);
  }
});

// ─── The option reaches the rules through the engine and the training graph ─────────────────

/** x [N, 1, 4, 4] → Conv 1×1 (1 → 8 channels, weight w) → MaxPool 2×2 → Flatten → Gemm → logits [N, 4]. */
function tiedModel(): ModelP {
  const rng = new Rng('tied-model');
  return makeModel({
    inputs: [{ name: 'x', shape: ['N', 1, 4, 4] }],
    outputs: ['logits'],
    nodes: [
      node('Conv', ['x', 'w'], ['c'], { kernel_shape: [1, 1] }),
      node('MaxPool', ['c'], ['p'], { kernel_shape: [2, 2], strides: [2, 2] }),
      node('Flatten', ['p'], ['f']),
      node('Gemm', ['f', 'fc'], ['logits'], { transB: 1 }),
    ],
    initializers: [makeTensor('w', [8, 1, 1, 1], Float32Array.from({ length: 8 }, () => rng.range(0.5, 1.5))), makeTensor('fc', [4, 32], Float32Array.from({ length: 128 }, () => rng.range(-1, 1)))],
    opset: 13,
  });
}
// Every window a 4-way tie: the first maximum is its top-left element.
const FLAT = Float32Array.from({ length: 16 }, (_, i) => [3, 1, 2, 5][Math.floor(i / 8) * 2 + (Math.floor(i / 2) % 2)]!);

test('GradientEngine takes maxpoolTies: first (default) puts each window\'s gradient on its top-left maximum, share spreads it over the four', async () => {
  const model = await Model.fromProto(tiedModel(), 'tied', 'tied');
  try {
    const grads = new Map<string, Float32Array>();
    for (const o of [{}, { maxpoolTies: 'first' as const }, { maxpoolTies: 'share' as const }]) {
      const engine = new GradientEngine(model, { kind: 'ce' }, o);
      grads.set(o.maxpoolTies ?? 'default', (await engine.run(FLAT, 1, [2])).grad);
      await engine.close();
    }
    const [dflt, first, share] = ['default', 'first', 'share'].map((k) => Array.from(grads.get(k)!));
    assert.deepEqual(dflt, first, 'first is the default');
    for (let w = 0; w < 4; w++) {
      const cells = [0, 1, 4, 5].map((d) => (Math.floor(w / 2) * 8) + (w % 2) * 2 + d);
      const total = first[cells[0]!]!;
      assert.ok(Math.abs(total) > 1e-6, 'not vacuous');
      assert.deepEqual(cells.slice(1).map((k) => first[k]), [0, 0, 0], `first, window ${w}`);
      for (const k of cells) assert.ok(Math.abs(share[k]! - total / 4) <= 1e-6 * Math.abs(total), `share, window ${w}: ${share[k]} vs ${total / 4}`);
    }
  } finally {
    await model.close();
  }
});

test('buildTrainingGraph takes gradient.maxpoolTies: a per-pixel bias before the pool gets the first maximum\'s gradient or the shares', async () => {
  // z = x + bias (bias a trainable [1, 1, 4, 4], zero), MaxPool 2×2 → Flatten → Gemm: d/dbias is
  // the pooling's input gradient, summed over the batch.
  const rng = new Rng('tied-bias');
  const m = makeModel({
    inputs: [{ name: 'x', shape: ['N', 1, 4, 4] }],
    outputs: ['logits'],
    nodes: [node('Add', ['x', 'bias'], ['z']), node('MaxPool', ['z'], ['p'], { kernel_shape: [2, 2], strides: [2, 2] }), node('Flatten', ['p'], ['f']), node('Gemm', ['f', 'fc'], ['logits'], { transB: 1 })],
    initializers: [makeTensor('bias', [1, 1, 4, 4], new Float32Array(16)), makeTensor('fc', [4, 4], Float32Array.from({ length: 16 }, () => rng.range(-1, 1)))],
    opset: 13,
  });
  const grads = new Map<string, number[]>();
  for (const ties of MAXPOOL_TIES) {
    const tg = await buildTrainingGraph(m, { input: 'x', output: 'logits', outputKind: 'logits', params: ['bias'], trainMode: false, batch: 1, itemShape: [1, 4, 4], gradient: { maxpoolTies: ties } });
    const session = await createSession(tg.model, 'test');
    try {
      const r = await runTrainingGraph(session, tg, { x: FLAT, targets: Float32Array.from([0, 0, 1, 0]), params: initialParams(m, ['bias']) });
      grads.set(ties, Array.from(r.grads.get('bias')!));
    } finally {
      await session.release();
    }
  }
  const [first, share] = [grads.get('first')!, grads.get('share')!];
  for (let w = 0; w < 4; w++) {
    const cells = [0, 1, 4, 5].map((d) => Math.floor(w / 2) * 8 + (w % 2) * 2 + d);
    const total = first[cells[0]!]!;
    assert.ok(Math.abs(total) > 1e-6, 'not vacuous');
    assert.deepEqual(cells.slice(1).map((k) => first[k]), [0, 0, 0], `first, window ${w}`);
    for (const k of cells) assert.ok(Math.abs(share[k]! - total / 4) <= 1e-6 * Math.abs(total), `share, window ${w}: ${share[k]} vs ${total / 4}`);
  }
});

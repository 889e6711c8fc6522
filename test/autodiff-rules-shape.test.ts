import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { gradcheck } from '../src/autodiff/gradcheck.js';
import type { Feed } from '../src/autodiff/probe.js';
import { float, type AttrValue } from '../src/onnx/graph.js';
import { makeModel, node } from '../src/onnx/make.js';
import type { NodeP, TensorP } from '../src/onnx/proto.js';
import { makeTensor } from '../src/onnx/tensor.js';
import { Rng } from '../src/rng.js';
import { unsupportedNode } from './autodiff-helpers.js';

/*
 * Central finite-difference checks of the shape, indexing and spatial-resampling rules (Transpose,
 * Squeeze, Unsqueeze, Concat, Split, Slice, Gather, GatherElements, Expand, Tile, Pad, DepthToSpace,
 * SpaceToDepth in float64; Resize, AveragePool, ConvTranspose in float32).
 *
 * Float64 (tolerance 1e-5) wherever ONNX Runtime's CPU provider has a double kernel for the forward
 * op. Resize, AveragePool and ConvTranspose have float32 kernels only. All three are linear in X, so
 * a central difference has no truncation error at any step and h = 0.05 is used: the only error
 * left is float32 rounding of the outputs, about √n·ε₃₂·|y| / (2h) ≈ 10·6e-8·3 / 0.1 ≈ 2e-5 on
 * derivatives of order 1 (observed: ≤ 5e-6). A tolerance of 1e-4 is above that and still far below
 * what a wrong weight, offset or divisor gives (≥ 1e-2: one misplaced tap or a count off by one
 * moves a derivative by a sizeable fraction of a weight).
 */

const F64_TOL = 1e-5;
const F32_TOL = 1e-4;
const F32_H = 0.05;
const I64_MAX = 9223372036854775807n;
const I64_MIN = -9223372036854775808n;

type Dtype = 'float32' | 'float64';
interface Case {
  op: string;
  /** Shape of the one differentiated input `x`. */
  x: number[];
  nodes: NodeP[];
  initializers?: TensorP[];
  outputs?: string[];
  opset?: number;
  dtype?: Dtype;
}

/** Worst relError and number of checks per op, printed at the end (for the record, not asserted). */
const worst = new Map<string, { err: number; checks: number }>();
after(() => {
  const rows = [...worst.entries()].sort(([a], [b]) => a.localeCompare(b));
  console.log(rows.map(([op, { err, checks }]) => `${op.padEnd(16)} ${String(checks).padStart(2)} checks, worst relError ${err.toExponential(2)}`).join('\n'));
});

function modelOf(c: Case) {
  const dtype = c.dtype ?? 'float64';
  return makeModel({
    inputs: [{ name: 'x', dtype, shape: c.x }],
    outputs: (c.outputs ?? ['y']).map((name) => ({ name, dtype })),
    nodes: c.nodes,
    initializers: c.initializers ?? [],
    opset: c.opset ?? 17,
  });
}

function feedOf(c: Case, seed: string): Record<string, Feed> {
  const rng = new Rng(seed);
  const n = c.x.reduce((a, b) => a * b, 1);
  const vals = Array.from({ length: n }, () => rng.range(-2, 2));
  return { x: { data: (c.dtype ?? 'float64') === 'float64' ? Float64Array.from(vals) : Float32Array.from(vals), dims: c.x } };
}

async function check(c: Case): Promise<number> {
  const dtype = c.dtype ?? 'float64';
  const seed = `shape-rules/${c.op}/${JSON.stringify(c.x)}/${c.nodes.map((n) => n.op_type).join(',')}`;
  const [res] = await gradcheck(modelOf(c), feedOf(c, seed), ['x'], new Rng(`${seed}/w`), dtype === 'float32' ? { h: F32_H } : {});
  const tol = dtype === 'float64' ? F64_TOL : F32_TOL;
  const seen = worst.get(c.op) ?? { err: 0, checks: 0 };
  worst.set(c.op, { err: Math.max(seen.err, res!.relError), checks: seen.checks + 1 });
  assert.ok(res!.maxAbsNumeric > 0, `${c.op}: the numeric gradient is all zero, the check would be vacuous`);
  assert.ok(res!.relError < tol, `${c.op}: relError ${res!.relError} ≥ ${tol} (${dtype})`);
  return res!.relError;
}

async function rejects(c: Case, message: RegExp | ((e: unknown) => true)): Promise<void> {
  await assert.rejects(gradcheck(modelOf(c), feedOf(c, 'reject'), ['x'], new Rng('reject/w')), message);
}

const i64 = (name: string, values: (number | bigint)[], dims: number[] = [values.length]): TensorP =>
  makeTensor(name, dims, BigInt64Array.from(values, (v) => BigInt(v)));
const f32 = (name: string, values: number[], dims: number[] = [values.length]): TensorP => makeTensor(name, dims, Float32Array.from(values));
const f64 = (name: string, values: number[], dims: number[] = [values.length]): TensorP => makeTensor(name, dims, Float64Array.from(values));

// ---------------------------------------------------------------- pure layout: Transpose, Squeeze, Unsqueeze

test('Transpose: explicit perm, and the default (reversed axes)', async () => {
  await check({ op: 'Transpose', x: [2, 3, 2, 2], nodes: [node('Transpose', ['x'], ['y'], { perm: [0, 2, 3, 1] })] });
  await check({ op: 'Transpose', x: [2, 3, 4], nodes: [node('Transpose', ['x'], ['y'])], opset: 11 });
});

test('Squeeze: axes attribute (opset 11), axes input with negative axes (13), no axes (13)', async () => {
  await check({ op: 'Squeeze', x: [2, 1, 3], nodes: [node('Squeeze', ['x'], ['y'], { axes: [1] })], opset: 11 });
  await check({ op: 'Squeeze', x: [2, 1, 3, 1], nodes: [node('Squeeze', ['x', 'axes'], ['y'])], initializers: [i64('axes', [-1, 1])], opset: 13 });
  await check({ op: 'Squeeze', x: [1, 3, 1], nodes: [node('Squeeze', ['x'], ['y'])], opset: 13 });
});

test('Unsqueeze: axes attribute (opset 11), axes input with negative axes (13, 21)', async () => {
  await check({ op: 'Unsqueeze', x: [2, 3], nodes: [node('Unsqueeze', ['x'], ['y'], { axes: [0, 3] })], opset: 11 });
  for (const opset of [13, 21]) {
    await check({ op: 'Unsqueeze', x: [2, 3], nodes: [node('Unsqueeze', ['x', 'axes'], ['y'])], initializers: [i64('axes', [1, -1])], opset });
  }
});

test('DepthToSpace (DCR and CRD) and SpaceToDepth', async () => {
  for (const mode of ['DCR', 'CRD']) {
    await check({ op: 'DepthToSpace', x: [1, 8, 2, 3], nodes: [node('DepthToSpace', ['x'], ['y'], { blocksize: 2, mode })] });
  }
  await check({ op: 'DepthToSpace', x: [2, 4, 1, 2], nodes: [node('DepthToSpace', ['x'], ['y'], { blocksize: 2 })], opset: 11 });
  await check({ op: 'SpaceToDepth', x: [1, 2, 4, 6], nodes: [node('SpaceToDepth', ['x'], ['y'], { blocksize: 2 })] });
});

// ---------------------------------------------------------------- Concat, Split

test('Concat: fan-in of the same input, a constant operand, negative axis', async () => {
  await check({ op: 'Concat', x: [2, 2, 3], nodes: [node('Concat', ['x', 'c', 'x'], ['y'], { axis: 1 })], initializers: [f64('c', [1, 2, 3, 4, 5, 6], [2, 1, 3])] });
  await check({ op: 'Concat', x: [2, 3], nodes: [node('Concat', ['c', 'x'], ['y'], { axis: -1 })], initializers: [f64('c', [7, 8], [2, 1])], opset: 11 });
});

test('Split: split attribute with an unused middle output (opset 11), split input (13), num_outputs (18)', async () => {
  await check({ op: 'Split', x: [2, 6, 2], nodes: [node('Split', ['x'], ['y0', 'y1', 'y2'], { axis: 1, split: [1, 2, 3] })], outputs: ['y0', 'y2'], opset: 11 });
  await check({ op: 'Split', x: [2, 4], nodes: [node('Split', ['x', 's'], ['y0', 'y1'], { axis: -1 })], initializers: [i64('s', [3, 1])], outputs: ['y0', 'y1'], opset: 13 });
  // 7 rows in 3 outputs: 3, 3, 1; only the middle one live (the single-live zero-Pad path).
  await check({ op: 'Split', x: [7, 2], nodes: [node('Split', ['x'], ['y0', 'y1', 'y2'], { axis: 0, num_outputs: 3 })], outputs: ['y1'], opset: 18 });
  await check({ op: 'Split', x: [7, 2], nodes: [node('Split', ['x'], ['y0', 'y1', 'y2'], { axis: 0, num_outputs: 3 })], outputs: ['y0', 'y1', 'y2'], opset: 18 });
});

// ---------------------------------------------------------------- Slice

test('Slice: negative starts/ends and INT64_MAX ends, unit steps (opset 11 and 13)', async () => {
  for (const opset of [11, 13]) {
    await check({
      op: 'Slice',
      x: [2, 4, 5],
      nodes: [node('Slice', ['x', 'st', 'en', 'ax'], ['y'])],
      initializers: [i64('st', [1, -3]), i64('en', [I64_MAX, -1]), i64('ax', [1, 2])],
      opset,
    });
  }
});

test('Slice: negative steps (full reverse to INT64_MIN, step −2, step −1 with clamped end)', async () => {
  await check({
    op: 'Slice',
    x: [2, 3, 4],
    nodes: [node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['y'])],
    initializers: [i64('st', [-1]), i64('en', [I64_MIN]), i64('ax', [2]), i64('sp', [-1])],
  });
  await check({
    op: 'Slice',
    x: [2, 4, 5],
    nodes: [node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['y'])],
    initializers: [i64('st', [4, 3]), i64('en', [0, -100]), i64('ax', [-1, 1]), i64('sp', [-2, -1])],
  });
  await check({
    op: 'Slice',
    x: [3, 7],
    nodes: [node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['y'])],
    initializers: [i64('st', [I64_MAX, 5]), i64('en', [0, I64_MIN]), i64('ax', [0, 1]), i64('sp', [-1, -3])],
    opset: 11,
  });
});

test('Slice: strided steps with axes omitted, ends past the end, and an empty slice', async () => {
  await check({
    op: 'Slice',
    x: [2, 4, 5],
    nodes: [node('Slice', ['x', 'st', 'en', '', 'sp'], ['y'])],
    initializers: [i64('st', [0, 1, 0]), i64('en', [2, 4, 5]), i64('sp', [1, 2, 3])],
  });
  // Step 3 from 1 on 8 rows: rows 1, 4, 7 (the last block's zeros would overhang X) and from 0:
  // rows 0, 3 (they fit).
  await check({
    op: 'Slice',
    x: [8, 2],
    nodes: [node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['y'])],
    initializers: [i64('st', [1]), i64('en', [I64_MAX]), i64('ax', [0]), i64('sp', [3])],
  });
  await check({
    op: 'Slice',
    x: [8, 2],
    nodes: [node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['y'])],
    initializers: [i64('st', [0]), i64('en', [5]), i64('ax', [0]), i64('sp', [3])],
  });
  await check({
    op: 'Slice',
    x: [9, 2],
    nodes: [node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['y'])],
    initializers: [i64('st', [1]), i64('en', [1000]), i64('ax', [0]), i64('sp', [3])],
    opset: 11,
  });
  // An empty slice concatenated with a real one: its gradient is zeros, the other flows.
  await check({
    op: 'Slice',
    x: [3, 4],
    nodes: [
      node('Slice', ['x', 'st0', 'en0', 'ax'], ['e']),
      node('Slice', ['x', 'st1', 'en1', 'ax'], ['s']),
      node('Concat', ['e', 's'], ['y'], { axis: 1 }),
    ],
    initializers: [i64('st0', [2]), i64('en0', [1]), i64('st1', [1]), i64('en1', [3]), i64('ax', [1])],
  });
});

// ---------------------------------------------------------------- Gather, GatherElements

test('Gather: duplicate and negative indices as a matrix, inner and outer axes', async () => {
  await check({ op: 'Gather', x: [2, 3, 4], nodes: [node('Gather', ['x', 'i'], ['y'], { axis: 1 })], initializers: [i64('i', [0, 2, 2, -1], [2, 2])] });
  await check({ op: 'Gather', x: [2, 4], nodes: [node('Gather', ['x', 'i'], ['y'], { axis: -1 })], initializers: [i64('i', [3, 0, 3])], opset: 11 });
});

test('Gather: a scalar index and a run of consecutive indices (zero Pad)', async () => {
  await check({ op: 'Gather', x: [3, 2, 2], nodes: [node('Gather', ['x', 'i'], ['y'], { axis: 0 })], initializers: [i64('i', [-2], [])] });
  await check({ op: 'Gather', x: [2, 2, 5], nodes: [node('Gather', ['x', 'i'], ['y'], { axis: 2 })], initializers: [i64('i', [1, 2, 3], [3, 1])] });
});

test('Gather: indices computed only from shapes are static', async () => {
  // idx = shape(x)[0] − 1, i.e. the last row.
  await check({
    op: 'Gather',
    x: [3, 4],
    nodes: [node('Shape', ['x'], ['s']), node('Gather', ['s', 'zero'], ['n']), node('Sub', ['n', 'one'], ['last']), node('Gather', ['x', 'last'], ['y'], { axis: 0 })],
    initializers: [i64('zero', [0], []), i64('one', [1], [])],
    opset: 13,
  });
});

test('Gather: data-dependent indices (an in-graph one-hot matrix)', async () => {
  await check({ op: 'Gather', x: [2, 5], nodes: [node('ArgMax', ['x'], ['am'], { axis: 1, keepdims: 0 }), node('Gather', ['x', 'am'], ['y'], { axis: 1 })], opset: 13 });
});

test('GatherElements: duplicates and negative indices, indices smaller than the data', async () => {
  await check({ op: 'GatherElements', x: [2, 3], nodes: [node('GatherElements', ['x', 'i'], ['y'], { axis: 1 })], initializers: [i64('i', [0, 0, 2, 1, -1, 0], [2, 3])] });
  await check({ op: 'GatherElements', x: [3, 3], nodes: [node('GatherElements', ['x', 'i'], ['y'], { axis: 0 })], initializers: [i64('i', [2, 0, 2, 1, 1, 1], [2, 3])], opset: 11 });
  await rejects(
    { op: 'GatherElements', x: [2, 5], nodes: [node('ArgMax', ['x'], ['am'], { axis: 1, keepdims: 1 }), node('GatherElements', ['x', 'am'], ['y'], { axis: 1 })], opset: 13 },
    unsupportedNode('GatherElements', 'y', /^its indices are data-dependent/, 'x'),
  );
});

// ---------------------------------------------------------------- Expand, Tile

test('Expand: new leading axes and size-1 axes broadcast', async () => {
  await check({ op: 'Expand', x: [1, 3, 1], nodes: [node('Expand', ['x', 's'], ['y'])], initializers: [i64('s', [2, 3, 4])] });
  await check({ op: 'Expand', x: [3, 1], nodes: [node('Expand', ['x', 's'], ['y'])], initializers: [i64('s', [2, 1, 1, 2])], opset: 11 });
});

test('Tile: one and several tiled axes', async () => {
  await check({ op: 'Tile', x: [2, 3], nodes: [node('Tile', ['x', 'r'], ['y'])], initializers: [i64('r', [2, 1])] });
  await check({ op: 'Tile', x: [1, 2, 3], nodes: [node('Tile', ['x', 'r'], ['y'])], initializers: [i64('r', [2, 3, 2])], opset: 11 });
});

// ---------------------------------------------------------------- Pad

test('Pad constant: pads and constant value inputs (opset 11), negative pads (13)', async () => {
  await check({ op: 'Pad', x: [2, 3, 3], nodes: [node('Pad', ['x', 'p', 'v'], ['y'])], initializers: [i64('p', [0, 1, 2, 0, 2, 1]), f64('v', [0.25], [])], opset: 11 });
  await check({ op: 'Pad', x: [2, 3, 4], nodes: [node('Pad', ['x', 'p'], ['y'], { mode: 'constant' })], initializers: [i64('p', [0, -1, 1, 0, 1, -1])], opset: 13 });
});

test('Pad constant: gradient through the constant value (taken from x itself)', async () => {
  await check({
    op: 'Pad',
    x: [2, 3],
    nodes: [node('Reshape', ['x', 'flat'], ['xf']), node('Gather', ['xf', 'i0'], ['v'], { axis: 0 }), node('Pad', ['x', 'p', 'v'], ['y'])],
    initializers: [i64('flat', [-1]), i64('i0', [4], []), i64('p', [1, 0, 0, 2])],
    opset: 13,
  });
});

test('Pad reflect and edge (opsets 11, 13), with axes (18), wrap (19), edge with a negative pad', async () => {
  await check({ op: 'Pad', x: [1, 2, 4, 3], nodes: [node('Pad', ['x', 'p'], ['y'], { mode: 'reflect' })], initializers: [i64('p', [0, 0, 2, 1, 0, 0, 1, 2])], opset: 11 });
  await check({ op: 'Pad', x: [1, 2, 4, 3], nodes: [node('Pad', ['x', 'p'], ['y'], { mode: 'reflect' })], initializers: [i64('p', [0, 0, 3, 2, 0, 0, 3, 2])], opset: 13 });
  await check({ op: 'Pad', x: [1, 2, 3, 3], nodes: [node('Pad', ['x', 'p'], ['y'], { mode: 'edge' })], initializers: [i64('p', [0, 0, 3, 0, 0, 0, 1, 2])], opset: 13 });
  await check({ op: 'Pad', x: [2, 3, 4], nodes: [node('Pad', ['x', 'p', '', 'ax'], ['y'], { mode: 'edge' })], initializers: [i64('p', [2, 1]), i64('ax', [-1])], opset: 18 });
  await check({ op: 'Pad', x: [2, 3, 4], nodes: [node('Pad', ['x', 'p', '', 'ax'], ['y'], { mode: 'reflect' })], initializers: [i64('p', [1, 2, 2, 1]), i64('ax', [1, 2])], opset: 18 });
  await check({ op: 'Pad', x: [2, 3], nodes: [node('Pad', ['x', 'p'], ['y'], { mode: 'wrap' })], initializers: [i64('p', [0, 2, 1, 3])], opset: 19 });
  await check({ op: 'Pad', x: [2, 5], nodes: [node('Pad', ['x', 'p'], ['y'], { mode: 'edge' })], initializers: [i64('p', [0, -1, 0, 2])], opset: 13 });
});

// ---------------------------------------------------------------- Resize (float32: ORT has no double kernel)

const resize = (attrs: Record<string, AttrValue>, x: number[], scales: number[] | null, sizes: number[] | null, opset = 13, roi: number[] | null = null): Case => {
  const initializers: TensorP[] = [];
  const ins = ['x', '', '', ''];
  if (roi) {
    initializers.push(f32('roi', roi));
    ins[1] = 'roi';
  } else if (opset === 11) {
    initializers.push(f32('roi', []));
    ins[1] = 'roi';
  }
  if (scales) {
    initializers.push(f32('scales', scales));
    ins[2] = 'scales';
  } else if (opset === 11) {
    initializers.push(f32('scales', []));
    ins[2] = 'scales';
  }
  if (sizes) {
    initializers.push(i64('sizes', sizes));
    ins[3] = 'sizes';
  }
  while (ins[ins.length - 1] === '') ins.pop();
  return { op: 'Resize', x, nodes: [node('Resize', ins, ['y'], attrs)], initializers, opset, dtype: 'float32' };
};

test('Resize nearest: integer upscale as block sums (asymmetric/floor and half_pixel), opset 11 and 13', async () => {
  await check(resize({ mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, [1, 2, 3, 4], [1, 1, 2, 2], null));
  await check(resize({ mode: 'nearest' }, [1, 2, 3, 2], [1, 1, 3, 2], null, 11));
  await check(resize({ mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, [2, 2, 3], null, [2, 4, 6], 11));
});

test('Resize nearest: every nearest_mode with non-integer scales, up and down', async () => {
  await check(resize({ mode: 'nearest' }, [1, 1, 3, 4], [1, 1, 1.5, 2.5], null));
  await check(resize({ mode: 'nearest', coordinate_transformation_mode: 'align_corners', nearest_mode: 'round_prefer_ceil' }, [1, 2, 3, 4], null, [1, 2, 5, 7]));
  await check(resize({ mode: 'nearest', coordinate_transformation_mode: 'tf_half_pixel_for_nn', nearest_mode: 'ceil' }, [1, 1, 4, 5], null, [1, 1, 7, 3], 11));
  await check(resize({ mode: 'nearest', coordinate_transformation_mode: 'pytorch_half_pixel', nearest_mode: 'floor' }, [1, 1, 5, 6], [1, 1, 0.6, 1.7], null));
  await check(resize({ mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'round_prefer_floor' }, [1, 1, 5, 4], [1, 1, 1.5, 0.75], null));
});

test('Resize linear: half_pixel ×2, align_corners, pytorch_half_pixel (incl. output size 1), asymmetric, 2-D/3-D; nearest 1-D', async () => {
  await check(resize({ mode: 'linear' }, [1, 2, 3, 4], [1, 1, 2, 2], null));
  await check(resize({ mode: 'linear', coordinate_transformation_mode: 'align_corners' }, [1, 2, 3, 4], null, [1, 2, 5, 3]));
  await check(resize({ mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' }, [1, 1, 5, 4], [1, 1, 1.7, 0.3], null));
  await check(resize({ mode: 'linear', coordinate_transformation_mode: 'asymmetric' }, [1, 1, 4, 4], [1, 1, 1.5, 0.75], null, 11));
  await check(resize({ mode: 'linear' }, [3, 4], [2.5, 0.5], null));
  await check(resize({ mode: 'linear', coordinate_transformation_mode: 'align_corners' }, [2, 3, 4], [1.5, 2, 0.5], null));
  await check(resize({ mode: 'nearest', nearest_mode: 'round_prefer_ceil' }, [5], [1.4], null));
});

test('Resize linear: tf_crop_and_resize with roi and extrapolation, half_pixel_symmetric (19)', async () => {
  await check(resize({ mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: float(3) }, [1, 1, 4, 5], null, [1, 1, 5, 4], 13, [0, 0, -0.2, 0.1, 1, 1, 0.9, 1.3]));
  await check(resize({ mode: 'nearest', coordinate_transformation_mode: 'tf_crop_and_resize' }, [1, 1, 4, 5], null, [1, 1, 3, 6], 11, [0, 0, 0.1, -0.2, 1, 1, 0.8, 1.1]));
  await check(resize({ mode: 'linear', coordinate_transformation_mode: 'half_pixel_symmetric' }, [1, 2, 3, 4], [1, 1, 1.6, 0.5], null, 19));
});

test('Resize cubic: default, exclude_outside with a = −0.5', async () => {
  await check(resize({ mode: 'cubic' }, [1, 1, 4, 4], [1, 1, 1.5, 2], null));
  await check(resize({ mode: 'cubic', coordinate_transformation_mode: 'align_corners', exclude_outside: 1, cubic_coeff_a: float(-0.5) }, [1, 2, 3, 4], null, [1, 2, 5, 6]));
});

test('Resize opset 18: axes with scales, keep_aspect_ratio_policy with sizes', async () => {
  await check(resize({ mode: 'linear', axes: [2, 3] }, [1, 2, 3, 4], [2, 1.5], null, 18));
  await check(resize({ mode: 'nearest', axes: [3, 2], keep_aspect_ratio_policy: 'not_larger' }, [1, 1, 3, 4], null, [6, 5], 18));
  await check(resize({ mode: 'linear', axes: [2, 3], keep_aspect_ratio_policy: 'not_smaller' }, [1, 1, 3, 4], null, [5, 5], 18));
  await check(resize({ mode: 'nearest', keep_aspect_ratio_policy: 'not_smaller' }, [1, 2, 2, 3], null, [1, 2, 5, 5], 18));
});

test('Resize: antialias and computed scales are an UnsupportedOpError naming the node', async () => {
  await rejects(resize({ mode: 'linear', antialias: 1 }, [1, 1, 4, 4], [1, 1, 0.5, 0.5], null, 18), unsupportedNode('Resize', 'y', /^antialias=1 has no gradient rule$/));
  await rejects(
    {
      op: 'Resize',
      x: [1, 1, 2, 2],
      // scales = ones · 2, computed by a node (not a constant), so the rule cannot read them.
      nodes: [node('Mul', ['ones', 'two'], ['sc']), node('Resize', ['x', '', 'sc'], ['y'], { mode: 'nearest' })],
      initializers: [f32('two', [2], []), f32('ones', [1, 1, 1, 1])],
      opset: 13,
      dtype: 'float32',
    },
    unsupportedNode('Resize', 'y', /^its scales are computed in the graph/),
  );
});

// ---------------------------------------------------------------- AveragePool (float32)

const avgPool = (attrs: Record<string, AttrValue>, x: number[], opset = 13): Case => ({
  op: 'AveragePool',
  x,
  nodes: [node('AveragePool', ['x'], ['y'], attrs)],
  opset,
  dtype: 'float32',
});

test('AveragePool: pads with count_include_pad 1 and 0 (uniform kernel and per-position divisors)', async () => {
  for (const count_include_pad of [1, 0]) {
    await check(avgPool({ kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad }, [1, 2, 7, 7]));
    await check(avgPool({ kernel_shape: [3, 2], strides: [1, 2], pads: [1, 0, 2, 1], count_include_pad }, [1, 1, 5, 6], 11));
  }
});

test('AveragePool: ceil_mode windows overhanging the padding, both count modes', async () => {
  for (const count_include_pad of [1, 0]) {
    await check(avgPool({ kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1, count_include_pad }, [1, 1, 6, 6]));
    // Non-overlapping windows (the Expand path) with partial last windows.
    await check(avgPool({ kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1, count_include_pad }, [1, 2, 5, 5]));
  }
});

test('AveragePool: non-overlapping windows, 1-D and 3-D, auto_pad SAME_UPPER, dilations (opset 19)', async () => {
  await check(avgPool({ kernel_shape: [2, 3], strides: [2, 3] }, [2, 2, 5, 6]));
  await check(avgPool({ kernel_shape: [2, 2], strides: [2, 2] }, [1, 2, 4, 6], 11));
  await check(avgPool({ kernel_shape: [3], strides: [3], ceil_mode: 1 }, [1, 2, 7], 11));
  await check(avgPool({ kernel_shape: [3], strides: [2], pads: [1, 1] }, [1, 2, 7]));
  await check(avgPool({ kernel_shape: [2, 2, 2], pads: [1, 0, 0, 0, 1, 1] }, [1, 1, 3, 3, 4]));
  await check(avgPool({ kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' }, [1, 1, 5, 6]));
  await check(avgPool({ kernel_shape: [2, 2], strides: [1, 1], dilations: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 }, [1, 1, 4, 5], 19));
  await check(avgPool({ kernel_shape: [2, 2], strides: [2, 1], dilations: [2, 1], ceil_mode: 1 }, [1, 1, 6, 4], 19));
});

// ---------------------------------------------------------------- ConvTranspose (float32)

const weights = (name: string, dims: number[], seed: string): TensorP => {
  const rng = new Rng(seed);
  return f32(name, Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.range(-1, 1)), dims);
};
const convT = (attrs: Record<string, AttrValue>, x: number[], w: number[], bias = false, opset = 13): Case => ({
  op: 'ConvTranspose',
  x,
  nodes: [node('ConvTranspose', bias ? ['x', 'w', 'b'] : ['x', 'w'], ['y'], attrs)],
  initializers: [weights('w', w, `w${w.join()}`), ...(bias ? [f32('b', Array.from({ length: w[1]! * ((attrs.group as number) ?? 1) }, (_, i) => i / 4))] : [])],
  opset,
  dtype: 'float32',
});

test('ConvTranspose: stride 2 with output_padding and pads; bias', async () => {
  await check(convT({ strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }, [1, 2, 3, 3], [2, 3, 3, 3], true));
  await check(convT({ strides: [2, 3], output_padding: [1, 2] }, [2, 1, 2, 3], [1, 2, 2, 3], false, 11));
});

test('ConvTranspose: groups and depthwise, dilations, 1-D', async () => {
  await check(convT({ strides: [2, 2], group: 2 }, [1, 4, 3, 3], [4, 1, 3, 3], true));
  await check(convT({ group: 3, dilations: [2, 2], pads: [1, 0, 0, 1] }, [1, 3, 3, 3], [3, 1, 2, 2]));
  await check(convT({ strides: [3], pads: [1, 2], dilations: [2] }, [1, 2, 4], [2, 2, 3]));
});

test('ConvTranspose: output_shape and auto_pad SAME_UPPER / SAME_LOWER (odd total padding)', async () => {
  await check(convT({ strides: [2, 2], output_shape: [6, 5] }, [1, 1, 3, 3], [1, 2, 3, 3]));
  await check(convT({ strides: [2, 2], auto_pad: 'SAME_UPPER' }, [1, 1, 3, 3], [1, 2, 3, 3]));
  await check(convT({ strides: [2, 2], auto_pad: 'SAME_LOWER', dilations: [2, 1] }, [1, 1, 3, 3], [1, 1, 3, 3]));
  await check(convT({ strides: [2, 2], output_shape: [7, 6], auto_pad: 'SAME_UPPER' }, [1, 1, 3, 3], [1, 1, 3, 2]));
});

test('ConvTranspose: a computed weight (the input itself) gets dX and dW, summed', async () => {
  await check({ op: 'ConvTranspose', x: [1, 1, 2, 2], nodes: [node('ConvTranspose', ['x', 'x'], ['y'])], dtype: 'float32' });
});


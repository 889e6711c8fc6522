import { unsupported, type GradContext, type Rule } from '../context.js';
import { attrFloat, attrInt, attrInts, attrString } from '../../onnx/graph.js';

/**
 * Resize, modes nearest (every nearest_mode), linear and cubic, every
 * coordinate_transformation_mode (half_pixel, half_pixel_symmetric, pytorch_half_pixel,
 * align_corners, asymmetric, tf_half_pixel_for_nn, tf_crop_and_resize with its roi), scales or
 * sizes (keep_aspect_ratio_policy and `axes` from opset 18), any rank.
 *
 * Resize is linear and separable: Y = X ×₀ A₀ ×₁ A₁ … with one interpolation matrix Aₐ [outₐ, inₐ]
 * per resized axis, so dX = gy ×₀ A₀ᵀ ×₁ A₁ᵀ …. Each Aₐ is built here from the exact coordinate
 * formulas, in float32 as ONNX Runtime evaluates them (so ties round the same way), and applied
 * with one MatMul per axis. Nearest upsampling by an integer factor whose map is ⌊o / f⌋ is a
 * Reshape + ReduceSum over the replicated blocks instead. Axes with scale 1 are the identity (as in
 * ONNX Runtime). Not supported: antialias = 1, and scales computed in the graph (not constants).
 */
export const Resize: Rule = (ctx) => {
  const { node, e, b, gy, shape, floatType } = ctx;
  const xs = shape(node.input[0]!);
  const ys = shape(node.output[0]!);
  const rest = node.input.slice(1).map(() => null);
  if (xs.every((d, i) => d === ys[i])) return [gy[0]!, ...rest];
  const mode = attrString(node, 'mode', 'nearest');
  if (!['nearest', 'linear', 'cubic'].includes(mode)) unsupported(node, `mode '${mode}' has no gradient rule`);
  if (attrInt(node, 'antialias', 0) !== 0) unsupported(node, 'antialias=1 has no gradient rule');
  const { scales, roi } = resizeParams(ctx, xs, ys);
  const spec: Interp = {
    mode,
    ctm: ctx.opset < 11 ? 'asymmetric' : attrString(node, 'coordinate_transformation_mode', 'half_pixel'),
    nearest: attrString(node, 'nearest_mode', 'round_prefer_floor'),
    cubicA: attrFloat(node, 'cubic_coeff_a', -0.75),
    excludeOutside: attrInt(node, 'exclude_outside', 0) !== 0,
  };
  if (!CTMS.includes(spec.ctm)) unsupported(node, `coordinate_transformation_mode '${spec.ctm}' has no gradient rule`);
  let g = gy[0]!;
  const cur = [...ys];
  const blocks: number[] = [];
  xs.forEach((n, a) => {
    if (scales[a] === 1) return;
    const m = ys[a]!;
    const A = axisMatrix(spec, n, m, scales[a]!, roi[a]!, roi[a + xs.length]!);
    const f = m / n;
    if (mode === 'nearest' && Number.isInteger(f) && A.every((v, i) => v === (Math.floor(Math.floor(i / n) / f) === i % n ? 1 : 0))) {
      blocks.push(a);
      return;
    }
    const pre = cur.slice(0, a).reduce((p, d) => p * d, 1);
    const post = cur.slice(a + 1).reduce((p, d) => p * d, 1);
    const data = floatType === 'float64' ? A : Float32Array.from(A);
    if (post === 1) g = e.op('MatMul', [e.reshape(g, [pre, m]), b.tensor('resize_interp', [m, n], data)], {}, 'resize_grad');
    else g = e.op('MatMul', [b.tensor('resize_interp_t', [n, m], transpose(data, m, n)), e.reshape(g, [pre, m, post])], {}, 'resize_grad');
    cur[a] = n;
    g = e.reshape(g, cur);
  });
  if (blocks.length > 0) {
    const split = cur.flatMap((d, a) => (blocks.includes(a) ? [xs[a]!, d / xs[a]!] : [d]));
    const sumAxes = blocks.map((a) => a + 1 + blocks.filter((q) => q < a).length);
    g = e.reduceSum(e.reshape(g, split), sumAxes, false);
  }
  return [g, ...rest];
};

interface Interp {
  mode: string;
  ctm: string;
  nearest: string;
  cubicA: number;
  excludeOutside: boolean;
}

/** Scales as ONNX Runtime uses them (given, or out/in from sizes, adjusted by the aspect-ratio policy) and the roi. */
function resizeParams({ node, opset, constFloats, staticInts }: GradContext, xs: number[], ys: number[]): { scales: number[]; roi: number[] } {
  const r = xs.length;
  const axes = (opset >= 18 ? attrInts(node, 'axes') : undefined)?.map((a) => (a < 0 ? a + r : a));
  const onAxes = (vals: ArrayLike<number>, dflt: number, offset = 0, count = r): number[] => {
    const out = xs.map(() => dflt);
    if (!axes && vals.length >= offset + count) for (let i = 0; i < r; i++) out[i] = vals[offset + i]!;
    else (axes ?? []).forEach((a, i) => (out[a] = vals[offset + i]!));
    return out;
  };
  const given = constFloats(opset < 11 ? node.input[1] : node.input[2]);
  let scales: number[];
  if (given && given.length > 0) scales = onAxes(given, 1);
  else if (opset >= 11 && node.input[3]) {
    scales = xs.map((n, i) => (n === 0 ? 1 : Math.fround(ys[i]! / n)));
    const policy = opset >= 18 ? attrString(node, 'keep_aspect_ratio_policy', 'stretch') : 'stretch';
    if (policy !== 'stretch') {
      const sizes = staticInts(node.input[3]);
      if (!sizes) unsupported(node, 'its sizes are computed from the data; no gradient rule for that');
      const req = onAxes(sizes, 0);
      const on = axes ?? xs.map((_, i) => i);
      const ratios = on.map((a) => Math.fround(req[a]! / xs[a]!));
      const pick = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
      scales = xs.map((_, i) => (on.includes(i) ? pick : 1));
    }
  } else unsupported(node, 'its scales are computed in the graph (not a constant), so the interpolation cannot be rebuilt; no gradient rule for that');
  let roi = [...xs.map(() => 0), ...xs.map(() => 1)];
  if (attrString(node, 'coordinate_transformation_mode', 'half_pixel') === 'tf_crop_and_resize') {
    const v = constFloats(node.input[1]);
    if (!v) unsupported(node, 'tf_crop_and_resize with a computed roi has no gradient rule');
    const k = axes ? axes.length : r;
    roi = [...onAxes(v, 0, 0, k), ...onAxes(v, 1, k, k)];
  }
  return { scales, roi };
}

const CTMS = ['asymmetric', 'pytorch_half_pixel', 'tf_half_pixel_for_nn', 'align_corners', 'tf_crop_and_resize', 'half_pixel_symmetric', 'half_pixel'];

const f = Math.fround;

/** Input coordinate of output index o, in float32 steps as ONNX Runtime computes it. */
function coordinate(ctm: string, o: number, scale: number, m: number, n: number, rs: number, re: number): number {
  switch (ctm) {
    case 'asymmetric': return f(o / scale);
    case 'pytorch_half_pixel': return m > 1 ? f(f(f(o + 0.5) / scale) - 0.5) : 0;
    case 'tf_half_pixel_for_nn': return f(f(o + 0.5) / scale);
    case 'align_corners': return m === 1 ? 0 : f(f(o * (n - 1)) / (m - 1));
    case 'tf_crop_and_resize':
      return m > 1 ? f(f(rs * (n - 1)) + f(f(f(o * f(re - rs)) * (n - 1)) / (m - 1))) : f(0.5 * f(rs + re) * (n - 1));
    case 'half_pixel_symmetric': {
      const adjustment = f(m / f(scale * n));
      return f(f(f(n / 2) * f(1 - adjustment)) + (o + 0.5) / scale - 0.5);
    }
    case 'half_pixel': return f(f(f(o + 0.5) / scale) - 0.5);
    default: throw new Error(`internal: Resize coordinate_transformation_mode '${ctm}' passed the rule's check`);
  }
}

function roundHalfAway(v: number): number {
  return Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
}

function nearestIndex(mode: string, v: number): number {
  if (mode === 'floor') return Math.floor(v);
  if (mode === 'ceil') return Math.ceil(v);
  if (mode === 'round_prefer_ceil') return roundHalfAway(v);
  return v === Math.trunc(v) + 0.5 ? Math.floor(v) : roundHalfAway(v);
}

/** The interpolation matrix A [m, n] of one axis (row o: the weights Y[o] takes from X). */
function axisMatrix(s: Interp, n: number, m: number, scale: number, rs: number, re: number): Float64Array {
  const A = new Float64Array(m * n);
  const at = (i: number) => Math.min(Math.max(i, 0), n - 1);
  for (let o = 0; o < m; o++) {
    const xo = coordinate(s.ctm, o, scale, m, n, rs, re);
    if (s.ctm === 'tf_crop_and_resize' && (xo < 0 || xo > n - 1)) continue; // extrapolation_value: a constant
    if (s.mode === 'nearest') {
      A[o * n + at(nearestIndex(s.nearest, xo))] = 1;
    } else if (s.mode === 'linear') {
      const xc = Math.max(0, Math.min(xo, n - 1));
      const i1 = Math.min(Math.trunc(xc), n - 1);
      const i2 = Math.min(i1 + 1, n - 1);
      A[o * n + i1]! += i1 === i2 ? 0.5 : Math.abs(xc - i2);
      A[o * n + i2]! += i1 === i2 ? 0.5 : Math.abs(xc - i1);
    } else {
      const xi = Math.floor(xo);
      // exclude_outside: taps outside X get weight 0 and the rest is renormalised to sum 1.
      const c = cubicCoeffs(f(xo - xi), s.cubicA).map((w, j) => (s.excludeOutside && (xi - 1 + j < 0 || xi - 1 + j >= n) ? 0 : w));
      const sum = s.excludeOutside ? c.reduce((p, v) => p + v, 0) : 1;
      c.forEach((w, j) => (A[o * n + at(xi - 1 + j)]! += w / sum));
    }
  }
  return A;
}

/** Keys cubic convolution weights for the taps at −1, 0, 1, 2 around ⌊x⌋ (s = x − ⌊x⌋). */
function cubicCoeffs(s: number, A: number): number[] {
  const t = 1 - s;
  return [
    ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A,
    ((A + 2) * s - (A + 3)) * s * s + 1,
    ((A + 2) * t - (A + 3)) * t * t + 1,
    ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A,
  ];
}

function transpose<T extends Float32Array | Float64Array>(a: T, rows: number, cols: number): T {
  const out = a.slice() as T;
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

import { unsupported, type GradContext, type Rule } from '../context.js';
import { attrInts } from '../../onnx/graph.js';

/**
 * Slice (starts/ends/axes as attributes before opset 10, inputs with optional axes and steps
 * after; negative starts/ends, INT64_MAX/MIN ends, negative and >1 steps, axes omitted).
 *
 * Each sliced axis reads X at first, first + step, … (count elements). dX puts gy back there and
 * zeros elsewhere, without a scatter: reverse the negative-step axes (one Slice with step −1),
 * spread strided axes by interleaving zeros (Reshape [c, 1] → Pad to [c, |step|] → Reshape →
 * Slice off what overhangs X), then one zero Pad to X's shape. Unit steps need only that Pad.
 */
export const Slice: Rule = (ctx) => {
  const { node, e, gy, shape, floatType } = ctx;
  const xs = shape(node.input[0]!);
  const ys = shape(node.output[0]!);
  const r = xs.length;
  const rest = node.input.slice(1).map(() => null);
  if (ys.some((d) => d === 0)) return [e.zeros(xs, floatType), ...rest];
  const { starts, ends, axes, steps } = sliceParams(ctx);
  // Per axis: first element read, |step|, and whether it runs backwards.
  const first = xs.map(() => 0);
  const step = xs.map(() => 1);
  const reversed: number[] = [];
  axes.forEach((raw, i) => {
    const a = raw < 0 ? raw + r : raw;
    const dim = xs[a]!;
    const s = steps[i] ?? 1;
    let start = starts[i]!;
    if (start < 0) start += dim;
    start = s > 0 ? clamp(start, 0, dim) : clamp(start, 0, dim - 1);
    const count = ys[a]!;
    const span = (count - 1) * Math.abs(s);
    first[a] = s > 0 ? start : start - span;
    step[a] = Math.abs(s);
    if (s < 0) reversed.push(a);
    if (first[a]! < 0 || first[a]! + span >= dim) throw new Error(`internal: Slice node ${node.name}: axis ${a} reads outside [0, ${dim}) (ends ${ends[i]})`);
  });
  let g = gy[0]!;
  if (reversed.length > 0) g = e.slice(g, reversed.map(() => -1), reversed.map((a) => -(ys[a]! + 1)), reversed, reversed.map(() => -1));
  const strided = xs.map((_, a) => step[a]! > 1 && ys[a]! > 1);
  if (strided.some(Boolean)) {
    const withOnes = ys.flatMap((d, a) => (strided[a] ? [d, 1] : [d]));
    const pads = new Array<number>(2 * withOnes.length).fill(0);
    let k = 0;
    ys.forEach((_, a) => {
      k += strided[a] ? 2 : 1;
      if (strided[a]) pads[withOnes.length + k - 1] = step[a]! - 1;
    });
    g = e.reshape(e.padZeros(e.reshape(g, withOnes), pads), ys.map((d, a) => (strided[a] ? d * step[a]! : d)));
    // The trailing zeros of the last block can stay where they still fit inside X.
    const cut = xs.flatMap((d, a) => (strided[a] && first[a]! + ys[a]! * step[a]! > d ? [a] : []));
    if (cut.length > 0) g = e.slice(g, cut.map(() => 0), cut.map((a) => xs[a]! - first[a]!), cut);
  }
  const spans = ys.map((d, a) => (strided[a] ? Math.min(d * step[a]!, xs[a]! - first[a]!) : d));
  return [e.padZeros(g, [...first, ...xs.map((d, a) => d - first[a]! - spans[a]!)]), ...rest];
};

function sliceParams({ node, opset, staticInts, shape }: GradContext): { starts: number[]; ends: number[]; axes: number[]; steps: number[] } {
  const r = shape(node.input[0]!).length;
  const all = (n: number) => Array.from({ length: n }, (_, i) => i);
  if (opset < 10) {
    const starts = attrInts(node, 'starts') ?? [];
    return { starts, ends: attrInts(node, 'ends') ?? [], axes: attrInts(node, 'axes') ?? all(starts.length), steps: [] };
  }
  const read = (k: number, what: string): number[] | undefined => {
    const v = node.input[k];
    if (!v) return undefined;
    const vals = staticInts(v);
    if (!vals) unsupported(node, `its ${what} are computed from the data, so the slice is not static; no gradient rule for that`);
    return vals;
  };
  const starts = read(1, 'starts')!;
  return { starts, ends: read(2, 'ends')!, axes: read(3, 'axes') ?? all(Math.min(starts.length, r)), steps: read(4, 'steps') ?? [] };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}

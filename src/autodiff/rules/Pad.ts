import { unsupported, type Emit, type Rule } from '../context.js';
import { attrInts, attrString } from '../../onnx/graph.js';

/**
 * Pad, modes constant / reflect / edge / wrap (pads as an attribute before opset 11, as an input
 * from 11 with an optional constant value, `axes` from 18; negative pads crop first).
 *
 * Every mode maps each output index, axis by axis, to one input index (or to the constant), so dX
 * sums gy over that map. Constant mode: one Slice of the interior (plus a zero Pad where pads were
 * negative), and d(constant value) = Σ gy − Σ interior. Other modes, axis by axis: the map splits
 * into runs whose input index moves by +1, −1 or 0 (reflected borders run backwards, edge borders
 * stand still), and each stretch of X sums the Slices, reversed Slices or ReduceSums of gy that
 * land on it; the stretches are concatenated.
 */
export const Pad: Rule = ({ node, e, gy, needs, shape, staticInts, opset, floatType }) => {
  const xs = shape(node.input[0]!);
  const ys = shape(node.output[0]!);
  const r = xs.length;
  const mode = attrString(node, 'mode', 'constant');
  const raw = opset < 11 ? attrInts(node, 'pads') : staticInts(node.input[1]);
  if (!raw) unsupported(node, 'its pads are computed from the data; no gradient rule for that');
  let axes = xs.map((_, i) => i);
  if (opset >= 18 && node.input[3]) {
    const given = staticInts(node.input[3]);
    if (!given) unsupported(node, 'its axes are computed from the data; no gradient rule for that');
    axes = given.map((a) => (a < 0 ? a + r : a));
  }
  const begin = xs.map(() => 0);
  const end = xs.map(() => 0);
  axes.forEach((a, i) => {
    begin[a] = raw[i]!;
    end[a] = raw[i + axes.length]!;
  });
  const g = gy[0]!;
  const grads: (string | null)[] = node.input.map(() => null);
  if (mode === 'constant') {
    const sliced = axes.filter((a) => begin[a]! > 0 || end[a]! > 0);
    const inner = sliced.length === 0 ? g : e.slice(g, sliced.map((a) => Math.max(begin[a]!, 0)), sliced.map((a) => ys[a]! - Math.max(end[a]!, 0)), sliced);
    if (needs[0]) grads[0] = e.padZeros(inner, [...begin.map((p) => Math.max(-p, 0)), ...end.map((p) => Math.max(-p, 0))]);
    if (needs[2] && opset >= 11 && node.input[2]) {
      const all = ys.map((_, i) => i);
      const border = e.op('Sub', [e.reduceSum(g, all, false), e.reduceSum(inner, all, false)], {}, 'pad_value_grad');
      grads[2] = e.reshape(border, shape(node.input[2]));
    }
    return grads;
  }
  if (!['reflect', 'edge', 'wrap'].includes(mode)) unsupported(node, `mode '${mode}' has no gradient rule`);
  let cur = g;
  const curShape = [...ys];
  for (let a = 0; a < r; a++) {
    if (begin[a] === 0 && end[a] === 0) continue;
    cur = sumRuns(e, cur, curShape, a, indexMap(mode, xs[a]!, begin[a]!, end[a]!), xs[a]!, floatType);
    curShape[a] = xs[a]!;
  }
  grads[0] = needs[0] ? cur : null;
  return grads;
};

/** Input index read by each output index along one axis (negative pads crop before padding). */
function indexMap(mode: string, n: number, begin: number, end: number): number[] {
  const cropB = Math.max(-begin, 0);
  const len = n - cropB - Math.max(-end, 0);
  const pb = Math.max(begin, 0);
  const out = len + pb + Math.max(end, 0);
  return Array.from({ length: out }, (_, o) => {
    let i = o - pb;
    if (mode === 'edge') i = Math.min(Math.max(i, 0), len - 1);
    else if (mode === 'wrap') i = ((i % len) + len) % len;
    else if (len === 1) i = 0;
    else {
      const period = 2 * (len - 1);
      i = ((i % period) + period) % period;
      if (i >= len) i = period - i;
    }
    return cropB + i;
  });
}

/**
 * dX along `axis` for an index map. The map splits into runs whose input index moves by +1, −1 or 0;
 * X's axis is cut at every run boundary, and each segment is the sum of the (possibly reversed)
 * slices of gy that land on it (a ReduceSum for a standing run); the segments are concatenated.
 * Every element of gy is read once, so this costs a few passes over gy, not one per run.
 */
function sumRuns(e: Emit, g: string, gShape: number[], axis: number, map: number[], n: number, floatType: 'float32' | 'float64'): string {
  const runs: { o: number; len: number; lo: number; d: number }[] = [];
  for (let o = 0; o < map.length; ) {
    const m0 = map[o]!;
    const d = o + 1 < map.length && Math.abs(map[o + 1]! - m0) <= 1 ? map[o + 1]! - m0 : 1;
    let len = 1;
    while (o + len < map.length && map[o + len] === m0 + d * len) len++;
    runs.push({ o, len, lo: d < 0 ? m0 - len + 1 : m0, d });
    o += len;
  }
  const span = (r: { len: number; d: number }) => (r.d === 0 ? 1 : r.len);
  const cuts = [...new Set([0, n, ...runs.flatMap((r) => [r.lo, r.lo + span(r)])])].sort((a, b) => a - b);
  const whole = map.length;
  const segments = cuts.slice(0, -1).map((s, i) => {
    const t = cuts[i + 1]!;
    const parts = runs
      .filter((r) => r.lo < t && r.lo + span(r) > s)
      .map((r) => {
        if (r.d === 0) return e.reduceSum(e.slice(g, [r.o], [r.o + r.len], [axis]), [axis], true);
        if (r.d > 0) return t - s === whole ? g : e.slice(g, [r.o + s - r.lo], [r.o + t - r.lo], [axis]);
        const top = r.lo + r.len - 1; // input index read at output r.o; x = top − (o − r.o)
        const end = r.o + top - t;
        return e.slice(g, [r.o + top - s], [end < 0 ? -(whole + 1) : end], [axis], [-1]);
      });
    if (parts.length === 0) return e.zeros(gShape.map((d, a) => (a === axis ? t - s : d)), floatType);
    return parts.length === 1 ? parts[0]! : e.op('Sum', parts, {}, 'pad_grad');
  });
  return segments.length === 1 ? segments[0]! : e.op('Concat', segments, { axis }, 'pad_grad');
}

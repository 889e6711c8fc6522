import type { Emit, Rule } from '../context.js';
import { attrInts, attrString } from '../../onnx/graph.js';

/**
 * Pad, modes constant / reflect / edge / wrap (pads as an attribute before opset 11, as an input
 * from 11 with an optional constant value, `axes` from 18; negative pads crop first).
 *
 * Every mode maps each output index, axis by axis, to one input index (or to the constant), so dX
 * sums gy over that map. Constant mode: one Slice of the interior (plus a zero Pad where pads were
 * negative), and d(constant value) = Σ gy − Σ interior. Other modes: each padded axis splits into
 * runs whose input index moves by +1, −1 or 0 (reflected borders run backwards, edge borders
 * stand still); each run is a Slice, a reversed Slice or a ReduceSum, zero-padded into place, and
 * the runs are summed.
 */
export const Pad: Rule = ({ node, e, gy, needs, shape, staticInts, opset }) => {
  const xs = shape(node.input[0]!);
  const ys = shape(node.output[0]!);
  const r = xs.length;
  const mode = attrString(node, 'mode', 'constant');
  const raw = opset < 11 ? attrInts(node, 'pads') : staticInts(node.input[1]);
  if (!raw) throw new Error(`Pad node ${node.name}: its pads are computed from the data; no gradient rule for that`);
  let axes = xs.map((_, i) => i);
  if (opset >= 18 && node.input[3]) {
    const given = staticInts(node.input[3]);
    if (!given) throw new Error(`Pad node ${node.name}: its axes are computed from the data; no gradient rule for that`);
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
  if (!['reflect', 'edge', 'wrap'].includes(mode)) throw new Error(`Pad node ${node.name}: mode '${mode}' has no gradient rule`);
  let cur = g;
  const curShape = [...ys];
  for (let a = 0; a < r; a++) {
    if (begin[a] === 0 && end[a] === 0) continue;
    cur = sumRuns(e, cur, curShape, a, indexMap(mode, xs[a]!, begin[a]!, end[a]!), xs[a]!);
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

/** dX along `axis` for an index map: runs of +1 / −1 / 0 steps, each added back in place. */
function sumRuns(e: Emit, g: string, gShape: number[], axis: number, map: number[], n: number): string {
  const r = gShape.length;
  const pieces: string[] = [];
  for (let o = 0; o < map.length; ) {
    const m0 = map[o]!;
    const d = o + 1 < map.length && Math.abs(map[o + 1]! - m0) <= 1 ? map[o + 1]! - m0 : 1;
    let len = 1;
    while (o + len < map.length && map[o + len] === m0 + d * len) len++;
    let piece: string;
    if (d === 0) piece = e.reduceSum(e.slice(g, [o], [o + len], [axis]), [axis], true);
    else if (d < 0) piece = e.slice(g, [o + len - 1], [o === 0 ? -(map.length + 1) : o - 1], [axis], [-1]);
    else piece = len === map.length ? g : e.slice(g, [o], [o + len], [axis]);
    const lo = d < 0 ? m0 - len + 1 : m0;
    const span = d === 0 ? 1 : len;
    const pads = new Array<number>(2 * r).fill(0);
    pads[axis] = lo;
    pads[r + axis] = n - lo - span;
    pieces.push(e.padZeros(piece, pads));
    o += len;
  }
  return pieces.length === 1 ? pieces[0]! : e.op('Sum', pieces, {}, 'pad_grad');
}

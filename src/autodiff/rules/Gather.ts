import type { Emit, Rule } from '../context.js';
import type { GraphBuilder } from '../../onnx/builder.js';
import { DataType } from '../../onnx/proto.js';
import { attrInt } from '../../onnx/graph.js';

/**
 * Gather along `axis` with static indices (constants, or computed only from shapes; scalar or any
 * shape; negative indices count from the end): Y[pre, k…, post] = X[pre, idx[k…], post].
 *
 * dX scatter-adds gy back. Without a scatter op: a run of consecutive indices (a single index
 * included) is a zero Pad of gy; any other index set is a MatMul with a constant one-hot matrix
 * M[k, j] = [idx[k] = j], which sums duplicate indices exactly. Indices that come with the data
 * (token ids into an embedding table) build that one-hot matrix in the graph instead,
 * so the table's gradient is the same MatMul (`tableGrad`).
 */
export const Gather: Rule = ({ node, e, b, gy, needs, shape, staticInts, floatType }) => {
  if (!needs[0]) return [null, null];
  const [x, ind] = node.input as [string, string];
  const xs = shape(x);
  const a = attrInt(node, 'axis', 0);
  const axis = a < 0 ? a + xs.length : a;
  const raw = staticInts(ind);
  const d = xs[axis]!;
  if (!raw) return [tableGrad(e, b, gy[0]!, ind, shape(ind), xs, axis), null];
  const idx = raw.map((i) => (i < 0 ? i + d : i));
  const n = idx.length;
  if (n === 0) return [e.zeros(xs, floatType), null];
  const pre = xs.slice(0, axis).reduce((p, v) => p * v, 1);
  const post = xs.slice(axis + 1).reduce((p, v) => p * v, 1);
  if (idx.every((v, k) => v === idx[0]! + k)) {
    const pads = new Array<number>(2 * xs.length).fill(0);
    pads[axis] = idx[0]!;
    pads[xs.length + axis] = d - idx[0]! - n;
    return [e.padZeros(e.reshape(gy[0]!, [...xs.slice(0, axis), n, ...xs.slice(axis + 1)]), pads), null];
  }
  const oneHot = floatType === 'float64' ? new Float64Array(n * d) : new Float32Array(n * d);
  if (post === 1) {
    idx.forEach((j, k) => (oneHot[k * d + j]! += 1));
    const m = b.tensor('gather_onehot', [n, d], oneHot);
    return [e.reshape(e.op('MatMul', [e.reshape(gy[0]!, [pre, n]), m], {}, 'gather_grad'), xs), null];
  }
  idx.forEach((j, k) => (oneHot[j * n + k]! += 1));
  const mt = b.tensor('gather_onehot', [d, n], oneHot);
  return [e.reshape(e.op('MatMul', [mt, e.reshape(gy[0]!, [pre, n, post])], {}, 'gather_grad'), xs), null];
};

/**
 * dX of a Gather whose indices are computed in the graph: M = OneHot(idx) [n, d] (negative indices
 * wrapped first; built with Equal), dX = M-weighted sum of gy's rows, one MatMul; duplicates sum exactly.
 */
function tableGrad(e: Emit, b: GraphBuilder, g: string, ind: string, is: readonly number[], xs: readonly number[], axis: number): string {
  const d = xs[axis]!;
  const n = is.reduce((p, v) => p * v, 1);
  const pre = xs.slice(0, axis).reduce((p, v) => p * v, 1);
  const post = xs.slice(axis + 1).reduce((p, v) => p * v, 1);
  const i64 = e.reshape(e.op('Cast', [ind], { to: DataType.INT64 }), [n]);
  const wrapped = e.op('Where', [e.op('Less', [i64, b.constI64([0], [])]), e.op('Add', [i64, b.constI64([d], [])]), i64]);
  // Equal against 0…d−1 rather than OneHot, which ONNX Runtime has no double kernel for.
  const range = b.constI64(Array.from({ length: d }, (_, j) => j), [1, d], 'gather_range');
  const oneHot = e.castFloat(e.op('Equal', [e.unsqueeze(wrapped, [1]), range]), b.floatType);
  if (post === 1) return e.reshape(e.op('MatMul', [e.reshape(g, [pre, n]), oneHot], {}, 'gather_grad'), xs);
  return e.reshape(e.op('MatMul', [e.transpose(oneHot, [1, 0]), e.reshape(g, [pre, n, post])], {}, 'gather_grad'), xs);
}

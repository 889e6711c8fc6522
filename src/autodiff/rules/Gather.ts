import { unsupported, type Rule } from '../context.js';
import { attrInt } from '../../onnx/graph.js';

/**
 * Gather along `axis` with static indices (constants, or computed only from shapes; scalar or any
 * shape; negative indices count from the end): Y[pre, k…, post] = X[pre, idx[k…], post].
 *
 * dX scatter-adds gy back. Without a scatter op: a run of consecutive indices (a single index
 * included) is a zero Pad of gy; any other index set is a MatMul with a constant one-hot matrix
 * M[k, j] = [idx[k] = j], which sums duplicate indices exactly. Indices computed from the data have
 * no rule (the walk would need a data-dependent scatter): that throws, naming the node.
 */
export const Gather: Rule = ({ node, e, b, gy, needs, shape, staticInts, floatType }) => {
  if (!needs[0]) return [null, null];
  const [x, ind] = node.input as [string, string];
  const xs = shape(x);
  const a = attrInt(node, 'axis', 0);
  const axis = a < 0 ? a + xs.length : a;
  const raw = staticInts(ind);
  if (!raw) {
    unsupported(node, 'its indices are data-dependent (or hold more than 64 values), so the gradient with respect to its data would need a data-dependent scatter');
  }
  const d = xs[axis]!;
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

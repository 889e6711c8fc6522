import { unsupported, type Rule } from '../context.js';
import { attrInt } from '../../onnx/graph.js';

/**
 * GatherElements along `axis` with static indices (at most 64, as the probe records them):
 * Y[p] = X[p with p_axis replaced by idx[p]]. dX = gyᵀ·M with a constant one-hot matrix
 * M[p, q] = [Y[p] reads X[q]] over flattened positions, which sums duplicates exactly.
 * Data-dependent indices (or more than 64) have no rule: an UnsupportedOpError naming the node.
 */
export const GatherElements: Rule = ({ node, e, b, gy, needs, shape, staticInts, floatType }) => {
  if (!needs[0]) return [null, null];
  const [x, ind] = node.input as [string, string];
  const xs = shape(x);
  const is = shape(ind);
  const a = attrInt(node, 'axis', 0);
  const axis = a < 0 ? a + xs.length : a;
  const idx = staticInts(ind);
  if (!idx) {
    unsupported(node, 'its indices are data-dependent (or hold more than 64 values), so the gradient with respect to its data would need a data-dependent scatter', 0);
  }
  const outN = idx.length;
  const dataN = xs.reduce((p, v) => p * v, 1);
  if (outN === 0) return [e.zeros(xs, floatType), null];
  const m = floatType === 'float64' ? new Float64Array(outN * dataN) : new Float32Array(outN * dataN);
  const strides = xs.map((_, i) => xs.slice(i + 1).reduce((p, v) => p * v, 1));
  for (let p = 0; p < outN; p++) {
    // Multi-index of p in the indices' shape, mapped to X's flat index with the axis replaced.
    let rem = p;
    let q = 0;
    for (let i = is.length - 1; i >= 0; i--) {
      const c = rem % is[i]!;
      rem = Math.floor(rem / is[i]!);
      const j = i === axis ? (idx[p]! < 0 ? idx[p]! + xs[axis]! : idx[p]!) : c;
      q += j * strides[i]!;
    }
    m[p * dataN + q]! += 1;
  }
  const mt = b.tensor('gather_elements_onehot', [outN, dataN], m);
  return [e.reshape(e.op('MatMul', [e.reshape(gy[0]!, [1, outN]), mt], {}, 'gather_elements_grad'), xs), null];
};

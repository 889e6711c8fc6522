import type { Rule } from '../context.js';
import { attrInts } from '../../onnx/graph.js';

/** Transpose (Y = X permuted by p; p defaults to reversing the axes): dX = gy permuted by p⁻¹. */
export const Transpose: Rule = ({ node, e, gy, shape }) => {
  const r = shape(node.input[0]!).length;
  const perm = attrInts(node, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
  const inverse = new Array<number>(r);
  perm.forEach((p, i) => (inverse[p] = i));
  return [e.transpose(gy[0]!, inverse)];
};

import type { Rule } from '../context.js';
import { attrInt } from '../../onnx/graph.js';

/** Concat along `axis`: dXᵢ = the slice of gy that Xᵢ filled (offsets from the probed input shapes). */
export const Concat: Rule = ({ node, e, gy, needs, shape }) => {
  const ys = shape(node.output[0]!);
  const a = attrInt(node, 'axis', 0);
  const axis = a < 0 ? a + ys.length : a;
  let offset = 0;
  return node.input.map((v, i) => {
    const len = shape(v)[axis]!;
    const start = offset;
    offset += len;
    if (!needs[i]) return null;
    return len === ys[axis] ? gy[0]! : e.slice(gy[0]!, [start], [start + len], [axis]);
  });
};

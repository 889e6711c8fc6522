import type { Rule } from '../context.js';

/** Mean (variadic, broadcasting): dXᵢ = gy/n, summed back over the axes along which Xᵢ was broadcast. */
export const Mean: Rule = ({ node, e, b, gy, needs, shape }) => {
  const ys = shape(node.output[0]!);
  const g = e.op('Mul', [gy[0]!, b.scalarF(1 / node.input.length)], {}, 'mean_grad');
  return node.input.map((v, i) => (needs[i] ? e.unbroadcast(g, ys, shape(v)) : null));
};

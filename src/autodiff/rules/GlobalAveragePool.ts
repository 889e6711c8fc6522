import type { Rule } from '../context.js';

/** GlobalAveragePool: dX = gy broadcast over the spatial axes, divided by their size. */
export const GlobalAveragePool: Rule = ({ node, e, b, gy, shape }) => {
  const xs = shape(node.input[0]!);
  const area = xs.slice(2).reduce((p, d) => p * d, 1);
  const scaled = e.op('Mul', [gy[0]!, b.scalarF(1 / area)]);
  return [e.op('Expand', [scaled, b.constI64(xs)])];
};

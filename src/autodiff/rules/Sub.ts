import type { Rule } from '../context.js';

/** Sub: dA = gy, dB = −gy, each summed back over broadcast axes. */
export const Sub: Rule = ({ node, e, gy, needs, shape }) => {
  const g = gy[0]!;
  const ys = shape(node.output[0]!);
  return [
    needs[0] ? e.unbroadcast(g, ys, shape(node.input[0]!)) : null,
    needs[1] ? e.unbroadcast(e.op('Neg', [g]), ys, shape(node.input[1]!)) : null,
  ];
};

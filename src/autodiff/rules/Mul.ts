import type { Rule } from '../context.js';

/** Mul: dA = gy·B, dB = gy·A, each summed back over broadcast axes. */
export const Mul: Rule = ({ node, e, gy, needs, shape }) => {
  const [a, b] = node.input as [string, string];
  const ys = shape(node.output[0]!);
  return [
    needs[0] ? e.unbroadcast(e.op('Mul', [gy[0]!, b]), ys, shape(a)) : null,
    needs[1] ? e.unbroadcast(e.op('Mul', [gy[0]!, a]), ys, shape(b)) : null,
  ];
};

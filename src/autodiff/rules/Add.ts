import type { Rule } from '../context.js';

/** Add: dA = gy, dB = gy, each summed back over broadcast axes. */
export const Add: Rule = ({ node, e, gy, needs, shape }) => {
  const g = gy[0]!;
  const ys = shape(node.output[0]!);
  return node.input.map((v, i) => (needs[i] ? e.unbroadcast(g, ys, shape(v)) : null));
};

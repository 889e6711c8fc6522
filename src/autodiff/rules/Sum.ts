import type { Rule } from '../context.js';

/** Sum (variadic, broadcasting): dXᵢ = gy, summed back over the axes along which Xᵢ was broadcast. */
export const Sum: Rule = ({ node, e, gy, needs, shape }) => {
  const ys = shape(node.output[0]!);
  return node.input.map((v, i) => (needs[i] ? e.unbroadcast(gy[0]!, ys, shape(v)) : null));
};

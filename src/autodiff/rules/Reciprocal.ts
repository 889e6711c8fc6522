import type { Rule } from '../context.js';

/** Reciprocal: Y = 1/X, dX = −gy·Y², read from the output. */
export const Reciprocal: Rule = ({ node, b, gy }) => {
  const y = node.output[0]!;
  return [b.op('Neg', [b.op('Mul', [gy[0]!, b.op('Mul', [y, y])])], {}, 'reciprocal_grad')];
};

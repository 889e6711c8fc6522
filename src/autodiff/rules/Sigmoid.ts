import type { Rule } from '../context.js';

/** Sigmoid: dX = gy·Y·(1 − Y), read from the output. */
export const Sigmoid: Rule = ({ node, b, gy }) => {
  const y = node.output[0]!;
  return [b.op('Mul', [gy[0]!, b.op('Mul', [y, b.op('Sub', [b.scalarF(1), y])])], {}, 'sigmoid_grad')];
};

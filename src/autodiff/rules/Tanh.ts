import type { Rule } from '../context.js';

/** Tanh: dX = gy·(1 − Y²), read from the output. */
export const Tanh: Rule = ({ node, b, gy }) => {
  const y = node.output[0]!;
  return [b.op('Mul', [gy[0]!, b.op('Sub', [b.scalarF(1), b.op('Mul', [y, y])])], {}, 'tanh_grad')];
};

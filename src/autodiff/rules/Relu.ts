import type { Rule } from '../context.js';

/** Relu: dX = gy where X > 0, else 0 (the subgradient PyTorch uses at 0). */
export const Relu: Rule = ({ node, b, gy }) => {
  const pos = b.op('Greater', [node.input[0]!, b.scalarF(0)]);
  return [b.op('Where', [pos, gy[0]!, b.scalarF(0)], {}, 'relu_grad')];
};

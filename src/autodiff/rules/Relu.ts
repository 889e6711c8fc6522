import type { Rule } from '../context.js';

/**
 * Relu: dX = gy where X > 0, else 0 (the subgradient PyTorch uses at 0). The mask is read from
 * the output (Y > 0 ⇔ X > 0), which leaves ORT free to fuse the forward Conv + Relu.
 */
export const Relu: Rule = ({ node, b, gy }) => {
  const pos = b.op('Greater', [node.output[0]!, b.scalarF(0)]);
  return [b.op('Where', [pos, gy[0]!, b.scalarF(0)], {}, 'relu_grad')];
};

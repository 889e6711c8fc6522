import type { Rule } from '../context.js';

/**
 * Relu: dX = gy where X > 0, else 0 (the subgradient PyTorch uses at 0), as gy · (Y ≠ 0)
 * (`Emit.positive`, `Emit.masked`). The mask is read from the output (Y ≠ 0 ⇔ X > 0, or X is
 * NaN, where PyTorch too passes the gradient), which leaves ORT free to fuse the forward Conv + Relu.
 */
export const Relu: Rule = ({ node, e, gy, floatType }) => {
  return [e.masked(gy[0]!, e.positive(node.output[0]!), floatType, 'relu_grad')];
};

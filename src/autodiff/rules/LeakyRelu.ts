import type { Rule } from '../context.js';
import { attrFloat } from '../../onnx/graph.js';

/**
 * LeakyRelu: Y = X for X ≥ 0, α·X otherwise (α default 0.01), so dX = gy where X > 0 and α·gy
 * elsewhere — at X = 0 the slope α, as PyTorch's leaky_relu backward does. The mask is read from
 * X, not Y, so a negative α is handled too.
 */
export const LeakyRelu: Rule = ({ node, b, gy }) => {
  const alpha = attrFloat(node, 'alpha', 0.01);
  const g = gy[0]!;
  const pos = b.op('Greater', [node.input[0]!, b.scalarF(0)]);
  return [b.op('Where', [pos, g, b.op('Mul', [g, b.scalarF(alpha)])], {}, 'leaky_relu_grad')];
};

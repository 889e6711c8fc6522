import type { Rule } from '../context.js';
import { attrFloat } from '../../onnx/graph.js';

/**
 * Elu: Y = X for X > 0, α·(exp(X) − 1) otherwise (α default 1). dX = gy where X > 0, else
 * gy·α·exp(X) = gy·(Y + α), read from the output (at X = 0 the left slope α, as PyTorch).
 */
export const Elu: Rule = ({ node, b, gy }) => {
  const alpha = attrFloat(node, 'alpha', 1);
  const g = gy[0]!;
  const pos = b.op('Greater', [node.input[0]!, b.scalarF(0)]);
  const left = b.op('Mul', [g, b.op('Add', [node.output[0]!, b.scalarF(alpha)])]);
  return [b.op('Where', [pos, g, left], {}, 'elu_grad')];
};

import type { Rule } from '../context.js';
import { attrFloat } from '../../onnx/graph.js';

/**
 * HardSigmoid: Y = max(0, min(1, α·X + β)) (α 0.2, β 0.5 by default). dX = α·gy strictly inside,
 * 0 < Y < 1, and 0 elsewhere (PyTorch's hardsigmoid backward and our Clip convention), read from
 * the output; the mask is multiplied in (`Emit.masked`).
 */
export const HardSigmoid: Rule = ({ node, e, b, gy, floatType }) => {
  const alpha = attrFloat(node, 'alpha', 0.2);
  const y = node.output[0]!;
  const inside = b.op('And', [b.op('Greater', [y, b.scalarF(0)]), b.op('Less', [y, b.scalarF(1)])]);
  return [e.masked(b.op('Mul', [gy[0]!, b.scalarF(alpha)]), inside, floatType, 'hardsigmoid_grad')];
};

import type { Rule } from '../context.js';

/** Softplus: Y = log(1 + exp(X)), dX = gy·sigmoid(X). */
export const Softplus: Rule = ({ node, b, gy }) => [b.op('Mul', [gy[0]!, b.op('Sigmoid', [node.input[0]!])], {}, 'softplus_grad')];

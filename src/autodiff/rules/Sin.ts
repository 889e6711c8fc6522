import type { Rule } from '../context.js';

/** Sin: dX = gy·cos(X). */
export const Sin: Rule = ({ node, b, gy }) => [b.op('Mul', [gy[0]!, b.op('Cos', [node.input[0]!])], {}, 'sin_grad')];

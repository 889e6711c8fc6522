import type { Rule } from '../context.js';

/** Cos: dX = −gy·sin(X). */
export const Cos: Rule = ({ node, b, gy }) => [b.op('Neg', [b.op('Mul', [gy[0]!, b.op('Sin', [node.input[0]!])])], {}, 'cos_grad')];

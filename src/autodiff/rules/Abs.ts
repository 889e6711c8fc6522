import type { Rule } from '../context.js';

/** Abs: dX = gy·sign(X), 0 at X = 0 (PyTorch's convention). */
export const Abs: Rule = ({ node, b, gy }) => [b.op('Mul', [gy[0]!, b.op('Sign', [node.input[0]!])], {}, 'abs_grad')];

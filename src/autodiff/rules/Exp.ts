import type { Rule } from '../context.js';

/** Exp: dX = gy·Y, read from the output. */
export const Exp: Rule = ({ node, b, gy }) => [b.op('Mul', [gy[0]!, node.output[0]!], {}, 'exp_grad')];

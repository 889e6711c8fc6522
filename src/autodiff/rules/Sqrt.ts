import type { Rule } from '../context.js';

/** Sqrt: dX = gy·0.5 / Y, read from the output (infinite at X = 0, as the derivative is). */
export const Sqrt: Rule = ({ node, b, gy }) => [b.op('Div', [b.op('Mul', [gy[0]!, b.scalarF(0.5)]), node.output[0]!], {}, 'sqrt_grad')];

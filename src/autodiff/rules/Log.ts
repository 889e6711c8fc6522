import type { Rule } from '../context.js';

/** Log: dX = gy / X. */
export const Log: Rule = ({ node, b, gy }) => [b.op('Div', [gy[0]!, node.input[0]!], {}, 'log_grad')];

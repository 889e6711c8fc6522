import type { Rule } from '../context.js';

/** Neg: dX = −gy. */
export const Neg: Rule = ({ e, gy }) => [e.op('Neg', [gy[0]!])];

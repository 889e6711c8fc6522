import type { Rule } from '../context.js';

/** Erf: dX = gy·(2/√π)·exp(−X²). */
export const Erf: Rule = ({ node, b, gy }) => {
  const x = node.input[0]!;
  const bell = b.op('Exp', [b.op('Mul', [b.op('Mul', [x, x]), b.scalarF(-1)])]);
  return [b.op('Mul', [gy[0]!, b.op('Mul', [bell, b.scalarF(2 / Math.sqrt(Math.PI))])], {}, 'erf_grad')];
};

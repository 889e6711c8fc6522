import type { Rule } from '../context.js';

/** Div (Y = A / B): dA = gy / B, dB = −gy · Y / B, each summed back over broadcast axes. */
export const Div: Rule = ({ node, e, gy, needs, shape }) => {
  const [a, b] = node.input as [string, string];
  const y = node.output[0]!;
  const ys = shape(y);
  return [
    needs[0] ? e.unbroadcast(e.op('Div', [gy[0]!, b]), ys, shape(a)) : null,
    needs[1] ? e.unbroadcast(e.op('Neg', [e.op('Div', [e.op('Mul', [gy[0]!, y]), b])]), ys, shape(b)) : null,
  ];
};

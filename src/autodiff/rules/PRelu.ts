import type { Rule } from '../context.js';

/**
 * PRelu: Y = X for X ≥ 0, slope·X otherwise, with `slope` broadcast to X (e.g. [C,1,1] for NCHW).
 * dX = gy where X > 0, gy·slope elsewhere (the slope at X = 0, as PyTorch);
 * dSlope = gy·X where X ≤ 0, summed back over the axes along which the slope was broadcast.
 */
export const PRelu: Rule = ({ node, e, b, gy, needs, shape }) => {
  const [x, slope] = node.input as [string, string];
  const g = gy[0]!;
  const pos = e.op('Greater', [x, b.scalarF(0)]);
  return [
    needs[0] ? e.op('Where', [pos, g, e.op('Mul', [g, slope])], {}, 'prelu_dx') : null,
    needs[1] ? e.unbroadcast(e.op('Where', [pos, b.scalarF(0), e.op('Mul', [g, x])], {}, 'prelu_dslope'), shape(node.output[0]!), shape(slope)) : null,
  ];
};

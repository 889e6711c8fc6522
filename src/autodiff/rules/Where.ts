import type { Rule } from '../context.js';

/**
 * Where(cond, X, Y): dX = Where(cond, gy, 0), dY = Where(cond, 0, gy), each summed back over the
 * axes along which it was broadcast. The boolean condition gets no gradient.
 */
export const Where: Rule = ({ node, e, b, gy, needs, shape }) => {
  const [cond, x, y] = node.input as [string, string, string];
  const g = gy[0]!;
  const ys = shape(node.output[0]!);
  const zero = b.scalarF(0);
  return [
    null,
    needs[1] ? e.unbroadcast(e.op('Where', [cond, g, zero], {}, 'where_dx'), ys, shape(x)) : null,
    needs[2] ? e.unbroadcast(e.op('Where', [cond, zero, g], {}, 'where_dy'), ys, shape(y)) : null,
  ];
};

import type { Rule } from '../context.js';

/**
 * HardSwish (opset 14): Y = X·max(0, min(1, X/6 + ½)). dX = gy·(X/3 + ½) for −3 ≤ X ≤ 3, 0 below
 * −3 and gy above 3 — the bounds included in the middle piece, as PyTorch's hardswish backward.
 */
export const HardSwish: Rule = ({ node, b, gy }) => {
  const x = node.input[0]!;
  const mid = b.op('Add', [b.op('Mul', [x, b.scalarF(1 / 3)]), b.scalarF(0.5)]);
  const lower = b.op('Where', [b.op('Less', [x, b.scalarF(-3)]), b.scalarF(0), mid]);
  const slope = b.op('Where', [b.op('Greater', [x, b.scalarF(3)]), b.scalarF(1), lower]);
  return [b.op('Mul', [gy[0]!, slope], {}, 'hardswish_grad')];
};

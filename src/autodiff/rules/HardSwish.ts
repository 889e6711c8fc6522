import type { Rule } from '../context.js';
import type { GraphBuilder } from '../../onnx/builder.js';

/**
 * HardSwish (opset 14): Y = X·max(0, min(1, X/6 + ½)). dX = gy·(X/3 + ½) for −3 ≤ X ≤ 3, 0 below
 * −3 and gy above 3 — the bounds included in the middle piece, as PyTorch's hardswish backward.
 */
export const HardSwish: Rule = ({ node, b, gy }) => [hardSwishGrad(b, node.input[0]!, gy[0]!)];

/**
 * PyTorch's hardswish_backward: gy·(x/3 + ½) for −3 ≤ x ≤ 3, 0 below, gy above (x/3 a division,
 * as there). Shared by the HardSwish rule and the Mul rule's x·HardSigmoid(x) (opset < 14 exports).
 */
export function hardSwishGrad(b: GraphBuilder, x: string, gy: string): string {
  const mid = b.op('Add', [b.op('Div', [x, b.scalarF(3)]), b.scalarF(0.5)]);
  const lower = b.op('Where', [b.op('Less', [x, b.scalarF(-3)]), b.scalarF(0), mid]);
  const slope = b.op('Where', [b.op('Greater', [x, b.scalarF(3)]), b.scalarF(1), lower]);
  return b.op('Mul', [gy, slope], {}, 'hardswish_grad');
}

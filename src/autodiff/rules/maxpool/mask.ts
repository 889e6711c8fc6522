import type { GradContext } from '../../context.js';
import type { NodeP } from '../../../onnx/proto.js';
import type { Window } from '../../spatial.js';
import { reluPooled } from './shared.js';

/**
 * Mask route (tie-sharing rule; float32 windows that tile the input, opset ≥ 13, channels not a
 * multiple of 8): the
 * forward MaxPool stays on ORT's fast kernel (no Indices output), and the gradient is routed by
 * Equal(X, upsample(Y)), divided by the number of maxima in the window so exact ties share it (a
 * valid subgradient). For a Relu → MaxPool chain the Relu mask is applied at the pooled
 * resolution (Y > 0) and the Relu is skipped.
 */
export function maskGrad(ctx: GradContext, win: Window, relu: NodeP | undefined, up: (v: string) => string): string | null {
  const { node, e, b, gy, floatType } = ctx;
  const y = node.output[0]!;
  const g = relu ? reluPooled(ctx) : gy[0]!;
  const mask = e.op('Equal', [node.input[0]!, up(y)], {}, 'pool_mask');
  const area = win.kernel.reduce((p, k) => p * k, 1);
  const maskF = e.castFloat(mask, floatType);
  const count = e.op('Mul', [e.op('AveragePool', [maskF], { kernel_shape: win.kernel, strides: win.strides }), b.scalarF(area)]);
  const share = e.op('Div', [g, count]);
  const dx = e.op('Mul', [maskF, up(share)], {}, 'pool_grad');
  if (!relu) return dx;
  ctx.bypass([relu], dx);
  return null;
}

import type { GradContext } from '../../context.js';
import type { NodeP } from '../../../onnx/proto.js';
import type { Window } from '../../spatial.js';

/**
 * Reshape route (float64 models; ONNX Runtime has no double Resize, AveragePool, MaxUnpool or
 * Conv): for windows that tile the input, X is reshaped to [N, C, OH, kh, OW, kw] so each window
 * is two axes, compared with Y by broadcasting, and exact ties share the gradient equally. With a
 * Relu folded in (`relu`), a window whose maximum is 0 gets no gradient and the Relu is skipped.
 */
export function reshapeGrad(ctx: GradContext, xs: number[], ys: number[], win: Window, relu: NodeP | undefined): string | null {
  const { node, e, b, gy, floatType } = ctx;
  const [n, c] = xs as [number, number];
  const [oh, ow] = [ys[2]!, ys[3]!];
  const [kh, kw] = win.kernel as [number, number];
  const pooled = [n, c, oh, 1, ow, 1];
  const y6 = e.reshape(node.output[0]!, pooled);
  const mask = e.castFloat(e.op('Equal', [e.reshape(node.input[0]!, [n, c, oh, kh, ow, kw]), y6]), floatType);
  let count = e.reduceSum(mask, [3, 5], true);
  if (relu) count = e.op('Div', [count, e.castFloat(e.op('Greater', [y6, b.scalarF(0)]), floatType)]);
  const dx = e.reshape(e.op('Mul', [mask, e.op('Div', [e.reshape(gy[0]!, pooled), count])], {}, 'pool_grad'), xs);
  if (!relu) return dx;
  ctx.bypass([relu], dx);
  return null;
}

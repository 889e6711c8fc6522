import type { GradContext } from '../../context.js';
import type { MaxpoolTies } from '../../options.js';
import type { NodeP } from '../../../onnx/proto.js';
import type { Window } from '../../spatial.js';

/**
 * Reshape route (float64 models; ONNX Runtime has no double Resize, AveragePool, MaxUnpool or
 * Conv): for windows that tile the input, X is reshaped to [N, C, OH, kh, OW, kw] so each window
 * is two axes. With a Relu folded in (`relu`), a window whose maximum is 0 gets no gradient and the
 * Relu is skipped. The tie rule is `ties`:
 *
 * - first: the window axes are brought together ([N, C, OH, OW, kh·kw], one Transpose) and ArgMax,
 *   which returns the first index of the maximum, picks the element that gets the gradient: the
 *   window's first maximum in row-major order, PyTorch's rule.
 * - share: X is compared with Y by broadcasting, and exact ties share the gradient equally.
 */
export function reshapeGrad(ctx: GradContext, xs: number[], ys: number[], win: Window, relu: NodeP | undefined, ties: MaxpoolTies): string | null {
  const { node, e, b, gy, floatType } = ctx;
  const [n, c] = xs as [number, number];
  const [oh, ow] = [ys[2]!, ys[3]!];
  const [kh, kw] = win.kernel as [number, number];
  let dx: string;
  if (ties === 'first') {
    const kk = kh * kw;
    const windows = e.reshape(e.transpose(e.reshape(node.input[0]!, [n, c, oh, kh, ow, kw]), [0, 1, 2, 4, 3, 5]), [n, c, oh, ow, kk]);
    const first = e.op('Equal', [e.op('ArgMax', [windows], { axis: 4, keepdims: 1 }, 'pool_argmax'), b.constI64(Array.from({ length: kk }, (_, q) => q))], {}, 'pool_first');
    let g = e.reshape(gy[0]!, [n, c, oh, ow, 1]);
    if (relu) g = e.op('Mul', [g, e.castFloat(e.op('Greater', [e.reshape(node.output[0]!, [n, c, oh, ow, 1]), b.scalarF(0)]), floatType)]);
    const g5 = e.op('Mul', [e.castFloat(first, floatType), g], {}, 'pool_grad');
    dx = e.reshape(e.transpose(e.reshape(g5, [n, c, oh, ow, kh, kw]), [0, 1, 2, 4, 3, 5]), xs);
  } else {
    const pooled = [n, c, oh, 1, ow, 1];
    const y6 = e.reshape(node.output[0]!, pooled);
    const mask = e.castFloat(e.op('Equal', [e.reshape(node.input[0]!, [n, c, oh, kh, ow, kw]), y6]), floatType);
    let count = e.reduceSum(mask, [3, 5], true);
    if (relu) count = e.op('Div', [count, e.castFloat(e.op('Greater', [y6, b.scalarF(0)]), floatType)]);
    dx = e.reshape(e.op('Mul', [mask, e.op('Div', [e.reshape(gy[0]!, pooled), count])], {}, 'pool_grad'), xs);
  }
  if (!relu) return dx;
  ctx.bypass([relu], dx);
  return null;
}

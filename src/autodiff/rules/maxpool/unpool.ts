import type { GradContext } from '../../context.js';
import type { NodeP } from '../../../onnx/proto.js';
import type { Window } from '../../spatial.js';

/**
 * MaxUnpool route (first-maximum tie rule, non-overlapping windows that are not a Conv stem's):
 * the forward node's Indices output (added when the model did not ask for it) routes the gradient
 * with MaxUnpool, so a tie goes to the window's first maximum in row-major order (ORT's Indices,
 * PyTorch's rule). MaxUnpool assigns rather than adds, which is exact only because these windows
 * do not overlap (overlapping ones take the overlap route). For Relu → MaxPool
 * the maximum of a window is positive exactly when its Relu input was, so the Relu's mask is
 * applied at the pooled resolution and the Relu node is skipped.
 */
export function unpoolGrad(ctx: GradContext, xs: number[], win: Window, relu: NodeP | undefined): string | null {
  const { node, e, b, gy } = ctx;
  const indices = ctx.forwardOutput(1, 'pool_indices');
  const unpool = (g: string) => e.op('MaxUnpool', [g, indices, b.constI64(xs)], { kernel_shape: win.kernel, strides: win.strides }, 'pool_grad');
  if (relu) {
    const masked = e.op('Where', [e.op('Greater', [node.output[0]!, b.scalarF(0)]), gy[0]!, b.scalarF(0)], {}, 'relu_pool_grad');
    ctx.bypass([relu], unpool(masked));
    return null;
  }
  return unpool(gy[0]!);
}

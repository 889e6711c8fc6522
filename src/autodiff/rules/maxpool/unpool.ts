import type { GradContext } from '../../context.js';
import type { NodeP } from '../../../onnx/proto.js';
import type { Window } from '../../spatial.js';
import { reluPooled } from './shared.js';

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
  const { e, b, gy } = ctx;
  const indices = ctx.forwardOutput(1, 'pool_indices');
  const unpool = (g: string) => e.op('MaxUnpool', [g, indices, b.constI64(xs)], { kernel_shape: win.kernel, strides: win.strides }, 'pool_grad');
  if (relu) {
    ctx.bypass([relu], unpool(reluPooled(ctx)));
    return null;
  }
  return unpool(gy[0]!);
}

/**
 * Overlapping windows with the first-maximum tie rule: the forward node's Indices (ORT's, the
 * window's first maximum in row-major order, pads never chosen, ceil_mode windows clipped) and
 * MaxUnpool, once per group of windows that do not overlap. Along an axis a window spans
 * e = d·(k − 1) + 1 inputs, so windows g = ⌈e / s⌉ apart never share one: the windows are split by
 * (oh mod gh, ow mod gw) into gh·gw groups, each group's gradient is scattered with MaxUnpool
 * (exact, as its windows do not overlap), and the groups are summed, so an element that is the
 * maximum of several windows gets all their gradients — PyTorch's max_pool2d backward. This
 * replaces the overlap route's im2col gather, ArgMax and col2im ConvTranspose for the first tie
 * rule: 3×3 stride-2 windows are 4 MaxUnpools and one Sum (ResNet's stem pool: measured 340 ms
 * → about 10 ms per batch of 128 at 32×32).
 */
export function groupedUnpoolGrad(ctx: GradContext, xs: number[], ys: number[], win: Window): string {
  const { e, b, gy } = ctx;
  const indices = ctx.forwardOutput(1, 'pool_indices');
  const groups = [0, 1].map((i) => Math.min(ys[2 + i]!, Math.ceil((win.dilations[i]! * (win.kernel[i]! - 1) + 1) / win.strides[i]!)));
  const [gh, gw] = groups as [number, number];
  const shape = b.constI64(xs);
  const parts: string[] = [];
  for (let i = 0; i < gh; i++) {
    for (let j = 0; j < gw; j++) {
      const pick = (t: string) => (gh === 1 && gw === 1 ? t : e.slice(t, [i, j], [ys[2]!, ys[3]!], [2, 3], [gh, gw]));
      // kernel_shape and strides only size the smallest output ORT accepts ((in − 1)·s + k); the
      // shape input sets it. A 1×1 kernel of stride 1 accepts any output at least the group's size.
      parts.push(e.op('MaxUnpool', [pick(gy[0]!), pick(indices), shape], { kernel_shape: [1, 1], strides: [1, 1] }, 'pool_grouped'));
    }
  }
  return parts.length === 1 ? parts[0]! : e.op('Sum', parts, {}, 'pool_grouped_sum');
}

/**
 * Overlapping (or padded, dilated, ceil_mode) windows with the first-maximum tie rule, at opset 16
 * or later: the forward node's Indices (flat over the whole N·C·H·W input) and one
 * ScatterElements with reduction `add` into a zero tensor, so an element that is the maximum of
 * several windows gets the sum of their gradients, added in the windows' row-major order (the
 * order PyTorch's max_pool2d backward adds them in; the grouped route adds group by group). This is the
 * grouped route's result in one node instead of gh·gw MaxUnpools over Slices and a Sum (GoogLeNet's
 * 3×3 stride-1 pools are nine groups each). A Relu whose output feeds only the MaxPool is folded
 * in as in the unpool route: its mask applied at the pooled resolution, the Relu node skipped.
 */
export function scatterGrad(ctx: GradContext, xs: number[], relu: NodeP | undefined): string | null {
  const { e, b, gy } = ctx;
  const indices = ctx.forwardOutput(1, 'pool_indices');
  const g = relu ? reluPooled(ctx) : gy[0]!;
  const flat = b.constI64([-1]);
  const zeros = e.zeros([xs.reduce((p, d) => p * d, 1)], 'float32');
  const summed = e.op('ScatterElements', [zeros, e.op('Reshape', [indices, flat]), e.op('Reshape', [g, flat])], { axis: 0, reduction: 'add' }, 'pool_scatter');
  const dx = e.op('Reshape', [summed, b.constI64(xs)], {}, 'pool_grad');
  if (!relu) return dx;
  ctx.bypass([relu], dx);
  return null;
}

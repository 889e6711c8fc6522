import type { GradContext } from '../../context.js';
import type { Window } from '../../spatial.js';

/**
 * Nearest upsampling of a pooled tensor back to the input's resolution, for windows that tile
 * the input (each pooled value repeated over its window): the tiling-window mask routes
 * (mask.ts, blocked.ts) compare X with upsample(Y) and hand out upsample(share).
 */
export function upsampler(ctx: GradContext, win: Window): (v: string) => string {
  const scales = ctx.b.constF([1, 1, ...win.kernel]);
  return (v) => ctx.e.op('Resize', [v, '', scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, 'pool_up');
}

/** For a Relu folded into its MaxPool: the pooled gradient where the window's maximum Y (a Relu output) is positive. */
export function reluPooled(ctx: GradContext): string {
  const { node, e, gy, floatType } = ctx;
  return e.masked(gy[0]!, e.positive(node.output[0]!), floatType, 'relu_pool_grad');
}

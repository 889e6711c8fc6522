import { unsupported, type GradContext, type Rule } from '../context.js';
import { attrInt, attrInts } from '../../onnx/graph.js';
import type { NodeP } from '../../onnx/proto.js';
import { resolveWindow, type Window } from '../spatial.js';
import { blockedGrad } from './maxpool/blocked.js';
import { maskGrad } from './maxpool/mask.js';
import { overlapGrad } from './maxpool/overlap.js';
import { reshapeGrad } from './maxpool/reshape.js';
import { upsampler } from './maxpool/shared.js';
import { findStem, stemGrad, type Stem } from './maxpool/stem.js';
import { groupedUnpoolGrad, scatterGrad, unpoolGrad } from './maxpool/unpool.js';

/**
 * MaxPool (2-D; 1-D and 3-D are rewritten as 2-D first, see lower/MaxPool.ts): the gradient goes to each window's maximum, by one of eight routes, in
 * ./maxpool/ (reshape, overlap, scatter, grouped and unpool in unpool.ts, mask, blocked, stem); `route` says which is taken when,
 * and why. A Relu whose output feeds only the MaxPool is folded in: its mask is applied at the
 * pooled resolution and the Relu node skipped, so a window whose maximum is 0 gets no gradient.
 *
 * Exact ties within a window follow `ctx.maxpoolTies` (`GRADIENT_OPTIONS`), on every route:
 * - first (default): the window's first maximum in row-major order gets the whole gradient, as in
 *   PyTorch (and ONNX Runtime's MaxPool Indices): the unpool, scatter, grouped and stem routes, and the
 *   reshape route with ArgMax (which returns the first index of the maximum).
 * - share: exact ties share the gradient equally (the symmetric subgradient): the mask and blocked
 *   routes for windows that tile the input, and the reshape and overlap routes comparing each
 *   window with its maximum. On windows that tile the input the mask routes keep the forward
 *   MaxPool on ORT's fast kernel, which the unpool route's Indices give up: there sharing costs a
 *   little less (README, Gradients).
 */
export const MaxPool: Rule = (ctx) => {
  const { node, shape } = ctx;
  const xs = shape(node.input[0]!);
  const ys = shape(node.output[0]!);
  if (attrInt(node, 'storage_order', 0) !== 0) unsupported(node, 'storage_order=1 has no gradient rule');
  // 1-D and 3-D MaxPools reach the rule only when their rewrite as 2-D ones (lower/MaxPool.ts)
  // does not apply: a 3-D one whose Indices output is used.
  if (xs.length !== 4) unsupported(node, `${xs.length - 2}-D MaxPool (input rank ${xs.length})${node.output[1] ? ' with its Indices output used' : ''}: only 2-D MaxPool has a rule (1-D, and 3-D without Indices, are rewritten as 2-D)`);
  const win = resolveWindow(node, xs.slice(2), ys.slice(2), attrInts(node, 'kernel_shape')!);
  const relu = foldedRelu(ctx);
  const r = route(ctx, xs, ys, win, relu);
  if (r.route === 'reshape') return [reshapeGrad(ctx, xs, ys, win, relu, ctx.maxpoolTies), null];
  if (r.route === 'overlap') return [overlapGrad(ctx, xs, ys, win), null];
  if (r.route === 'scatter') return [scatterGrad(ctx, xs, relu), null];
  if (r.route === 'grouped') return [groupedUnpoolGrad(ctx, xs, ys, win), null];
  if (r.route === 'unpool') return [unpoolGrad(ctx, xs, win, relu), null];
  // The tiling-window routes share one nearest upsampling, whose scales constant comes first in
  // the graph (the phase route does not use it).
  const up = upsampler(ctx, win);
  if (r.route === 'mask') return [maskGrad(ctx, win, relu, up), null];
  if (r.route === 'blocked') return [blockedGrad(ctx, xs[1]!, win, relu, up), null];
  ctx.bypass(r.stem.chain, stemGrad(ctx, r.stem, win, relu !== undefined));
  return [null, null];
};

type Route = { route: 'reshape' } | { route: 'overlap' } | { route: 'scatter' } | { route: 'grouped' } | { route: 'unpool' } | { route: 'mask' } | { route: 'blocked' } | { route: 'stem'; stem: Stem };

/** Which route a 2-D MaxPool's gradient takes, and why. */
function route(ctx: GradContext, xs: number[], ys: number[], win: Window, relu: NodeP | undefined): Route {
  const first = ctx.maxpoolTies === 'first';
  const nonOverlapping = win.strides.every((s, i) => s >= win.kernel[i]!) && win.dilations.every((d) => d === 1) && win.pads.every((p) => p === 0);
  const tiling = nonOverlapping && tiles(xs, win);
  // ceil_mode windows that run past the input: a MaxUnpool with the forward's kernel and strides
  // refuses an output smaller than its windows cover (the grouped route's 1×1 one does not).
  const overhang = win.kernel.some((k, i) => (ys[2 + i]! - 1) * win.strides[i]! + k > xs[2 + i]!);
  // ONNX Runtime has no double Resize, AveragePool, MaxUnpool or Conv kernels: a float64 model
  // has only Reshape and broadcasting (and ArgMax), which see each window as two axes when
  // windows tile.
  if (ctx.floatType === 'float64') {
    if (!tiling) unsupported(ctx.node, `float64 MaxPool with ${untiled(xs, win).join(', ')}: in a float64 model only windows that tile the input (kernel = stride, no pads or dilations, sizes divisible) have a gradient rule`);
    return { route: 'reshape' };
  }
  // Sharing ties on windows that overlap, are padded or dilated, run past the input, leave gaps or
  // do not divide the input, or on opsets without Resize's scales-only form (< 13): gather each
  // window with a one-hot Conv (im2col), scatter back with its ConvTranspose (col2im), which sums
  // the overlaps; MaxUnpool can only give the first maximum.
  if (!first && (!nonOverlapping || overhang || !tiling || ctx.opset < 13)) return { route: 'overlap' };
  // First maximum with overlapping, padded or dilated windows, or ceil_mode windows past the
  // input: the forward node's Indices and one ScatterElements that adds (opset 16; the gradient
  // graph of an opset 13–15 model is built at 16, see gradientOpset), else one MaxUnpool per
  // group of windows that do not overlap.
  if (!nonOverlapping || overhang) return { route: ctx.opset >= 16 ? 'scatter' : 'grouped' };
  // First maximum, gaps between windows, sizes not divisible, or an opset without Resize's
  // scales-only form (< 13): the forward node's Indices and MaxUnpool.
  if (!tiling || ctx.opset < 13) return { route: 'unpool' };
  // Windows that tile the input. With channels a multiple of 8 ORT runs the forward MaxPool in
  // its blocked NCHWc layout; a Conv stem with few input channels is bypassed in phase space
  // (first maximum).
  const stem = first && xs[1]! % 8 === 0 ? findStem(ctx, win, relu) : undefined;
  if (stem) return { route: 'stem', stem };
  // First maximum otherwise: the forward node's Indices and MaxUnpool. (A scan of the window
  // positions with the phase route's running sum, then DepthToSpace, measured no faster with 64
  // channels and slower with 12.)
  if (first) return { route: 'unpool' };
  // Sharing ties: a mask of the window maxima, keeping the forward MaxPool on ORT's fast kernel;
  // with channels a multiple of 8 the mask too is built from ops that run in the blocked layout.
  return { route: xs[1]! % 8 === 0 ? 'blocked' : 'mask' };
}

/** Windows that tile the input exactly: kernel = stride and sizes divisible (no pads, no dilation assumed). */
function tiles(xs: number[], win: Window): boolean {
  return win.kernel.every((k, i) => win.strides[i] === k && xs[2 + i]! % k === 0);
}

/** What keeps a window from tiling the input, for the float64 error. */
function untiled(xs: number[], win: Window): string[] {
  const dims = (v: readonly number[]) => v.join('×');
  const why: string[] = [];
  if (win.strides.some((s, i) => s < win.kernel[i]!)) why.push(`overlapping windows (kernel ${dims(win.kernel)}, strides ${dims(win.strides)})`);
  else if (win.strides.some((s, i) => s !== win.kernel[i]!)) why.push(`gaps between windows (kernel ${dims(win.kernel)}, strides ${dims(win.strides)})`);
  if (win.pads.some((p) => p !== 0)) why.push(`pads [${win.pads.join(', ')}]`);
  if (win.dilations.some((d) => d !== 1)) why.push(`dilations ${dims(win.dilations)}`);
  if (why.length === 0) why.push(`input ${dims(xs.slice(2))} not divisible by the kernel ${dims(win.kernel)}`);
  return why;
}

/** A Relu whose output feeds only this MaxPool: its mask can be applied at the pooled resolution. */
function foldedRelu(ctx: GradContext): NodeP | undefined {
  const relu = ctx.producer(ctx.node.input[0]!);
  return relu?.op_type === 'Relu' && ctx.consumers(ctx.node.input[0]!) === 1 ? relu : undefined;
}

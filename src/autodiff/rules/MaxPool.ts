import type { GradContext, Rule } from '../context.js';
import { attrInt, attrInts } from '../../onnx/graph.js';
import { resolveWindow, type Window } from '../spatial.js';

/**
 * MaxPool (2-D): the gradient goes to each window's maximum.
 *
 * Windows that tile the input (kernel = stride, sizes divisible; opset ≥ 13) keep the forward
 * MaxPool on ORT's blocked kernel and route the gradient with an upsampled-max mask, ties sharing
 * it equally (the central-difference-consistent subgradient). Other non-overlapping windows take
 * the forward node's Indices output and route with MaxUnpool (PyTorch's tie rule: the first maximum). Any other geometry (overlapping, padded, dilated,
 * ceil_mode) gathers each window with a depthwise one-hot Conv (im2col), compares it with Y, and
 * scatters back with the matching ConvTranspose (col2im), which sums overlaps exactly and stays
 * on ORT's convolution kernels; there, ties share the gradient equally (a valid subgradient).
 */
export const MaxPool: Rule = (ctx) => {
  const { node, shape } = ctx;
  const x = node.input[0]!;
  const xs = shape(x);
  const ys = shape(node.output[0]!);
  if (xs.length !== 4) throw new Error(`MaxPool node ${node.name}: only 2-D pooling has a gradient rule (input rank ${xs.length})`);
  if (attrInt(node, 'storage_order', 0) !== 0) throw new Error(`MaxPool node ${node.name}: storage_order=1 is not supported`);
  const kernel = attrInts(node, 'kernel_shape')!;
  const win = resolveWindow(node, xs.slice(2), ys.slice(2), kernel);
  const nonOverlapping = win.strides.every((s, i) => s >= kernel[i]!) && win.dilations.every((d) => d === 1) && win.pads.every((p) => p === 0);
  return [nonOverlapping ? unpoolGrad(ctx, xs, win) : windowGrad(ctx, xs, ys, win), null];
};

function unpoolGrad(ctx: GradContext, xs: number[], win: Window): string | null {
  if (maskEligible(ctx, xs, win)) return maskGrad(ctx, xs, win);
  const { node, e, b, gy } = ctx;
  const indices = ctx.forwardOutput(1, 'pool_indices');
  const unpool = (g: string) => e.op('MaxUnpool', [g, indices, b.constI64(xs)], { kernel_shape: win.kernel, strides: win.strides }, 'pool_grad');
  // Relu → MaxPool: the max of a window is positive exactly when its Relu input was, so the
  // Relu's mask is applied at the pooled resolution and the Relu node is skipped.
  const relu = ctx.producer(node.input[0]!);
  if (relu?.op_type === 'Relu' && ctx.consumers(node.input[0]!) === 1) {
    const masked = e.op('Where', [e.op('Greater', [node.output[0]!, b.scalarF(0)]), gy[0]!, b.scalarF(0)], {}, 'relu_pool_grad');
    ctx.bypass(relu, unpool(masked));
    return null;
  }
  return unpool(gy[0]!);
}

function windowGrad(ctx: GradContext, xs: number[], ys: number[], win: Window): string {
  const { node, e, b, gy, floatType } = ctx;
  const [n, c, h, w] = xs as [number, number, number, number];
  const [oh, ow] = [ys[2]!, ys[3]!];
  const [kh, kw] = win.kernel as [number, number];
  const kk = kh * kw;
  // Extra end padding so that ceil_mode windows are fully inside the padded input.
  const need = [0, 1].map((i) => (ys[2 + i]! - 1) * win.strides[i]! + win.dilations[i]! * (win.kernel[i]! - 1) + 1);
  const padded = [h + win.pads[0]! + win.pads[2]!, w + win.pads[1]! + win.pads[3]!];
  const extra = [Math.max(0, need[0]! - padded[0]!), Math.max(0, need[1]! - padded[1]!)];
  const pads = [0, 0, win.pads[0]!, win.pads[1]!, 0, 0, win.pads[2]! + extra[0]!, win.pads[3]! + extra[1]!];
  const neg = floatType === 'float64' ? -1e300 : -1e30;
  const xp = pads.some((p) => p) ? e.op('Pad', [node.input[0]!, b.constI64(pads), b.scalarF(neg)], { mode: 'constant' }) : node.input[0]!;
  // One-hot depthwise kernel: output channel c·kk + q copies window position q of channel c.
  const wv = floatType === 'float64' ? new Float64Array(c * kk * kk) : new Float32Array(c * kk * kk);
  for (let ch = 0; ch < c; ch++) for (let q = 0; q < kk; q++) wv[(ch * kk + q) * kk + q] = 1;
  const wOne = b.tensor('pool_onehot', [c * kk, 1, kh, kw], wv);
  const geo = { group: c, kernel_shape: [kh, kw], strides: win.strides, dilations: win.dilations };
  const cols = e.reshape(e.op('Conv', [xp, wOne], { ...geo, pads: [0, 0, 0, 0] }, 'pool_im2col'), [n, c, kk, oh, ow]);
  const mask = e.castFloat(e.op('Equal', [cols, e.reshape(node.output[0]!, [n, c, 1, oh, ow])]), floatType);
  const count = e.reduceSum(mask, [2], true);
  const g5 = e.op('Mul', [mask, e.op('Div', [e.reshape(gy[0]!, [n, c, 1, oh, ow]), count])]);
  const back = e.op('ConvTranspose', [e.reshape(g5, [n, c * kk, oh, ow]), wOne], { ...geo, pads: [0, 0, 0, 0] }, 'pool_col2im');
  // ConvTranspose gives the padded extent `need`; pad up to the padded input, then crop the pads.
  const full = e.padZeros(back, [0, 0, 0, 0, 0, 0, padded[0]! + extra[0]! - need[0]!, padded[1]! + extra[1]! - need[1]!]);
  return e.slice(full, [win.pads[0]!, win.pads[1]!], [win.pads[0]! + h, win.pads[1]! + w], [2, 3]);
}

/** Non-overlapping windows that tile the input exactly (kernel = stride, sizes divisible). */
function maskEligible(ctx: GradContext, xs: number[], win: Window): boolean {
  return win.kernel.every((k, i) => win.strides[i] === k && xs[2 + i]! % k === 0) && ctx.opset >= 13;
}

/**
 * Mask form for windows that tile the input: the forward MaxPool stays on ORT's fast blocked
 * kernel (no Indices output), and the gradient is routed by Equal(X, upsample(Y)), divided by
 * the number of maxima in the window so exact ties share it (a valid subgradient). For a
 * Relu → MaxPool chain the Relu mask is applied at the pooled resolution (Y > 0) and the Relu is skipped.
 */
function maskGrad(ctx: GradContext, xs: number[], win: Window): string | null {
  const { node, e, b, gy, floatType } = ctx;
  const scales = b.constF([1, 1, ...win.kernel]);
  const up = (v: string) => e.op('Resize', [v, '', scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, 'pool_up');
  const y = node.output[0]!;
  const relu = ctx.producer(node.input[0]!);
  const fold = relu?.op_type === 'Relu' && ctx.consumers(node.input[0]!) === 1;
  let g = gy[0]!;
  if (fold) g = e.op('Where', [e.op('Greater', [y, b.scalarF(0)]), g, b.scalarF(0)], {}, 'relu_pool_grad');
  const mask = e.op('Equal', [node.input[0]!, up(y)], {}, 'pool_mask');
  const area = win.kernel.reduce((p, k) => p * k, 1);
  const maskF = e.castFloat(mask, floatType);
  const count = e.op('Mul', [e.op('AveragePool', [maskF], { kernel_shape: win.kernel, strides: win.strides }), b.scalarF(area)]);
  const share = e.op('Div', [g, count]);
  const dx = e.op('Mul', [maskF, up(share)], {}, 'pool_grad');
  void xs;
  if (fold) {
    ctx.bypass(relu!, dx);
    return null;
  }
  return dx;
}

import type { GradContext } from '../../context.js';
import type { Window } from '../../spatial.js';

/**
 * Overlap route (the share tie rule on float32 windows that overlap, are padded or dilated, leave
 * gaps or run past the input; the first rule takes the grouped MaxUnpool route there): each window
 * is gathered with a depthwise one-hot Conv (im2col) into [N, C, kh·kw, OH, OW], compared with Y
 * so that exact ties share the window's gradient equally, and the gradient is scattered back with
 * the matching ConvTranspose (col2im), which sums overlaps exactly (an element that is a maximum
 * of several windows gets all their shares) and stays on ORT's convolution kernels.
 *
 * Pads hold −1e30, so a pad is never a window's maximum.
 */
export function overlapGrad(ctx: GradContext, xs: number[], ys: number[], win: Window): string {
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

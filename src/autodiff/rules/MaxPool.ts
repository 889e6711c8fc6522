import { unsupported, type GradContext, type Rule } from '../context.js';
import { attrInt, attrInts } from '../../onnx/graph.js';
import { resolveWindow, type Window } from '../spatial.js';
import type { NodeP } from '../../onnx/proto.js';
import { findStem, stemGrad } from './MaxPoolStem.js';

/**
 * MaxPool (2-D): the gradient goes to each window's maximum.
 *
 * Windows that tile the input (kernel = stride, sizes divisible; opset ≥ 13) keep the forward
 * MaxPool on ORT's blocked kernel and route the gradient with a mask of the window maxima, ties
 * sharing it equally (the central-difference-consistent subgradient); in float32 with channels a
 * multiple of 8 the mask is built from blocked-layout ops only (`blockedMaskGrad`), and when the
 * pooled tensor comes (through a Relu or not) from a stride-1 Conv with 1–4 input channels, the
 * gradient goes straight to that Conv's input in phase space (`MaxPoolStem.ts`; there a tie goes
 * to the window's first maximum, as in PyTorch). Other
 * non-overlapping windows take the forward node's Indices output and route with MaxUnpool
 * (PyTorch's tie rule: the first maximum). Any other geometry (overlapping, padded, dilated,
 * ceil_mode) gathers each window with a depthwise one-hot Conv (im2col), compares it with Y, and
 * scatters back with the matching ConvTranspose (col2im), which sums overlaps exactly and stays
 * on ORT's convolution kernels; there, ties share the gradient equally (a valid subgradient).
 * Float64 models (ORT has no double Resize, AveragePool, MaxUnpool or Conv) support tiling
 * windows only, through Reshape and broadcasting (`splitGrad`).
 */
export const MaxPool: Rule = (ctx) => {
  const { node, shape } = ctx;
  const x = node.input[0]!;
  const xs = shape(x);
  const ys = shape(node.output[0]!);
  if (xs.length !== 4) unsupported(node, `${xs.length - 2}-D MaxPool (input rank ${xs.length}): only 2-D pooling is supported`);
  if (attrInt(node, 'storage_order', 0) !== 0) unsupported(node, 'storage_order=1 has no gradient rule');
  const kernel = attrInts(node, 'kernel_shape')!;
  const win = resolveWindow(node, xs.slice(2), ys.slice(2), kernel);
  const nonOverlapping = win.strides.every((s, i) => s >= kernel[i]!) && win.dilations.every((d) => d === 1) && win.pads.every((p) => p === 0);
  if (ctx.floatType === 'float64') {
    // ONNX Runtime has no double Resize, AveragePool, MaxUnpool or Conv kernels.
    if (!nonOverlapping || !tiles(xs, win)) {
      unsupported(node, `float64 MaxPool with ${untiled(xs, win).join(', ')}: in a float64 model only windows that tile the input (kernel = stride, no pads or dilations, sizes divisible) have a gradient rule`);
    }
    return [splitGrad(ctx, xs, ys, win), null];
  }
  return [nonOverlapping ? unpoolGrad(ctx, xs, win) : windowGrad(ctx, xs, ys, win), null];
};

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

/** Windows that tile the input exactly: kernel = stride and sizes divisible (no pads, no dilation assumed). */
function tiles(xs: number[], win: Window): boolean {
  return win.kernel.every((k, i) => win.strides[i] === k && xs[2 + i]! % k === 0);
}

/** A Relu whose output feeds only this MaxPool: its mask can be applied at the pooled resolution. */
function foldedRelu(ctx: GradContext): NodeP | undefined {
  const relu = ctx.producer(ctx.node.input[0]!);
  return relu?.op_type === 'Relu' && ctx.consumers(ctx.node.input[0]!) === 1 ? relu : undefined;
}

/**
 * Tiling windows with only double-capable ops: X is reshaped to [N, C, OH, kh, OW, kw] so each
 * window is two axes, compared with Y by broadcasting, and exact ties share the gradient equally.
 */
function splitGrad(ctx: GradContext, xs: number[], ys: number[], win: Window): string | null {
  const { node, e, b, gy, floatType } = ctx;
  const [n, c] = xs as [number, number];
  const [oh, ow] = [ys[2]!, ys[3]!];
  const [kh, kw] = win.kernel as [number, number];
  const pooled = [n, c, oh, 1, ow, 1];
  const y6 = e.reshape(node.output[0]!, pooled);
  const mask = e.castFloat(e.op('Equal', [e.reshape(node.input[0]!, [n, c, oh, kh, ow, kw]), y6]), floatType);
  let count = e.reduceSum(mask, [3, 5], true);
  const relu = foldedRelu(ctx);
  if (relu) count = e.op('Div', [count, e.castFloat(e.op('Greater', [y6, b.scalarF(0)]), floatType)]);
  const dx = e.reshape(e.op('Mul', [mask, e.op('Div', [e.reshape(gy[0]!, pooled), count])], {}, 'pool_grad'), xs);
  if (!relu) return dx;
  ctx.bypass([relu], dx);
  return null;
}

function unpoolGrad(ctx: GradContext, xs: number[], win: Window): string | null {
  if (maskEligible(ctx, xs, win)) return maskGrad(ctx, xs, win);
  const { node, e, b, gy } = ctx;
  const indices = ctx.forwardOutput(1, 'pool_indices');
  const unpool = (g: string) => e.op('MaxUnpool', [g, indices, b.constI64(xs)], { kernel_shape: win.kernel, strides: win.strides }, 'pool_grad');
  // Relu → MaxPool: the max of a window is positive exactly when its Relu input was, so the
  // Relu's mask is applied at the pooled resolution and the Relu node is skipped.
  const relu = foldedRelu(ctx);
  if (relu) {
    const masked = e.op('Where', [e.op('Greater', [node.output[0]!, b.scalarF(0)]), gy[0]!, b.scalarF(0)], {}, 'relu_pool_grad');
    ctx.bypass([relu], unpool(masked));
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
  return tiles(xs, win) && ctx.opset >= 13;
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
  const relu = foldedRelu(ctx);
  const fold = relu !== undefined;
  if (floatType === 'float32' && xs.length === 4 && xs[1]! % 8 === 0) {
    const stem = findStem(ctx, win, relu);
    if (stem) {
      ctx.bypass(stem.chain, stemGrad(ctx, stem, win, fold));
      return null;
    }
    const dx = blockedMaskGrad(ctx, xs[1]!, win, fold, up);
    if (!fold) return dx;
    ctx.bypass([relu!], dx);
    return null;
  }
  let g = gy[0]!;
  if (fold) g = e.op('Where', [e.op('Greater', [y, b.scalarF(0)]), g, b.scalarF(0)], {}, 'relu_pool_grad');
  const mask = e.op('Equal', [node.input[0]!, up(y)], {}, 'pool_mask');
  const area = win.kernel.reduce((p, k) => p * k, 1);
  const maskF = e.castFloat(mask, floatType);
  const count = e.op('Mul', [e.op('AveragePool', [maskF], { kernel_shape: win.kernel, strides: win.strides }), b.scalarF(area)]);
  const share = e.op('Div', [g, count]);
  const dx = e.op('Mul', [maskF, up(share)], {}, 'pool_grad');
  if (fold) {
    ctx.bypass([relu!], dx);
    return null;
  }
  return dx;
}

/** Scale for the blocked mask: a power of two, so K·x is exact for |x| < 2^68. */
export const MASK_SCALE = 2 ** 60;

/**
 * The tiling-window mask built only from ops that ORT runs in its blocked NCHWc layout
 * (float32, channels a multiple of 8), so no full-resolution tensor is reordered or compared
 * with the slow generic kernels:
 *
 *   M  = Relu(1 + (K·X − upsample(K·Y + D)))   depthwise 1×1 Convs; ORT fuses the Adds and Relus
 *   A  = AveragePool(M) + D/area                the fraction of each window at its maximum
 *   dX = M · upsample(g / (area · A))
 *
 * K = 2^60 makes K·X and K·Y exact, so M is exactly 1 where X equals its window's maximum and 0
 * wherever X is below it by at least 2^-60 — every distinct float32 pair once the maximum is
 * above about 1e-11 in magnitude; below that, near-ties could get a fractional share. A·area
 * counts each window's maxima, so exact ties share the gradient equally, as on the other routes.
 *
 * D is 0 except with a Relu folded in, where D = Relu(1 − K·Y) is 1 for a window whose maximum is
 * 0 (Relu was flat there): its mask drops to 0, so it gets no gradient, and D/area keeps its
 * count away from zero. Everything but the one Div stays in the blocked layout.
 */
function blockedMaskGrad(ctx: GradContext, c: number, win: Window, fold: boolean, up: (v: string) => string): string {
  const t = blockedTerms(ctx, c, win, fold);
  // E = K·X − (K·Y + D) is exact whether or not ORT fuses the Add into the Conv; the +1 comes in
  // a second Conv so that no summation order can drop it.
  const diff = ctx.e.op('Add', [t.scale(ctx.node.input[0]!, MASK_SCALE, 'pool_kx'), up(t.negKY)], {}, 'pool_diff');
  const mask = ctx.e.op('Relu', [t.scale(diff, 1, 'pool_shift', true)], {}, 'pool_mask');
  const frac = ctx.e.op('AveragePool', [mask], { kernel_shape: win.kernel, strides: win.strides });
  return ctx.e.op('Mul', [mask, up(blockedShare(ctx, t, frac))], {}, 'pool_grad');
}

/** The pooled-resolution pieces of the blocked mask, shared by `blockedMaskGrad` and the phase route (MaxPoolStem.ts). */
export interface BlockedTerms {
  /** −(K·Y + D), pooled resolution. */
  negKY: string;
  /** D = Relu(1 − K·Y) when a Relu is folded in, else null. */
  dead: string | null;
  /** Depthwise 1×1 Conv by the constant w (plus a bias of 1 when asked): stays in the blocked layout. */
  scale(x: string, w: number, hint: string, bias?: boolean): string;
  /** Elements per window. */
  area: number;
}

export function blockedTerms(ctx: GradContext, c: number, win: Window, fold: boolean): BlockedTerms {
  const { node, e, b } = ctx;
  const y = node.output[0]!;
  const area = win.kernel.reduce((p, k) => p * k, 1);
  const dw = (hint: string, v: number) => b.tensor(hint, [c, 1, 1, 1], new Float32Array(c).fill(v));
  const ones = b.tensor('pool_one', [c], new Float32Array(c).fill(1));
  const geo = { group: c, kernel_shape: [1, 1] };
  const scale = (x: string, w: number, hint: string, bias = false) => e.op('Conv', bias ? [x, dw(`${hint}_w`, w), ones] : [x, dw(`${hint}_w`, w)], geo, hint);
  let negKY = scale(y, -MASK_SCALE, 'pool_negky');
  // Y ≥ 0 after a Relu, so D is exactly 1 where Y = 0 and 0 where Y ≥ 2^-60.
  const dead = fold ? e.op('Relu', [scale(y, -MASK_SCALE, 'pool_dead', true)], {}, 'pool_dead') : null;
  if (dead) negKY = e.op('Add', [negKY, scale(dead, -1, 'pool_negdead')]);
  return { negKY, dead, scale, area };
}

/**
 * g / (area · A) with A = `frac` + D/area, where `frac` is the fraction of each window at its
 * maximum: the share of the gradient each maximum gets. The Div is the one generic op; the
 * 1/area Conv hands the share on in the blocked layout.
 */
function blockedShare(ctx: GradContext, t: BlockedTerms, frac: string): string {
  const a = t.dead ? ctx.e.op('Add', [frac, t.scale(t.dead, 1 / t.area, 'pool_deadfrac')]) : frac;
  return t.scale(ctx.e.op('Div', [ctx.gy[0]!, a]), 1 / t.area, 'pool_share');
}

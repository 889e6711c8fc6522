import type { GradContext } from '../../context.js';
import type { NodeP } from '../../../onnx/proto.js';
import type { Window } from '../../spatial.js';

/** Scale for the blocked mask: a power of two, so K·x is exact for |x| < 2^68. */
export const MASK_SCALE = 2 ** 60;

/**
 * Blocked mask route (tie-sharing rule; float32 windows that tile the input, opset ≥ 13, channels a
 * multiple of 8): the tiling-window mask built only from ops that ORT runs in its blocked
 * NCHWc layout, so no full-resolution tensor is reordered or compared with the slow generic kernels:
 *
 *   M  = Relu(1 + (K·X − upsample(K·Y + D)))   depthwise 1×1 Convs; ORT fuses the Adds and Relus
 *   A  = AveragePool(M) + D/area                the fraction of each window at its maximum
 *   dX = M · upsample(g / (area · A))
 *
 * K = 2^60 makes K·X and K·Y exact, so M is exactly 1 where X equals its window's maximum and 0
 * wherever X is below it by at least 2^-60 — every distinct float32 pair once the maximum is
 * above about 1e-11 in magnitude; below that, near-ties could get a fractional share. A·area
 * counts each window's maxima, so exact ties share the gradient equally.
 *
 * D is 0 except with a Relu folded in (`relu`, then skipped), where D = Relu(1 − K·Y) is 1 for a
 * window whose maximum is 0 (Relu was flat there): its mask drops to 0, so it gets no gradient,
 * and D/area keeps its count away from zero. Everything but the one Div stays in the blocked layout.
 */
export function blockedGrad(ctx: GradContext, c: number, win: Window, relu: NodeP | undefined, up: (v: string) => string): string | null {
  const t = blockedTerms(ctx, c, win, relu !== undefined);
  // E = K·X − (K·Y + D) is exact whether or not ORT fuses the Add into the Conv; the +1 comes in
  // a second Conv so that no summation order can drop it.
  const diff = ctx.e.op('Add', [t.scale(ctx.node.input[0]!, MASK_SCALE, 'pool_kx'), up(t.negKY)], {}, 'pool_diff');
  const mask = ctx.e.op('Relu', [t.scale(diff, 1, 'pool_shift', true)], {}, 'pool_mask');
  const frac = ctx.e.op('AveragePool', [mask], { kernel_shape: win.kernel, strides: win.strides });
  const dx = ctx.e.op('Mul', [mask, up(blockedShare(ctx, t, frac))], {}, 'pool_grad');
  if (!relu) return dx;
  ctx.bypass([relu], dx);
  return null;
}

/** The pooled-resolution pieces of the blocked mask, shared by `blockedGrad` and the phase route (stem.ts). */
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

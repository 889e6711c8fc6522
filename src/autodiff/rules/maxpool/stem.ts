import type { GradContext } from '../../context.js';
import { attrInt, attrInts } from '../../../onnx/graph.js';
import type { NodeP } from '../../../onnx/proto.js';
import { resolveWindow, type Window } from '../../spatial.js';
import { blockedTerms, MASK_SCALE } from './blocked.js';

/**
 * Phase route (first-maximum tie rule): Conv → [Relu] → MaxPool, backward in phase space (the
 * image stem of LeNet-style CNNs).
 *
 * When the Conv has few input channels, a constant weight, stride 1, no dilation and one group,
 * and the MaxPool's square windows tile its input, the gradient with respect to the Conv's input
 * is computed at the pooled resolution, one window position ("phase") at a time, and the
 * full-resolution gradient of the Conv's output is never formed. On the full-resolution route
 * that tensor costs two upsamplings, a mask, a count, a product and a polyphase Conv, each a pass
 * over the largest tensor of the network; here every op reads or writes pooled-size tensors,
 * except the s² − 1 phase selections, which read the pooled input once each.
 *
 * With Z the MaxPool input (the Relu's output, or the Conv's), Y its output, g its gradient, s the
 * window, and the phases p = (a, b) of a window taken in row-major order:
 *
 *   E_p = K·Z[s·i + a, s·j + b] − (K·Y + D)          one-hot depthwise Conv, stride s (exact)
 *   M_p = Relu(1 + E_p − Σ_{q<p} M_q)                  1 at the window's first maximum, else 0
 *   M_last = Relu(1 − D − Σ_{q<last} M_q)              the maximum is somewhere in the window
 *   R   = Σ_p V_p ⋆ (M_p · g)                          1×1 Convs: each window's patch of dX
 *   dX  = DepthToSpace(col ⋆ R)                        overlapping patches summed, by phase
 *
 * K, D and the exactness of E_p are those of `blockedGrad` (blocked.ts): E_p is 0 where Z
 * equals its window's maximum and at most −1 elsewhere, and D makes every E_p of a window the
 * Relu flattened (Y = 0) negative, so it gets no gradient. The phase route hands a tied window's
 * gradient to its first maximum in row-major order — PyTorch's rule and that of the MaxUnpool
 * route — through a running sum that costs one op per phase (a count and a division would cost
 * five); the tie-sharing rule takes the blocked route instead. R holds, at each window, the
 * Conv's input gradient over the window's receptive field, a patch of (s + kh − 1) × (s + kw − 1)
 * pixels per input channel, and col is a one-hot strided Conv that adds the overlapping patches
 * into dX's f × f phases (f a multiple of s, so that the phases fill one of ORT's channel blocks),
 * which DepthToSpace interleaves.
 */
export interface Stem {
  /** The nodes the rule bypasses, nearest the MaxPool first (the Relu, if any, then the Conv). */
  chain: NodeP[];
  /** The Conv's weight [M, C, kh, kw] and its shape. */
  weight: Float32Array | Float64Array;
  ws: number[];
  /** The Conv's begin pads (rows, columns). */
  pads: [number, number];
  /** Output phase factor of the col2im Conv: f = s·t. */
  f: number;
  /** The col2im Conv's geometry along rows and columns. */
  axes: [AxisPlan, AxisPlan];
}

/** Input channels up to which the phase route is taken (the patches R have C·(s+k−1)² channels). */
const MAX_STEM_CHANNELS = 4;

/** The Conv (and Relu) the MaxPool's gradient can bypass by the phase route, or undefined. */
export function findStem(ctx: GradContext, poolWin: Window, relu: NodeP | undefined): Stem | undefined {
  const { node, shape, producer, consumers, constFloats, floatType } = ctx;
  if (floatType !== 'float32') return undefined;
  const z = relu ? relu.input[0]! : node.input[0]!;
  const conv = producer(z);
  if (conv?.op_type !== 'Conv' || (conv.domain && conv.domain !== 'ai.onnx') || consumers(z) !== 1) return undefined;
  const [x, w, bias] = conv.input as [string, string, string?];
  const weight = constFloats(w);
  // A bias that is not a constant might need a gradient of its own, which the bypass would skip.
  if (!weight || (bias && !constFloats(bias)) || attrInt(conv, 'group', 1) !== 1) return undefined;
  const xs = shape(x);
  const ws = shape(w);
  const zs = shape(z);
  if (xs.length !== 4 || xs[1]! > MAX_STEM_CHANNELS) return undefined;
  const convWindow = resolveWindow(conv, xs.slice(2), zs.slice(2), attrInts(conv, 'kernel_shape') ?? ws.slice(2));
  if (convWindow.strides.some((v) => v !== 1) || convWindow.dilations.some((v) => v !== 1)) return undefined;
  const [sh, sw] = poolWin.kernel as [number, number];
  if (sh !== sw) return undefined; // DepthToSpace takes one block size
  const s = sh;
  let t = Math.max(1, Math.floor(Math.sqrt(16 / xs[1]!) / s));
  while (t > 1 && (xs[2]! % (s * t) !== 0 || xs[3]! % (s * t) !== 0)) t--;
  const f = s * t;
  if (xs[2]! % f !== 0 || xs[3]! % f !== 0) return undefined;
  const pads: [number, number] = [convWindow.pads[0]!, convWindow.pads[1]!];
  const [rows, cols] = [0, 1].map((axis) => col2imAxis(ws[2 + axis]!, pads[axis]!, xs[2 + axis]!, zs[2 + axis]! / s, s, f));
  if (!rows || !cols) return undefined;
  return { chain: relu ? [relu, conv] : [conv], weight, ws, pads, f, axes: [rows, cols] };
}

/** Geometry of the col2im Conv along one spatial axis, or null when a crop would be needed. */
interface AxisPlan {
  /** Patch size s + k − 1. */
  patch: number;
  /** Lowest window offset (in pooled positions) a phase reads, relative to t·I. */
  dmin: number;
  kernel: number;
  padBegin: number;
  padEnd: number;
}

/**
 * For a Conv of kernel size k and begin pad `pad` over an input axis of `size`, pooled to `pooled`
 * windows of s, with dX in f phases.
 */
function col2imAxis(k: number, pad: number, size: number, pooled: number, s: number, f: number): AxisPlan | null {
  const t = f / s;
  const patch = s + k - 1;
  // dX[f·I + q] collects R[r] of window i = t·I + (q + pad − r)/s, for q in [0, f), r in [0, patch).
  const dmin = Math.ceil((pad - (patch - 1)) / s);
  const dmax = Math.floor((f - 1 + pad) / s);
  if (dmin > 0) return null;
  const kernel = dmax - dmin + 1;
  const out = size / f;
  const padBegin = -dmin;
  const padEnd = Math.max(0, (out - 1) * t + kernel - pooled - padBegin);
  // More pooled rows than dX needs (pads beyond "same") would need a crop: not this route.
  if (Math.floor((pooled + padBegin + padEnd - kernel) / t) + 1 !== out) return null;
  return { patch, dmin, kernel, padBegin, padEnd };
}

/** The gradient with respect to the stem Conv's input (see `Stem`). */
export function stemGrad(ctx: GradContext, stem: Stem, poolWin: Window, fold: boolean): string {
  const { node, e, b, gy, shape } = ctx;
  const zs = shape(node.input[0]!);
  const ch = zs[1]!;
  const s = poolWin.kernel[0]!;
  const [m, c, kh, kw] = stem.ws as [number, number, number, number];
  const [py, px] = stem.axes;
  const t = blockedTerms(ctx, ch, poolWin, fold);
  const patches = c * py.patch * px.patch;
  // P_p = M_p · g, where M_p = Relu(1 + E_p − T_{p−1}) is 1 where position p holds its window's
  // maximum and no earlier position did, with T_p = Σ_{q ≤ p} M_q (kept negated). Whatever the
  // order ORT adds 1, E_p ∈ {0} ∪ (−∞, −1] and −T ∈ {0, −1}, so the Relu sees exactly 1 or ≤ 0.
  // Every window has its maximum somewhere, so the last position needs no comparison: it gets
  // the gradient of a window that no earlier position took, unless the Relu flattened it
  // (M_last = Relu(1 − D − T), D being 0 or 1).
  const grads: string[] = [];
  let negTaken: string | null = null;
  const last = s * s - 1;
  for (let p = 0; p <= last; p++) {
    const [a, bb] = [Math.floor(p / s), p % s];
    let mask: string;
    if (p < last) {
      // The kernel reaches just to (a, b), so the Conv reads only the rows and columns it needs
      // (a quarter of Z for phase (0, 0) with 2×2 windows).
      const sel = new Float32Array(ch * (a + 1) * (bb + 1));
      for (let k = 0; k < ch; k++) sel[(k * (a + 1) + a) * (bb + 1) + bb] = MASK_SCALE;
      const kz = e.op('Conv', [node.input[0]!, b.tensor('stem_select', [ch, 1, a + 1, bb + 1], sel)], { group: ch, kernel_shape: [a + 1, bb + 1], strides: [s, s] }, 'stem_kz');
      const shifted = t.scale(e.op('Add', [kz, t.negKY], {}, 'stem_diff'), 1, 'stem_shift', true);
      mask = e.op('Relu', [negTaken ? e.op('Add', [shifted, negTaken]) : shifted], {}, 'stem_mask');
      const neg = t.scale(mask, -1, 'stem_taken');
      negTaken = negTaken ? e.op('Add', [neg, negTaken]) : neg;
    } else {
      const live = t.dead ? t.scale(t.dead, -1, 'stem_live', true) : t.scale(negTaken!, 1, 'stem_live', true);
      mask = e.op('Relu', [t.dead ? e.op('Add', [live, negTaken!]) : live], {}, 'stem_mask');
    }
    grads.push(e.op('Mul', [mask, gy[0]!], {}, 'stem_grad'));
  }
  // R[(ci, ry, rx)] = Σ_p Σ_k W[k, ci, ry − a, rx − b] · (M_p · g)[k]: 1×1 Convs, summed
  // (ORT fuses each Add into the next Conv).
  let r: string | null = null;
  grads.forEach((grad, p) => {
    const [a, bb] = [Math.floor(p / s), p % s];
    const v = new Float32Array(patches * m);
    for (let ci = 0; ci < c; ci++) {
      for (let u = 0; u < kh; u++) {
        for (let w = 0; w < kw; w++) {
          const row = (ci * py.patch + u + a) * px.patch + w + bb;
          for (let k = 0; k < m; k++) v[row * m + k] = stem.weight[((k * c + ci) * kh + u) * kw + w]!;
        }
      }
    }
    const term = e.op('Conv', [grad, b.tensor('stem_patch_w', [patches, m, 1, 1], v)], { kernel_shape: [1, 1] }, 'stem_patch');
    r = r ? e.op('Add', [r, term]) : term;
  });
  // col: output channel (qy·f + qx)·C + ci takes R[(ci, ry, rx)] at window offset
  // ((qy + pad − ry)/s, (qx + pad − rx)/s) where both divide exactly.
  const f = stem.f;
  const col = new Float32Array(f * f * c * patches * py.kernel * px.kernel);
  const [padY, padX] = stem.pads;
  for (let qy = 0; qy < f; qy++) {
    for (let qx = 0; qx < f; qx++) {
      for (let ci = 0; ci < c; ci++) {
        const out = (qy * f + qx) * c + ci;
        for (let ry = 0; ry < py.patch; ry++) {
          const dy = qy + padY - ry;
          if (dy % s !== 0) continue;
          for (let rx = 0; rx < px.patch; rx++) {
            const dx = qx + padX - rx;
            if (dx % s !== 0) continue;
            const inp = (ci * py.patch + ry) * px.patch + rx;
            col[((out * patches + inp) * py.kernel + dy / s - py.dmin) * px.kernel + dx / s - px.dmin] = 1;
          }
        }
      }
    }
  }
  const phases = e.op('Conv', [r!, b.tensor('stem_col_w', [f * f * c, patches, py.kernel, px.kernel], col)], {
    kernel_shape: [py.kernel, px.kernel],
    strides: [f / s, f / s],
    pads: [py.padBegin, px.padBegin, py.padEnd, px.padEnd],
  }, 'stem_col');
  return e.op('DepthToSpace', [phases], { blocksize: f, mode: 'DCR' }, 'stem_dx');
}

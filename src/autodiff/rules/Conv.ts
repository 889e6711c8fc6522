import type { Emit, Rule } from '../context.js';
import { attrInt, attrInts } from '../../onnx/graph.js';
import { outputPadding, resolveWindow, type Window } from '../spatial.js';
import type { GraphBuilder } from '../../onnx/builder.js';

/**
 * Conv: Y = X ⋆ W + B (any spatial rank, strides, pads, auto_pad, dilations, groups incl. depthwise).
 *
 * dB = Σ gy over batch and spatial axes. dX is the transposed convolution of gy with W. For stride
 * 1 and a constant W it is emitted as a plain Conv with pre-flipped, channel-swapped weights, which
 * keeps ORT on its fastest kernels; otherwise as a ConvTranspose with the forward's pads and an
 * output_padding that restores X's exact size. A stride-1 2-D conv with 1–4 input channels (an
 * image stem) gets its dX as a polyphase strided Conv (see `polyphaseDx`). The flipped and
 * polyphase weights are precomputed only for a constant W; a W that is trained (a graph input of
 * the training graph) gets the ConvTranspose. dW is one Conv of X with gy (`convWeightGrad`).
 */
export const Conv: Rule = ({ node, e, b, gy, needs, shape, constFloats, floatType }) => {
  const [x, w] = node.input as [string, string, string?];
  const xs = shape(x);
  const ws = shape(w);
  const ys = shape(node.output[0]!);
  const group = attrInt(node, 'group', 1);
  const kernel = attrInts(node, 'kernel_shape') ?? ws.slice(2);
  const win = resolveWindow(node, xs.slice(2), ys.slice(2), kernel);
  const r = kernel.length;
  const grads: (string | null)[] = [null, null, null];
  if (needs[1]) grads[1] = convWeightGrad(e, x, xs, gy[0]!, ys, win, group);
  if (needs[2]) grads[2] = e.reduceSum(gy[0]!, [0, ...Array.from({ length: r }, (_, i) => i + 2)], false);
  if (!needs[0]) return grads;

  const wv = constFloats(w);
  const flippedPads = win.pads.map((p, i) => win.dilations[i % r]! * (kernel[i % r]! - 1) - p);
  // A Conv with few output channels (e.g. the first layer's gradient back to 1–3 image channels)
  // misses ORT's blocked NCHWc kernels; ConvTranspose is faster there.
  const blocked = xs[1]! % 8 === 0;
  if (wv && blocked && win.strides.every((s) => s === 1) && flippedPads.every((p) => p >= 0)) {
    // W [M, C/g, k...] → W' [C, M/g, k...]: swap in/out channels within each group, flip spatially.
    const [M, Cg] = ws as [number, number];
    const Mg = M / group;
    const ksize = kernel.reduce((p, d) => p * d, 1);
    const out = floatType === 'float64' ? new Float64Array(wv.length) : new Float32Array(wv.length);
    for (let g = 0; g < group; g++) {
      for (let mm = 0; mm < Mg; mm++) {
        for (let cc = 0; cc < Cg; cc++) {
          const src = ((g * Mg + mm) * Cg + cc) * ksize;
          const dst = ((g * Cg + cc) * Mg + mm) * ksize;
          for (let k = 0; k < ksize; k++) out[dst + ksize - 1 - k] = wv[src + k]!;
        }
      }
    }
    const wFlip = b.tensor('conv_wflip', [Cg * group, Mg, ...kernel], out);
    return [e.op('Conv', [gy[0]!, wFlip], { group, dilations: win.dilations, pads: flippedPads, kernel_shape: kernel, strides: win.strides.map(() => 1) }, 'conv_dx'), ...grads.slice(1)];
  }
  const poly = wv && floatType === 'float32' && group === 1 ? polyphaseDx(e, b, gy[0]!, wv, xs, ws, win) : null;
  if (poly) return [poly, ...grads.slice(1)];
  const outPad = outputPadding(win, xs.slice(2), ys.slice(2));
  const dx = e.op('ConvTranspose', [gy[0]!, w], {
    group,
    dilations: win.dilations,
    pads: win.pads,
    strides: win.strides,
    kernel_shape: kernel,
    output_padding: outPad.some((p) => p !== 0) ? outPad : undefined,
  }, 'conv_dx');
  return [dx, ...grads.slice(1)];
};

/**
 * dX of a stride-1, undilated, ungrouped 2-D Conv with few input channels C, as one strided Conv
 * followed by DepthToSpace. A plain flipped Conv would have C output channels, which ORT's
 * blocked (NCHWc) kernels pad to a full block of 16 — mostly wasted work — and ConvTranspose
 * misses those kernels entirely. Splitting dX into its f×f phases (f = 4 for one channel, 2 for
 * up to four) gives C·f² output channels at 1/f the resolution: each phase (i, j) is a stride-f
 * correlation of gy with the kernel taps that land on it, so together they fill one block.
 * Returns null when the geometry does not fit (then the caller uses ConvTranspose).
 */
function polyphaseDx(e: Emit, b: GraphBuilder, gy: string, wv: Float32Array | Float64Array, xs: number[], ws: number[], win: Window): string | null {
  if (xs.length !== 4 || win.strides.some((s) => s !== 1) || win.dilations.some((d) => d !== 1)) return null;
  const [, c, h, w] = xs as [number, number, number, number];
  const [m, , kh, kw] = ws as [number, number, number, number];
  if (c >= 8) return null;
  let f = Math.floor(Math.sqrt(16 / c));
  while (f >= 2 && (h % f !== 0 || w % f !== 0)) f--;
  if (f < 2) return null;
  const [pt, pl, pb, pr] = win.pads as [number, number, number, number];
  // Pads of the strided conv over gy: the first phase row reads gy from row −(kh−1−pt).
  const pads = [kh - 1 - pt, kw - 1 - pl, kh - 1 - pb, kw - 1 - pr];
  if (pads.some((p) => p < 0)) return null;
  const [ph, pw] = [f + kh - 1, f + kw - 1];
  // Wp[(i·f + j)·C + c, m, a, b] = W[m, c, i + kh − 1 − a, j + kw − 1 − b] where in range.
  const wp = new Float32Array(f * f * c * m * ph * pw);
  for (let i = 0; i < f; i++) {
    for (let j = 0; j < f; j++) {
      for (let ci = 0; ci < c; ci++) {
        const o = (i * f + j) * c + ci;
        for (let mi = 0; mi < m; mi++) {
          for (let a = 0; a < ph; a++) {
            const u = i + kh - 1 - a;
            if (u < 0 || u >= kh) continue;
            for (let bb = 0; bb < pw; bb++) {
              const v = j + kw - 1 - bb;
              if (v < 0 || v >= kw) continue;
              wp[((o * m + mi) * ph + a) * pw + bb] = wv[((mi * c + ci) * kh + u) * kw + v]!;
            }
          }
        }
      }
    }
  }
  const phases = e.op('Conv', [gy, b.tensor('conv_wpoly', [f * f * c, m, ph, pw], wp)], { kernel_shape: [ph, pw], strides: [f, f], pads }, 'conv_dx_poly');
  return e.op('DepthToSpace', [phases], { blocksize: f, mode: 'DCR' }, 'conv_dx');
}

/**
 * dW of a convolution Y = X ⋆ W (X [N, C, S…], gy [N, M, So…], W [M, C/group, k…]) as one Conv:
 * dW[m, c, k] = Σ_n Σ_q gy[n, m, q] · X_pad[n, g·C/group + c, q·s + k·d]. That is a convolution
 * with the batch axis as channels: X read as [C/group, group·N, S…] (batch c, channel (g, n)),
 * gy as the kernel [M, N, So…], group `group`, stride = the forward's dilation, dilation = the
 * forward's stride and the forward's pads. The result [C/group, M, k'…] is cropped to k (rows
 * that no window reached in floor mode) and transposed to [M, C/group, k…]. ConvTranspose's dW
 * is this with the roles of X and Y exchanged.
 */
export function convWeightGrad(e: Emit, x: string, xs: readonly number[], g: string, gs: readonly number[], win: Window, group: number): string {
  const r = xs.length - 2;
  const [n, c] = xs as [number, number];
  const cg = c / group;
  const sp = xs.slice(2);
  const rest = Array.from({ length: r }, (_, i) => i + 2);
  const xt = group === 1 ? e.transpose(x, [1, 0, ...rest]) : e.reshape(e.transpose(e.reshape(x, [n, group, cg, ...sp]), [2, 1, 0, ...rest.map((a) => a + 1)]), [cg, group * n, ...sp]);
  const gt = e.transpose(g, [1, 0, ...rest]);
  const gsp = gs.slice(2);
  let dw = e.op('Conv', [xt, gt], { group, kernel_shape: gsp, strides: win.dilations, dilations: win.strides, pads: win.pads }, 'conv_dw');
  const got = sp.map((h, i) => Math.floor((h + win.pads[i]! + win.pads[i + r]! - win.strides[i]! * (gsp[i]! - 1) - 1) / win.dilations[i]!) + 1);
  const over = got.flatMap((k, i) => (k > win.kernel[i]! ? [i + 2] : []));
  if (over.length > 0) dw = e.slice(dw, over.map(() => 0), over.map((a) => win.kernel[a - 2]!), over);
  return e.transpose(dw, [1, 0, ...rest]);
}

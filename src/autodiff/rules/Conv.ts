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
 * the training graph) is flipped in the graph for the plain Conv (ungrouped, stride 1, 8k input
 * channels) and otherwise gets the ConvTranspose. dW: `convWeightGrad`.
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
  if (!wv && blocked && group === 1 && win.strides.every((s) => s === 1) && flippedPads.every((p) => p >= 0)) {
    // A trained W (a graph input): the same flipped Conv, with the flip done in the graph
    // (Transpose + reversing Slice of a few thousand weights); ORT's ConvTranspose misses the
    // blocked kernels that the forward Conv uses.
    const spatial = Array.from({ length: r }, (_, i) => i + 2);
    const wFlip = e.slice(e.transpose(w, [1, 0, ...spatial]), spatial.map(() => -1), kernel.map((k) => -k - 1), spatial, spatial.map(() => -1));
    return [e.op('Conv', [gy[0]!, wFlip], { dilations: win.dilations, pads: flippedPads, kernel_shape: kernel, strides: win.strides.map(() => 1) }, 'conv_dx'), ...grads.slice(1)];
  }
  const poly = wv && floatType === 'float32' && group === 1 ? polyphaseDx(e, b, gy[0]!, wv, xs, ws, win) : null;
  if (poly) return [poly, ...grads.slice(1)];
  // Depthwise strided convolutions (channel multiplier 1) take the same sub-pixel form as a grouped
  // Conv with s² outputs per group: ORT's grouped ConvTranspose runs one tiny GEMM and col2im per
  // group and image (EfficientNet-B0's four strided depthwise dX, batch 8 at 64×64: 5.5–8 ms as
  // ConvTranspose, 4 ms as grouped Conv + DepthToSpace). Other grouped ones keep ConvTranspose.
  const depthwise = group > 1 && group === xs[1] && ws[0] === group;
  const sub = wv && floatType === 'float32' && (group === 1 || depthwise) ? subpixelDx(e, b, gy[0]!, wv, xs, ws, ys, win, depthwise) : null;
  if (sub) return [sub, ...grads.slice(1)];
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
 * dX of a strided, undilated, ungrouped 2-D Conv with a constant W, as a stride-1 Conv over gy and a
 * rearrangement ("sub-pixel" form of the transposed convolution). Input position x = q·s + ρ
 * (phase ρ) receives gy[q + d]·W[a] for every tap a ≡ ρ + p (mod s), d = (ρ + p − a) / s, so each
 * phase is a plain correlation of gy with the taps that land on it. All phases' taps share one
 * kernel over the offsets d_min…d_max (gy padded before row 0 when d_min < 0, its first rows cut
 * when d_min > 0), one output channel per (input channel, phase): a single
 * Conv that ORT runs on its blocked NCHWc kernels, where the ConvTranspose it replaces runs a
 * GEMM and col2im (measured on ResNet-18's stride-2 convolutions). When every phase has taps
 * (kernel ≥ stride), DepthToSpace in CRD order interleaves the phases; when each axis has a single
 * phase with taps (a 1×1 stride-2 shortcut), the same DepthToSpace places it among zero phases at
 * stride 2, and a zero Pad of a 6-D view at other strides. The
 * result is cropped to X's size (rows no window reached stay zero). Exact: the same products,
 * summed in another order. A depthwise W (`depthwise`: group = channels, multiplier 1) gives a
 * Conv of group c with one input and P outputs per group. Null when the geometry does not fit (the
 * caller uses ConvTranspose).
 */
function subpixelDx(e: Emit, b: GraphBuilder, gy: string, wv: Float32Array | Float64Array, xs: number[], ws: number[], ys: number[], win: Window, depthwise = false): string | null {
  if (xs.length !== 4 || win.strides.every((s) => s === 1) || win.dilations.some((d) => d !== 1)) return null;
  const [n, c] = xs as [number, number];
  const m = ws[0]!;
  const axes = [0, 1].map((i) => {
    const s = win.strides[i]!;
    const k = ws[2 + i]!;
    const p = win.pads[i]!;
    const phases: { rho: number; taps: { a: number; d: number }[] }[] = [];
    for (let rho = 0; rho < s; rho++) {
      const taps: { a: number; d: number }[] = [];
      for (let a = 0; a < k; a++) if ((((rho + p - a) % s) + s) % s === 0) taps.push({ a, d: (rho + p - a) / s });
      if (taps.length > 0) phases.push({ rho, taps });
    }
    const ds = phases.flatMap((ph) => ph.taps.map((t) => t.d));
    const dmin = Math.min(...ds);
    const kk = Math.max(...ds) - dmin + 1;
    const q = Math.ceil(xs[2 + i]! / s);
    // Reading gy from row d_min: pads before it when d_min < 0, rows cut off when d_min > 0.
    const cut = Math.max(0, dmin);
    const padBegin = Math.max(0, -dmin);
    return { s, k, phases, dmin, kk, q, cut, padBegin, padEnd: q - (ys[2 + i]! - cut) - padBegin + kk - 1 };
  });
  const [ah, aw] = axes as [(typeof axes)[0], (typeof axes)[0]];
  const all = ah.phases.length === ah.s && aw.phases.length === aw.s && ah.s === aw.s;
  const single = ah.phases.length === 1 && aw.phases.length === 1;
  if ((!all && !single) || ah.cut >= ys[2]! || aw.cut >= ys[3]!) return null;
  // A single phase per axis at stride 2 on both (a 1×1 stride-2 shortcut) is placed by the same
  // DepthToSpace, its Conv given zero weights for the three other phases: 4× a 1×1 Conv's small
  // cost, against a zero Pad of a 6-D view that ORT runs on its slow generic path (measured on
  // ResNet-18's three shortcuts: 6.5 ms of Pad per batch of 128 at 32×32).
  const spread = single && ah.s === 2 && aw.s === 2;
  const np = spread ? 4 : ah.phases.length * aw.phases.length;
  // Wsub[c·P + φ, m, th, tw] = W[m, c, ah, aw] for phase φ = (ρh, ρw). Depthwise: group c, one
  // input channel per group, Wsub[c·P + φ, 0, th, tw] = W[c, 0, ah, aw].
  const mIn = depthwise ? 1 : m;
  const out = new Float32Array(c * np * mIn * ah.kk * aw.kk);
  for (let ci = 0; ci < c; ci++) {
    ah.phases.forEach((ph, ih) => aw.phases.forEach((pw, iw) => {
      const o = ci * np + (spread ? ph.rho * 2 + pw.rho : ih * aw.phases.length + iw);
      for (let mm = 0; mm < mIn; mm++) {
        for (const th of ph.taps) {
          for (const tw of pw.taps) {
            const src = depthwise ? (ci * ah.k + th.a) * aw.k + tw.a : ((mm * c + ci) * ah.k + th.a) * aw.k + tw.a;
            out[((o * mIn + mm) * ah.kk + (th.d - ah.dmin)) * aw.kk + (tw.d - aw.dmin)] = wv[src]!;
          }
        }
      }
    }));
  }
  const w = b.tensor('conv_wsub', [c * np, mIn, ah.kk, aw.kk], out);
  const padsEnd = [Math.max(0, ah.padEnd), Math.max(0, aw.padEnd)];
  const src = ah.cut > 0 || aw.cut > 0 ? e.slice(gy, [ah.cut, aw.cut], [ys[2]!, ys[3]!], [2, 3]) : gy;
  let y = e.op('Conv', [src, w], { group: depthwise ? c : undefined, kernel_shape: [ah.kk, aw.kk], strides: [1, 1], pads: [ah.padBegin, aw.padBegin, ...padsEnd] }, 'conv_dx_sub');
  if (ah.padEnd < 0 || aw.padEnd < 0) y = e.slice(y, [0, 0], [ah.q, aw.q], [2, 3]);
  let full: string;
  if (all || spread) full = e.op('DepthToSpace', [y], { blocksize: ah.s, mode: 'CRD' }, 'conv_dx_shuffle');
  else {
    const [rh, rw] = [ah.phases[0]!.rho, aw.phases[0]!.rho];
    const placed = e.padZeros(e.reshape(y, [n, c, ah.q, 1, aw.q, 1]), [0, 0, 0, rh, 0, rw, 0, 0, 0, ah.s - 1 - rh, 0, aw.s - 1 - rw]);
    full = e.reshape(placed, [n, c, ah.q * ah.s, aw.q * aw.s]);
  }
  return ah.q * ah.s === xs[2] && aw.q * aw.s === xs[3] ? full : e.slice(full, [0, 0], [xs[2]!, xs[3]!], [2, 3]);
}

/**
 * dW of a convolution Y = X ⋆ W (X [N, C, S…], gy [N, M, So…], W [M, C/group, k…]):
 * dW[m, c, k] = Σ_n Σ_q gy[n, m, q] · X_pad[n, g·C/group + c, q·s + k·d].
 *
 * Ungrouped, it is emitted as an explicit im2col and one batched MatMul (`im2colWeightGrad`):
 * ORT's Conv does this contraction badly when the batch is read as channels (an So-sized kernel
 * over a k-sized output: per image a GEMM with k² columns; measured 2× slower than the MatMul for
 * the default CNN's second conv). Grouped, or when the im2col copy would be large, it is one Conv
 * with the batch axis as channels: X read as [C/group, group·N, S…] (batch c, channel (g, n)),
 * gy as the kernel [M, N, So…], group `group`, stride = the forward's dilation, dilation = the
 * forward's stride and the forward's pads. The result [C/group, M, k'…] is cropped to k (rows
 * that no window reached in floor mode) and transposed to [M, C/group, k…]. ConvTranspose's dW
 * is this with the roles of X and Y exchanged.
 */
export function convWeightGrad(e: Emit, x: string, xs: readonly number[], g: string, gs: readonly number[], win: Window, group: number): string {
  if (group === 1) {
    const im2col = im2colWeightGrad(e, x, xs, g, gs, win);
    if (im2col) return im2col;
  }
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

/** Largest im2col copy (elements) `im2colWeightGrad` emits; beyond it the Conv form is used. */
const IM2COL_MAX = 1 << 26;

/**
 * Ungrouped dW as im2col + MatMul: X padded once, one strided Slice per kernel tap t (T taps)
 * gives X_t [N, C, So…] = X_pad[n, c, q·s + t·d]; concatenated on the channel axis and flattened,
 * cols [N, T·C, P] (P = ΠSo). Then per item cols · gyᵀ ([N, T·C, P] × [N, P, M]), summed over N,
 * is dW as [T, C, M], transposed to [M, C, k…]. Null when the copy would exceed `IM2COL_MAX`
 * elements or a tap would read past the padded input (then the Conv form is used).
 */
function im2colWeightGrad(e: Emit, x: string, xs: readonly number[], g: string, gs: readonly number[], win: Window): string | null {
  const r = xs.length - 2;
  const [n, c] = xs as [number, number];
  const m = gs[1]!;
  const so = gs.slice(2);
  const p = so.reduce((a, d) => a * d, 1);
  const kernel = win.kernel;
  const taps = kernel.reduce((a, d) => a * d, 1);
  if (n * taps * c * p > IM2COL_MAX) return null;
  const padded = xs.slice(2).map((h, i) => h + win.pads[i]! + win.pads[i + r]!);
  const reach = (i: number) => (kernel[i]! - 1) * win.dilations[i]! + (so[i]! - 1) * win.strides[i]! + 1;
  if (padded.some((h, i) => reach(i) > h)) return null;
  const xp = e.padZeros(x, [0, 0, ...win.pads.slice(0, r), 0, 0, ...win.pads.slice(r)]);
  const axes = Array.from({ length: r }, (_, i) => i + 2);
  const strided = win.strides.some((s) => s !== 1);
  const cols: string[] = [];
  for (let t = 0; t < taps; t++) {
    // Tap t as a multi-index over the kernel, last axis fastest (W's own order).
    const k = new Array<number>(r);
    for (let i = r - 1, rem = t; i >= 0; i--) {
      k[i] = rem % kernel[i]!;
      rem = Math.floor(rem / kernel[i]!);
    }
    const starts = k.map((ki, i) => ki * win.dilations[i]!);
    const ends = starts.map((s0, i) => s0 + (so[i]! - 1) * win.strides[i]! + 1);
    const whole = starts.every((s0, i) => s0 === 0 && ends[i] === padded[i]);
    cols.push(whole && !strided ? xp : e.slice(xp, starts, ends, axes, strided ? win.strides : undefined));
  }
  const stacked = cols.length === 1 ? cols[0]! : e.op('Concat', cols, { axis: 1 }, 'conv_dw_cols');
  const a = e.reshape(stacked, [n, taps * c, p]);
  const bt = e.transpose(e.reshape(g, [n, m, p]), [0, 2, 1]);
  const perItem = e.op('MatMul', [a, bt], {}, 'conv_dw_mm');
  const dw = e.reduceSum(perItem, [0], false);
  return e.reshape(e.transpose(e.reshape(dw, [taps, c, m]), [2, 1, 0]), [m, c, ...kernel]);
}

import type { Rule } from '../context.js';
import { attrInt, attrInts } from '../../onnx/graph.js';
import { resolveWindow } from '../spatial.js';

/**
 * AveragePool (1-, 2- or 3-D; strides, pads, auto_pad, ceil_mode, dilations from opset 19,
 * count_include_pad 0 or 1): Y[o] = Σ_{p ∈ window(o)} X[p] / count(o), so dX[p] = Σ_{o ∋ p} gy[o] / count(o).
 *
 * count(o) is a product of per-axis counts, computed statically as ONNX Runtime does: the taps
 * inside X (count_include_pad = 0), or the taps inside the padded extent [−pad_begin, size +
 * pad_end) (count_include_pad = 1, so ceil_mode windows that overhang the padding count less).
 * When every window has the same count, 1/count is folded into the kernel; otherwise gy is first
 * multiplied by a constant map of 1/count(o). The scatter back is a depthwise ConvTranspose with
 * that constant kernel and the forward geometry — or, for non-overlapping unpadded windows, a
 * cheaper nearest Resize by the kernel size that copies each gy value over its window.
 */
export const AveragePool: Rule = (ctx) => {
  const { node, e, b, gy, shape, floatType } = ctx;
  const xs = shape(node.input[0]!);
  const ys = shape(node.output[0]!);
  const inS = xs.slice(2);
  const outS = ys.slice(2);
  const r = inS.length;
  const kernel = attrInts(node, 'kernel_shape')!;
  const win = resolveWindow(node, inS, outS, kernel);
  const includePad = attrInt(node, 'count_include_pad', 0) === 1;
  // Per axis and output index: 1 / count, or 0 where the window holds no element of X (Y = 0 there).
  const axisWeights = inS.map((n, a) =>
    Array.from({ length: outS[a]! }, (_, o) => {
      const start = o * win.strides[a]! - win.pads[a]!;
      let inside = 0;
      let counted = 0;
      for (let t = 0; t < kernel[a]!; t++) {
        const p = start + t * win.dilations[a]!;
        if (p >= 0 && p < n) inside++;
        if (p < n + win.pads[a + r]!) counted++;
      }
      return inside === 0 ? 0 : 1 / (includePad ? counted : inside);
    }),
  );
  const weights = new Float64Array(outS.reduce((p, d) => p * d, 1)).fill(1);
  weights.forEach((_, i) => {
    let rem = i;
    for (let a = r - 1; a >= 0; a--) {
      weights[i]! *= axisWeights[a]![rem % outS[a]!]!;
      rem = Math.floor(rem / outS[a]!);
    }
  });
  const uniform = weights.every((w) => w === weights[0]);
  const g = uniform ? gy[0]! : e.op('Mul', [gy[0]!, b.tensor('avgpool_weights', outS, floatType === 'float64' ? weights : Float32Array.from(weights))]);
  const scale = uniform ? weights[0]! : 1;

  const disjoint = win.strides.every((s, a) => s === kernel[a]) && win.dilations.every((d) => d === 1) && win.pads.every((p) => p === 0);
  if (disjoint) {
    // Nearest upsampling by the kernel (asymmetric/floor) copies each value over its window; ONNX
    // Runtime has a fast kernel for it (×2 especially), and both ops are float32-only there.
    const scaled = scale === 1 ? g : e.op('Mul', [g, b.scalarF(scale)]);
    const roi = ctx.opset < 13 ? b.tensor('avgpool_roi', [0], new Float32Array(0)) : '';
    const scales = b.tensor('avgpool_scales', [xs.length], Float32Array.from([1, 1, ...kernel]));
    let dx = e.op('Resize', [scaled, roi, scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, 'avgpool_grad');
    const covered = outS.map((d, a) => d * kernel[a]!);
    const over = inS.flatMap((n, a) => (covered[a]! > n ? [a + 2] : []));
    if (over.length > 0) dx = e.slice(dx, over.map(() => 0), over.map((a) => xs[a]!), over);
    return [e.padZeros(dx, [...xs.map(() => 0), ...xs.map((n, a) => (a < 2 ? 0 : Math.max(0, n - covered[a - 2]!)))])];
  }
  const c = xs[1]!;
  const ksize = kernel.reduce((p, k) => p * k, 1);
  const kv = floatType === 'float64' ? new Float64Array(c * ksize).fill(scale) : new Float32Array(c * ksize).fill(scale);
  const w = b.tensor('avgpool_kernel', [c, 1, ...kernel], kv);
  // ConvTranspose spans need = (out−1)·s + (k−1)·d + 1 padded positions; crop pad_begin and whatever lies past X.
  const tail = outS.map((o, a) => (o - 1) * win.strides[a]! + (kernel[a]! - 1) * win.dilations[a]! + 1 - win.pads[a]! - inS[a]!);
  const outPad = tail.map((t) => Math.max(-t, 0));
  return [
    e.op('ConvTranspose', [g, w], {
      group: c,
      kernel_shape: kernel,
      strides: win.strides,
      dilations: win.dilations,
      pads: [...win.pads.slice(0, r), ...tail.map((t) => Math.max(t, 0))],
      output_padding: outPad.some((p) => p > 0) ? outPad : undefined,
    }, 'avgpool_grad'),
  ];
};

import type { Rule } from '../context.js';
import { attrInt, attrInts } from '../../onnx/graph.js';
import { outputPadding, resolveWindow } from '../spatial.js';

/**
 * Conv: Y = X ⋆ W + B (any spatial rank, strides, pads, auto_pad, dilations, groups incl. depthwise).
 *
 * dB = Σ gy over batch and spatial axes. dX is the transposed convolution of gy with W. For stride
 * 1 and a constant W it is emitted as a plain Conv with pre-flipped, channel-swapped weights, which
 * keeps ORT on its fastest kernels; otherwise as a ConvTranspose with the forward's pads and an
 * output_padding that restores X's exact size. Gradients with respect to a computed W are not
 * supported (weights are initializers in deployed models).
 */
export const Conv: Rule = ({ node, e, b, gy, needs, shape, constFloats, floatType }) => {
  const [x, w] = node.input as [string, string, string?];
  if (needs[1]) throw new Error(`Conv node ${node.name}: gradient with respect to a computed weight is not supported`);
  const xs = shape(x);
  const ws = shape(w);
  const ys = shape(node.output[0]!);
  const group = attrInt(node, 'group', 1);
  const kernel = attrInts(node, 'kernel_shape') ?? ws.slice(2);
  const win = resolveWindow(node, xs.slice(2), ys.slice(2), kernel);
  const r = kernel.length;
  const grads: (string | null)[] = [null, null, null];
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

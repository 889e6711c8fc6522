import { unsupported, type Rule } from '../context.js';
import { attrInt, attrInts, attrString } from '../../onnx/graph.js';
import { convWeightGrad } from './Conv.js';

/**
 * ConvTranspose: Y = Xᵀ⋆W + B (1-/2-D; strides, pads, auto_pad, output_padding, output_shape,
 * dilations, groups). It is the adjoint of a convolution, so dX is that convolution of gy: a
 * plain Conv with the same W (read as [C, M/group, k…]: C outputs, M inputs), strides, dilations,
 * group and the forward's pads. With output_shape or SAME auto_pad the pads are derived as ONNX
 * (and ONNX Runtime) do: total = s·(in−1) + output_padding + (k−1)·d + 1 − out, split with the
 * extra one at the end for SAME_UPPER and at the start otherwise. dB = Σ gy over batch and
 * spatial axes. dW: ConvTranspose is the adjoint of the Conv from Y to X with the same W, so
 * its dW is that Conv's weight gradient with gy as the input and X as the output gradient.
 */
export const ConvTranspose: Rule = ({ node, e, gy, needs, shape }) => {
  const [x, w] = node.input as [string, string, string?];
  const xs = shape(x);
  const ys = shape(node.output[0]!);
  const inS = xs.slice(2);
  const outS = ys.slice(2);
  const r = inS.length;
  const kernel = attrInts(node, 'kernel_shape') ?? shape(w).slice(2);
  const strides = attrInts(node, 'strides') ?? kernel.map(() => 1);
  const dilations = attrInts(node, 'dilations') ?? kernel.map(() => 1);
  const outPad = attrInts(node, 'output_padding') ?? kernel.map(() => 0);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  let pads = attrInts(node, 'pads') ?? new Array<number>(2 * r).fill(0);
  if (autoPad === 'VALID') pads = new Array<number>(2 * r).fill(0);
  if (attrInts(node, 'output_shape') || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const total = inS.map((n, a) => strides[a]! * (n - 1) + outPad[a]! + (kernel[a]! - 1) * dilations[a]! + 1 - outS[a]!);
    const head = total.map((t) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : t - Math.floor(t / 2)));
    pads = [...head, ...total.map((t, a) => t - head[a]!)];
  }
  const grads: (string | null)[] = [null, null, null];
  const group = attrInt(node, 'group', 1);
  if ((needs[0] || needs[1]) && pads.some((p) => p < 0)) unsupported(node, 'output_shape larger than the unpadded output (negative pads) is not supported');
  if (needs[1]) grads[1] = convWeightGrad(e, gy[0]!, ys, x, xs, { kernel, strides, dilations, pads }, group);
  if (needs[2]) grads[2] = e.reduceSum(gy[0]!, [0, ...outS.map((_, a) => a + 2)], false);
  if (!needs[0]) return grads;
  const convPads = pads;
  let dx = e.op('Conv', [gy[0]!, w], { group, kernel_shape: kernel, strides, dilations, pads: convPads }, 'convt_dx');
  // Conv yields ⌊(out + pads − (k−1)·d − 1) / s⌋ + 1 positions: in, unless output_padding ≥ stride.
  const got = outS.map((o, a) => Math.floor((o + convPads[a]! + convPads[a + r]! - (kernel[a]! - 1) * dilations[a]! - 1) / strides[a]!) + 1);
  const over = inS.flatMap((n, a) => (got[a]! > n ? [a + 2] : []));
  if (over.length > 0) dx = e.slice(dx, over.map(() => 0), over.map((a) => xs[a]!), over);
  grads[0] = e.padZeros(dx, [...xs.map(() => 0), ...xs.map((n, a) => (a < 2 ? 0 : Math.max(0, n - got[a - 2]!)))]);
  return grads;
};

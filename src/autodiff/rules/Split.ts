import type { Rule } from '../context.js';
import { attrInt } from '../../onnx/graph.js';

/**
 * Split along `axis` (sizes from the `split` attribute before opset 13, the `split` input from 13,
 * or `num_outputs` from 18 — read here from the probed output shapes, so every form is the same):
 * dX = the output gradients concatenated back, zeros for outputs no gradient flows through. With
 * a single live output that is one zero Pad instead.
 */
export const Split: Rule = ({ node, e, gy, shape, floatType }) => {
  const xs = shape(node.input[0]!);
  const a = attrInt(node, 'axis', 0);
  const axis = a < 0 ? a + xs.length : a;
  const sizes = node.output.map((o) => shape(o)[axis]!);
  const live = gy.flatMap((g, i) => (g ? [i] : []));
  const rest = node.input.slice(1).map(() => null);
  if (live.length === 1) {
    const k = live[0]!;
    const before = sizes.slice(0, k).reduce((p, d) => p + d, 0);
    const pads = new Array<number>(2 * xs.length).fill(0);
    pads[axis] = before;
    pads[xs.length + axis] = xs[axis]! - before - sizes[k]!;
    return [e.padZeros(gy[k]!, pads), ...rest];
  }
  const parts = node.output.map((o, i) => gy[i] ?? e.zeros(shape(o), floatType));
  return [e.op('Concat', parts, { axis }, 'split_grad'), ...rest];
};

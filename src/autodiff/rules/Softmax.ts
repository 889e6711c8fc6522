import { unsupported, type Rule } from '../context.js';
import type { NodeP } from '../../onnx/proto.js';
import { attrInt } from '../../onnx/graph.js';

/**
 * The axes Softmax/LogSoftmax normalise over: [axis] from opset 13 (default −1); before 13 the input
 * is coerced to 2-D at `axis` (default 1), i.e. the normalisation runs over the flattened axes
 * axis … rank−1, which is the same as reducing over all of them with keepdims.
 */
export function softmaxAxes(node: NodeP, opset: number, rank: number): number[] {
  const raw = attrInt(node, 'axis', opset >= 13 ? -1 : 1);
  const axis = raw < 0 ? raw + rank : raw;
  if (axis < 0 || axis >= rank) unsupported(node, `axis ${raw} out of range for rank ${rank}`);
  return opset >= 13 ? [axis] : Array.from({ length: rank - axis }, (_, i) => axis + i);
}

/** Softmax: dX = Y·(gy − Σ_axes gy·Y) = gy·Y − Y·Σ_axes gy·Y, read from the output. */
export const Softmax: Rule = ({ node, e, gy, opset, shape }) => {
  const y = node.output[0]!;
  const gyY = e.op('Mul', [gy[0]!, y]);
  const s = e.reduceSum(gyY, softmaxAxes(node, opset, shape(y).length), true);
  return [e.op('Sub', [gyY, e.op('Mul', [y, s])], {}, 'softmax_grad')];
};

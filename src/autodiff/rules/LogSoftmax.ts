import type { Rule } from '../context.js';
import { softmaxAxes } from './Softmax.js';

/** LogSoftmax: dX = gy − exp(Y)·Σ_axes gy, read from the output (axes as Softmax, per opset). */
export const LogSoftmax: Rule = ({ node, e, gy, opset, shape }) => {
  const y = node.output[0]!;
  const s = e.reduceSum(gy[0]!, softmaxAxes(node, opset, shape(y).length), true);
  return [e.op('Sub', [gy[0]!, e.op('Mul', [e.op('Exp', [y]), s])], {}, 'logsoftmax_grad')];
};

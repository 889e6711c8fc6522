import { unsupported, type Rule } from '../context.js';
import { attrFloat, attrInt } from '../../onnx/graph.js';

/**
 * BatchNormalization in inference mode: Y = x̂ · scale + B with x̂ = (X − mean) / sqrt(var + ε),
 * per channel (axis 1). dX = gy · scale / sqrt(var + ε); with constant scale and statistics the
 * factor is folded into one initializer, otherwise it is computed in the graph.
 * dScale = Σ gy · x̂ and dB = Σ gy over the batch and spatial axes. The running statistics are
 * not parameters (no gradient: UnsupportedOpError if asked). Training mode is not differentiated
 * here: the training graph (src/train/graph.ts) rewrites a train-mode BatchNormalization into
 * standard ops on the batch's statistics, whose rules give PyTorch's train-mode gradient.
 */
export const BatchNormalization: Rule = ({ node, e, b, gy, needs, shape, constFloats }) => {
  if (attrInt(node, 'training_mode', 0) === 1 || node.output.filter(Boolean).length > 1) {
    unsupported(node, 'training mode has no inference gradient rule');
  }
  if (needs[3]) unsupported(node, 'its running mean is a statistic, not a parameter: it has no gradient', 3);
  if (needs[4]) unsupported(node, 'its running variance is a statistic, not a parameter: it has no gradient', 4);
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const [x, scaleName, , meanName, varName] = node.input as [string, string, string, string, string];
  const xs = shape(x);
  const c = xs[1] ?? 1;
  const bshape = [c, ...xs.slice(2).map(() => 1)];
  const reduce = [0, ...xs.slice(2).map((_, i) => i + 2)];
  const g = gy[0]!;
  const scale = constFloats(scaleName);
  const variance = constFloats(varName);
  const out: (string | null)[] = [null, null, null, null, null];
  const invStd = () =>
    variance
      ? b.constF(Array.from(variance, (v) => 1 / Math.sqrt(v + eps)), bshape, 'bn_invstd')
      : e.reshape(e.op('Reciprocal', [e.op('Sqrt', [e.op('Add', [varName, b.scalarF(eps)])])]), bshape);
  if (needs[0]) {
    let factor: string;
    if (scale && variance) factor = b.constF(Array.from(Float64Array.from(scale, (s, i) => s / Math.sqrt(variance[i]! + eps))), bshape, 'bn_factor');
    else factor = e.op('Mul', [e.reshape(scaleName, bshape), invStd()]);
    out[0] = e.op('Mul', [g, factor], {}, 'bn_grad');
  }
  if (needs[1]) {
    const xhat = e.op('Mul', [e.op('Sub', [x, e.reshape(meanName, bshape)]), invStd()]);
    out[1] = e.reduceSum(e.op('Mul', [g, xhat]), reduce, false);
  }
  if (needs[2]) out[2] = e.reduceSum(g, reduce, false);
  return out;
};

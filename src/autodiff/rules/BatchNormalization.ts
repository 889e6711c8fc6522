import { unsupported, type Rule } from '../context.js';
import { attrFloat, attrInt } from '../../onnx/graph.js';

/**
 * BatchNormalization in inference mode: Y = (X − mean) / sqrt(var + ε) · scale + B, so
 * dX = gy · scale / sqrt(var + ε), per channel (axis 1). With constant statistics the factor is
 * folded into one initializer; otherwise it is computed in the graph. Training mode is rejected
 * (Gauntlet differentiates deployed, inference-mode models).
 */
export const BatchNormalization: Rule = ({ node, e, b, gy, needs, shape, constFloats }) => {
  if (attrInt(node, 'training_mode', 0) === 1 || node.output.filter(Boolean).length > 1) {
    unsupported(node, 'training mode has no inference gradient rule');
  }
  if (needs.slice(1).some(Boolean)) unsupported(node, 'gradients with respect to its parameters are not supported');
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const [, scaleName, , , varName] = node.input as string[];
  const xs = shape(node.input[0]!);
  const c = xs[1] ?? 1;
  const bshape = [c, ...xs.slice(2).map(() => 1)];
  const scale = constFloats(scaleName);
  const variance = constFloats(varName);
  let factor: string;
  if (scale && variance) {
    const f = Float64Array.from(scale, (s, i) => s / Math.sqrt(variance[i]! + eps));
    factor = b.constF(Array.from(f), bshape, 'bn_factor');
  } else {
    const denom = e.op('Sqrt', [e.op('Add', [varName!, b.scalarF(eps)])]);
    factor = e.reshape(e.op('Div', [scaleName!, denom]), bshape);
  }
  return [e.op('Mul', [gy[0]!, factor], {}, 'bn_grad'), null, null, null, null];
};

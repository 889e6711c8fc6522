import { unsupported, type Rule } from '../context.js';
import { attrFloat } from '../../onnx/graph.js';
import { standardize, standardizeGrad } from './LayerNormalization.js';

/**
 * InstanceNormalization: X is [N, C, D…], normalised per (n, c) over the spatial axes S = 2…:
 * Y = x̂·scale[c] + B[c]. With g = gy·scale (per channel):
 *   dX = r·(g − mean_S(g) − x̂·mean_S(g·x̂)),  dScale = Σ_{N,S} gy·x̂,  dB = Σ_{N,S} gy.
 */
export const InstanceNormalization: Rule = ({ node, e, b, gy, needs, shape }) => {
  const [x, scale] = node.input as [string, string, string];
  const xs = shape(x);
  if (xs.length < 3) unsupported(node, `input rank ${xs.length} has no spatial axes`);
  const spatial = xs.slice(2).map((_, i) => i + 2);
  const { xhat, r } = standardize(e, b, x, spatial, attrFloat(node, 'epsilon', 1e-5));
  const g = gy[0]!;
  const perChannel = [xs[1]!, ...spatial.map(() => 1)];
  return [
    needs[0] ? standardizeGrad(e, xhat, r, e.op('Mul', [g, e.reshape(scale, perChannel)]), spatial) : null,
    needs[1] ? e.reduceSum(e.op('Mul', [g, xhat]), [0, ...spatial], false) : null,
    needs[2] ? e.reduceSum(g, [0, ...spatial], false) : null,
  ];
};

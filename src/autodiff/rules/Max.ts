import type { GradContext, Rule } from '../context.js';

/**
 * Gradient of an elementwise, variadic, broadcasting Max or Min: gy goes to the argument(s) equal
 * to the result. Ties share it equally — each of k tied arguments gets gy/k — which is PyTorch's
 * maximum/minimum backward for two arguments and keeps Σ dXᵢ = gy (a valid subgradient).
 * Each share is summed back over the axes along which that argument was broadcast.
 */
export function extremumGrad({ node, e, gy, needs, shape, floatType }: GradContext): (string | null)[] {
  const y = node.output[0]!;
  const ys = shape(y);
  const g = gy[0]!;
  if (node.input.length === 1) return [g];
  const hits = node.input.map((v) => e.castFloat(e.op('Equal', [v, y]), floatType));
  const share = e.op('Div', [g, e.op('Sum', hits, {}, 'ties')]);
  return node.input.map((v, i) => (needs[i] ? e.unbroadcast(e.op('Mul', [hits[i]!, share], {}, `${node.op_type.toLowerCase()}_grad`), ys, shape(v)) : null));
}

/** Max (elementwise, variadic): see `extremumGrad`. */
export const Max: Rule = extremumGrad;

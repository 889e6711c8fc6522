import { unsupported, type GradContext, type Rule } from '../context.js';
import { attrInt, attrInts } from '../../onnx/graph.js';

/**
 * ReduceMax / ReduceMin (axes an attribute before opset 18, an input from 18): gy goes to the
 * elements equal to the result; exact ties share it equally (each of k gets gy/k, PyTorch's
 * amax/amin backward), so the shares always sum to gy.
 */
export function reduceExtremumGrad(ctx: GradContext): (string | null)[] {
  const { node, e, gy, opset, shape, staticInts, floatType } = ctx;
  const x = node.input[0]!;
  const xs = shape(x);
  let axes: number[] | undefined;
  if (opset >= 18) {
    if (node.input[1]) {
      axes = staticInts(node.input[1]);
      if (!axes) unsupported(node, `its axes input '${node.input[1]}' depends on the data; only constant axes are supported`);
    }
    if (!axes?.length && attrInt(node, 'noop_with_empty_axes', 0) === 1) return [gy[0]!, null];
  } else axes = attrInts(node, 'axes');
  const reduced = axes?.length ? [...new Set(axes.map((a) => (a < 0 ? a + xs.length : a)))].sort((p, q) => p - q) : xs.map((_, i) => i);
  let y = node.output[0]!;
  let g = gy[0]!;
  if (attrInt(node, 'keepdims', 1) === 0 && reduced.length > 0) {
    y = e.unsqueeze(y, reduced);
    g = e.unsqueeze(g, reduced);
  }
  const hits = e.castFloat(e.op('Equal', [x, y]), floatType);
  const share = e.op('Div', [g, e.reduceSum(hits, reduced, true)]);
  return [e.op('Mul', [hits, share], {}, `${node.op_type.toLowerCase()}_grad`), ...node.input.slice(1).map(() => null)];
}

export const ReduceMax: Rule = reduceExtremumGrad;

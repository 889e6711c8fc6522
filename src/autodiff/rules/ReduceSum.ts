import { unsupported, type GradContext, type Rule } from '../context.js';
import { attrInt, attrInts } from '../../onnx/graph.js';

/**
 * The gradient of a ReduceSum/ReduceMean-style node: gy is unsqueezed at the reduced axes when
 * keepdims = 0, scaled (1/count for a mean) and expanded back to X's shape. The axes are an
 * attribute before `axesInputFrom` (13 for ReduceSum, 18 for ReduceMean) and the optional second
 * input from then on; absent or empty axes reduce every axis, or — with noop_with_empty_axes, an
 * input-form attribute — none, making the node an identity.
 */
export function reduceGrad(ctx: GradContext, axesInputFrom: number, mean: boolean): (string | null)[] {
  const { node, e, b, gy, opset, shape, staticInts } = ctx;
  const x = node.input[0]!;
  const xs = shape(x);
  let axes: number[] | undefined;
  if (opset >= axesInputFrom) {
    if (node.input[1]) {
      axes = staticInts(node.input[1]);
      if (!axes) unsupported(node, `its axes input '${node.input[1]}' depends on the data; only constant axes are supported`);
    }
    if (!axes?.length && attrInt(node, 'noop_with_empty_axes', 0) === 1) return [gy[0]!, null];
  } else {
    axes = attrInts(node, 'axes');
  }
  const reduced = axes?.length ? [...new Set(axes.map((a) => (a < 0 ? a + xs.length : a)))].sort((p, q) => p - q) : xs.map((_, i) => i);
  let g = gy[0]!;
  if (attrInt(node, 'keepdims', 1) === 0 && reduced.length > 0) g = e.unsqueeze(g, reduced);
  if (mean) {
    const count = reduced.reduce((n, a) => n * xs[a]!, 1);
    g = e.op('Mul', [g, b.scalarF(1 / count)]);
  }
  return [e.op('Expand', [g, b.constI64(xs)], {}, `${node.op_type.toLowerCase()}_grad`), null];
}

/** ReduceSum: dX = gy expanded back over the reduced axes (see `reduceGrad`). */
export const ReduceSum: Rule = (ctx) => reduceGrad(ctx, 13, false);

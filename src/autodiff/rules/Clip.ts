import type { Rule } from '../context.js';
import { attrFloat } from '../../onnx/graph.js';

/**
 * Clip: Y = min(max(X, lo), hi). Bounds are optional inputs from opset 11 and optional attributes
 * before; an absent bound is no bound.
 *
 * dX = gy strictly inside, lo < X < hi, and 0 elsewhere — at a bound itself too. That is PyTorch's
 * hardtanh/ReLU6 backward and our Relu rule, so ReLU6 and Clip(min=0) exports get PyTorch's
 * gradient (torch.clamp, which passes the gradient at the bounds, differs only on that null set).
 * Bounds that need a gradient (rare: data-dependent bounds) get, summed to their scalar shape,
 * dLo = Σ gy where X < lo < hi and dHi = Σ gy where max(X, lo) > hi; ties give no one the gradient.
 * Masks are multiplied in (`Emit.masked`).
 */
export const Clip: Rule = ({ node, e, b, gy, needs, shape, floatType }) => {
  const x = node.input[0]!;
  const g = gy[0]!;
  const ys = shape(node.output[0]!);
  const bound = (k: 1 | 2, attr: string): string | undefined => {
    if (node.input[k]) return node.input[k];
    const v = attrFloat(node, attr);
    return v === undefined ? undefined : b.scalarF(v);
  };
  const lo = bound(1, 'min');
  const hi = bound(2, 'max');
  const masked = (mask: string) => e.masked(g, mask, floatType, 'clip_grad');
  const above = lo ? e.op('Greater', [x, lo]) : undefined;
  const below = hi ? e.op('Less', [x, hi]) : undefined;
  const inside = above && below ? e.op('And', [above, below]) : (above ?? below);
  const out: (string | null)[] = [needs[0] ? (inside ? masked(inside) : g) : null, null, null];
  if (needs[1] && lo) {
    const mask = e.op('Less', [x, lo]);
    out[1] = e.unbroadcast(masked(hi ? e.op('And', [mask, e.op('Less', [lo, hi])]) : mask), ys, shape(lo));
  }
  if (needs[2] && hi) out[2] = e.unbroadcast(masked(e.op('Greater', [lo ? e.op('Max', [x, lo]) : x, hi])), ys, shape(hi));
  return out;
};

import { unsupported, type Emit, type Rule } from '../context.js';
import type { GraphBuilder } from '../../onnx/builder.js';
import { attrFloat, attrInt } from '../../onnx/graph.js';

/** x̂ = (X − μ)·r with r = 1/√(σ² + ε), μ and σ² over `axes` (kept), recomputed in the backward graph. */
export function standardize(e: Emit, b: GraphBuilder, x: string, axes: number[], eps: number): { xhat: string; r: string } {
  const xc = e.op('Sub', [x, e.reduceMean(x, axes, true)]);
  const variance = e.reduceMean(e.op('Mul', [xc, xc]), axes, true);
  const r = e.op('Reciprocal', [e.op('Sqrt', [e.op('Add', [variance, b.scalarF(eps)])])]);
  return { xhat: e.op('Mul', [xc, r]), r };
}

/** dX for an upstream gradient g of x̂ = standardize(X): r·(g − mean(g) − x̂·mean(g·x̂)) over `axes`. */
export function standardizeGrad(e: Emit, xhat: string, r: string, g: string, axes: number[]): string {
  const centred = e.op('Sub', [g, e.reduceMean(g, axes, true)]);
  const proj = e.op('Mul', [xhat, e.reduceMean(e.op('Mul', [g, xhat]), axes, true)]);
  return e.op('Mul', [e.op('Sub', [centred, proj]), r], {}, 'norm_grad');
}

/**
 * LayerNormalization (opset 17): over D = axes [axis, rank) (axis default −1), x̂ = (X − μ)·r,
 * r = 1/√(σ² + ε), Y = x̂·Scale + B. With g = gy·Scale:
 *   dX = r·(g − mean_D(g) − x̂·mean_D(g·x̂)),  dScale = Σ gy·x̂,  dB = Σ gy  (summed to their shapes).
 * μ and r are recomputed from X rather than read from the optional outputs. Gradients reaching
 * those outputs (Mean, InvStdDev, rarely on the path) are added: dX += gMean/N − gInvStd·r²·x̂/N.
 */
export const LayerNormalization: Rule = ({ node, e, b, gy, needs, shape }) => {
  const [x, scale, bias] = node.input as [string, string, string?];
  const xs = shape(x);
  const raw = attrInt(node, 'axis', -1);
  const axis = raw < 0 ? raw + xs.length : raw;
  if (axis < 0 || axis >= xs.length) unsupported(node, `axis ${raw} out of range for rank ${xs.length}`);
  const axes = Array.from({ length: xs.length - axis }, (_, i) => axis + i);
  const n = axes.reduce((p, a) => p * xs[a]!, 1);
  const { xhat, r } = standardize(e, b, x, axes, attrFloat(node, 'epsilon', 1e-5));
  const [gY, gMean, gInv] = [gy[0] ?? null, gy[1] ?? null, gy[2] ?? null];
  const out: (string | null)[] = [null, null, null];
  if (needs[0]) {
    const parts: string[] = [];
    if (gY) parts.push(standardizeGrad(e, xhat, r, e.op('Mul', [gY, scale]), axes));
    if (gMean) parts.push(e.op('Mul', [gMean, b.scalarF(1 / n)]));
    if (gInv) parts.push(e.op('Mul', [e.op('Mul', [gInv, e.op('Mul', [r, r])]), e.op('Mul', [xhat, b.scalarF(-1 / n)])]));
    out[0] = parts.length === 0 ? null : parts.length === 1 ? parts[0]! : e.op('Sum', parts, {}, 'layernorm_grad');
  }
  const floatType = b.floatType;
  if (needs[1]) out[1] = gY ? e.unbroadcast(e.op('Mul', [gY, xhat]), xs, shape(scale)) : e.zeros(shape(scale), floatType);
  if (needs[2] && bias) out[2] = gY ? e.unbroadcast(gY, xs, shape(bias)) : e.zeros(shape(bias), floatType);
  return out;
};

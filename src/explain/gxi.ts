/**
 * Gradient × input (Shrikumar et al. 2016, "Not Just a Black Box"): A = x ⊙ ∂f_t/∂x. For a linear
 * score f_t(x) = w_t·x + b_t these are the exact contributions w_t,j·x_j (Σ A = f_t(x) − b_t).
 * The reference point is zero in the data domain, whatever the declared bounds.
 *
 * Example: `await gradientTimesInput(model, x, n, targets, {})`.
 */
import type { Model } from '../engine/model.js';
import { inputGradients } from './common.js';
import type { AttributionMethod, CommonOptions } from './types.js';

export async function gradientTimesInput(model: Model, x: Float32Array, n: number, targets: Int32Array, opts: CommonOptions = {}): Promise<Float32Array> {
  const out = new Float32Array(x.length);
  await inputGradients(model, x, n, targets, opts, (i, g) => {
    const off = i * g.length;
    for (let j = 0; j < g.length; j++) out[off + j] = g[j]! * x[off + j]!;
  });
  return out;
}

export const gxiMethod: AttributionMethod = {
  name: 'gxi',
  summary: 'gradient x input, x * df_t/dx (exact contributions of a linear model)',
  gradients: true,
  seeded: false,
  options: {},
  async explain(model, x, n, targets, opts = {}) {
    return { attributions: await gradientTimesInput(model, x, n, targets, opts), completeness: null };
  },
};

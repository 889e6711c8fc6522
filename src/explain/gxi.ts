/**
 * Gradient × input (Shrikumar et al. 2016, "Not Just a Black Box"): A = x ⊙ ∂f_t/∂x. For a linear
 * score f_t(x) = w_t·x + b_t these are the exact contributions w_t,j·x_j (Σ A = f_t(x) − b_t).
 * The reference point is zero in the data domain, whatever the declared bounds.
 *
 * Example: `await gradientTimesInput(model, x, n, targets, {})`.
 */
import type { Model } from '../engine/model.js';
import { checkTargets, classCount, geometry, gradientBatch, gradientPoints, withEngine } from './common.js';
import type { AttributionMethod, CommonOptions } from './types.js';

export async function gradientTimesInput(model: Model, x: Float32Array, n: number, targets: Int32Array, opts: CommonOptions = {}): Promise<Float32Array> {
  const { size } = geometry(model, x, n);
  checkTargets(targets, n, await classCount(model, x, size));
  const out = new Float32Array(x.length);
  await withEngine(model, opts, (engine) =>
    gradientPoints(
      engine,
      size,
      n,
      gradientBatch(model, opts),
      (i, dst) => (dst.set(x.subarray(i * size, (i + 1) * size)), targets[i]!),
      (i, g) => {
        const off = i * size;
        for (let j = 0; j < size; j++) out[off + j] = g[j]! * x[off + j]!;
      },
    ),
  );
  return out;
}

export const gxiMethod: AttributionMethod = {
  name: 'gxi',
  summary: 'gradient x input, x * df_t/dx (exact contributions of a linear model)',
  gradients: true,
  seeded: false,
  async explain(model, x, n, targets, opts = {}) {
    return { attributions: await gradientTimesInput(model, x, n, targets, opts), completeness: null };
  },
};

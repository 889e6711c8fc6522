/**
 * Gradient saliency (Simonyan, Vedaldi & Zisserman 2014, "Deep Inside Convolutional Networks"):
 * A = |∂f_t/∂x|, per element (channels are kept apart, not max-reduced as in the paper; reduce
 * them when drawing). With `signed: true`, A = ∂f_t/∂x.
 *
 * Example: `await saliency(model, x, n, targets, {})`.
 */
import type { Model } from '../engine/model.js';
import { inputGradients } from './common.js';
import type { AttributionMethod, SaliencyOptions } from './types.js';
import { opt } from '../options/schema.js';

export async function saliency(model: Model, x: Float32Array, n: number, targets: Int32Array, opts: SaliencyOptions = {}): Promise<Float32Array> {
  const out = new Float32Array(x.length);
  await inputGradients(model, x, n, targets, opts, (i, g) => {
    const o = out.subarray(i * g.length, (i + 1) * g.length);
    if (opts.signed) o.set(g);
    else for (let j = 0; j < g.length; j++) o[j] = Math.abs(g[j]!);
  });
  return out;
}

export const saliencyMethod: AttributionMethod = {
  name: 'saliency',
  summary: 'gradient magnitude |df_t/dx|',
  gradients: true,
  seeded: false,
  options: { signed: opt.boolean({ doc: 'the signed gradient instead of its magnitude', default: false }) },
  async explain(model, x, n, targets, opts = {}) {
    return { attributions: await saliency(model, x, n, targets, opts), completeness: null };
  },
};

/**
 * SmoothGrad (Smilkov et al. 2017, "SmoothGrad: removing noise by adding noise"):
 * A = (1/S) Σ_s ∂f_t/∂x (x + ε_s), ε_s ~ N(0, (σ·(high − low))²) per element, S = `samples`.
 * Noisy points are not clipped to the bounds (as in the paper). The mean gradient is signed; take
 * |A| for a magnitude map. Item i draws from `rng.fork('smoothgrad:i')`, so an item's attribution
 * does not depend on the batch size or on the other items.
 *
 * Example: `await smoothGrad(model, x, n, targets, { samples: 25, sigma: 0.15 }, new Rng(0))`.
 */
import type { Model } from '../engine/model.js';
import { checkRange } from '../errors.js';
import { Rng } from '../rng.js';
import { checkTargets, classCount, geometry, gradientBatch, gradientPoints, withEngine } from './common.js';
import type { AttributionMethod, SmoothGradOptions } from './types.js';

export async function smoothGrad(model: Model, x: Float32Array, n: number, targets: Int32Array, opts: SmoothGradOptions = {}, rng: Rng = new Rng(0)): Promise<Float32Array> {
  const { size } = geometry(model, x, n);
  checkTargets(targets, n, await classCount(model, x, size));
  const samples = opts.samples === undefined ? 25 : checkRange('samples', opts.samples, { min: 1, max: 100000, integer: true });
  const frac = opts.sigma === undefined ? 0.15 : checkRange('sigma', opts.sigma, { min: 0, max: 10 });
  const [lo, hi] = model.decl.bounds;
  const sigma = frac * (hi - lo);
  const acc = new Float64Array(x.length);
  let streams: Rng | null = null;
  let streamItem = -1;
  await withEngine(model, opts, (engine) =>
    gradientPoints(
      engine,
      size,
      n * samples,
      gradientBatch(model, opts),
      (j, dst) => {
        const i = Math.floor(j / samples);
        // Points are generated in order, so one stream per item is consumed sample after sample.
        if (i !== streamItem) {
          streams = rng.fork(`smoothgrad:${i}`);
          streamItem = i;
        }
        const r = streams!;
        const off = i * size;
        for (let e = 0; e < size; e++) dst[e] = x[off + e]! + sigma * r.normal();
        return targets[i]!;
      },
      (j, g) => {
        const off = Math.floor(j / samples) * size;
        for (let e = 0; e < size; e++) acc[off + e]! += g[e]!;
      },
      opts.onProgress,
    ),
  );
  const out = new Float32Array(x.length);
  for (let e = 0; e < x.length; e++) out[e] = acc[e]! / samples;
  return out;
}

export const smoothGradMethod: AttributionMethod = {
  name: 'smoothgrad',
  summary: 'SmoothGrad: mean gradient over Gaussian-noised copies',
  gradients: true,
  seeded: true,
  async explain(model, x, n, targets, opts = {}, rng) {
    return { attributions: await smoothGrad(model, x, n, targets, opts, rng), completeness: null };
  },
};

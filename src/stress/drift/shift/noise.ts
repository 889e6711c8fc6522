/**
 * noise: additive Gaussian noise, x_j + N(0, (amount·σ_j)²) per value, σ_j the feature's standard
 * deviation. Image values stay in [0, 1] (for images, the `gaussian_noise` corruption adds noise of a
 * fixed σ instead). Example: `{ shift: 'noise', amount: 0.5 }`.
 */
import { itemSize } from '../../../data/dataset.js';
import { opt } from '../../../options/schema.js';
import { clipIfImage, defineShift, describeFeatures, FEATURES, fmtNum, resolveFeatures, statsPass, type FeatureRef } from './common.js';

export interface NoiseShiftSpec {
  readonly shift: 'noise';
  readonly features?: readonly FeatureRef[];
  /** Noise σ in units of each feature's standard deviation, ≥ 0. */
  readonly amount: number;
}

export const NOISE_OPTIONS = {
  features: FEATURES,
  amount: opt.number({ doc: "noise sigma in units of each feature's standard deviation", min: 0, required: true, metavar: 'A' }),
};

export const noiseShift = defineShift<NoiseShiftSpec, typeof NOISE_OPTIONS>({
  name: 'noise',
  summary: 'add Gaussian noise of amount x each feature std',
  options: NOISE_OPTIONS,
  example: { shift: 'noise', amount: 0.5 },
  stream(ds, spec) {
    const d = itemSize(ds);
    const cols = resolveFeatures(ds, spec.features);
    return statsPass(ds, (stats, rng) => {
      const std = stats.std();
      return {
        map(src) {
          const x = src.slice();
          const n = x.length / d;
          for (let i = 0; i < n; i++) for (const j of cols) x[i * d + j]! += spec.amount * std[j]! * rng.normal();
          clipIfImage(ds, x);
          return x;
        },
        description: () => `Gaussian noise of ${fmtNum(spec.amount)} std on ${describeFeatures(ds, cols)}`,
      };
    });
  },
});

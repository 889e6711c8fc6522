/**
 * noise: additive Gaussian noise, x_j + N(0, (amount·σ_j)²) per value, σ_j the feature's standard
 * deviation. Image values stay in [0, 1] (for images, the `gaussian_noise` corruption adds noise of a
 * fixed σ instead). Example: `{ shift: 'noise', amount: 0.5 }`.
 */
import { itemSize } from '../../../data/dataset.js';
import { opt } from '../../../options/schema.js';
import { clipIfImage, columnStats, defineShift, describeFeatures, FEATURES, fmtNum, resolveFeatures, withInputs, type FeatureRef } from './common.js';

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
  apply(ds, spec, rng) {
    const d = itemSize(ds);
    const cols = resolveFeatures(ds, spec.features);
    const { std } = columnStats(ds.x, ds.size, d);
    const x = ds.x.slice();
    for (let i = 0; i < ds.size; i++) for (const j of cols) x[i * d + j]! += spec.amount * std[j]! * rng.normal();
    clipIfImage(ds, x);
    return { dataset: withInputs(ds, x), description: `Gaussian noise of ${fmtNum(spec.amount)} std on ${describeFeatures(ds, cols)}` };
  },
});

/**
 * speckle_noise: multiplicative noise x + x·N(0, σ²) per value, clipped (Hendrycks & Dietterich 2019).
 */
import { defineCorruption, pick, type SeverityTable } from '../base.js';

/** σ of the multiplicative noise (CIFAR-10-C / ImageNet-C tables). */
export const SPECKLE_NOISE_SIGMA: SeverityTable<number> = {
  cifar: [0.06, 0.1, 0.12, 0.16, 0.2],
  imagenet: [0.15, 0.2, 0.35, 0.45, 0.6],
};

export const speckleNoise = defineCorruption({
  name: 'speckle_noise',
  summary: 'multiplicative noise x + x*N(0, sigma^2) (sigma 0.06-0.2 small, 0.15-0.6 large)',
  deterministic: false,
  run({ x, out, h, w, severity, rng }) {
    const s = pick(SPECKLE_NOISE_SIGMA, h, w, severity);
    for (let i = 0; i < x.length; i++) out[i] = x[i]! + x[i]! * s * rng.normal();
  },
});

/**
 * gaussian_noise: x + N(0, σ²) per value, clipped (Hendrycks & Dietterich 2019).
 * Example: `gaussianNoise.apply(x, [n, 1, 28, 28], 3, new Rng(0))` adds noise of σ = 0.08.
 */
import { defineCorruption, pick, type SeverityTable } from '../base.js';

/** σ of the added noise, in [0, 1] units (CIFAR-10-C / ImageNet-C tables). */
export const GAUSSIAN_NOISE_SIGMA: SeverityTable<number> = {
  cifar: [0.04, 0.06, 0.08, 0.09, 0.1],
  imagenet: [0.08, 0.12, 0.18, 0.26, 0.38],
};

export const gaussianNoise = defineCorruption({
  name: 'gaussian_noise',
  summary: 'additive Gaussian noise (sigma 0.04-0.10 small images, 0.08-0.38 large)',
  deterministic: false,
  run({ x, out, h, w, severity, rng }) {
    const s = pick(GAUSSIAN_NOISE_SIGMA, h, w, severity);
    for (let i = 0; i < x.length; i++) out[i] = x[i]! + s * rng.normal();
  },
});

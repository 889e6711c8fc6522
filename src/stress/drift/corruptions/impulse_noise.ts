/**
 * impulse_noise: salt-and-pepper noise as `skimage.util.random_noise(mode='s&p')` draws it: each
 * value (each channel on its own) is replaced with probability `amount`, by 1 or 0 with equal odds
 * (Hendrycks & Dietterich 2019).
 */
import { defineCorruption, pick, type SeverityTable } from '../base.js';

/** Share of values replaced (CIFAR-10-C / ImageNet-C tables). */
export const IMPULSE_NOISE_AMOUNT: SeverityTable<number> = {
  cifar: [0.01, 0.02, 0.03, 0.05, 0.07],
  imagenet: [0.03, 0.06, 0.09, 0.17, 0.27],
};

export const impulseNoise = defineCorruption({
  name: 'impulse_noise',
  summary: 'salt-and-pepper noise on a share of values (1-7% small images, 3-27% large)',
  deterministic: false,
  run({ x, out, h, w, severity, rng }) {
    const amount = pick(IMPULSE_NOISE_AMOUNT, h, w, severity);
    for (let i = 0; i < x.length; i++) {
      const flip = rng.uniform() < amount;
      const salt = rng.uniform() < 0.5;
      out[i] = flip ? (salt ? 1 : 0) : x[i]!;
    }
  },
});

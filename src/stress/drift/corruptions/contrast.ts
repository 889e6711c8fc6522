/**
 * contrast: (x − mean)·c + mean per channel, the mean over the image's pixels, clipped (Hendrycks &
 * Dietterich 2019).
 */
import { defineCorruption, forEachImage, pick, type SeverityTable } from '../base.js';

/** Contrast factor c (CIFAR-10-C / ImageNet-C tables). */
export const CONTRAST: SeverityTable<number> = {
  cifar: [0.75, 0.5, 0.4, 0.3, 0.15],
  imagenet: [0.4, 0.3, 0.2, 0.1, 0.05],
};

export const contrast = defineCorruption({
  name: 'contrast',
  summary: 'lower contrast: (x - channel mean) * c + channel mean (c 0.75-0.15 small, 0.4-0.05 large)',
  deterministic: true,
  run(r) {
    const c = pick(CONTRAST, r.h, r.w, r.severity);
    forEachImage(r, (off, plane) => {
      for (let ch = 0; ch < r.c; ch++) {
        const o = off + ch * plane;
        let sum = 0;
        for (let i = 0; i < plane; i++) sum += r.x[o + i]!;
        const mean = sum / plane;
        for (let i = 0; i < plane; i++) r.out[o + i] = (r.x[o + i]! - mean) * c + mean;
      }
    });
  },
});

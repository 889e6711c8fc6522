/**
 * gaussian_blur: `skimage.filters.gaussian(x, sigma, multichannel=True)` — each channel blurred
 * with a Gaussian of σ pixels, kernel radius int(4σ + 0.5), edges repeated (Hendrycks &
 * Dietterich 2019).
 */
import { defineCorruption, forEachImage, pick, type SeverityTable } from '../base.js';
import { gaussianFilter } from '../ops.js';

/** σ in pixels (CIFAR-10-C / ImageNet-C tables). */
export const GAUSSIAN_BLUR_SIGMA: SeverityTable<number> = {
  cifar: [0.4, 0.6, 0.7, 0.8, 1],
  imagenet: [1, 2, 3, 4, 6],
};

export const gaussianBlur = defineCorruption({
  name: 'gaussian_blur',
  summary: 'Gaussian blur (sigma 0.4-1 px small images, 1-6 px large)',
  deterministic: true,
  run(r) {
    const s = pick(GAUSSIAN_BLUR_SIGMA, r.h, r.w, r.severity);
    const tmp = new Float64Array(r.h * r.w);
    const dst = new Float64Array(r.h * r.w);
    forEachImage(r, (off, plane) => {
      for (let ch = 0; ch < r.c; ch++) {
        const o = off + ch * plane;
        r.out.set(gaussianFilter(r.x.subarray(o, o + plane), r.h, r.w, s, 'nearest', 4, dst, tmp), o);
      }
    });
  },
});

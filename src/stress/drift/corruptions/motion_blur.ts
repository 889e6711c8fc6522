/**
 * motion_blur: ImageMagick's motion blur (`MagickMotionBlurImage`, called through Wand in the
 * generators) at a random angle θ ~ U(−45°, 45°) per image: a one-sided Gaussian of σ px over
 * 2·ceil(radius) + 1 taps along the line at θ, edge pixels repeated (Hendrycks & Dietterich 2019).
 * Difference from the generator: it round-trips through 8-bit PNG; we stay in floats.
 */
import { defineCorruption, forEachImage, pick, type SeverityTable } from '../base.js';
import { motionBlurPlane, motionKernel } from '../ops.js';

/** [radius (px), σ (px)] (CIFAR-10-C / ImageNet-C tables). */
export const MOTION_BLUR: SeverityTable<readonly [number, number]> = {
  cifar: [
    [6, 1],
    [6, 1.5],
    [6, 2],
    [8, 2],
    [9, 2.5],
  ],
  imagenet: [
    [10, 3],
    [15, 5],
    [15, 8],
    [15, 12],
    [20, 15],
  ],
};

export const motionBlur = defineCorruption({
  name: 'motion_blur',
  summary: 'motion blur along a random angle in [-45, 45] degrees (ImageMagick kernel)',
  deterministic: false,
  run(r) {
    const [radius, sigma] = pick(MOTION_BLUR, r.h, r.w, r.severity);
    const tmp = new Float64Array(r.h * r.w);
    forEachImage(r, (off, plane) => {
      const k = motionKernel(radius, sigma, r.rng.range(-45, 45));
      for (let ch = 0; ch < r.c; ch++) {
        const o = off + ch * plane;
        r.out.set(motionBlurPlane(r.x.subarray(o, o + plane), r.h, r.w, k, tmp), o);
      }
    });
  },
});

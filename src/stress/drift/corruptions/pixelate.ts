/**
 * pixelate: Pillow BOX resize down to int(side·c), then BOX resize back up (Hendrycks & Dietterich
 * 2019). Differences from Pillow: we keep floats where Pillow rounds to 8 bits after each pass (at
 * most 1/255 apart per pass).
 */
import { defineCorruption, forEachImage, pick, type SeverityTable } from '../base.js';
import { boxResize } from '../ops.js';

/** Scale c of the intermediate size (CIFAR-10-C / ImageNet-C tables). */
export const PIXELATE: SeverityTable<number> = {
  cifar: [0.95, 0.9, 0.85, 0.75, 0.65],
  imagenet: [0.6, 0.5, 0.4, 0.3, 0.25],
};

export const pixelate = defineCorruption({
  name: 'pixelate',
  summary: 'pixelate: box-downscale to 95-65% (small) or 60-25% (large) and box-upscale back',
  deterministic: true,
  run(r) {
    const c = pick(PIXELATE, r.h, r.w, r.severity);
    const sh = Math.max(1, Math.floor(r.h * c));
    const sw = Math.max(1, Math.floor(r.w * c));
    forEachImage(r, (off, plane) => {
      for (let ch = 0; ch < r.c; ch++) {
        const o = off + ch * plane;
        const small = boxResize(r.x.subarray(o, o + plane), r.h, r.w, sh, sw);
        r.out.set(boxResize(small, sh, sw, r.h, r.w), o);
      }
    });
  },
});

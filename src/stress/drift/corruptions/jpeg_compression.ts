/**
 * jpeg_compression: save as baseline JPEG at a quality and decode again, as Pillow does (4:2:0
 * chroma subsampling for RGB, one component for grayscale, IJG tables; see `../jpeg.ts`)
 * (Hendrycks & Dietterich 2019). Values are rounded to 8 bits first, so outputs are multiples of 1/255.
 */
import { defineCorruption, forEachImage, pick, type SeverityTable } from '../base.js';
import { jpegRoundTrip } from '../jpeg.js';

/** JPEG quality (CIFAR-10-C / ImageNet-C tables). */
export const JPEG_QUALITY: SeverityTable<number> = {
  cifar: [80, 65, 58, 50, 40],
  imagenet: [25, 18, 15, 10, 7],
};

export const jpegCompression = defineCorruption({
  name: 'jpeg_compression',
  summary: 'JPEG round trip (quality 80-40 small images, 25-7 large; 4:2:0 for RGB)',
  deterministic: true,
  run(r) {
    const q = pick(JPEG_QUALITY, r.h, r.w, r.severity);
    const per = r.c * r.h * r.w;
    const u8 = new Float64Array(per);
    forEachImage(r, (off) => {
      for (let i = 0; i < per; i++) {
        const v = r.x[off + i]!;
        u8[i] = Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * 255);
      }
      const dec = jpegRoundTrip(u8, r.c as 1 | 3, r.h, r.w, q);
      for (let i = 0; i < per; i++) r.out[off + i] = dec[i]! / 255;
    });
  },
});

/**
 * brightness: add c to the HSV value channel (`skimage.color.rgb2hsv`, V clipped to [0, 1],
 * `hsv2rgb`) (Hendrycks & Dietterich 2019). On grayscale images the HSV value is the pixel itself,
 * so this is min(x + c, 1).
 */
import { defineCorruption, forEachImage, pick, type SeverityTable } from '../base.js';
import { hsvToRgb, rgbToHsv } from '../ops.js';

/** Amount c added to V (CIFAR-10-C / ImageNet-C tables). */
export const BRIGHTNESS: SeverityTable<number> = {
  cifar: [0.05, 0.1, 0.15, 0.2, 0.3],
  imagenet: [0.1, 0.2, 0.3, 0.4, 0.5],
};

export const brightness = defineCorruption({
  name: 'brightness',
  summary: 'brighter: add c to HSV value (c 0.05-0.3 small images, 0.1-0.5 large)',
  deterministic: true,
  run(r) {
    const c = pick(BRIGHTNESS, r.h, r.w, r.severity);
    const { x, out } = r;
    if (r.c === 1) {
      for (let i = 0; i < x.length; i++) out[i] = Math.min(x[i]! + c, 1);
      return;
    }
    const hsv = new Float64Array(3);
    const rgb = new Float64Array(3);
    forEachImage(r, (off, plane) => {
      for (let i = 0; i < plane; i++) {
        const a = off + i;
        rgbToHsv(x[a]!, x[a + plane]!, x[a + 2 * plane]!, hsv);
        hsvToRgb(hsv[0]!, hsv[1]!, Math.min(Math.max(hsv[2]! + c, 0), 1), rgb);
        out[a] = rgb[0]!;
        out[a + plane] = rgb[1]!;
        out[a + 2 * plane] = rgb[2]!;
      }
    });
  },
});

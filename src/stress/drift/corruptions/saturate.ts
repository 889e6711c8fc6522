/**
 * saturate: scale the HSV saturation, S' = clip(S·a + b, 0, 1) (`skimage.color.rgb2hsv` /
 * `hsv2rgb`) (Hendrycks & Dietterich 2019). Severities 1–2 desaturate, 3–5 oversaturate.
 * Grayscale images have no saturation to change (a single channel cannot hold a hue), so this is the
 * identity on them; the generator's RGB-only code would tint gray pixels red at severities 4–5.
 */
import { defineCorruption, forEachImage, pick, type SeverityTable } from '../base.js';
import { hsvToRgb, rgbToHsv } from '../ops.js';

/** [factor a, offset b] on S (CIFAR-10-C / ImageNet-C tables). */
export const SATURATE: SeverityTable<readonly [number, number]> = {
  cifar: [
    [0.3, 0],
    [0.1, 0],
    [1.5, 0],
    [2, 0.1],
    [2.5, 0.2],
  ],
  imagenet: [
    [0.3, 0],
    [0.1, 0],
    [2, 0],
    [5, 0.1],
    [20, 0.2],
  ],
};

export const saturate = defineCorruption({
  name: 'saturate',
  summary: 'change HSV saturation (x0.3, x0.1, then up to x2.5+0.2; identity on grayscale)',
  deterministic: true,
  grayscale: 'identity',
  run(r) {
    const [a, b] = pick(SATURATE, r.h, r.w, r.severity);
    const { x, out } = r;
    if (r.c === 1) {
      out.set(x);
      return;
    }
    const hsv = new Float64Array(3);
    const rgb = new Float64Array(3);
    forEachImage(r, (off, plane) => {
      for (let i = 0; i < plane; i++) {
        const p = off + i;
        rgbToHsv(x[p]!, x[p + plane]!, x[p + 2 * plane]!, hsv);
        hsvToRgb(hsv[0]!, Math.min(Math.max(hsv[1]! * a + b, 0), 1), hsv[2]!, rgb);
        out[p] = rgb[0]!;
        out[p + plane] = rgb[1]!;
        out[p + 2 * plane] = rgb[2]!;
      }
    });
  },
});

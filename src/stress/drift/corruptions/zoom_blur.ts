/**
 * zoom_blur: the mean of the image and its centre zoomed by each factor in a list
 * (`clipped_zoom`: crop the centre, `scipy.ndimage.zoom(order=1)`, trim back; Hendrycks &
 * Dietterich 2019). The factor lists are NumPy's `arange(1, stop, step)` as the generators write
 * them, float rounding included (`arange(1, 1.06, 0.01)` has 7 factors, 1.06 among them). On small
 * images the smallest factors change nothing (a crop of the whole image zoomed back to its size).
 */
import { defineCorruption, forEachImage, pick, type SeverityTable } from '../base.js';
import { addClippedZoom } from '../ops.js';

/** [stop, step] of `np.arange(1, stop, step)` (CIFAR-10-C / ImageNet-C tables). */
export const ZOOM_BLUR: SeverityTable<readonly [number, number]> = {
  cifar: [
    [1.06, 0.01],
    [1.11, 0.01],
    [1.16, 0.01],
    [1.21, 0.01],
    [1.26, 0.01],
  ],
  imagenet: [
    [1.11, 0.01],
    [1.16, 0.01],
    [1.21, 0.02],
    [1.26, 0.02],
    [1.31, 0.03],
  ],
};

/** NumPy's `arange(1, stop, step)`: ceil((stop − 1)/step) values 1 + k·step. */
export function zoomFactors(stop: number, step: number): number[] {
  const n = Math.ceil((stop - 1) / step);
  return Array.from({ length: n }, (_, k) => 1 + k * step);
}

export const zoomBlur = defineCorruption({
  name: 'zoom_blur',
  summary: 'zoom blur: mean of the image and centre zooms up to 1.06-1.26x (small) or 1.11-1.31x (large)',
  deterministic: true,
  run(r) {
    const [stop, step] = pick(ZOOM_BLUR, r.h, r.w, r.severity);
    const factors = zoomFactors(stop, step);
    const acc = new Float64Array(r.h * r.w);
    forEachImage(r, (off, plane) => {
      for (let ch = 0; ch < r.c; ch++) {
        const o = off + ch * plane;
        const src = r.x.subarray(o, o + plane);
        for (let i = 0; i < plane; i++) acc[i] = src[i]!;
        for (const z of factors) addClippedZoom(src, r.h, r.w, z, acc);
        for (let i = 0; i < plane; i++) r.out[o + i] = acc[i]! / (factors.length + 1);
      }
    });
  },
});

/**
 * snow: a snow layer — Gaussian noise N(μ, σ²) zoomed by a factor (`clipped_zoom`), values below a
 * threshold zeroed, motion-blurred (ImageMagick kernel) at an angle θ ~ U(−135°, −45°) — added to
 * the image twice (as is and rotated 180°), after whitening the image towards
 * max(x, 1.5·gray + 0.5) by (1 − mix) (Hendrycks & Dietterich 2019). gray is the OpenCV luma of RGB
 * images, the image itself for grayscale ones.
 * Difference from the generator: it round-trips the layer through an 8-bit PNG; we stay in floats.
 */
import { defineCorruption, forEachImage, pick, type SeverityTable } from '../base.js';
import { addClippedZoom, luma, motionBlurPlane, motionKernel } from '../ops.js';

/**
 * [noise μ, noise σ, zoom, threshold, blur radius, blur σ, image mix] (CIFAR-10-C / ImageNet-C
 * tables).
 */
export const SNOW: SeverityTable<readonly [number, number, number, number, number, number, number]> = {
  cifar: [
    [0.1, 0.2, 1, 0.6, 8, 3, 0.95],
    [0.1, 0.2, 1, 0.5, 10, 4, 0.9],
    [0.15, 0.3, 1.75, 0.55, 10, 4, 0.9],
    [0.25, 0.3, 2.25, 0.6, 12, 6, 0.85],
    [0.3, 0.3, 1.25, 0.65, 14, 12, 0.8],
  ],
  imagenet: [
    [0.1, 0.3, 3, 0.5, 10, 4, 0.8],
    [0.2, 0.3, 2, 0.5, 12, 4, 0.7],
    [0.55, 0.3, 4, 0.9, 12, 8, 0.7],
    [0.55, 0.3, 4.5, 0.85, 12, 8, 0.65],
    [0.55, 0.3, 2.5, 0.85, 12, 12, 0.55],
  ],
};

export const snow = defineCorruption({
  name: 'snow',
  summary: 'snow: thresholded, zoomed, motion-blurred noise flakes over a whitened image',
  deterministic: false,
  run(r) {
    const { h: H, w: W, c: C, x, out, rng } = r;
    const [mu, sd, zoom, threshold, radius, sigma, mix] = pick(SNOW, H, W, r.severity);
    const noise = new Float64Array(H * W);
    const layer = new Float64Array(H * W);
    const blurred = new Float64Array(H * W);
    forEachImage(r, (off, plane) => {
      for (let i = 0; i < plane; i++) noise[i] = mu + sd * rng.normal();
      layer.fill(0);
      addClippedZoom(noise, H, W, zoom, layer);
      for (let i = 0; i < plane; i++) {
        const v = layer[i]! < threshold ? 0 : layer[i]!;
        layer[i] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
      motionBlurPlane(layer, H, W, motionKernel(radius, sigma, rng.range(-135, -45)), blurred);
      for (let i = 0; i < plane; i++) {
        const gray = C === 3 ? luma(x[off + i]!, x[off + plane + i]!, x[off + 2 * plane + i]!) : x[off + i]!;
        const flakes = blurred[i]! + blurred[plane - 1 - i]!;
        for (let ch = 0; ch < C; ch++) {
          const v = x[off + ch * plane + i]!;
          out[off + ch * plane + i] = mix * v + (1 - mix) * Math.max(v, gray * 1.5 + 0.5) + flakes;
        }
      }
    });
  },
});

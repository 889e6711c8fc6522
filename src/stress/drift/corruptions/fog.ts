/**
 * fog: a diamond-square plasma fractal (the generators' `plasma_fractal`, on the smallest
 * power-of-two square covering the image — 32 for CIFAR, 256 for 224-px ImageNet — cropped to the
 * image) added with weight `strength`, the result rescaled by max/(max + strength) where max is the
 * image's largest value (Hendrycks & Dietterich 2019). The same fog covers every channel.
 */
import { defineCorruption, forEachImage, pick, type SeverityTable } from '../base.js';
import { nextPow2, plasmaFractal } from '../ops.js';

/** [strength, wibble decay] (CIFAR-10-C / ImageNet-C tables); smaller decay gives finer fog. */
export const FOG: SeverityTable<readonly [number, number]> = {
  cifar: [
    [0.2, 3],
    [0.5, 3],
    [0.75, 2.5],
    [1, 2],
    [1.5, 1.75],
  ],
  imagenet: [
    [1.5, 2],
    [2, 2],
    [2.5, 1.7],
    [2.5, 1.5],
    [3, 1.4],
  ],
};

export const fog = defineCorruption({
  name: 'fog',
  summary: 'fog: add a plasma-fractal haze and rescale',
  deterministic: false,
  run(r) {
    const { h: H, w: W, c: C, x, out, rng } = r;
    const [strength, decay] = pick(FOG, H, W, r.severity);
    const m = nextPow2(Math.max(H, W));
    forEachImage(r, (off, plane) => {
      let max = -Infinity;
      for (let i = 0; i < C * plane; i++) max = Math.max(max, x[off + i]!);
      const haze = plasmaFractal(m, decay, rng);
      const scale = max / (max + strength);
      for (let ch = 0; ch < C; ch++) {
        for (let y = 0; y < H; y++) {
          for (let xx = 0; xx < W; xx++) {
            const i = off + ch * plane + y * W + xx;
            out[i] = (x[i]! + strength * haze[y * m + xx]!) * scale;
          }
        }
      }
    });
  },
});

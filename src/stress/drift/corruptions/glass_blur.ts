/**
 * glass_blur: Gaussian blur, then local pixel scrambling, then Gaussian blur again (Hendrycks &
 * Dietterich 2019). The scrambling visits pixels (h, w) from the bottom-right inwards
 * (h = H−δ … δ+1, w = W−δ … δ+1), `iterations` times, and draws dx, dy uniformly from the integers
 * in [−δ, δ) (NumPy's `randint(-δ, δ)`). As in the published generator, where NumPy's view
 * semantics turn its tuple "swap" of two pixel vectors into a copy, the pixel at (h + dy, w + dx)
 * is copied into (h, w) — all channels together; we do the same for grayscale.
 * Differences from the generator: it truncates the first blur to 8 bits; we stay in floats.
 */
import { defineCorruption, forEachImage, pick, type SeverityTable } from '../base.js';
import { gaussianFilter } from '../ops.js';

/** [blur σ (px), max displacement δ (px), iterations] (CIFAR-10-C / ImageNet-C tables). */
export const GLASS_BLUR: SeverityTable<readonly [number, number, number]> = {
  cifar: [
    [0.05, 1, 1],
    [0.25, 1, 1],
    [0.4, 1, 1],
    [0.25, 1, 2],
    [0.4, 1, 2],
  ],
  imagenet: [
    [0.7, 1, 2],
    [0.9, 2, 1],
    [1, 2, 3],
    [1.1, 3, 2],
    [1.5, 4, 2],
  ],
};

export const glassBlur = defineCorruption({
  name: 'glass_blur',
  summary: 'frosted glass: blur, scramble pixels locally, blur again',
  deterministic: false,
  run(r) {
    const { h: H, w: W, c: C } = r;
    const [sigma, d, iterations] = pick(GLASS_BLUR, H, W, r.severity);
    const img = new Float64Array(C * H * W);
    const tmp = new Float64Array(H * W);
    const blurred = new Float64Array(H * W);
    // with 2δ a power of two (δ = 1, 2, 4), both offsets come from the bits of one 32-bit draw
    const pow2 = ((2 * d) & (2 * d - 1)) === 0;
    const bits = 2 * d - 1;
    forEachImage(r, (off, plane) => {
      for (let ch = 0; ch < C; ch++) img.set(gaussianFilter(r.x.subarray(off + ch * plane, off + (ch + 1) * plane), H, W, sigma, 'nearest', 4, blurred, tmp), ch * plane);
      for (let it = 0; it < iterations; it++) {
        for (let y = H - d; y > d; y--) {
          for (let x = W - d; x > d; x--) {
            let dx: number;
            let dy: number;
            if (pow2) {
              const u = r.rng.nextU32();
              dx = (u & bits) - d;
              dy = ((u >>> 16) & bits) - d;
            } else {
              dx = r.rng.int(2 * d) - d;
              dy = r.rng.int(2 * d) - d;
            }
            const src = (y + dy) * W + (x + dx);
            const dst = y * W + x;
            for (let ch = 0; ch < C; ch++) img[ch * plane + dst] = img[ch * plane + src]!;
          }
        }
      }
      for (let ch = 0; ch < C; ch++) r.out.set(gaussianFilter(img.subarray(ch * plane, (ch + 1) * plane), H, W, sigma, 'nearest', 4, blurred, tmp), off + ch * plane);
    });
  },
});

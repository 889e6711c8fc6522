/** Seeded test images for the drift tests: smooth shapes with moderate colour, values in [0, 1]. */
import { Rng } from '../src/rng.js';

/** A batch [n, C, H, W] of smooth, structured images (gradients, blobs, a rectangle) from `seed`. */
export function testImages(n: number, C: number, H: number, W: number, seed = 7): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n * C * H * W);
  const plane = H * W;
  for (let i = 0; i < n; i++) {
    const a = rng.range(-1, 1);
    const b = rng.range(-1, 1);
    const cy = rng.range(0.3, 0.7) * H;
    const cx = rng.range(0.3, 0.7) * W;
    const r = rng.range(0.15, 0.3) * Math.min(H, W);
    const y0 = rng.int(Math.max(1, H - 6));
    const x0 = rng.int(Math.max(1, W - 6));
    const tint = [rng.range(-0.15, 0.15), rng.range(-0.15, 0.15), rng.range(-0.15, 0.15)];
    for (let y = 0; y < H; y++) {
      for (let xx = 0; xx < W; xx++) {
        let v = 0.45 + 0.2 * Math.sin((a * xx + b * y) / 4);
        const d = Math.hypot(y - cy, xx - cx);
        if (d < r) v += 0.3 * (1 - d / r);
        if (y >= y0 && y < y0 + 5 && xx >= x0 && xx < x0 + 6) v -= 0.35;
        v += 0.03 * rng.normal();
        for (let ch = 0; ch < C; ch++) {
          const t = C === 3 ? tint[ch]! * (1 + 0.5 * Math.cos(xx / 3)) : 0;
          x[i * C * plane + ch * plane + y * W + xx] = Math.min(1, Math.max(0, v + t));
        }
      }
    }
  }
  return x;
}

/** Mean absolute difference. */
export function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

/**
 * elastic_transform: a random affine warp, then an elastic displacement (Hendrycks & Dietterich
 * 2019; after Simard et al. 2003).
 * 1. Affine: three points around the centre (centre ± ⌊side/3⌋) move by U(−jitter, jitter) each
 *    coordinate; the image is resampled through the inverse map (OpenCV `warpAffine`: bilinear,
 *    BORDER_REFLECT_101).
 * 2. Elastic: dx, dy = α · Gaussian_σ(U(−1, 1) per pixel) (skimage `gaussian`, mode `reflect`,
 *    truncate 3); each pixel reads the warped image at (y + dy, x + dx) (scipy `map_coordinates`,
 *    order 1, mode `reflect`).
 * Parameters scale with the image: the CIFAR table is written in units of the side (32 there; we use
 * the image's longer side), the ImageNet table in units of 244 for 224-px images (the authors'
 * typo, kept; we scale it by side/224). Difference from OpenCV: it snaps warp coordinates to 1/32 px.
 */
import { defineCorruption, forEachImage, isSmall, pick, type SeverityTable } from '../base.js';
import { bilinear, gaussianFilter } from '../ops.js';

/** [α, σ, affine jitter], in units of the image side (CIFAR-10-C) or of 244 px (ImageNet-C). */
export const ELASTIC: SeverityTable<readonly [number, number, number]> = {
  cifar: [
    [0, 0, 0.08],
    [0.05, 0.2, 0.07],
    [0.08, 0.06, 0.06],
    [0.1, 0.04, 0.05],
    [0.1, 0.03, 0.03],
  ],
  imagenet: [
    [2, 0.7, 0.1],
    [2, 0.08, 0.2],
    [0.05, 0.01, 0.02],
    [0.07, 0.01, 0.02],
    [0.12, 0.01, 0.02],
  ],
};

/** The 2×3 affine map taking points p[k] to q[k] (OpenCV `getAffineTransform`). */
export function affineFromPoints(p: readonly number[], q: readonly number[]): number[] {
  const [x0, y0, x1, y1, x2, y2] = p as [number, number, number, number, number, number];
  const det = x0 * (y1 - y2) - y0 * (x1 - x2) + (x1 * y2 - x2 * y1);
  const solve = (v0: number, v1: number, v2: number): [number, number, number] => [
    (v0 * (y1 - y2) - y0 * (v1 - v2) + (v1 * y2 - v2 * y1)) / det,
    (x0 * (v1 - v2) - v0 * (x1 - x2) + (x1 * v2 - x2 * v1)) / det,
    (x0 * (y1 * v2 - y2 * v1) - y0 * (x1 * v2 - x2 * v1) + v0 * (x1 * y2 - x2 * y1)) / det,
  ];
  return [...solve(q[0]!, q[2]!, q[4]!), ...solve(q[1]!, q[3]!, q[5]!)];
}

export const elasticTransform = defineCorruption({
  name: 'elastic_transform',
  summary: 'elastic transform: random affine warp plus smoothed random displacement field',
  deterministic: false,
  run(r) {
    const { h: H, w: W, c: C, x, out, rng } = r;
    const unit = isSmall(H, W) ? Math.max(H, W) : (244 * Math.max(H, W)) / 224;
    const [a, s, j] = pick(ELASTIC, H, W, r.severity);
    const alpha = a * unit;
    const sigma = s * unit;
    const jitter = j * unit;
    const cx = Math.floor(W / 2);
    const cy = Math.floor(H / 2);
    const sq = Math.max(1, Math.floor(Math.min(H, W) / 3)); // ⌊side/3⌋, at least 1 so tiny images keep a valid affine
    const p = [cx + sq, cy + sq, cx + sq, cy - sq, cx - sq, cy - sq];
    const warped = new Float64Array(C * H * W);
    const field = new Float64Array(H * W);
    const tmp = new Float64Array(H * W);
    const dxs = new Float64Array(H * W);
    const dys = new Float64Array(H * W);
    forEachImage(r, (off, plane) => {
      const q = p.map((v) => v + rng.range(-jitter, jitter));
      const [m00, m01, m02, m10, m11, m12] = affineFromPoints(p, q) as [number, number, number, number, number, number];
      const det = m00 * m11 - m01 * m10;
      const i00 = m11 / det;
      const i01 = -m01 / det;
      const i10 = -m10 / det;
      const i11 = m00 / det;
      const i02 = -(i00 * m02 + i01 * m12);
      const i12 = -(i10 * m02 + i11 * m12);
      for (let ch = 0; ch < C; ch++) {
        const src = x.subarray(off + ch * plane, off + (ch + 1) * plane);
        for (let yy = 0; yy < H; yy++) {
          for (let xx = 0; xx < W; xx++) {
            const sx = i00 * xx + i01 * yy + i02;
            const sy = i10 * xx + i11 * yy + i12;
            warped[ch * plane + yy * W + xx] = bilinear(src, H, W, sy, sx, 'mirror');
          }
        }
      }
      for (let i = 0; i < plane; i++) field[i] = rng.range(-1, 1);
      const dx = gaussianFilter(field, H, W, sigma, 'reflect', 3, dxs, tmp);
      for (let i = 0; i < plane; i++) field[i] = rng.range(-1, 1);
      const dy = gaussianFilter(field, H, W, sigma, 'reflect', 3, dys, tmp);
      for (let ch = 0; ch < C; ch++) {
        const img = warped.subarray(ch * plane, (ch + 1) * plane);
        for (let yy = 0; yy < H; yy++) {
          for (let xx = 0; xx < W; xx++) {
            const i = yy * W + xx;
            out[off + ch * plane + i] = bilinear(img, H, W, yy + alpha * dy[i]!, xx + alpha * dx[i]!, 'reflect');
          }
        }
      }
    });
  },
});

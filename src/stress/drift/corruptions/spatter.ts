/**
 * spatter: liquid or mud splashes (Hendrycks & Dietterich 2019). A liquid layer N(μ, σ²) is
 * Gaussian-blurred and thresholded. Then either
 * - water (severities with mode 0): the layer's OpenCV pipeline — Canny edges (50, 150), L2 chamfer
 *   distance to the nearest edge (5×5 mask), truncated at 20, 3×3 box blur, histogram equalisation,
 *   an emboss filter, another 3×3 box blur — weights the layer into a mask m (scaled to max `scale`),
 *   and x + m·(175, 238, 238)/255 (pale turquoise) is returned; or
 * - mud (mode 1): the thresholded layer, blurred by `scale` px, kept where ≥ 0.8, blends the image
 *   towards (63, 42, 20)/255 (brown).
 * Grayscale images use the colours' luma. Differences from the generator: our Canny and histogram
 * steps follow OpenCV's algorithms but were not checked against it bit for bit, and 8-bit
 * conversions of the liquid layer clip at 255 where NumPy's `astype(uint8)` would wrap.
 */
import { defineCorruption, forEachImage, pick, type SeverityTable } from '../base.js';
import { filter2D, gaussianFilter, luma, sparseKernel } from '../ops.js';

/** [μ, σ, blur σ, threshold, scale, mode (0 water, 1 mud)] (CIFAR-10-C / ImageNet-C tables). */
export const SPATTER: SeverityTable<readonly [number, number, number, number, number, 0 | 1]> = {
  cifar: [
    [0.62, 0.1, 0.7, 0.7, 0.5, 0],
    [0.65, 0.1, 0.8, 0.7, 0.5, 0],
    [0.65, 0.3, 1, 0.69, 0.5, 0],
    [0.65, 0.1, 0.7, 0.69, 0.6, 1],
    [0.65, 0.1, 0.5, 0.68, 0.6, 1],
  ],
  imagenet: [
    [0.65, 0.3, 4, 0.69, 0.6, 0],
    [0.65, 0.3, 3, 0.68, 0.6, 0],
    [0.65, 0.3, 2, 0.68, 0.5, 0],
    [0.65, 0.3, 1, 0.65, 1.5, 1],
    [0.67, 0.4, 1, 0.65, 1.5, 1],
  ],
};

const WATER = [175 / 255, 238 / 255, 238 / 255] as const;
const MUD = [63 / 255, 42 / 255, 20 / 255] as const;
const BOX3 = sparseKernel(new Float64Array(9).fill(1 / 9), 3, 3);
const EMBOSS = sparseKernel([-2, -1, 0, -1, 1, 1, 0, 1, 2], 3, 3);

/** OpenCV Canny (3×3 Sobel with replicated edges, L1 magnitude, hysteresis) on an 8-bit plane: 1 = edge. */
export function canny(src: ArrayLike<number>, H: number, W: number, low: number, high: number): Uint8Array {
  // replicate-padded copy, so the Sobel taps need no bounds checks
  const PW = W + 2;
  const pad = new Float64Array((H + 2) * PW);
  for (let y = -1; y <= H; y++) {
    const sy = Math.min(Math.max(y, 0), H - 1) * W;
    for (let x = -1; x <= W; x++) pad[(y + 1) * PW + x + 1] = src[sy + Math.min(Math.max(x, 0), W - 1)]!;
  }
  const gx = new Float64Array(H * W);
  const gy = new Float64Array(H * W);
  // magnitude with a zero border, so the non-maximum test needs no bounds checks either
  const mag = new Float64Array((H + 2) * PW);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const c = (y + 1) * PW + x + 1;
      const dx = pad[c - PW + 1]! + 2 * pad[c + 1]! + pad[c + PW + 1]! - pad[c - PW - 1]! - 2 * pad[c - 1]! - pad[c + PW - 1]!;
      const dy = pad[c + PW - 1]! + 2 * pad[c + PW]! + pad[c + PW + 1]! - pad[c - PW - 1]! - 2 * pad[c - PW]! - pad[c - PW + 1]!;
      gx[y * W + x] = dx;
      gy[y * W + x] = dy;
      mag[c] = Math.abs(dx) + Math.abs(dy);
    }
  }
  const TG22 = Math.tan(Math.PI / 8);
  const TG67 = Math.tan((3 * Math.PI) / 8);
  // 0 = not an edge, 1 = candidate, 2 = strong
  const state = new Uint8Array(H * W);
  const stack: number[] = [];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const c = (y + 1) * PW + x + 1;
      const v = mag[c]!;
      if (!(v > low)) continue;
      const i = y * W + x;
      const ax = Math.abs(gx[i]!);
      const ay = Math.abs(gy[i]!);
      let peak: boolean;
      if (ay < ax * TG22) peak = v > mag[c - 1]! && v >= mag[c + 1]!;
      else if (ay > ax * TG67) peak = v > mag[c - PW]! && v >= mag[c + PW]!;
      else {
        const s = gx[i]! * gy[i]! < 0 ? -1 : 1;
        peak = v > mag[c - PW - s]! && v > mag[c + PW + s]!;
      }
      if (!peak) continue;
      if (v > high) {
        state[i] = 2;
        stack.push(i);
      } else state[i] = 1;
    }
  }
  while (stack.length > 0) {
    const i = stack.pop()!;
    const y = Math.floor(i / W);
    const x = i - y * W;
    for (let yy = Math.max(y - 1, 0); yy <= Math.min(y + 1, H - 1); yy++) {
      for (let xx = Math.max(x - 1, 0); xx <= Math.min(x + 1, W - 1); xx++) {
        const j = yy * W + xx;
        if (state[j] === 1) {
          state[j] = 2;
          stack.push(j);
        }
      }
    }
  }
  const edges = new Uint8Array(H * W);
  for (let i = 0; i < edges.length; i++) edges[i] = state[i] === 2 ? 1 : 0;
  return edges;
}

/** OpenCV `distanceTransform(DIST_L2, 5)`: 5×5 chamfer distance (1, 1.4, 2.1969) to the nearest zero pixel. */
export function chamferDistance(isZero: Uint8Array, H: number, W: number): Float64Array {
  const BIG = 1e9;
  // 2-pixel border of BIG (outside pixels are never zero), so the mask needs no bounds checks
  const PW = W + 4;
  const d = new Float64Array((H + 4) * PW).fill(BIG);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) d[(y + 2) * PW + x + 2] = isZero[y * W + x] ? 0 : BIG;
  const A = 1;
  const B = 1.4;
  const C = 2.1969;
  // causal half of the 5×5 mask as offsets into the padded plane, with weights
  const off = [-1, -PW - 1, -PW, -PW + 1, -2 * PW - 1, -2 * PW + 1, -PW - 2, -PW + 2];
  const wt = [A, B, A, B, C, C, C, C];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = (y + 2) * PW + x + 2;
      let v = d[p]!;
      for (let t = 0; t < 8; t++) {
        const u = d[p + off[t]!]! + wt[t]!;
        if (u < v) v = u;
      }
      d[p] = v;
    }
  }
  for (let y = H - 1; y >= 0; y--) {
    for (let x = W - 1; x >= 0; x--) {
      const p = (y + 2) * PW + x + 2;
      let v = d[p]!;
      for (let t = 0; t < 8; t++) {
        const u = d[p - off[t]!]! + wt[t]!;
        if (u < v) v = u;
      }
      d[p] = v;
    }
  }
  const out = new Float64Array(H * W);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[y * W + x] = d[(y + 2) * PW + x + 2]!;
  return out;
}

/** OpenCV `equalizeHist` of an 8-bit plane (integer values 0–255). */
export function equalizeHist(src: ArrayLike<number>): Float64Array {
  const hist = new Float64Array(256);
  for (let i = 0; i < src.length; i++) hist[src[i]!]!++;
  const out = new Float64Array(src.length);
  let first = 0;
  while (first < 255 && hist[first] === 0) first++;
  if (hist[first] === src.length) {
    out.fill(first);
    return out;
  }
  const scale = 255 / (src.length - hist[first]!);
  const lut = new Float64Array(256);
  let sum = 0;
  for (let i = first + 1; i < 256; i++) {
    sum += hist[i]!;
    lut[i] = Math.min(255, Math.max(0, Math.round(sum * scale)));
  }
  for (let i = 0; i < src.length; i++) out[i] = lut[src[i]!]!;
  return out;
}

const u8round = (v: number): number => Math.min(255, Math.max(0, Math.round(v)));

/** The water mask m (0 … scale) from a thresholded liquid layer. */
function waterMask(liquid: Float64Array, H: number, W: number, scale: number): Float64Array {
  const n = H * W;
  const l8 = new Float64Array(n);
  for (let i = 0; i < n; i++) l8[i] = Math.min(255, Math.max(0, Math.trunc(liquid[i]! * 255)));
  const edges = canny(l8, H, W, 50, 150);
  const dist = chamferDistance(edges, H, W);
  for (let i = 0; i < n; i++) dist[i] = Math.min(dist[i]!, 20);
  const blurred = filter2D(dist, H, W, BOX3);
  for (let i = 0; i < n; i++) blurred[i] = Math.trunc(blurred[i]!);
  const eq = equalizeHist(blurred);
  const emb = filter2D(eq, H, W, EMBOSS);
  for (let i = 0; i < n; i++) emb[i] = u8round(emb[i]!);
  const soft = filter2D(emb, H, W, BOX3);
  const m = new Float64Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    m[i] = l8[i]! * u8round(soft[i]!);
    if (m[i]! > max) max = m[i]!;
  }
  for (let i = 0; i < n; i++) m[i] = max > 0 ? (m[i]! / max) * scale : 0;
  return m;
}

export const spatter = defineCorruption({
  name: 'spatter',
  summary: 'spatter: water drops (severities 1-3) or mud splashes (4-5) over the image',
  deterministic: false,
  run(r) {
    const { h: H, w: W, c: C, x, out, rng } = r;
    const [mu, sd, blur, threshold, scale, mode] = pick(SPATTER, H, W, r.severity);
    const raw = new Float64Array(H * W);
    forEachImage(r, (off, plane) => {
      for (let i = 0; i < plane; i++) raw[i] = mu + sd * rng.normal();
      const liquid = gaussianFilter(raw, H, W, blur);
      for (let i = 0; i < plane; i++) if (liquid[i]! < threshold) liquid[i] = 0;
      if (mode === 0) {
        const m = waterMask(liquid, H, W, scale);
        for (let ch = 0; ch < C; ch++) {
          const col = C === 1 ? luma(WATER[0], WATER[1], WATER[2]) : WATER[ch]!;
          for (let i = 0; i < plane; i++) out[off + ch * plane + i] = x[off + ch * plane + i]! + m[i]! * col;
        }
        return;
      }
      const mask = new Float64Array(plane);
      for (let i = 0; i < plane; i++) mask[i] = liquid[i]! > threshold ? 1 : 0;
      const m = gaussianFilter(mask, H, W, scale);
      for (let i = 0; i < plane; i++) if (m[i]! < 0.8) m[i] = 0;
      for (let ch = 0; ch < C; ch++) {
        const col = C === 1 ? luma(MUD[0], MUD[1], MUD[2]) : MUD[ch]!;
        for (let i = 0; i < plane; i++) {
          const p = off + ch * plane + i;
          out[p] = x[p]! * (1 - m[i]!) + col * m[i]!;
        }
      }
    });
  },
});

/**
 * Low-level image operations the corruptions share, written as plain loops over one channel plane
 * (`H × W`, row-major). Each mirrors the library step the ImageNet-C / CIFAR-10-C generators
 * (Hendrycks & Dietterich 2019) call, so the corruptions land close to the published data:
 *
 * - `gaussianFilter`: `skimage.filters.gaussian` / `scipy.ndimage.gaussian_filter` (kernel radius
 *   `int(truncate·σ + 0.5)`, border modes by scipy's names).
 * - `filter2D`: OpenCV `cv2.filter2D` (correlation, anchor at the centre, BORDER_REFLECT_101).
 * - `addClippedZoom`: the generators' `clipped_zoom` over `scipy.ndimage.zoom(order=1)`.
 * - `boxResize`: Pillow's `Image.resize(..., BOX)` coefficients (without Pillow's 8-bit rounding).
 * - `motionBlurPlane`: ImageMagick's `MotionBlurImage` (as Wand calls it): a one-sided Gaussian
 *   along a line at an angle, edge pixels repeated outside the image.
 * - `plasmaFractal`: the diamond-square height map behind `fog`.
 * - `rgbToHsv` / `hsvToRgb`: `skimage.color.rgb2hsv` / `hsv2rgb`, including their tie rules.
 */
import type { Rng } from '../../rng.js';

/**
 * How a filter reads outside the image, by scipy's names: `nearest` repeats the edge (aaa|abc|ccc),
 * `reflect` mirrors about the edge of the last pixel (cba|abc|cba; OpenCV BORDER_REFLECT),
 * `mirror` mirrors about the centre of the last pixel (cb|abc|ba; OpenCV BORDER_REFLECT_101).
 */
export type Border = 'nearest' | 'reflect' | 'mirror';

/** Python's `round` (ties to even), which scipy uses for zoomed output sizes. */
export function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The in-image index that index `i` reads under `mode`, for an axis of length `n`. */
export function borderIndex(i: number, n: number, mode: Border): number {
  if (i >= 0 && i < n) return i;
  if (mode === 'nearest' || n === 1) return i < 0 ? 0 : n - 1;
  if (mode === 'reflect') {
    const p = 2 * n;
    const m = ((i % p) + p) % p;
    return m < n ? m : p - 1 - m;
  }
  const p = 2 * n - 2;
  const m = ((i % p) + p) % p;
  return m < n ? m : p - m;
}

/** Normalised 1-D Gaussian of scipy's `gaussian_filter1d`: radius `int(truncate·σ + 0.5)`. */
export function gaussianKernel1d(sigma: number, truncate = 4): Float64Array {
  const r = Math.floor(truncate * sigma + 0.5);
  const k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) {
    const v = Math.exp((-0.5 * i * i) / (sigma * sigma));
    k[i + r] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/** Correlates every row (axis 1) or every column (axis 0) of a plane with an odd-length kernel. */
export function correlate1d(src: ArrayLike<number>, H: number, W: number, kernel: ArrayLike<number>, axis: 0 | 1, mode: Border, dst = new Float64Array(H * W)): Float64Array {
  const r = (kernel.length - 1) >> 1;
  dst.fill(0);
  const n = axis === 0 ? H : W;
  if (kernel.length > n) {
    // A kernel longer than the axis: fold it onto the axis once (n × n weights), then apply.
    const fold = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let t = -r; t <= r; t++) fold[i * n + borderIndex(i + t, n, mode)]! += kernel[t + r]!;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let acc = 0;
        if (axis === 0) for (let j = 0; j < n; j++) acc += fold[y * n + j]! * src[j * W + x]!;
        else for (let j = 0; j < n; j++) acc += fold[x * n + j]! * src[y * W + j]!;
        dst[y * W + x] = acc;
      }
    }
    return dst;
  }
  if (axis === 0) {
    for (let y = 0; y < H; y++) {
      const o = y * W;
      for (let t = -r; t <= r; t++) {
        const w = kernel[t + r]!;
        if (w === 0) continue;
        const s = borderIndex(y + t, H, mode) * W;
        for (let x = 0; x < W; x++) dst[o + x]! += w * src[s + x]!;
      }
    }
    return dst;
  }
  const K = 2 * r + 1;
  for (let y = 0; y < H; y++) {
    const o = y * W;
    for (let x = 0; x < W; x++) {
      let acc = 0;
      if (x >= r && x + r < W) {
        const b = o + x - r;
        for (let t = 0; t < K; t++) acc += kernel[t]! * src[b + t]!;
      } else {
        for (let t = 0; t < K; t++) acc += kernel[t]! * src[o + borderIndex(x + t - r, W, mode)]!;
      }
      dst[o + x] = acc;
    }
  }
  return dst;
}

/**
 * Gaussian blur of one plane, as `skimage.filters.gaussian(img, sigma, mode, truncate)` does it on
 * a 2-D image (scipy's separable `gaussian_filter`; skimage's default mode is `nearest`).
 */
export function gaussianFilter(
  src: ArrayLike<number>,
  H: number,
  W: number,
  sigma: number,
  mode: Border = 'nearest',
  truncate = 4,
  dst = new Float64Array(H * W),
  tmp = new Float64Array(H * W),
): Float64Array {
  if (!(sigma > 0)) {
    for (let i = 0; i < H * W; i++) dst[i] = src[i]!;
    return dst;
  }
  const k = kernelCache(sigma, truncate);
  correlate1d(src, H, W, k, 0, mode, tmp);
  return correlate1d(tmp, H, W, k, 1, mode, dst);
}

const gaussCache = new Map<string, Float64Array>();

function kernelCache(sigma: number, truncate: number): Float64Array {
  const key = `${sigma}/${truncate}`;
  let k = gaussCache.get(key);
  if (!k) {
    k = gaussianKernel1d(sigma, truncate);
    if (gaussCache.size < 256) gaussCache.set(key, k);
  }
  return k;
}

/** A 2-D kernel kept as its non-negligible taps (|w| > 1e-9 of the total; dropping the rest moves no output by 1e-6). */
export interface SparseKernel {
  readonly dy: Int32Array;
  readonly dx: Int32Array;
  readonly w: Float64Array;
}

/** Sparse taps of a dense `kh × kw` kernel with its anchor at the centre. */
export function sparseKernel(k: ArrayLike<number>, kh: number, kw: number): SparseKernel {
  let total = 0;
  for (let i = 0; i < k.length; i++) total += Math.abs(k[i]!);
  const dy: number[] = [];
  const dx: number[] = [];
  const w: number[] = [];
  const cy = kh >> 1;
  const cx = kw >> 1;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const v = k[i * kw + j]!;
      if (Math.abs(v) > 1e-9 * total) {
        dy.push(i - cy);
        dx.push(j - cx);
        w.push(v);
      }
    }
  }
  return { dy: Int32Array.from(dy), dx: Int32Array.from(dx), w: Float64Array.from(w) };
}

/** OpenCV `filter2D`: correlation with a kernel anchored at its centre, BORDER_REFLECT_101 by default. */
export function filter2D(src: ArrayLike<number>, H: number, W: number, kernel: SparseKernel, mode: Border = 'mirror', dst = new Float64Array(H * W)): Float64Array {
  const { dy, dx, w } = kernel;
  const n = w.length;
  let ry = 0;
  let rx = 0;
  const off = new Int32Array(n);
  for (let t = 0; t < n; t++) {
    ry = Math.max(ry, Math.abs(dy[t]!));
    rx = Math.max(rx, Math.abs(dx[t]!));
    off[t] = dy[t]! * W + dx[t]!;
  }
  for (let y = 0; y < H; y++) {
    const inY = y >= ry && y + ry < H;
    for (let x = 0; x < W; x++) {
      let acc = 0;
      const p = y * W + x;
      if (inY && x >= rx && x + rx < W) {
        for (let t = 0; t < n; t++) acc += w[t]! * src[p + off[t]!]!;
      } else {
        for (let t = 0; t < n; t++) {
          const yy = borderIndex(y + dy[t]!, H, mode);
          const xx = borderIndex(x + dx[t]!, W, mode);
          acc += w[t]! * src[yy * W + xx]!;
        }
      }
      dst[p] = acc;
    }
  }
  return dst;
}

/** OpenCV `getGaussianKernel(n, sigma)` for sigma > 0: exp(−(i − (n−1)/2)² / 2σ²), normalised. */
export function cvGaussianKernel(n: number, sigma: number): Float64Array {
  const k = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = i - (n - 1) / 2;
    k[i] = Math.exp((-d * d) / (2 * sigma * sigma));
    sum += k[i]!;
  }
  for (let i = 0; i < n; i++) k[i]! /= sum;
  return k;
}

/** Bilinear sample of a plane at (y, x), reading outside through `mode`. */
export function bilinear(src: ArrayLike<number>, H: number, W: number, y: number, x: number, mode: Border): number {
  const y0 = Math.floor(y);
  const x0 = Math.floor(x);
  const fy = y - y0;
  const fx = x - x0;
  const ya = borderIndex(y0, H, mode) * W;
  const yb = borderIndex(y0 + 1, H, mode) * W;
  const xa = borderIndex(x0, W, mode);
  const xb = borderIndex(x0 + 1, W, mode);
  return (1 - fy) * ((1 - fx) * src[ya + xa]! + fx * src[ya + xb]!) + fy * ((1 - fx) * src[yb + xa]! + fx * src[yb + xb]!);
}

/**
 * The generators' `clipped_zoom(img, z)`: crop the centre `ceil(side / z)` pixels, zoom them with
 * `scipy.ndimage.zoom(order=1)` to `round(crop · z)` (scipy maps output i to input
 * i·(in − 1)/(out − 1)), and trim the centre back to the image size. Each axis is handled on its
 * own (the original assumes square images). Adds `weight ×` the result into `acc`.
 */
export function addClippedZoom(src: ArrayLike<number>, H: number, W: number, z: number, acc: Float64Array, weight = 1): void {
  const ay = zoomAxis(H, z);
  const ax = zoomAxis(W, z);
  if (ay.identity && ax.identity) {
    for (let i = 0; i < H * W; i++) acc[i]! += weight * src[i]!;
    return;
  }
  for (let i = 0; i < H; i++) {
    const r0 = ay.i0[i]! * W;
    const r1 = ay.i1[i]! * W;
    const fy = ay.f[i]!;
    for (let j = 0; j < W; j++) {
      const c0 = ax.i0[j]!;
      const c1 = ax.i1[j]!;
      const fx = ax.f[j]!;
      const v = (1 - fy) * ((1 - fx) * src[r0 + c0]! + fx * src[r0 + c1]!) + fy * ((1 - fx) * src[r1 + c0]! + fx * src[r1 + c1]!);
      acc[i * W + j]! += weight * v;
    }
  }
}

interface ZoomAxis {
  readonly i0: Int32Array;
  readonly i1: Int32Array;
  readonly f: Float64Array;
  readonly identity: boolean;
}

const zoomAxes = new Map<string, ZoomAxis>();

/** Source indices and weights of `clipped_zoom` along one axis of length n (cached). */
function zoomAxis(n: number, z: number): ZoomAxis {
  const key = `${n}/${z}`;
  const hit = zoomAxes.get(key);
  if (hit) return hit;
  const ch = Math.ceil(n / z);
  const top = Math.floor((n - ch) / 2);
  const out = pyRound(ch * z);
  const trim = Math.floor((out - n) / 2);
  const step = out > 1 ? (ch - 1) / (out - 1) : 0;
  const i0 = new Int32Array(n);
  const i1 = new Int32Array(n);
  const f = new Float64Array(n);
  let identity = true;
  for (let i = 0; i < n; i++) {
    const c = top + (trim + i) * step;
    let a = Math.floor(c);
    let w = c - a;
    if (a >= n - 1) {
      a = n - 1;
      w = 0;
    }
    i0[i] = a;
    i1[i] = Math.min(a + 1, n - 1);
    f[i] = w;
    if (a !== i || w !== 0) identity = false;
  }
  const axis = { i0, i1, f, identity };
  if (zoomAxes.size < 256) zoomAxes.set(key, axis);
  return axis;
}

/** Pillow's BOX resampling coefficients for one axis: for each output index, the first input index and weights. */
function boxCoefficients(inSize: number, outSize: number): { start: Int32Array; weights: Float64Array[] } {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 0.5 * filterscale;
  const start = new Int32Array(outSize);
  const weights: Float64Array[] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k = new Float64Array(Math.max(xmax, 0));
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = (x + xmin - center + 0.5) / filterscale;
      const w = t > -0.5 && t <= 0.5 ? 1 : 0;
      k[x] = w;
      ww += w;
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) k[x]! /= ww;
    start[xx] = xmin;
    weights.push(k);
  }
  return { start, weights };
}

/** Pillow `Image.resize((outW, outH), BOX)` of one plane (horizontal pass, then vertical), in floats. */
export function boxResize(src: ArrayLike<number>, inH: number, inW: number, outH: number, outW: number): Float64Array {
  const cx = boxCoefficients(inW, outW);
  const tmp = new Float64Array(inH * outW);
  for (let y = 0; y < inH; y++) {
    for (let x = 0; x < outW; x++) {
      const k = cx.weights[x]!;
      const s = y * inW + cx.start[x]!;
      let acc = 0;
      for (let t = 0; t < k.length; t++) acc += k[t]! * src[s + t]!;
      tmp[y * outW + x] = acc;
    }
  }
  const cy = boxCoefficients(inH, outH);
  const out = new Float64Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const k = cy.weights[y]!;
    const s = cy.start[y]!;
    for (let t = 0; t < k.length; t++) {
      const w = k[t]!;
      const row = (s + t) * outW;
      for (let x = 0; x < outW; x++) out[y * outW + x]! += w * tmp[row + x]!;
    }
  }
  return out;
}

/**
 * ImageMagick's motion-blur kernel: `width = 2·ceil(radius) + 1` taps, weight_i ∝ exp(−i²/2σ²)
 * (one-sided, normalised), tap i read at offset (ceil(i·cos θ − 0.5), ceil(i·sin θ − 0.5)) in
 * (x, y) with y down.
 */
export interface MotionKernel {
  readonly ox: Int32Array;
  readonly oy: Int32Array;
  readonly w: Float64Array;
}

export function motionKernel(radius: number, sigma: number, angleDeg: number): MotionKernel {
  const width = 2 * Math.ceil(radius) + 1;
  const w = new Float64Array(width);
  let sum = 0;
  for (let i = 0; i < width; i++) {
    w[i] = Math.exp((-i * i) / (2 * sigma * sigma));
    sum += w[i]!;
  }
  for (let i = 0; i < width; i++) w[i]! /= sum;
  const a = (angleDeg * Math.PI) / 180;
  const px = width * Math.sin(a);
  const py = width * Math.cos(a);
  const h = Math.hypot(px, py);
  const ox = new Int32Array(width);
  const oy = new Int32Array(width);
  for (let i = 0; i < width; i++) {
    ox[i] = Math.ceil((i * py) / h - 0.5);
    oy[i] = Math.ceil((i * px) / h - 0.5);
  }
  return { ox, oy, w };
}

/** Applies a motion kernel to one plane (edge pixels repeat outside, ImageMagick's default). */
export function motionBlurPlane(src: ArrayLike<number>, H: number, W: number, k: MotionKernel, dst = new Float64Array(H * W)): Float64Array {
  const n = k.w.length;
  const cx = new Int32Array(n * W);
  for (let t = 0; t < n; t++) for (let x = 0; x < W; x++) cx[t * W + x] = Math.min(Math.max(x + k.ox[t]!, 0), W - 1);
  dst.fill(0);
  for (let y = 0; y < H; y++) {
    const o = y * W;
    for (let t = 0; t < n; t++) {
      const w = k.w[t]!;
      const row = Math.min(Math.max(y + k.oy[t]!, 0), H - 1) * W;
      const c = t * W;
      for (let x = 0; x < W; x++) dst[o + x]! += w * src[row + cx[c + x]!]!;
    }
  }
  return dst;
}

/** Smallest power of two ≥ n (at least 2). */
export function nextPow2(n: number): number {
  let m = 2;
  while (m < n) m *= 2;
  return m;
}

/**
 * Diamond-square plasma height map (`mapsize × mapsize`, a power of two), wrapping at the edges,
 * normalised to [0, 1]. Each new point is the mean of its 4 neighbours plus wibble·U(−wibble,
 * wibble), with wibble starting at 100 and divided by `decay` per level (the generators'
 * `plasma_fractal`). Draws from `rng`.
 */
export function plasmaFractal(mapsize: number, decay: number, rng: Rng): Float64Array {
  if (!(mapsize >= 2 && (mapsize & (mapsize - 1)) === 0)) throw new RangeError(`'mapsize' must be a power of two >= 2, got ${mapsize}`);
  const m = mapsize;
  const mask = m - 1; // m is a power of two, so & mask wraps negative and overflowing indices
  const a = new Float64Array(m * m);
  const at = (i: number, j: number): number => a[(i & mask) * m + (j & mask)]!;
  let step = m;
  let wibble = 100;
  while (step >= 2) {
    const half = step / 2;
    for (let i = 0; i < m; i += step) {
      for (let j = 0; j < m; j += step) {
        const s = at(i, j) + at(i + step, j) + at(i, j + step) + at(i + step, j + step);
        a[(i + half) * m + j + half] = s / 4 + wibble * rng.range(-wibble, wibble);
      }
    }
    for (let i = 0; i < m; i += step) {
      for (let j = 0; j < m; j += step) {
        const s = at(i + half, j + half) + at(i - half, j + half) + at(i, j) + at(i, j + step);
        a[i * m + j + half] = s / 4 + wibble * rng.range(-wibble, wibble);
      }
    }
    for (let i = 0; i < m; i += step) {
      for (let j = 0; j < m; j += step) {
        const s = at(i + half, j + half) + at(i + half, j - half) + at(i, j) + at(i + step, j);
        a[(i + half) * m + j] = s / 4 + wibble * rng.range(-wibble, wibble);
      }
    }
    step = half;
    wibble /= decay;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < lo) lo = a[i]!;
    if (a[i]! > hi) hi = a[i]!;
  }
  const span = hi - lo || 1;
  for (let i = 0; i < a.length; i++) a[i] = (a[i]! - lo) / span;
  return a;
}

/**
 * `skimage.color.rgb2hsv` of one pixel into `out` [h, s, v]: v = max, s = (max − min)/max, hue from
 * whichever channel is the max (blue wins ties, then green, then red), h = (h/6) mod 1, and h = s = 0
 * for grays.
 */
export function rgbToHsv(r: number, g: number, b: number, out: Float64Array): void {
  const v = Math.max(r, g, b);
  const delta = v - Math.min(r, g, b);
  if (delta === 0) {
    out[0] = 0;
    out[1] = 0;
    out[2] = v;
    return;
  }
  let h: number;
  if (b === v) h = 4 + (r - g) / delta;
  else if (g === v) h = 2 + (b - r) / delta;
  else h = (g - b) / delta;
  h = h / 6;
  h = h - Math.floor(h);
  out[0] = h;
  out[1] = delta / v;
  out[2] = v;
}

/** `skimage.color.hsv2rgb` of one pixel into `out` [r, g, b]. */
export function hsvToRgb(h: number, s: number, v: number, out: Float64Array): void {
  const h6 = h * 6;
  const hi0 = Math.floor(h6);
  const f = h6 - hi0;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  switch (((hi0 % 6) + 6) % 6) {
    case 0:
      out[0] = v, out[1] = t, out[2] = p;
      break;
    case 1:
      out[0] = q, out[1] = v, out[2] = p;
      break;
    case 2:
      out[0] = p, out[1] = v, out[2] = t;
      break;
    case 3:
      out[0] = p, out[1] = q, out[2] = v;
      break;
    case 4:
      out[0] = t, out[1] = p, out[2] = v;
      break;
    default:
      out[0] = v, out[1] = p, out[2] = q;
  }
}

/** ITU-R 601 luma, OpenCV `COLOR_RGB2GRAY` weights. */
export function luma(r: number, g: number, b: number): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

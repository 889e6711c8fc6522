/**
 * Reference inputs for Integrated Gradients: zeros, the data domain's low bound, a Gaussian-blurred
 * copy of each image (Sturmfels, Lundberg & Lee 2020, "Visualizing the Impact of Feature
 * Attribution Baselines"), or a given array (one item, broadcast, or one per item).
 */
import type { Model } from '../engine/model.js';
import { checkRange, UsageError } from '../errors.js';
import type { Geometry } from './common.js';
import type { IgBaseline } from './types.js';

/** The baseline batch, shaped like `x` (a new array; `x` and a given baseline are not mutated). */
export function resolveBaseline(model: Model, x: Float32Array, n: number, geom: Geometry, baseline: IgBaseline, blurSigma?: number): Float32Array {
  const { size } = geom;
  if (baseline instanceof Float32Array) {
    if (baseline.length === size) {
      const out = new Float32Array(x.length);
      for (let i = 0; i < n; i++) out.set(baseline, i * size);
      return out;
    }
    if (baseline.length === x.length) return Float32Array.from(baseline);
    throw new UsageError(`'baseline' array must hold one item (${size} values) or one per item (${x.length}), got ${baseline.length}`);
  }
  switch (baseline) {
    case 'zeros':
      return new Float32Array(x.length);
    case 'low':
      return new Float32Array(x.length).fill(model.decl.bounds[0]);
    case 'blur': {
      if (!geom.image) throw new UsageError(`'baseline' 'blur' needs image inputs [C, H, W]; use 'zeros', 'low' or an array for flat inputs`);
      const { c, h, w } = geom.image;
      const sigma = blurSigma === undefined ? Math.max(h, w) / 8 : checkRange('blurSigma', blurSigma, { min: 0, minExclusive: true, max: 1000 });
      return gaussianBlur(x, n * c, h, w, sigma);
    }
    default:
      throw new UsageError(`'baseline' must be 'zeros', 'low', 'blur' or a Float32Array, got ${JSON.stringify(baseline)}`);
  }
}

/** Separable Gaussian blur of `planes` H×W planes, kernel cut at 3σ, edges clamped. Returns a new array. */
export function gaussianBlur(x: Float32Array, planes: number, h: number, w: number, sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float64Array(2 * r + 1);
  let ks = 0;
  for (let i = -r; i <= r; i++) ks += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i]! /= ks;
  const tmp = new Float64Array(h * w);
  const out = new Float32Array(x.length);
  for (let p = 0; p < planes; p++) {
    const off = p * h * w;
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        let s = 0;
        for (let d = -r; d <= r; d++) s += k[d + r]! * x[off + y * w + Math.min(w - 1, Math.max(0, xx + d))]!;
        tmp[y * w + xx] = s;
      }
    }
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        let s = 0;
        for (let d = -r; d <= r; d++) s += k[d + r]! * tmp[Math.min(h - 1, Math.max(0, y + d)) * w + xx]!;
        out[off + y * w + xx] = s;
      }
    }
  }
  return out;
}

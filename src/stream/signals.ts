/**
 * Per-item signals the stream monitors are fed: from the prediction (top-1 confidence, margin,
 * entropy, the probability vector), from the input (mean, standard deviation, total variation, a
 * seeded random projection) and, once labels arrive, the 0/1 error. Each is a pure function of the
 * item; none draws randomness except the projection matrix, drawn once from the generator given.
 */
import { DataError } from '../errors.js';
import { argmaxAt } from '../metrics/classification.js';
import type { Rng } from '../rng.js';
import { rowEntropy } from '../uncertainty/scores.js';

export const ITEM_SIGNALS = ['confidence', 'margin', 'entropy', 'input-mean', 'input-std', 'input-tv'] as const;
/** A number per item, from the prediction or the input. */
export type ItemSignal = (typeof ITEM_SIGNALS)[number];
export const VECTOR_SIGNALS = ['probabilities', 'input-projection'] as const;
/** A vector per item. */
export type VectorSignal = (typeof VECTOR_SIGNALS)[number];

/** Top-1 probability, top-1 minus top-2 probability, and entropy (nats) of one probability row. */
export function predictionSignals(p: ArrayLike<number>, offset: number, k: number): { confidence: number; margin: number; entropy: number; predicted: number } {
  const arg = argmaxAt(p, offset, k);
  const best = p[offset + arg]!;
  let second = -Infinity;
  for (let j = 0; j < k; j++) if (j !== arg && p[offset + j]! > second) second = p[offset + j]!;
  return { confidence: best, margin: k > 1 ? best - second : best, entropy: rowEntropy(p, offset, k), predicted: arg };
}

/**
 * Mean, standard deviation and total variation of one item: TV is the mean absolute difference
 * between horizontally and vertically adjacent values of each channel (images [C, H, W]); for other
 * items it is NaN.
 */
export function inputSignals(x: Float32Array, offset: number, itemShape: readonly number[]): { mean: number; std: number; tv: number } {
  const per = itemShape.reduce((a, b) => a * b, 1);
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < per; i++) {
    const v = x[offset + i]!;
    s += v;
    s2 += v * v;
  }
  const mean = s / per;
  const std = Math.sqrt(Math.max(0, s2 / per - mean * mean));
  let tv = NaN;
  if (itemShape.length >= 2) {
    const w = itemShape[itemShape.length - 1]!;
    const h = itemShape[itemShape.length - 2]!;
    const planes = per / (h * w);
    let t = 0;
    let pairs = 0;
    for (let c = 0; c < planes; c++) {
      const o = offset + c * h * w;
      for (let r = 0; r < h; r++) {
        for (let col = 0; col < w; col++) {
          const v = x[o + r * w + col]!;
          if (col + 1 < w) (t += Math.abs(x[o + r * w + col + 1]! - v)), pairs++;
          if (r + 1 < h) (t += Math.abs(x[o + (r + 1) * w + col]! - v)), pairs++;
        }
      }
    }
    tv = pairs ? t / pairs : 0;
  }
  return { mean, std, tv };
}

/** The value of an item signal. */
export function itemSignal(which: ItemSignal, pred: ReturnType<typeof predictionSignals>, input: ReturnType<typeof inputSignals> | null): number {
  switch (which) {
    case 'confidence':
    case 'margin':
    case 'entropy':
      return pred[which];
    default: {
      if (!input) throw new DataError(`signal '${which}' needs the inputs`);
      const v = which === 'input-mean' ? input.mean : which === 'input-std' ? input.std : input.tv;
      if (Number.isNaN(v)) throw new DataError(`signal '${which}' needs image items [C, H, W] (or [H, W])`);
      return v;
    }
  }
}

/** A seeded Gaussian random projection from `per` input values to `dims`, scaled by 1/√per. */
export class RandomProjection {
  private readonly m: Float64Array;
  constructor(readonly per: number, readonly dims: number, rng: Rng) {
    this.m = new Float64Array(dims * per);
    const scale = 1 / Math.sqrt(per);
    for (let i = 0; i < this.m.length; i++) this.m[i] = rng.normal() * scale;
  }

  apply(x: Float32Array, offset: number): Float64Array {
    const out = new Float64Array(this.dims);
    for (let d = 0; d < this.dims; d++) {
      let s = 0;
      const o = d * this.per;
      for (let i = 0; i < this.per; i++) s += this.m[o + i]! * x[offset + i]!;
      out[d] = s;
    }
    return out;
  }
}

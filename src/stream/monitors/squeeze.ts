/**
 * Adversarial-traffic detector by feature squeezing (Xu, Evans & Qi 2018, "Feature Squeezing:
 * Detecting Adversarial Examples in Deep Neural Networks", NDSS): an adversarial perturbation tends
 * to be undone by squeezing the input, so the prediction moves. Each item's score is the largest L1
 * distance between the probability vector of the input and that of a squeezed copy — bit-depth
 * reduction to `bits` bits, and (when `median` > 1) a `median × median` median filter — computed by
 * `score(model, x, n)` with real ORT forward passes, no gradients.
 *
 * The monitor is fed one score per item: it learns the reference scores (the first `reference`),
 * flags an item whose score exceeds their `quantile`, and alerts when the flags in the last `window`
 * items are too many for the reference flag rate p0 (P(Bin(window, p0) ≥ count) ≤ alpha). After an
 * alert the window is emptied (the reference is kept).
 *
 * Defaults: bits 2, median 0 (off: the default Fashion-MNIST CNN already changes its mind under a
 * 2 × 2 median filter on clean images), reference 1000, quantile 0.99, window 100, alpha 1e-4.
 * On that model, FGSM at ε = 0.1 pushes 43 % of attacked items above the clean 99th percentile.
 * Corruptions move the score too, so alerts can also fire under strong distribution shift.
 *
 * Example: exponential scores, five times larger for half of the items from item 1500
 *   const m = new SqueezeDetector();
 *   const rng = new Rng(0);
 *   for (let i = 0; i < 2000; i++) {
 *     const attacked = i >= 1500 && rng.uniform() < 0.5;
 *     if (m.update(-Math.log(1 - rng.uniform()) * (attacked ? 5 : 1)).driftDetected) console.log(i);
 *   }
 *   // first alert at 1544
 */
import type { Classifier } from '../../engine/classifier.js';
import { DataError } from '../../errors.js';
import { toProbabilities } from '../../metrics/classification.js';
import { quantile } from '../../metrics/suite.js';
import { BinomialRateMonitor } from '../binomial.js';
import { count, defaultsOf, kindOpt, probabilityOpen, resolveOptions } from '../options.js';
import { opt } from '../../options/schema.js';
import { type MonitorKind } from '../types.js';
import { ReferenceBuffer } from '../window.js';

export interface SqueezeDetectorOptions {
  kind?: MonitorKind;
  /** Bit depth of the bit-depth squeezer (values rounded to 2^bits − 1 levels of the data bounds). */
  bits?: number;
  /** Side of the median-filter squeezer (0 or 1: off). Image items only. */
  median?: number;
  reference?: number;
  /** Reference quantile above which a score is flagged. */
  quantile?: number;
  window?: number;
  alpha?: number;
}

export const SQUEEZE_OPTIONS = {
  kind: kindOpt('adversarial'),
  bits: count('bit depth of the bit-depth squeezer', 2, 1, 16),
  median: count('side of the median-filter squeezer (0 or 1: off; images only)', 0, 0, 15),
  reference: count('items whose scores form the reference', 1000, 10),
  quantile: probabilityOpen('reference quantile above which a score is flagged', 0.99),
  window: count('items in the sliding window', 100, 5),
  alpha: probabilityOpen('alert when the binomial p-value is below this', 1e-4),
};
export const SQUEEZE_DEFAULTS = defaultsOf(SQUEEZE_OPTIONS) as Required<SqueezeDetectorOptions>;

/** Rounds every value to one of 2^bits − 1 + 1 levels spanning [lo, hi]; a new array. */
export function squeezeBitDepth(x: Float32Array, bits: number, bounds: readonly [number, number] = [0, 1]): Float32Array {
  const [lo, hi] = bounds;
  const levels = 2 ** bits - 1;
  const span = hi - lo;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const u = Math.min(1, Math.max(0, (x[i]! - lo) / span));
    out[i] = lo + (Math.round(u * levels) / levels) * span;
  }
  return out;
}

/**
 * A `size × size` median filter over each channel of `n` images [n, C, H, W] (windows anchored at
 * the top-left for even sizes, edges replicated, even counts averaging the two middle values); a new array.
 */
export function squeezeMedian(x: Float32Array, shape: readonly [number, number, number, number], size: number): Float32Array {
  const [n, c, h, w] = shape;
  const out = new Float32Array(x.length);
  const lo = -Math.floor((size - 1) / 2);
  const buf = new Float64Array(size * size);
  for (let p = 0; p < n * c; p++) {
    const o = p * h * w;
    for (let r = 0; r < h; r++) {
      for (let col = 0; col < w; col++) {
        let k = 0;
        for (let dr = 0; dr < size; dr++) {
          const rr = Math.min(h - 1, Math.max(0, r + lo + dr));
          for (let dc = 0; dc < size; dc++) buf[k++] = x[o + rr * w + Math.min(w - 1, Math.max(0, col + lo + dc))]!;
        }
        buf.sort();
        const m = size * size;
        out[o + r * w + col] = m % 2 ? buf[(m - 1) / 2]! : (buf[m / 2 - 1]! + buf[m / 2]!) / 2;
      }
    }
  }
  return out;
}

export class SqueezeDetector extends BinomialRateMonitor<number, Required<SqueezeDetectorOptions>> {
  private readonly ref: ReferenceBuffer;
  private cut = NaN;

  constructor(opts: SqueezeDetectorOptions = {}) {
    super(resolveOptions('SqueezeDetector', SQUEEZE_OPTIONS, opts));
    this.ref = new ReferenceBuffer(this.options.reference);
  }

  /** The score above which an item is flagged (NaN until the reference is complete). */
  get scoreThreshold(): number {
    return this.cut;
  }

  /**
   * Squeeze scores of `n` items (row-major in `x`, data domain) from forward passes of the input and
   * each squeezed copy, in batches of `batchSize`.
   */
  async score(model: Classifier, x: Float32Array, n: number, batchSize = 256): Promise<Float64Array> {
    const out = new Float64Array(n);
    if (n === 0) return out;
    if (x.length % n !== 0) throw new DataError(`${x.length} input values do not divide into ${n} items`);
    const per = x.length / n;
    const shape = model.itemShape;
    const image = shape?.length === 3 && shape.every((d) => typeof d === 'number');
    for (let s = 0; s < n; s += batchSize) {
      const m = Math.min(batchSize, n - s);
      const xb = x.subarray(s * per, (s + m) * per);
      const copies = [squeezeBitDepth(xb, this.options.bits, model.decl.bounds)];
      if (this.options.median > 1) {
        if (!image) throw new DataError(`SqueezeDetector: 'median' needs image items [C, H, W], the model takes [${shape?.join(', ')}]`);
        const [c, h, w] = shape as number[];
        copies.push(squeezeMedian(xb, [m, c!, h!, w!], this.options.median));
      }
      const base = await model.predictBatch(xb, m);
      const kind = model.outputKind ?? 'logits';
      const p = toProbabilities(base.scores, base.numClasses, kind);
      const K = base.numClasses;
      for (const copy of copies) {
        const r = await model.predictBatch(copy, m);
        const q = toProbabilities(r.scores, K, kind);
        for (let i = 0; i < m; i++) {
          let d = 0;
          for (let k = 0; k < K; k++) d += Math.abs(p[i * K + k]! - q[i * K + k]!);
          if (d > out[s + i]!) out[s + i] = d;
        }
      }
    }
    return out;
  }

  update(score: number): this {
    this.test.detected = false;
    if (Number.isNaN(this.cut)) {
      if (this.ref.add(score)) this.calibrate(this.ref.values());
      return this;
    }
    this.test.push(score > this.cut ? 1 : 0);
    return this;
  }

  /** Uses `scores` as the reference (at least 10 of them). */
  setReference(scores: ArrayLike<number>): this {
    this.ref.set(scores);
    this.calibrate(this.ref.values());
    return this;
  }

  private calibrate(ref: Float64Array): void {
    const sorted = Float64Array.from(ref).sort();
    this.cut = quantile(sorted, this.options.quantile);
    let above = 0;
    for (const v of sorted) if (v > this.cut) above++;
    this.test.calibrate(above, sorted.length);
  }

  reset(): void {
    this.ref.clear();
    this.cut = NaN;
    this.test.reset();
  }
}

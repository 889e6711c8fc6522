/**
 * Shapes shared by the distribution-shift components: an image corruption (one per file under
 * `corruptions/`, registered in `registry.ts`) and the batch layout it works on.
 */
import type { Rng } from '../../rng.js';

/** Corruption severity, 1 (mild) to 5 (severe), as in ImageNet-C / CIFAR-10-C. */
export type Severity = 1 | 2 | 3 | 4 | 5;

/** The severities, in order. */
export const SEVERITIES: readonly Severity[] = [1, 2, 3, 4, 5];

/** Layout of an image batch: `[n, channels, height, width]` (NCHW), channels 1 or 3. */
export type BatchShape = readonly [n: number, c: number, h: number, w: number];

/**
 * An image corruption of the ImageNet-C family (Hendrycks & Dietterich 2019, "Benchmarking Neural
 * Network Robustness to Common Corruptions and Perturbations", ICLR).
 *
 * Example: `getCorruption('contrast').apply(x, [n, 1, 28, 28], 3, new Rng(0))`.
 */
export interface Corruption {
  /** Name as in ImageNet-C (`gaussian_noise`, `jpeg_compression`, …). */
  readonly name: string;
  /** One line for `gauntlet list corruptions`. */
  readonly summary: string;
  /** True when `apply` draws nothing from the generator (same input → same output, any seed). */
  readonly deterministic: boolean;
  /**
   * What the corruption does to 1-channel images, when that is not simply "the same, per channel"
   * (e.g. `saturate` is the identity on grayscale). `'identity'` exempts it from the
   * "severity 5 changes more than severity 1" check on grayscale input.
   */
  readonly grayscale?: 'identity';
  /**
   * Corrupts a batch `[n, C, H, W]` of values in [0, 1]. Returns a NEW array (the input is never
   * mutated), finite and clipped to [0, 1]. Throws UsageError for a bad shape or severity.
   * `onProgress(done, total)` counts images done (per-image corruptions; the elementwise noises
   * are quick and report only the end).
   */
  apply(x: Float32Array, shape: BatchShape, severity: Severity, rng: Rng, onProgress?: (done: number, total: number) => void): Float32Array;
}

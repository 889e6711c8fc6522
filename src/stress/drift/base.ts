/**
 * What every corruption file shares: argument checks, the severity-table choice (CIFAR-10-C for
 * images up to 64 px a side, ImageNet-C above), and the final clip to [0, 1].
 */
import { UsageError } from '../../errors.js';
import type { Rng } from '../../rng.js';
import type { BatchShape, Corruption, Severity } from './types.js';

/** Images up to this many pixels a side use the CIFAR-10-C table; larger ones the ImageNet-C table. */
export const SMALL_IMAGE_MAX_SIDE = 64;

/** A corruption's published parameters: one entry per severity 1–5 for each image scale. */
export interface SeverityTable<T> {
  /** CIFAR-10-C (`make_cifar_c.py`), for images up to 64 px a side. */
  readonly cifar: readonly [T, T, T, T, T];
  /** ImageNet-C (`imagenet_c/corruptions.py`), for larger images. */
  readonly imagenet: readonly [T, T, T, T, T];
}

/** The parameters for an image of `h × w` at `severity`. */
export function pick<T>(table: SeverityTable<T>, h: number, w: number, severity: Severity): T {
  const row = Math.max(h, w) <= SMALL_IMAGE_MAX_SIDE ? table.cifar : table.imagenet;
  return row[severity - 1]!;
}

/** True when the image is small enough for the CIFAR-10-C table. */
export function isSmall(h: number, w: number): boolean {
  return Math.max(h, w) <= SMALL_IMAGE_MAX_SIDE;
}

/** Checks a batch, its shape and a severity; throws UsageError naming what is wrong. */
export function checkBatch(name: string, x: Float32Array, shape: BatchShape, severity: number): void {
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new UsageError(`${name}: 'shape' must be [n, C, H, W] with positive integers, got [${Array.isArray(shape) ? shape.join(', ') : String(shape)}]`);
  }
  const [n, c, h, w] = shape;
  if (c !== 1 && c !== 3) throw new UsageError(`${name}: images must have 1 or 3 channels (NCHW), got ${c} in shape [${shape.join(', ')}]`);
  if (x.length !== n * c * h * w) throw new UsageError(`${name}: ${x.length} values do not match shape [${shape.join(', ')}] (${n * c * h * w} values)`);
  if (!(Number.isInteger(severity) && severity >= 1 && severity <= 5)) throw new UsageError(`'severity' must be an integer in [1, 5], got ${severity}`);
}

/** What a corruption body receives: the input, a zero-filled output of the same size, and the layout. */
export interface CorruptionRun {
  readonly x: Float32Array;
  readonly out: Float32Array;
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly severity: Severity;
  readonly rng: Rng;
  /** Images done of n (called by forEachImage). */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Builds a Corruption from its body: `run` fills `out` (possibly outside [0, 1]); `apply` checks
 * the arguments, runs it, and clips to [0, 1].
 */
export function defineCorruption(def: Omit<Corruption, 'apply'> & { run(r: CorruptionRun): void }): Corruption {
  const { run, ...meta } = def;
  return {
    ...meta,
    apply(x, shape, severity, rng, onProgress) {
      checkBatch(def.name, x, shape, severity);
      const [n, c, h, w] = shape;
      const out = new Float32Array(x.length);
      run({ x, out, n, c, h, w, severity, rng, onProgress });
      onProgress?.(n, n);
      for (let i = 0; i < out.length; i++) {
        const v = out[i]!;
        out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
      return out;
    },
  };
}

/** Calls `f` with each image's offset into the batch (`i · C·H·W`) and its plane size `H·W`. */
export function forEachImage(r: CorruptionRun, f: (offset: number, plane: number, index: number) => void): void {
  const plane = r.h * r.w;
  const per = r.c * plane;
  for (let i = 0; i < r.n; i++) {
    f(i * per, plane, i);
    r.onProgress?.(i + 1, r.n);
  }
}

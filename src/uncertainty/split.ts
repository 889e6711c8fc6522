import { UsageError } from '../errors.js';
import type { Rng } from '../rng.js';

/**
 * A seeded split of n items into a calibration part (fits the temperature, the conformal quantile
 * and the selective threshold) and an evaluation part (everything reported). Both are sorted
 * ascending index lists; together they hold every item once.
 */
export interface CalibrationSplit {
  calibration: Int32Array;
  evaluation: Int32Array;
}

/**
 * Draws a random permutation of [0, n) from `rng`; the first round(fraction · n) items calibrate,
 * the rest evaluate. Each part must get at least one item.
 */
export function calibrationSplit(n: number, fraction: number, rng: Rng): CalibrationSplit {
  if (!(Number.isFinite(fraction) && fraction > 0 && fraction < 1)) {
    throw new UsageError(`'calibration fraction' must be in (0, 1), got ${fraction}`);
  }
  const nCal = Math.round(fraction * n);
  if (nCal < 1 || nCal > n - 1) {
    throw new UsageError(`'calibration fraction' ${fraction} of ${n} items leaves ${nCal} calibration and ${n - nCal} evaluation items; each part needs at least 1`);
  }
  const perm = rng.permutation(n);
  return {
    calibration: perm.slice(0, nCal).sort(),
    evaluation: perm.slice(nCal).sort(),
  };
}

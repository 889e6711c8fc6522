/**
 * quantize: round selected features to `levels` evenly spaced values over their range — [0, 1] for
 * images (`levels: 8` is 3-bit color), the observed [min, max] of each feature for tabular data.
 * Example: `{ shift: 'quantize', levels: 4 }`.
 */
import { itemSize } from '../../../data/dataset.js';
import { opt } from '../../../options/schema.js';
import { defineShift, describeFeatures, FEATURES, isImageData, resolveFeatures, statsPass, type FeatureRef } from './common.js';

export interface QuantizeShiftSpec {
  readonly shift: 'quantize';
  readonly features?: readonly FeatureRef[];
  /** Number of levels, an integer ≥ 2. */
  readonly levels: number;
}

export const QUANTIZE_OPTIONS = {
  features: FEATURES,
  levels: opt.integer({ doc: 'number of evenly spaced values', min: 2, max: 65536, required: true, metavar: 'L' }),
};

export const quantizeShift = defineShift<QuantizeShiftSpec, typeof QUANTIZE_OPTIONS>({
  name: 'quantize',
  summary: 'round features to levels evenly spaced values over their range ([0, 1] for images)',
  options: QUANTIZE_OPTIONS,
  example: { shift: 'quantize', levels: 4 },
  stream(ds, spec) {
    const d = itemSize(ds);
    const cols = resolveFeatures(ds, spec.features);
    const image = isImageData(ds);
    const steps = spec.levels - 1;
    return statsPass(ds, ({ min, max }) => ({
      map(src) {
        const x = src.slice();
        const n = x.length / d;
        for (const j of cols) {
          const lo = image ? 0 : min[j]!;
          const span = image ? 1 : max[j]! - lo;
          if (!(span > 0)) continue;
          for (let i = 0; i < n; i++) {
            const p = i * d + j;
            const t = Math.min(Math.max((x[p]! - lo) / span, 0), 1);
            x[p] = lo + (Math.round(t * steps) / steps) * span;
          }
        }
        return x;
      },
      description: () => `quantised to ${spec.levels} levels on ${describeFeatures(ds, cols)}`,
    }));
  },
});

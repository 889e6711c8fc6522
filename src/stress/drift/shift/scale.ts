/**
 * scale: stretch (factor > 1) or shrink (factor < 1) selected features about their mean,
 * x_j → μ_j + factor·(x_j − μ_j), so each feature's standard deviation becomes factor·σ_j.
 * Image values stay in [0, 1]. Example: `{ shift: 'scale', features: [0, 3], factor: 2 }`.
 */
import { itemSize } from '../../../data/dataset.js';
import { opt } from '../../../options/schema.js';
import { clipIfImage, defineShift, describeFeatures, FEATURES, fmtNum, resolveFeatures, statsPass, type FeatureRef } from './common.js';

export interface ScaleShiftSpec {
  readonly shift: 'scale';
  readonly features?: readonly FeatureRef[];
  /** New standard deviation as a multiple of the old, ≥ 0. */
  readonly factor: number;
}

export const SCALE_OPTIONS = {
  features: FEATURES,
  factor: opt.number({ doc: 'new standard deviation as a multiple of the old', min: 0, required: true, metavar: 'F' }),
};

export const scaleShift = defineShift<ScaleShiftSpec, typeof SCALE_OPTIONS>({
  name: 'scale',
  summary: "scale features' spread about their mean by factor (std becomes factor x std)",
  options: SCALE_OPTIONS,
  example: { shift: 'scale', factor: 2 },
  stream(ds, spec) {
    const d = itemSize(ds);
    const cols = resolveFeatures(ds, spec.features);
    return statsPass(ds, ({ mean }) => ({
      map(src) {
        const x = src.slice();
        const n = x.length / d;
        for (let i = 0; i < n; i++) {
          for (const j of cols) {
            const p = i * d + j;
            x[p] = mean[j]! + spec.factor * (x[p]! - mean[j]!);
          }
        }
        clipIfImage(ds, x);
        return x;
      },
      description: () => `scale change x${fmtNum(spec.factor)} about the mean on ${describeFeatures(ds, cols)}`,
    }));
  },
});

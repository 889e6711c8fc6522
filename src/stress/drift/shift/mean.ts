/**
 * mean: shift selected features by `amount` of their own standard deviation, x_j + amount·σ_j
 * (σ_j the population std over the items; constant features do not move). Image values stay in [0, 1].
 * Example: `{ shift: 'mean', features: ['age'], amount: 1.5 }`.
 */
import { itemSize } from '../../../data/dataset.js';
import { opt } from '../../../options/schema.js';
import { clipIfImage, defineShift, describeFeatures, FEATURES, fmtNum, resolveFeatures, statsPass, type FeatureRef } from './common.js';

export interface MeanShiftSpec {
  readonly shift: 'mean';
  /** Features to shift (names or indices); absent: all. */
  readonly features?: readonly FeatureRef[];
  /** Shift in units of each feature's standard deviation. */
  readonly amount: number;
}

export const MEAN_OPTIONS = {
  features: FEATURES,
  amount: opt.number({ doc: "shift in units of each feature's standard deviation", required: true, metavar: 'A' }),
};

export const meanShift = defineShift<MeanShiftSpec, typeof MEAN_OPTIONS>({
  name: 'mean',
  summary: 'shift features by amount x their standard deviation',
  options: MEAN_OPTIONS,
  example: { shift: 'mean', amount: 1 },
  stream(ds, spec) {
    const d = itemSize(ds);
    const cols = resolveFeatures(ds, spec.features);
    return statsPass(ds, (stats) => {
      const std = stats.std();
      return {
        map(src) {
          const x = src.slice();
          const n = x.length / d;
          for (let i = 0; i < n; i++) for (const j of cols) x[i * d + j]! += spec.amount * std[j]!;
          clipIfImage(ds, x);
          return x;
        },
        description: () => `mean shift of ${fmtNum(spec.amount)} std on ${describeFeatures(ds, cols)}`,
      };
    });
  },
});

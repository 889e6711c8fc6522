/**
 * mean: shift selected features by `amount` of their own standard deviation, x_j + amount·σ_j
 * (σ_j the population std over the items; constant features do not move). Image values stay in [0, 1].
 * Example: `{ shift: 'mean', features: ['age'], amount: 1.5 }`.
 */
import { itemSize } from '../../../data/dataset.js';
import { cfgFeatures, cfgNumber, checkKeys, type FeatureRef } from '../config.js';
import { clipIfImage, columnStats, describeFeatures, fmtNum, resolveFeatures, withInputs, type ShiftKind } from './common.js';

export interface MeanShiftSpec {
  readonly shift: 'mean';
  /** Features to shift (names or indices); absent: all. */
  readonly features?: readonly FeatureRef[];
  /** Shift in units of each feature's standard deviation. */
  readonly amount: number;
}

export const meanShift: ShiftKind<MeanShiftSpec> = {
  name: 'mean',
  summary: 'shift features by amount x their standard deviation',
  keys: ['features', 'amount'],
  example: { shift: 'mean', amount: 1 },
  parse(obj, where) {
    checkKeys(obj, ['shift', 'features', 'amount'], where);
    const features = cfgFeatures(obj, 'features', where);
    return { shift: 'mean', ...(features ? { features } : {}), amount: cfgNumber(obj, 'amount', where, {}) };
  },
  apply(ds, spec) {
    const d = itemSize(ds);
    const cols = resolveFeatures(ds, spec.features);
    const { std } = columnStats(ds.x, ds.size, d);
    const x = ds.x.slice();
    for (let i = 0; i < ds.size; i++) for (const j of cols) x[i * d + j]! += spec.amount * std[j]!;
    clipIfImage(ds, x);
    return { dataset: withInputs(ds, x), description: `mean shift of ${fmtNum(spec.amount)} std on ${describeFeatures(ds, cols)}` };
  },
};

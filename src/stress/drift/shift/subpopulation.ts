/**
 * subpopulation: change how common the items meeting a feature condition are. The odds of a
 * matching item against a non-matching one are multiplied by `weight`:
 * - `mode: 'resample'` (default) subsamples without replacement — weight > 1 keeps every matching
 *   item and round(n_other / weight) of the others; weight < 1 keeps every other item and
 *   round(n_match · weight) matching ones — so no item is duplicated;
 * - `mode: 'reweight'` keeps the items and returns per-item weights (weight for matching items, 1
 *   otherwise, scaled to mean 1) for weighted metrics.
 * Example: `{ shift: 'subpopulation', feature: 'age', op: '>', value: 40, weight: 3 }`.
 */
import { ConfigError, DataError } from '../../../errors.js';
import { itemSize } from '../../../data/dataset.js';
import { cfgChoice, cfgFeature, cfgNumber, checkKeys, keyPath, type FeatureRef } from '../config.js';
import { featureLabel, fmtNum, resample, resolveFeature, sampleWithoutReplacement, type ShiftKind } from './common.js';

export const CONDITION_OPS = ['<', '<=', '>', '>=', '==', '!='] as const;
export type ConditionOp = (typeof CONDITION_OPS)[number];
export const SUBPOPULATION_MODES = ['resample', 'reweight'] as const;

export interface SubpopulationShiftSpec {
  readonly shift: 'subpopulation';
  readonly feature: FeatureRef;
  readonly op: ConditionOp;
  readonly value: number;
  /** Odds multiplier for matching items, ≥ 0 (0 removes them). */
  readonly weight: number;
  readonly mode: (typeof SUBPOPULATION_MODES)[number];
}

/** Whether value v meets the condition. */
export function meets(v: number, op: ConditionOp, value: number): boolean {
  switch (op) {
    case '<':
      return v < value;
    case '<=':
      return v <= value;
    case '>':
      return v > value;
    case '>=':
      return v >= value;
    case '==':
      return v === value;
    case '!=':
      return v !== value;
  }
}

export const subpopulationShift: ShiftKind<SubpopulationShiftSpec> = {
  name: 'subpopulation',
  summary: 'make items meeting a feature condition weight x more (or less) common',
  keys: ['feature', 'op', 'value', 'weight', 'mode'],
  example: { shift: 'subpopulation', feature: 0, op: '>', value: 0.5, weight: 3, mode: 'resample' },
  parse(obj, where) {
    checkKeys(obj, ['shift', 'feature', 'op', 'value', 'weight', 'mode'], where);
    if (obj.feature === undefined) throw new ConfigError(`'${keyPath(where, 'feature')}' is required: a feature name or 0-based index`);
    return {
      shift: 'subpopulation',
      feature: cfgFeature(obj.feature, keyPath(where, 'feature')),
      op: cfgChoice(obj, 'op', where, CONDITION_OPS),
      value: cfgNumber(obj, 'value', where, {}),
      weight: cfgNumber(obj, 'weight', where, { min: 0 }),
      mode: cfgChoice(obj, 'mode', where, SUBPOPULATION_MODES, 'resample'),
    };
  },
  apply(ds, spec, rng) {
    const d = itemSize(ds);
    const j = resolveFeature(ds, spec.feature);
    const match: number[] = [];
    const other: number[] = [];
    for (let i = 0; i < ds.size; i++) (meets(ds.x[i * d + j]!, spec.op, spec.value) ? match : other).push(i);
    const cond = `${featureLabel(ds, j)} ${spec.op} ${fmtNum(spec.value)}`;
    if (match.length === 0 || other.length === 0) {
      throw new DataError(`${ds.name}: condition ${cond} matches ${match.length === 0 ? 'none' : 'all'} of ${ds.size} items, so there is no subpopulation to reweight`);
    }
    if (spec.mode === 'reweight') {
      const total = match.length * spec.weight + other.length;
      const weights = new Float64Array(ds.size);
      if (total > 0) {
        const scale = ds.size / total;
        for (const i of match) weights[i] = spec.weight * scale;
        for (const i of other) weights[i] = scale;
      }
      return { dataset: ds, weights, description: `items with ${cond} (${match.length} of ${ds.size}) weighted x${fmtNum(spec.weight)}` };
    }
    const keepMatch = spec.weight >= 1 ? match : sampleWithoutReplacement(match, Math.round(match.length * spec.weight), rng);
    const keepOther = spec.weight >= 1 ? sampleWithoutReplacement(other, Math.round(other.length / spec.weight), rng) : other;
    const indices = Int32Array.from([...keepMatch, ...keepOther]).sort();
    if (indices.length === 0) throw new DataError(`${ds.name}: subpopulation shift with weight ${spec.weight} leaves no items`);
    return {
      dataset: resample(ds, indices),
      indices,
      description:
        `items with ${cond} made x${fmtNum(spec.weight)} as likely: ${keepMatch.length} of ${match.length} matching and ` +
        `${keepOther.length} of ${other.length} other items kept (share ${fmtNum(match.length / ds.size)} → ${fmtNum(keepMatch.length / indices.length)})`,
    };
  },
};

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
import { DataError } from '../../../errors.js';
import { itemSize } from '../../../data/dataset.js';
import { opt } from '../../../options/schema.js';
import { defineShift, featureLabel, featureOpt, fmtNum, resampleStream, resolveFeature, sampleWithoutReplacement, type FeatureRef } from './common.js';

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

/** The condition (feature, op, value) is one `--where 'age>40'` flag on the command line. */
export const SUBPOPULATION_OPTIONS = {
  feature: featureOpt({ doc: 'the feature of the condition', required: true, flag: false }),
  op: opt.choice(CONDITION_OPS, { doc: 'the comparison of the condition', required: true, flag: false }),
  value: opt.number({ doc: 'the value the feature is compared with', required: true, flag: false }),
  weight: opt.number({ doc: 'odds multiplier for matching items (0 removes them)', min: 0, required: true, metavar: 'W' }),
  mode: opt.choice(SUBPOPULATION_MODES, { doc: 'subsample without replacement, or keep the items and return weights', default: 'resample' }),
};

export const subpopulationShift = defineShift<SubpopulationShiftSpec, typeof SUBPOPULATION_OPTIONS>({
  name: 'subpopulation',
  summary: 'make items meeting a feature condition weight x more (or less) common',
  options: SUBPOPULATION_OPTIONS,
  example: { shift: 'subpopulation', feature: 0, op: '>', value: 0.5, weight: 3, mode: 'resample' },
  stream(ds, spec) {
    const d = itemSize(ds);
    const j = resolveFeature(ds, spec.feature);
    const match: number[] = [];
    const other: number[] = [];
    let seen = 0;
    return {
      needsInputs: true,
      update(x) {
        const n = x.length / d;
        for (let i = 0; i < n; i++, seen++) (meets(x[i * d + j]!, spec.op, spec.value) ? match : other).push(seen);
      },
      finish(rng) {
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
          return { size: ds.size, weights, map: (x) => x, description: () => `items with ${cond} (${match.length} of ${ds.size}) weighted x${fmtNum(spec.weight)}` };
        }
        const keepMatch = spec.weight >= 1 ? match : sampleWithoutReplacement(match, Math.round(match.length * spec.weight), rng);
        const keepOther = spec.weight >= 1 ? sampleWithoutReplacement(other, Math.round(other.length / spec.weight), rng) : other;
        const indices = Int32Array.from([...keepMatch, ...keepOther]).sort();
        if (indices.length === 0) throw new DataError(`${ds.name}: subpopulation shift with weight ${spec.weight} leaves no items`);
        return resampleStream(
          ds,
          indices,
          () =>
            `items with ${cond} made x${fmtNum(spec.weight)} as likely: ${keepMatch.length} of ${match.length} matching and ` +
            `${keepOther.length} of ${other.length} other items kept (share ${fmtNum(match.length / ds.size)} → ${fmtNum(keepMatch.length / indices.length)})`,
        );
      },
    };
  },
});

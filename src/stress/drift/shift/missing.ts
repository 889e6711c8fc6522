/**
 * missing: each selected value goes missing with probability `rate` (completely at random) and is
 * filled with the feature's mean over the items (`fill: 'mean'`, the default), or left NaN
 * (`fill: 'nan'`). Models reject NaN inputs, so NaN is for exporting data only (`gauntlet shift
 * --kind missing --fill nan`): `apply` refuses it, `dropValues` produces it.
 * Example: `{ shift: 'missing', features: ['income'], rate: 0.2 }`.
 */
import { ConfigError } from '../../../errors.js';
import type { Rng } from '../../../rng.js';
import { itemSize, type Dataset } from '../../../data/dataset.js';
import { opt } from '../../../options/schema.js';
import { ColumnStats, defineShift, describeFeatures, FEATURES, fmtNum, resolveFeatures, type FeatureRef, type ShiftData, type ShiftPass, type ShiftStream } from './common.js';

export const MISSING_FILLS = ['mean', 'nan'] as const;

export interface MissingShiftSpec {
  readonly shift: 'missing';
  readonly features?: readonly FeatureRef[];
  /** Probability that a value goes missing, in [0, 1]. */
  readonly rate: number;
  /** What replaces a missing value (default 'mean'). */
  readonly fill: (typeof MISSING_FILLS)[number];
}

/** `missing`'s passes; its stream also gives the dropped positions. */
export interface MissingPass extends ShiftPass {
  finish(rng: Rng): ShiftStream & { mask(src: Float32Array): { x: Float32Array; mask: Uint8Array } };
}

/**
 * The two passes of `missing`, fill 'nan' allowed (for export): the feature means over the source
 * items, then values dropped chunk by chunk; `mask` also gives the dropped positions (1 where dropped).
 */
export function missingPass(ds: ShiftData, spec: MissingShiftSpec): MissingPass {
  const d = itemSize(ds);
  const cols = resolveFeatures(ds, spec.features);
  const stats = new ColumnStats(d);
  return {
    needsInputs: true,
    update: (x) => stats.update(x),
    finish(rng) {
      const mean = stats.mean;
      let dropped = 0;
      const mask = (src: Float32Array) => {
        const x = src.slice();
        const m = new Uint8Array(x.length);
        const n = x.length / d;
        for (let i = 0; i < n; i++) {
          for (const j of cols) {
            if (rng.uniform() < spec.rate) {
              const p = i * d + j;
              x[p] = spec.fill === 'nan' ? NaN : mean[j]!;
              m[p] = 1;
              dropped++;
            }
          }
        }
        return { x, mask: m };
      };
      return {
        size: ds.size,
        mask,
        map: (src) => mask(src).x,
        description() {
          const total = ds.size * cols.length;
          return spec.fill === 'nan'
            ? `${dropped} of ${total} values missing at random, left NaN (for export; models cannot run on NaN)`
            : `${dropped} of ${total} values (${fmtNum((100 * dropped) / Math.max(total, 1))}%) missing at random, mean-imputed, on ${describeFeatures(ds, cols)}`;
        },
      };
    },
  };
}

/**
 * Drops values at random: returns the new inputs (NaN or the feature mean where dropped) and a mask
 * (1 where dropped). Means are over the original items.
 */
export function dropValues(ds: Dataset, spec: MissingShiftSpec, rng: Rng): { x: Float32Array; mask: Uint8Array; dropped: number; cols: number[] } {
  const pass = missingPass(ds, spec);
  pass.update(ds.x);
  const r = pass.finish(rng).mask(ds.x);
  let dropped = 0;
  for (let i = 0; i < r.mask.length; i++) dropped += r.mask[i]!;
  return { ...r, dropped, cols: resolveFeatures(ds, spec.features) };
}

export const MISSING_OPTIONS = {
  features: FEATURES,
  rate: opt.number({ doc: 'probability that a value goes missing', min: 0, max: 1, required: true, metavar: 'R' }),
  fill: opt.choice(MISSING_FILLS, { doc: "what replaces a missing value (nan: for export only, models cannot run on it)", default: 'mean' }),
};

export const missingShift = defineShift<MissingShiftSpec, typeof MISSING_OPTIONS>({
  name: 'missing',
  summary: 'drop values at random (rate) and impute the feature mean (fill nan: export only)',
  options: MISSING_OPTIONS,
  example: { shift: 'missing', rate: 0.2, fill: 'mean' },
  stream(ds, spec) {
    if (spec.fill === 'nan') {
      throw new ConfigError("shift 'missing' with fill 'nan' gives NaN inputs, which models cannot run; use fill 'mean' (NaN is for exporting data with 'gauntlet shift')");
    }
    return missingPass(ds, spec);
  },
});

/**
 * Immutable features and shifts. The data declaration's `immutable` features (tabular data) are
 * facts no stress may change: the shifts that change values (mean, scale, noise, missing,
 * quantize) act on the other features only — when a shift names no features it gets every
 * mutable one, and naming an immutable one is a ConfigError. Shifts that resample items
 * (prior, subpopulation) change no value, so they may select by any feature.
 */
import { ConfigError } from '../../errors.js';
import type { Dataset } from '../../data/dataset.js';
import { itemSize } from '../../data/dataset.js';
import type { ShiftSpec } from './registry.js';
import { featureLabel, resolveFeatures } from './shift/common.js';

/** The shift kinds that change input values (and so must leave immutable features alone). */
export const VALUE_SHIFTS: readonly ShiftSpec['shift'][] = ['mean', 'scale', 'noise', 'missing', 'quantize'];

/** The spec restricted to mutable features (`immutable`: column indices); other specs unchanged. */
export function honourImmutable<S extends ShiftSpec>(ds: Pick<Dataset, 'name' | 'itemShape' | 'featureNames'>, spec: S, immutable: readonly number[] | undefined): S {
  if (!immutable || immutable.length === 0 || !VALUE_SHIFTS.includes(spec.shift)) return spec;
  const s = spec as S & { features?: readonly (string | number)[] };
  if (s.features !== undefined) {
    const hit = resolveFeatures(ds, s.features).find((j) => immutable.includes(j));
    if (hit !== undefined) {
      throw new ConfigError(`shift '${spec.shift}' names immutable feature '${featureLabel(ds, hit)}' (data.immutable); a shift may not change it: drop it from the shift's features or from data.immutable`);
    }
    return spec;
  }
  const mutable = Array.from({ length: itemSize(ds) }, (_, j) => j).filter((j) => !immutable.includes(j));
  if (mutable.length === 0) throw new ConfigError(`shift '${spec.shift}' has no feature to change: every feature of ${ds.name} is immutable (data.immutable)`);
  return { ...spec, features: mutable };
}

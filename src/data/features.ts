/**
 * Features of tabular data by name or index: what the data declaration's `feature_names`,
 * `immutable` and `continuous` keys refer to.
 *
 * Example:
 *   const ds = withFeatureNames(await loadDataset('rows.npz'), ['age', 'sex', 'income']);
 *   featureIndices(ds, ['age', 2], 'immutable'); // [0, 2]
 */
import { ConfigError } from '../errors.js';
import type { Dataset } from './dataset.js';

/** A feature reference: a feature name or a 0-based column index. */
export type FeatureRef = string | number;

/** True for tabular data: flat items `[d]`. */
export function isTabular(ds: Pick<Dataset, 'itemShape'>): boolean {
  return ds.itemShape.length === 1;
}

/** The known features as an error message lists them: names (the first 30), or the index range. */
export function knownFeatures(ds: Pick<Dataset, 'itemShape' | 'featureNames'>): string {
  const d = ds.itemShape[0] ?? 0;
  const names = ds.featureNames;
  if (!names) return `unnamed (declare feature_names, or use indices 0 to ${d - 1})`;
  return names.slice(0, 30).join(', ') + (names.length > 30 ? `, … (${names.length})` : '');
}

/**
 * Column indices of feature references (names or 0-based indices), in the order given, without
 * duplicates. `key` names the option in messages. A name the data does not have, an index out of
 * range, or non-tabular data is a one-line ConfigError that lists the known features.
 */
export function featureIndices(ds: Pick<Dataset, 'name' | 'itemShape' | 'featureNames'>, refs: readonly FeatureRef[], key: string): number[] {
  if (!isTabular(ds)) throw new ConfigError(`'${key}' applies to tabular data (flat items); ${ds.name} has items of shape [${ds.itemShape.join(', ')}]`);
  const d = ds.itemShape[0]!;
  const out: number[] = [];
  for (const f of refs) {
    let j: number;
    if (typeof f === 'number') {
      if (!(Number.isInteger(f) && f >= 0 && f < d)) throw new ConfigError(`'${key}' names feature index ${f}, outside 0 to ${d - 1}; features of ${ds.name}: ${knownFeatures(ds)}`);
      j = f;
    } else {
      j = ds.featureNames ? ds.featureNames.indexOf(f) : -1;
      if (j < 0 && /^\d+$/.test(f) && Number(f) < d) j = Number(f);
      if (j < 0) throw new ConfigError(`'${key}' names unknown feature '${f}'; features of ${ds.name}: ${knownFeatures(ds)}`);
    }
    if (!out.includes(j)) out.push(j);
  }
  return out;
}

/** The dataset with the declared feature names (one per column of flat items; replaces names from the source). */
export function withFeatureNames<D extends Dataset>(ds: D, names: readonly string[]): D {
  if (!isTabular(ds)) throw new ConfigError(`'feature_names' applies to tabular data (flat items); ${ds.name} has items of shape [${ds.itemShape.join(', ')}]`);
  const d = ds.itemShape[0]!;
  if (names.length !== d) throw new ConfigError(`'feature_names' has ${names.length} names, but ${ds.name} has ${d} features; give one name per column`);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new ConfigError(`'feature_names' has '${dup}' twice; names must be unique`);
  return { ...ds, featureNames: [...names] };
}

/** The name of column j (its feature name, or the index as text). */
export function featureName(ds: Pick<Dataset, 'featureNames'>, j: number): string {
  return ds.featureNames?.[j] ?? String(j);
}

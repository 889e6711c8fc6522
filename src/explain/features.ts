/**
 * Attributions of tabular data by feature name: what `gauntlet explain` and a campaign's
 * explanation results show instead of column indices (names from CSV headers or the data
 * declaration's `feature_names`; the index as text when the data has none).
 *
 * Example: featureImportance(a, n, 3, ['age', 'sex', 'income'])
 *   // [{ feature: 'income', index: 2, meanAbs: 0.41 }, { feature: 'age', index: 0, meanAbs: 0.12 }, …]
 */

/** One feature's mean |attribution| over the items. */
export interface FeatureImportance {
  readonly feature: string;
  readonly index: number;
  readonly meanAbs: number;
}

/** One feature's signed attribution for one item. */
export interface FeatureAttribution {
  readonly feature: string;
  readonly index: number;
  readonly attribution: number;
}

const nameOf = (names: readonly string[] | null | undefined, j: number): string => names?.[j] ?? String(j);

/** Mean |A_j| over `n` items of `d` features, most important first (ties in column order). */
export function featureImportance(a: Float32Array, n: number, d: number, names?: readonly string[] | null): FeatureImportance[] {
  const s = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) s[j] += Math.abs(a[i * d + j]!);
  return Array.from(s, (v, j) => ({ feature: nameOf(names, j), index: j, meanAbs: n > 0 ? v / n : 0 })).sort((x, y) => y.meanAbs - x.meanAbs || x.index - y.index);
}

/** The `k` features of item i with the largest |A_j|, signed. */
export function topFeatures(a: Float32Array, i: number, d: number, names: readonly string[] | null | undefined, k: number): FeatureAttribution[] {
  const row = Array.from({ length: d }, (_, j) => ({ feature: nameOf(names, j), index: j, attribution: a[i * d + j]! }));
  return row.sort((x, y) => Math.abs(y.attribution) - Math.abs(x.attribution) || x.index - y.index).slice(0, k);
}

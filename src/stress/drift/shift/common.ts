/**
 * What the tabular / general shifts share: the `ShiftKind` shape (one per file in this folder,
 * registered in `../registry.ts`), feature lookup, per-feature statistics, and rebuilding a dataset
 * with new inputs. Shifts see each item as a flat row of features: the columns of tabular data, or
 * the pixels of an image (whose values stay clipped to the image domain [0, 1]).
 */
import { DataError } from '../../../errors.js';
import type { Rng } from '../../../rng.js';
import { itemSize, makeDataset, type Dataset } from '../../../data/dataset.js';
import { fail, opt, parseOptions, showValue, type OptionMap, type OptionsOf, type ParseContext } from '../../../options/schema.js';

/** A feature reference: a feature name (tabular data with names) or a 0-based column index. */
export type FeatureRef = string | number;

const FEATURE_EXPECTED = 'a feature name or a 0-based feature index';

/** One feature reference (`age` or `3`; on the command line digits are an index). */
export function featureOpt<C extends { doc: string; required?: boolean; flag?: false | string }>(c: C) {
  return opt.custom<FeatureRef, C & { metavar: string }>(
    FEATURE_EXPECTED,
    (v, p) => {
      if (typeof v === 'string' && v !== '') return v;
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
      return fail(p, { code: 'type', value: v, expected: FEATURE_EXPECTED });
    },
    { ...c, metavar: 'F' },
    (s) => (/^\d+$/.test(s.trim()) ? Number(s) : s),
  );
}

/** The `features` key every per-feature shift takes: a non-empty list; absent means all features. */
export const FEATURES = opt.list(featureOpt({ doc: 'feature' }), { doc: 'features to shift, names or 0-based indices (default: all)', minLength: 1, metavar: 'F,...' });

/** What applying a drift returns. The source dataset is never mutated. */
export interface DriftResult {
  readonly dataset: Dataset;
  /** For resampling shifts: the source item of each output item. */
  readonly indices?: Int32Array;
  /** For reweighting shifts: one weight per item (mean 1), for weighted metrics. */
  readonly weights?: Float64Array;
  /** One line saying what was done, with realised numbers. */
  readonly description: string;
}

/**
 * A tabular / general shift. Its keys besides `shift` are declared once in `options` (the option
 * schema: YAML validation, `shift` verb flags, `gauntlet list shifts`); `parse` validates a config
 * entry against them; `apply` draws the shifted set.
 */
export interface ShiftKind<S extends { readonly shift: string } = { readonly shift: string }> {
  readonly name: S['shift'];
  /** One line for `gauntlet list` and help text. */
  readonly summary: string;
  /** Every key besides `shift`, with its range and default. */
  readonly options: OptionMap;
  /** A valid spec (docs and conformance tests). */
  readonly example: S;
  /** Validates a config entry (`where` in `ctx` is its key path); OptionError otherwise. */
  parse(obj: unknown, ctx: ParseContext): S;
  apply(ds: Dataset, spec: S, rng: Rng): DriftResult;
}

/**
 * A ShiftKind from its declaration: `parse` checks the entry against `options` (plus the `shift`
 * key), then `check` for constraints between keys.
 */
export function defineShift<S extends { readonly shift: string }, M extends OptionMap>(def: {
  name: S['shift'];
  summary: string;
  options: M;
  example: S;
  check?: (o: OptionsOf<M>, ctx: ParseContext) => void;
  apply(ds: Dataset, spec: S, rng: Rng): DriftResult;
}): ShiftKind<S> {
  const { check, ...rest } = def;
  return {
    ...rest,
    parse(obj, ctx) {
      const o = parseOptions(def.options, obj, ctx, { extraKeys: ['shift'] });
      check?.(o, ctx);
      return { shift: def.name, ...o } as unknown as S;
    },
  };
}

export { showValue };

/** True for image datasets (items of 2 or more dimensions), whose values live in [0, 1]. */
export function isImageData(ds: Pick<Dataset, 'itemShape'>): boolean {
  return ds.itemShape.length >= 2;
}

/** Resolves feature references to column indices (all columns when `refs` is undefined). */
export function resolveFeatures(ds: Dataset, refs: readonly FeatureRef[] | undefined): number[] {
  const d = itemSize(ds);
  if (refs === undefined) return Array.from({ length: d }, (_, i) => i);
  const out = refs.map((f) => resolveFeature(ds, f));
  return [...new Set(out)];
}

/** The column index of one feature reference; DataError when the dataset has no such feature. */
export function resolveFeature(ds: Dataset, f: FeatureRef): number {
  const d = itemSize(ds);
  if (typeof f === 'number') {
    if (f >= d) throw new DataError(`${ds.name}: feature index ${f} is out of range; items have ${d} features (0 to ${d - 1})`);
    return f;
  }
  const names = ds.featureNames;
  const i = names ? names.indexOf(f) : -1;
  if (i < 0) {
    if (/^\d+$/.test(f) && Number(f) < d) return Number(f);
    const known = names ? names.slice(0, 20).join(', ') + (names.length > 20 ? ', …' : '') : `none (use indices 0 to ${d - 1})`;
    throw new DataError(`${ds.name}: no feature named '${f}'; feature names: ${known}`);
  }
  return i;
}

/** The name of column j (its feature name, or the index). */
export function featureLabel(ds: Dataset, j: number): string {
  return ds.featureNames?.[j] ?? String(j);
}

/** Per-column mean and population standard deviation over the items, NaN values skipped. */
export function columnStats(x: Float32Array, n: number, d: number): { mean: Float64Array; std: Float64Array; min: Float64Array; max: Float64Array } {
  const mean = new Float64Array(d);
  const m2 = new Float64Array(d);
  const count = new Float64Array(d);
  const min = new Float64Array(d).fill(Infinity);
  const max = new Float64Array(d).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    for (let j = 0; j < d; j++) {
      const v = x[o + j]!;
      if (Number.isNaN(v)) continue;
      const c = ++count[j]!;
      const delta = v - mean[j]!;
      mean[j]! += delta / c;
      m2[j]! += delta * (v - mean[j]!);
      if (v < min[j]!) min[j] = v;
      if (v > max[j]!) max[j] = v;
    }
  }
  const std = new Float64Array(d);
  for (let j = 0; j < d; j++) std[j] = count[j]! > 0 ? Math.sqrt(m2[j]! / count[j]!) : 0;
  return { mean, std, min, max };
}

/** The dataset with new inputs (same items, labels, ids and extras). */
export function withInputs(ds: Dataset, x: Float32Array): Dataset {
  return makeDataset({
    name: ds.name,
    itemShape: ds.itemShape,
    x,
    labels: ds.labels ? ds.labels.slice() : null,
    classNames: ds.classNames,
    ids: ds.ids,
    metadata: ds.metadata,
    extras: { ...ds.extras },
    featureNames: ds.featureNames,
  });
}

/** Clips to [0, 1] in place when the data are images. */
export function clipIfImage(ds: Dataset, x: Float32Array): void {
  if (!isImageData(ds)) return;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    x[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}

/** "all 784 features" or "features age, income". */
export function describeFeatures(ds: Dataset, cols: readonly number[]): string {
  if (cols.length === itemSize(ds)) return `all ${cols.length} features`;
  const names = cols.slice(0, 8).map((j) => featureLabel(ds, j));
  return `feature${cols.length > 1 ? 's' : ''} ${names.join(', ')}${cols.length > 8 ? `, … (${cols.length})` : ''}`;
}

/** `k` distinct indices drawn uniformly from `pool` (partial Fisher–Yates on a copy). */
export function sampleWithoutReplacement(pool: readonly number[] | Int32Array, k: number, rng: Rng): number[] {
  const a = Array.from(pool);
  const m = Math.min(k, a.length);
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(a.length - i);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a.slice(0, m);
}

/** A number for people: up to 4 significant digits. */
export function fmtNum(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

/**
 * The items at `indices` (a resample; inputs copied). Items drawn more than once get ids
 * `<id>#2`, `<id>#3`, … so ids stay unique; items keep their source id otherwise.
 */
export function resample(ds: Dataset, indices: Int32Array): Dataset {
  const per = itemSize(ds);
  const x = new Float32Array(indices.length * per);
  const labels = ds.labels ? new Int32Array(indices.length) : null;
  const seen = new Map<number, number>();
  const ids: string[] = [];
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    if (!(i >= 0 && i < ds.size)) throw new DataError(`${ds.name}: item index ${i} is outside [0, ${ds.size})`);
    x.set(ds.x.subarray(i * per, (i + 1) * per), k * per);
    if (labels) labels[k] = ds.labels![i]!;
    const copy = (seen.get(i) ?? 0) + 1;
    seen.set(i, copy);
    const id = ds.ids ? ds.ids[i]! : String(i);
    ids.push(copy === 1 ? id : `${id}#${copy}`);
  }
  return makeDataset({
    name: ds.name,
    itemShape: ds.itemShape,
    x,
    labels,
    classNames: ds.classNames,
    ids,
    metadata: ds.metadata ? Array.from(indices, (i) => ds.metadata![i]!) : null,
    featureNames: ds.featureNames,
  });
}

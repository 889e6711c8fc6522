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

/** What a shift knows of a set besides its inputs (a whole Dataset, or a chunked one). */
export type ShiftData = Pick<Dataset, 'name' | 'size' | 'itemShape' | 'featureNames' | 'classNames' | 'labels'>;

/**
 * A shift applied in two passes, so that a set read in chunks is never held whole: `update` sees
 * the clean inputs chunk by chunk in order (only when `needsInputs`: the per-feature statistics, the
 * condition's column), then `finish` draws what picks items and returns the stream that maps the
 * chunks. `finish` may be called again: each stream draws from the generator it is given (a second
 * pass over the same chunks with a fresh generator of the same name gives the same values).
 */
export interface ShiftPass {
  readonly needsInputs: boolean;
  update(x: Float32Array): void;
  finish(rng: Rng): ShiftStream;
}

/** The second pass of a shift (see `ShiftPass`). */
export interface ShiftStream {
  /** Items of the shifted set. */
  readonly size: number;
  /** Resampling shifts: the source item of each output item, ascending. */
  readonly indices?: Int32Array;
  /** Reweighting shifts: one weight per item (mean 1); the inputs are unchanged. */
  readonly weights?: Float64Array;
  /**
   * The output items coming from the clean source items [start, start + x.length / itemSize), fed
   * chunk after chunk in order, each once (value-changing shifts draw as they go). Never mutates x.
   */
  map(x: Float32Array, start: number): Float32Array;
  /** One line saying what was done, with realised numbers (after every chunk went through `map`). */
  description(): string;
}

/**
 * A tabular / general shift. Its keys besides `shift` are declared once in `options` (the option
 * schema: YAML validation, `shift` verb flags, `gauntlet list shifts`); `parse` validates a config
 * entry against them; `stream` applies it chunk by chunk (two passes) and `apply` to a whole set,
 * with the same values.
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
  stream(ds: ShiftData, spec: S): ShiftPass;
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
  stream(ds: ShiftData, spec: S): ShiftPass;
}): ShiftKind<S> {
  const { check, ...rest } = def;
  return {
    ...rest,
    apply: (ds, spec, rng) => applyWhole(ds, def.stream(ds, spec), rng),
    parse(obj, ctx) {
      const o = parseOptions(def.options, obj, ctx, { extraKeys: ['shift'] });
      check?.(o, ctx);
      return { shift: def.name, ...o } as unknown as S;
    },
  };
}

export { showValue };

/** A whole set through a shift's two passes (one chunk). */
export function applyWhole(ds: Dataset, pass: ShiftPass, rng: Rng): DriftResult {
  if (pass.needsInputs) pass.update(ds.x);
  const s = pass.finish(rng);
  if (s.weights) return { dataset: ds, weights: s.weights, description: s.description() };
  if (s.indices) return { dataset: resample(ds, s.indices), indices: s.indices, description: s.description() };
  const x = s.map(ds.x, 0);
  return { dataset: withInputs(ds, x), description: s.description() };
}

/**
 * The stream of a resampling shift: each chunk gives the copies of its items that `indices`
 * (ascending) names, in order.
 */
export function resampleStream(ds: Pick<Dataset, 'itemShape'>, indices: Int32Array, description: () => string): ShiftStream {
  const per = itemSize(ds);
  let k = 0;
  return {
    size: indices.length,
    indices,
    description,
    map(x, start) {
      const end = start + x.length / per;
      while (k < indices.length && indices[k]! < start) k++;
      let k1 = k;
      while (k1 < indices.length && indices[k1]! < end) k1++;
      const out = new Float32Array((k1 - k) * per);
      for (let t = k; t < k1; t++) out.set(x.subarray((indices[t]! - start) * per, (indices[t]! - start + 1) * per), (t - k) * per);
      k = k1;
      return out;
    },
  };
}

/** Per-column statistics gathered chunk by chunk (rows in order; the values of `columnStats`). */
export class ColumnStats {
  readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private readonly count: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  constructor(private readonly d: number) {
    this.mean = new Float64Array(d);
    this.m2 = new Float64Array(d);
    this.count = new Float64Array(d);
    this.min = new Float64Array(d).fill(Infinity);
    this.max = new Float64Array(d).fill(-Infinity);
  }
  /** Adds the rows of x (row-major, d values a row), NaN values skipped. */
  update(x: Float32Array): void {
    const { d, mean, m2, count, min, max } = this;
    const n = x.length / d;
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
  }
  /** Population standard deviation per column (0 for a column with no values). */
  std(): Float64Array {
    const std = new Float64Array(this.d);
    for (let j = 0; j < this.d; j++) std[j] = this.count[j]! > 0 ? Math.sqrt(this.m2[j]! / this.count[j]!) : 0;
    return std;
  }
}

/**
 * The two passes of a value-changing shift that needs only per-column statistics: `make` gets the
 * statistics and the generator and returns the per-chunk transform (a copy) and the description.
 */
export function statsPass(ds: ShiftData, make: (stats: ColumnStats, rng: Rng) => { map(x: Float32Array): Float32Array; description(): string }): ShiftPass {
  const stats = new ColumnStats(itemSize(ds));
  return {
    needsInputs: true,
    update: (x) => stats.update(x),
    finish(rng) {
      const m = make(stats, rng);
      return { size: ds.size, map: (x) => m.map(x), description: () => m.description() };
    },
  };
}

/** True for image datasets (items of 2 or more dimensions), whose values live in [0, 1]. */
export function isImageData(ds: Pick<Dataset, 'itemShape'>): boolean {
  return ds.itemShape.length >= 2;
}

/** Resolves feature references to column indices (all columns when `refs` is undefined). */
export function resolveFeatures(ds: Pick<Dataset, 'name' | 'itemShape' | 'featureNames'>, refs: readonly FeatureRef[] | undefined): number[] {
  const d = itemSize(ds);
  if (refs === undefined) return Array.from({ length: d }, (_, i) => i);
  const out = refs.map((f) => resolveFeature(ds, f));
  return [...new Set(out)];
}

/** The column index of one feature reference; DataError when the dataset has no such feature. */
export function resolveFeature(ds: Pick<Dataset, 'name' | 'itemShape' | 'featureNames'>, f: FeatureRef): number {
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
export function featureLabel(ds: Pick<Dataset, 'featureNames'>, j: number): string {
  return ds.featureNames?.[j] ?? String(j);
}

/** Per-column mean and population standard deviation over the items, NaN values skipped. */
export function columnStats(x: Float32Array, n: number, d: number): { mean: Float64Array; std: Float64Array; min: Float64Array; max: Float64Array } {
  const c = new ColumnStats(d);
  c.update(x.subarray(0, n * d));
  return { mean: c.mean, std: c.std(), min: c.min, max: c.max };
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
export function clipIfImage(ds: Pick<Dataset, 'itemShape'>, x: Float32Array): void {
  if (!isImageData(ds)) return;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    x[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}

/** "all 784 features" or "features age, income". */
export function describeFeatures(ds: Pick<Dataset, 'itemShape' | 'featureNames'>, cols: readonly number[]): string {
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
 * What a resample keeps besides the inputs: the labels and metadata of the items at `indices`, and
 * their ids — items drawn more than once get ids `<id>#2`, `<id>#3`, … so ids stay unique.
 */
export function resampleMeta(ds: Pick<Dataset, 'name' | 'size' | 'labels' | 'ids'> & { readonly metadata?: Dataset['metadata'] }, indices: Int32Array): { labels: Int32Array | null; ids: string[]; metadata: Dataset['metadata'] } {
  const labels = ds.labels ? new Int32Array(indices.length) : null;
  const seen = new Map<number, number>();
  const ids: string[] = [];
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    if (!(i >= 0 && i < ds.size)) throw new DataError(`${ds.name}: item index ${i} is outside [0, ${ds.size})`);
    if (labels) labels[k] = ds.labels![i]!;
    const copy = (seen.get(i) ?? 0) + 1;
    seen.set(i, copy);
    const id = ds.ids ? ds.ids[i]! : String(i);
    ids.push(copy === 1 ? id : `${id}#${copy}`);
  }
  return { labels, ids, metadata: ds.metadata ? Array.from(indices, (i) => ds.metadata![i]!) : null };
}

/** The items at `indices` (a resample; inputs copied; labels, ids and metadata as `resampleMeta`). */
export function resample(ds: Dataset, indices: Int32Array): Dataset {
  const meta = resampleMeta(ds, indices);
  const per = itemSize(ds);
  const x = new Float32Array(indices.length * per);
  for (let k = 0; k < indices.length; k++) x.set(ds.x.subarray(indices[k]! * per, (indices[k]! + 1) * per), k * per);
  return makeDataset({
    name: ds.name,
    itemShape: ds.itemShape,
    x,
    labels: meta.labels,
    classNames: ds.classNames,
    ids: meta.ids,
    metadata: meta.metadata,
    featureNames: ds.featureNames,
  });
}

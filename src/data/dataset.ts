import { createHash } from 'node:crypto';
import { DataError } from '../errors.js';

/** Extra per-dataset arrays kept from the source (e.g. npz keys other than x/y). */
export interface ExtraArray {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: ArrayLike<number | bigint | string> ;
}

/** One batch: a view into the dataset's storage (no copy). */
export interface Batch {
  /** Index of the first item in the dataset. */
  readonly start: number;
  /** Number of items in this batch. */
  readonly size: number;
  /** Inputs, float32, row-major [size, ...itemShape], data domain. */
  readonly x: Float32Array;
  /** Labels, or null when the dataset has none. */
  readonly y: Int32Array | null;
}

/**
 * A labelled (or unlabelled) set of inputs in the data domain.
 *
 * Inputs live in one Float32Array (row-major `[size, ...itemShape]`), so a 60k-image set costs
 * 4 bytes a value and no per-item JS objects; batches are views into it.
 */
export interface Dataset {
  /** Human-readable name (file name, usually). */
  readonly name: string;
  readonly size: number;
  /** Shape of one item, e.g. [1, 28, 28] for a grayscale image (NCHW without N) or [d] for tabular. */
  readonly itemShape: readonly number[];
  readonly x: Float32Array;
  readonly labels: Int32Array | null;
  /** Class names indexed by label, when known. */
  readonly classNames: readonly string[] | null;
  /** Stable item ids; `null` means ids are the decimal item indices. */
  readonly ids: readonly string[] | null;
  /** Per-item metadata (JSONL manifests), when the source has it. */
  readonly metadata: readonly (Record<string, unknown> | null)[] | null;
  /** Arrays from the source that Gauntlet does not interpret, preserved by key. */
  readonly extras: Readonly<Record<string, ExtraArray>>;
  /** For tabular data: feature names, in column order. */
  readonly featureNames: readonly string[] | null;
}

export interface DatasetInit {
  name: string;
  itemShape: readonly number[];
  x: Float32Array;
  labels?: Int32Array | null;
  classNames?: readonly string[] | null;
  ids?: readonly string[] | null;
  metadata?: readonly (Record<string, unknown> | null)[] | null;
  extras?: Record<string, ExtraArray>;
  featureNames?: readonly string[] | null;
}

/** Builds a Dataset, checking that sizes agree and that every input is finite. */
export function makeDataset(init: DatasetInit): Dataset {
  const itemSize = init.itemShape.reduce((a, b) => a * b, 1);
  if (!init.itemShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new DataError(`${init.name}: item shape [${init.itemShape.join(', ')}] must have positive integer dimensions`);
  }
  if (init.x.length % itemSize !== 0) {
    throw new DataError(`${init.name}: ${init.x.length} input values do not divide into items of shape [${init.itemShape.join(', ')}]`);
  }
  const size = init.x.length / itemSize;
  for (let i = 0; i < init.x.length; i++) {
    const v = init.x[i]!;
    if (!Number.isFinite(v)) {
      const item = Math.floor(i / itemSize);
      throw new DataError(`${init.name}: input of item ${item} has a non-finite value (${v}) at offset ${i % itemSize}`);
    }
  }
  const labels = init.labels ?? null;
  if (labels && labels.length !== size) {
    throw new DataError(`${init.name}: ${labels.length} labels for ${size} inputs`);
  }
  if (labels) {
    for (let i = 0; i < labels.length; i++) {
      if (labels[i]! < 0) throw new DataError(`${init.name}: label of item ${i} is negative (${labels[i]})`);
    }
  }
  if (init.ids && init.ids.length !== size) throw new DataError(`${init.name}: ${init.ids.length} ids for ${size} inputs`);
  if (init.metadata && init.metadata.length !== size) throw new DataError(`${init.name}: ${init.metadata.length} metadata rows for ${size} inputs`);
  return {
    name: init.name,
    size,
    itemShape: [...init.itemShape],
    x: init.x,
    labels,
    classNames: init.classNames ?? null,
    ids: init.ids ?? null,
    metadata: init.metadata ?? null,
    extras: init.extras ?? {},
    featureNames: init.featureNames ?? null,
  };
}

/** Number of values in one item. */
export function itemSize(ds: Pick<Dataset, 'itemShape'>): number {
  return ds.itemShape.reduce((a, b) => a * b, 1);
}

/** The id of item i (its stable id, or its index). */
export function itemId(ds: Dataset, i: number): string {
  return ds.ids ? ds.ids[i]! : String(i);
}

/** Iterates the dataset in batches of at most `batchSize` items, as views (no copies). */
export function* batches(ds: Dataset, batchSize: number): Generator<Batch> {
  const per = itemSize(ds);
  for (let start = 0; start < ds.size; start += batchSize) {
    const size = Math.min(batchSize, ds.size - start);
    yield {
      start,
      size,
      x: ds.x.subarray(start * per, (start + size) * per),
      y: ds.labels ? ds.labels.subarray(start, start + size) : null,
    };
  }
}

/** Returns the labels, or throws a DataError saying they are needed. */
export function requireLabels(ds: Pick<Dataset, 'name' | 'labels'>, purpose: string): Int32Array {
  if (!ds.labels) throw new DataError(`${ds.name}: has no labels, which ${purpose} needs`);
  return ds.labels;
}

/** A new dataset holding the items at the given indices (copies their inputs). */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const per = itemSize(ds);
  const x = new Float32Array(indices.length * per);
  const labels = ds.labels ? new Int32Array(indices.length) : null;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    if (!(i >= 0 && i < ds.size)) throw new DataError(`${ds.name}: item index ${i} is outside [0, ${ds.size})`);
    x.set(ds.x.subarray(i * per, (i + 1) * per), k * per);
    if (labels) labels[k] = ds.labels![i]!;
  }
  const pick = <T>(arr: readonly T[] | null): T[] | null => (arr ? Array.from(indices, (i) => arr[i]!) : null);
  return makeDataset({
    name,
    itemShape: ds.itemShape,
    x,
    labels,
    classNames: ds.classNames,
    ids: ds.ids ? pick(ds.ids) : Array.from(indices, (i) => String(i)),
    metadata: pick(ds.metadata),
    featureNames: ds.featureNames,
  });
}

/**
 * Content hash (sha256, hex) of the inputs and labels: shape, float32 bytes (little-endian) and
 * int32 labels. Names, ids and metadata do not enter it: two files with the same content hash to
 * the same value.
 */
export function datasetHash(ds: Pick<Dataset, 'itemShape' | 'size' | 'x' | 'labels'>): string {
  const h = new DatasetHasher(ds.size, ds.itemShape, ds.labels !== null);
  h.update(ds.x);
  return h.digest(ds.labels);
}

/** `datasetHash` computed piecewise: `update` with the inputs in item order, then `digest` with the labels. */
export class DatasetHasher {
  private readonly h = createHash('sha256');
  constructor(size: number, itemShape: readonly number[], labelled: boolean) {
    this.h.update(`gauntlet-dataset-v1;n=${size};shape=${itemShape.join('x')};labels=${labelled ? 'int32' : 'none'};`);
  }
  update(x: Float32Array): void {
    this.h.update(leBytes(x));
  }
  digest(labels: Int32Array | null): string {
    if (labels) this.h.update(leBytes(labels));
    return this.h.digest('hex');
  }
}

function leBytes(a: Float32Array | Int32Array): Uint8Array {
  // All platforms Node supports in practice are little-endian; check once and convert if not.
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) {
    if (a instanceof Float32Array) dv.setFloat32(i * 4, a[i]!, true);
    else dv.setInt32(i * 4, a[i]!, true);
  }
  return out;
}

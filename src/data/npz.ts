/**
 * numpy archives: `.npz` (a zip of `.npy` files, from `np.savez` / `np.savez_compressed`) and bare
 * `.npy` files, as Datasets.
 *
 * Keys Gauntlet interprets:
 * - `x` (required): inputs `[N, ...itemShape]` in the data domain, float32 (float64 is accepted
 *   and converted, checking every value fits float32). uint8 `x` is read as 8-bit images and
 *   scaled to [0, 1] (`v / 255`, as torchvision's ToTensor does), so image slices can ship a
 *   quarter the size. Other integer `x` (int8/16/32/64, uint16/32/64) holds token ids (a text
 *   classifier's input, see `wrt: embedding`): kept as float32 values, which hold every integer up
 *   to 2^24 exactly (a larger id is refused); the model folds the cast back to its integer type.
 * - `y`: integer labels `[N]` (any integer dtype whose values fit int32). Absent → unlabelled.
 * - `ids`: one string or integer id per item, unique.
 * - `class_names`: string array, indexed by label.
 * - `feature_names`: string array, one per feature of 1-D items.
 * Every other key is kept, uninterpreted, in `Dataset.extras`.
 *
 * Example (Python): `np.savez_compressed('test.npz', x=x.astype('float32'), y=y, class_names=names)`.
 */
import path from 'node:path';
import { DataError } from '../errors.js';
import { makeDataset, type Dataset, type ExtraArray } from './dataset.js';
import { parseNpy, readNpy, writeNpy, type NpyArray, type NpyArrayLike } from './npy.js';
import { checkLabelsFitClasses, checkUniqueIds, FLOAT32_MAX, FormatProblem, formatShape, readDataFile, writeFileAtomic } from './util.js';
import { readZipEntries, readZipEntry, writeZip } from './zip.js';

/**
 * Parses the bytes of an `.npz` archive into its arrays, keyed by entry name without `.npy`.
 * Throws DataError "`name`: not a valid .npz (…)" when the bytes are not a zip of `.npy` files.
 */
export function readNpz(bytes: Uint8Array, name: string): Record<string, NpyArray> {
  const invalid = (reason: string): DataError => new DataError(`${name}: not a valid .npz (${reason})`);
  const arrays = new Map<string, NpyArray>();
  try {
    for (const entry of readZipEntries(bytes)) {
      if (entry.name.endsWith('/')) continue;
      if (!entry.name.endsWith('.npy')) throw invalid(`entry '${entry.name}' is not a .npy file`);
      const key = entry.name.slice(0, -4);
      if (arrays.has(key)) throw invalid(`entry '${entry.name}' appears twice`);
      const data = readZipEntry(bytes, entry);
      try {
        // Inflated entries are fresh buffers we own, so aligned arrays may view them without a copy.
        arrays.set(key, parseNpy(data, entry.method === 8));
      } catch (err) {
        if (err instanceof FormatProblem && err.unsupported) throw new DataError(`${name}: entry '${entry.name}': ${err.reason}`);
        if (err instanceof FormatProblem) throw invalid(`entry '${entry.name}': ${err.reason}`);
        throw err;
      }
    }
  } catch (err) {
    if (err instanceof FormatProblem) throw invalid(err.reason);
    throw err;
  }
  return Object.fromEntries(arrays);
}

/** Options for writing `.npz` archives. */
export interface NpzWriteOptions {
  /** Deflate the entries, like `np.savez_compressed` (default false: stored, like `np.savez`). */
  readonly compress?: boolean;
}

/** Encodes arrays as `.npz` bytes, one `<key>.npy` entry per key, in key order. */
export function writeNpz(arrays: Readonly<Record<string, NpyArrayLike>>, options: NpzWriteOptions = {}): Uint8Array {
  const files = Object.entries(arrays).map(([key, array]) => ({ name: `${key}.npy`, data: writeNpy(array) }));
  return writeZip(files, { compress: options.compress ?? false });
}

/** Writes arrays to an `.npz` file atomically (temporary file in the same folder, then rename). */
export async function saveNpz(file: string, arrays: Readonly<Record<string, NpyArrayLike>>, options: NpzWriteOptions = {}): Promise<void> {
  await writeFileAtomic(file, writeNpz(arrays, options));
}

/** Loads an `.npz` file as a Dataset (see the module comment for the keys it reads). */
export async function loadNpz(file: string): Promise<Dataset> {
  const arrays = readNpz(await readDataFile(file), file);
  return datasetFromArrays(arrays, file);
}

/** Options for `loadNpy`. */
export interface NpyLoadOptions {
  /** A second `.npy` file holding the labels (integer, one per item). */
  readonly labels?: string;
}

/** Loads a bare `.npy` file of inputs (`x` only; labels from `options.labels` if given). */
export async function loadNpy(file: string, options: NpyLoadOptions = {}): Promise<Dataset> {
  const x = readNpy(await readDataFile(file), file);
  const ds = datasetFromArrays({ x }, file);
  if (options.labels === undefined) return ds;
  const y = readNpy(await readDataFile(options.labels), options.labels);
  const labels = toLabels(y, options.labels, 'labels', ds.size);
  return makeDataset({ name: ds.name, itemShape: ds.itemShape, x: ds.x, labels });
}

/**
 * The arrays that represent a dataset in an `.npz`: `x` (float32), `y` (int32) when labelled,
 * `ids`, `class_names`, `feature_names` when known, and the extras. Per-item metadata is not kept.
 */
export function datasetToArrays(ds: Dataset): Record<string, NpyArrayLike> {
  const out: Record<string, NpyArrayLike> = {};
  Object.assign(out, ds.extras);
  out.x = { dtype: '<f4', shape: [ds.size, ...ds.itemShape], data: ds.x };
  if (ds.labels) out.y = { dtype: '<i4', shape: [ds.size], data: ds.labels };
  if (ds.ids) out.ids = { dtype: '<U', shape: [ds.size], data: ds.ids };
  if (ds.classNames) out.class_names = { dtype: '<U', shape: [ds.classNames.length], data: ds.classNames };
  if (ds.featureNames) out.feature_names = { dtype: '<U', shape: [ds.featureNames.length], data: ds.featureNames };
  return out;
}

/** Saves a dataset as an `.npz` (see `datasetToArrays`), atomically. */
export async function saveDatasetNpz(file: string, ds: Dataset, options: NpzWriteOptions = {}): Promise<void> {
  await saveNpz(file, datasetToArrays(ds), options);
}

/** Builds a Dataset from npz-style arrays (`x`, `y`, `ids`, `class_names`, `feature_names`, extras). */
export function datasetFromArrays(arrays: Readonly<Record<string, NpyArray>>, file: string): Dataset {
  const { x: xArr, ...others } = arrays;
  if (!xArr) throw new DataError(`${file}: has no 'x' array (keys: ${Object.keys(arrays).join(', ') || 'none'})`);
  if (xArr.shape.length < 2) throw new DataError(`${file}: x has shape ${formatShape(xArr.shape)}; expected [N, ...item shape] with at least 2 dimensions`);
  const n = xArr.shape[0]!;
  const itemShape = xArr.shape.slice(1);
  const x = toFloat32(xArr, file);
  const meta = metaFromArrays(others, n, itemShape, file);
  return makeDataset({ name: path.basename(file), itemShape, x, ...meta });
}

/** What an npz says besides `x` (labels, ids, class and feature names, extras), checked against `n` items of `itemShape`. */
export function metaFromArrays(
  arrays: Readonly<Record<string, NpyArray>>,
  n: number,
  itemShape: readonly number[],
  file: string,
): { labels: Int32Array | null; ids: string[] | null; classNames: string[] | null; featureNames: string[] | null; extras: Record<string, ExtraArray> } {
  const { y: yArr, ids: idArr, class_names: cnArr, feature_names: fnArr, ...rest } = arrays;
  const labels = yArr ? toLabels(yArr, file, 'y', n) : null;
  let ids: string[] | null = null;
  if (idArr) {
    if (idArr.shape.length !== 1 || idArr.shape[0] !== n) throw new DataError(`${file}: ids has shape ${formatShape(idArr.shape)}; expected (${n},), one per item`);
    if (!Array.isArray(idArr.data) && !/^[<|][iu]/.test(idArr.dtype)) throw new DataError(`${file}: ids has dtype ${idArr.dtype}; expected strings or integers`);
    ids = Array.from(idArr.data as ArrayLike<string | number | bigint>, (v) => String(v));
    checkUniqueIds(ids, file, 'id');
  }
  const classNames = cnArr ? toStrings(cnArr, file, 'class_names') : null;
  checkLabelsFitClasses(labels, classNames, file);
  const featureNames = fnArr ? toStrings(fnArr, file, 'feature_names') : null;
  if (featureNames && (itemShape.length !== 1 || featureNames.length !== itemShape[0])) {
    throw new DataError(`${file}: ${featureNames.length} feature_names for items of shape ${formatShape(itemShape)}`);
  }
  const extras: Record<string, ExtraArray> = { ...rest };
  return { labels, ids, classNames, featureNames, extras };
}

/** The largest token id float32 holds exactly (2^24). */
const MAX_EXACT_ID = 2 ** 24;

function toFloat32(arr: NpyArray, file: string): Float32Array {
  if (arr.data instanceof Float32Array) return arr.data;
  if (arr.data instanceof Float64Array) {
    const src = arr.data;
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const v = src[i]!;
      out[i] = v;
      if (Number.isFinite(v) && !Number.isFinite(out[i]!)) {
        throw new DataError(`${file}: x value ${v} at index ${i} does not fit float32 (largest magnitude ${FLOAT32_MAX})`);
      }
    }
    return out;
  }
  if (arr.data instanceof Uint8Array) {
    // 8-bit images: v / 255 in float32, exactly torchvision's ToTensor (which divides in float32).
    const src = arr.data;
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = Math.fround(src[i]! / 255);
    return out;
  }
  if (/^[<>|][iu]/.test(arr.dtype) && !Array.isArray(arr.data)) {
    // Token ids: exact in float32 up to 2^24 (vocabularies are far smaller).
    const src = arr.data as ArrayLike<number | bigint>;
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const v = Number(src[i]!);
      if (!(Math.abs(v) <= MAX_EXACT_ID)) throw new DataError(`${file}: x value ${src[i]} at index ${i} is an integer (token id) beyond 2^24, which float32 cannot hold exactly`);
      out[i] = v;
    }
    return out;
  }
  throw new DataError(
    `${file}: x has dtype ${arr.dtype}; expected float32, float64, uint8 (8-bit images, scaled to [0, 1]) in the data domain, or integer token ids ` +
      "(for 8-bit images save x.astype('float32') / 255)",
  );
}

function toLabels(arr: NpyArray, file: string, key: string, n: number): Int32Array {
  if (Array.isArray(arr.data) || !/^[<|][iub]/.test(arr.dtype)) throw new DataError(`${file}: ${key} has dtype ${arr.dtype}; labels must be integers`);
  if (arr.shape.length !== 1) throw new DataError(`${file}: ${key} has shape ${formatShape(arr.shape)}; expected (${n},), one label per item`);
  if (arr.shape[0] !== n) throw new DataError(`${file}: x has ${n} items but ${key} has ${arr.shape[0]} labels`);
  if (arr.data instanceof Int32Array) return arr.data;
  const src = arr.data as ArrayLike<number | bigint>;
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = Number(src[i]!);
    if (v > 2147483647 || v < -2147483648) throw new DataError(`${file}: ${key} value ${src[i]} at index ${i} does not fit int32`);
    out[i] = v;
  }
  return out;
}

function toStrings(arr: NpyArray, file: string, key: string): string[] {
  if (!Array.isArray(arr.data) || arr.shape.length !== 1) {
    throw new DataError(`${file}: ${key} must be a 1-D string array, got dtype ${arr.dtype} shape ${formatShape(arr.shape)}`);
  }
  return [...(arr.data as readonly string[])];
}

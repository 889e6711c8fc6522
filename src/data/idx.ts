/**
 * IDX files, the format of MNIST and Fashion-MNIST, plain or gzipped (detected by the gzip magic
 * `1f 8b`, not by the name).
 *
 * Layout: two zero bytes, a type byte (0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float,
 * 0x0E double), the number of dimensions, each dimension as a big-endian uint32, then the values,
 * big-endian, row-major.
 *
 * As a Dataset: `[N, H, W]` images become items of shape `[1, H, W]` (grayscale NCHW); `[N, d]`
 * becomes `[d]`; higher ranks keep their stored item shape. Unsigned-byte inputs are scaled by
 * 1/255 into [0, 1]; other types are taken as they are. Labels come from a 1-D IDX file.
 *
 * Example: `loadIdx('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')` → 10000 items of
 * shape [1, 28, 28].
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { DataError, UsageError } from '../errors.js';
import { makeDataset, type Dataset } from './dataset.js';
import { copyBytes, formatShape, readDataFile, shapeSize } from './util.js';

/** IDX element types, keyed as numpy names them. */
export type IdxDtype = 'u1' | 'i1' | 'i2' | 'i4' | 'f4' | 'f8';

/** An array read from an IDX file, values in native byte order. */
export interface IdxArray {
  readonly dtype: IdxDtype;
  readonly shape: readonly number[];
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: readonly { code: number; dtype: IdxDtype; size: number }[] = [
  { code: 0x08, dtype: 'u1', size: 1 },
  { code: 0x09, dtype: 'i1', size: 1 },
  { code: 0x0b, dtype: 'i2', size: 2 },
  { code: 0x0c, dtype: 'i4', size: 4 },
  { code: 0x0d, dtype: 'f4', size: 4 },
  { code: 0x0e, dtype: 'f8', size: 8 },
];

/** Decompresses `bytes` if they start with the gzip magic. */
function gunzipIfNeeded(bytes: Uint8Array, name: string): Uint8Array {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return zlib.gunzipSync(bytes);
  } catch (err) {
    throw new DataError(`${name}: not a valid gzip file (${(err as Error).message})`);
  }
}

/** Parses an IDX file's bytes (gzipped or not). `name` starts every error message. */
export function readIdx(bytes: Uint8Array, name: string): IdxArray {
  const raw = gunzipIfNeeded(bytes, name);
  const invalid = (reason: string): DataError => new DataError(`${name}: not a valid IDX file (${reason})`);
  if (raw.length < 4) throw invalid(`${raw.length} bytes is too short for the magic number`);
  if (raw[0] !== 0 || raw[1] !== 0) throw invalid('the magic number does not start with two zero bytes');
  const type = TYPES.find((t) => t.code === raw[2]);
  if (!type) throw invalid(`unknown type byte 0x${raw[2]!.toString(16).padStart(2, '0')}`);
  const ndim = raw[3]!;
  const dataStart = 4 + 4 * ndim;
  if (raw.length < dataStart) throw invalid(`truncated header: ${ndim} dimensions announced`);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const shape = Array.from({ length: ndim }, (_, d) => dv.getUint32(4 + 4 * d, false));
  const count = shapeSize(shape);
  const need = count * type.size;
  const present = raw.length - dataStart;
  if (present < need) throw invalid(`truncated data: shape ${formatShape(shape)} needs ${need} bytes, ${present} present`);
  if (present > need) throw invalid(`${present - need} unexpected bytes after the data`);
  const at = (i: number): number => dataStart + i * type.size;
  let data: IdxArray['data'];
  switch (type.dtype) {
    case 'u1':
      data = copyBytes(raw, dataStart, dataStart + need);
      break;
    case 'i1':
      data = new Int8Array(copyBytes(raw, dataStart, dataStart + need).buffer);
      break;
    case 'i2':
      data = Int16Array.from({ length: count }, (_, i) => dv.getInt16(at(i), false));
      break;
    case 'i4':
      data = Int32Array.from({ length: count }, (_, i) => dv.getInt32(at(i), false));
      break;
    case 'f4':
      data = Float32Array.from({ length: count }, (_, i) => dv.getFloat32(at(i), false));
      break;
    case 'f8':
      data = Float64Array.from({ length: count }, (_, i) => dv.getFloat64(at(i), false));
      break;
  }
  return { dtype: type.dtype, shape, data };
}

/** Encodes an array as IDX bytes, gzipped when `gzip` is set. */
export function writeIdx(array: IdxArray, options: { gzip?: boolean } = {}): Uint8Array {
  const type = TYPES.find((t) => t.dtype === array.dtype)!;
  const count = shapeSize(array.shape);
  if (array.data.length !== count) throw new UsageError(`writeIdx: shape ${formatShape(array.shape)} holds ${count} values but data has ${array.data.length}`);
  const start = 4 + 4 * array.shape.length;
  const out = new Uint8Array(start + count * type.size);
  const dv = new DataView(out.buffer);
  out[2] = type.code;
  out[3] = array.shape.length;
  array.shape.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  const d = array.data;
  for (let i = 0; i < count; i++) {
    const o = start + i * type.size;
    const v = d[i]!;
    if (type.dtype === 'u1') dv.setUint8(o, v);
    else if (type.dtype === 'i1') dv.setInt8(o, v);
    else if (type.dtype === 'i2') dv.setInt16(o, v, false);
    else if (type.dtype === 'i4') dv.setInt32(o, v, false);
    else if (type.dtype === 'f4') dv.setFloat32(o, v, false);
    else dv.setFloat64(o, v, false);
  }
  return options.gzip ? zlib.gzipSync(out) : out;
}

/** Options for `loadIdx`. */
export interface IdxLoadOptions {
  /** Keep only the first `limit` items. */
  readonly limit?: number;
}

/**
 * Loads IDX images (and, if given, IDX labels) as a Dataset. The two files must hold the same
 * number of items; labels must be a 1-D integer array.
 */
export async function loadIdx(imagesPath: string, labelsPath?: string, options: IdxLoadOptions = {}): Promise<Dataset> {
  const images = readIdx(await readDataFile(imagesPath), imagesPath);
  if (images.shape.length < 2) {
    throw new DataError(`${imagesPath}: IDX shape ${formatShape(images.shape)} has no item dimensions; expected [N, H, W] images or [N, d] rows`);
  }
  const total = images.shape[0]!;
  const n = Math.min(total, options.limit ?? total);
  const itemShape = images.shape.length === 3 ? [1, images.shape[1]!, images.shape[2]!] : images.shape.slice(1);
  const per = shapeSize(itemShape);
  const x = new Float32Array(n * per);
  const src = images.data;
  if (images.dtype === 'u1') for (let i = 0; i < x.length; i++) x[i] = src[i]! / 255;
  else x.set(src.subarray(0, n * per));

  let labels: Int32Array | null = null;
  if (labelsPath !== undefined) {
    const lab = readIdx(await readDataFile(labelsPath), labelsPath);
    if (lab.shape.length !== 1) throw new DataError(`${labelsPath}: labels must be a 1-D IDX array, got shape ${formatShape(lab.shape)}`);
    if (lab.dtype === 'f4' || lab.dtype === 'f8') throw new DataError(`${labelsPath}: labels have type ${lab.dtype}; expected an integer type`);
    if (lab.shape[0] !== total) throw new DataError(`${labelsPath}: ${lab.shape[0]} labels, but ${imagesPath} has ${total} items`);
    labels = Int32Array.from(lab.data.subarray(0, n));
  }
  return makeDataset({ name: path.basename(imagesPath), itemShape, x, labels });
}

/**
 * The labels file that conventionally sits beside an IDX images file (`…-images-idx3-ubyte[.gz]`
 * → `…-labels-idx1-ubyte[.gz]`), or null when the name does not follow the convention or the file
 * does not exist.
 */
export function idxLabelsPathFor(imagesPath: string): string | null {
  const base = path.basename(imagesPath);
  if (!/images/.test(base)) return null;
  const candidate = path.join(path.dirname(imagesPath), base.replace('images', 'labels').replace(/idx[2-9]/, 'idx1'));
  return fs.existsSync(candidate) ? candidate : null;
}

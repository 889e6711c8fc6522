/**
 * The `.npy` array format (numpy's `np.save`): a magic string, a version, a Python-literal header
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`, then the raw values.
 *
 * Supported element types: `b1 i1 u1 i2 u2 i4 u4 i8 u8 f4 f8` in either byte order, and the
 * string types `U<n>` (UCS-4) and `S<n>` (bytes, read as latin-1). Arrays are returned in C order
 * and native (little-endian) layout whatever the file's order; the returned `dtype` says so
 * (`'<f4'`, `'|u1'`, `'<U7'`). 64-bit integers come back as BigInt64Array / BigUint64Array, booleans
 * as a Uint8Array of 0/1, strings as a string array with numpy's trailing NULs removed.
 *
 * Example: `writeNpy({ dtype: '<f4', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) })` gives the
 * bytes of `np.save(f, np.array([[1, 2], [3, 4]], np.float32))` (header padding aside).
 */
import { DataError, UsageError } from '../errors.js';
import { copyBytes, FormatProblem, formatShape, shapeSize, writeFileAtomic } from './util.js';

/** Numeric element storage, one typed array per dtype. */
export type NpyNumericData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/** Element storage of a parsed array: typed array for numbers, string array for `U`/`S` types. */
export type NpyData = NpyNumericData | readonly string[];

/** An n-dimensional array as read from a `.npy` file: C order, native layout. */
export interface NpyArray {
  /** numpy's dtype string, normalized to native order: `'<f4'`, `'|u1'`, `'|b1'`, `'<U5'` … */
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: NpyData;
}

/**
 * What `writeNpy` accepts. `dtype` sets the file's element type and byte order (`'>i4'` writes
 * big-endian); `'<U'` / `'|S'` without a width use the longest string. `data` holds the values in C
 * order; 8-byte integers may be bigints or safe-integer numbers.
 */
export interface NpyArrayLike {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: ArrayLike<number | bigint | string>;
}

const HOST_LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

interface NumericType {
  readonly size: number;
  readonly Ctor: { new (length: number): NpyNumericData; new (buffer: ArrayBuffer, offset: number, length: number): NpyNumericData };
  readonly get: (dv: DataView, off: number, little: boolean) => number | bigint;
  readonly set: (dv: DataView, off: number, v: number | bigint, little: boolean) => void;
  /** Inclusive range of integer types (bigint for 8-byte types). */
  readonly range?: readonly [number, number] | readonly [bigint, bigint];
}

const num = (v: number | bigint): number => (typeof v === 'bigint' ? Number(v) : v);
const big = (v: number | bigint): bigint => (typeof v === 'bigint' ? v : BigInt(v));

const NUMERIC: Readonly<Record<string, NumericType>> = {
  b1: { size: 1, Ctor: Uint8Array, get: (dv, o) => (dv.getUint8(o) ? 1 : 0), set: (dv, o, v) => dv.setUint8(o, v ? 1 : 0) },
  i1: { size: 1, Ctor: Int8Array, get: (dv, o) => dv.getInt8(o), set: (dv, o, v) => dv.setInt8(o, num(v)), range: [-128, 127] },
  u1: { size: 1, Ctor: Uint8Array, get: (dv, o) => dv.getUint8(o), set: (dv, o, v) => dv.setUint8(o, num(v)), range: [0, 255] },
  i2: { size: 2, Ctor: Int16Array, get: (dv, o, l) => dv.getInt16(o, l), set: (dv, o, v, l) => dv.setInt16(o, num(v), l), range: [-32768, 32767] },
  u2: { size: 2, Ctor: Uint16Array, get: (dv, o, l) => dv.getUint16(o, l), set: (dv, o, v, l) => dv.setUint16(o, num(v), l), range: [0, 65535] },
  i4: { size: 4, Ctor: Int32Array, get: (dv, o, l) => dv.getInt32(o, l), set: (dv, o, v, l) => dv.setInt32(o, num(v), l), range: [-(2 ** 31), 2 ** 31 - 1] },
  u4: { size: 4, Ctor: Uint32Array, get: (dv, o, l) => dv.getUint32(o, l), set: (dv, o, v, l) => dv.setUint32(o, num(v), l), range: [0, 2 ** 32 - 1] },
  i8: { size: 8, Ctor: BigInt64Array, get: (dv, o, l) => dv.getBigInt64(o, l), set: (dv, o, v, l) => dv.setBigInt64(o, big(v), l), range: [-(2n ** 63n), 2n ** 63n - 1n] },
  u8: { size: 8, Ctor: BigUint64Array, get: (dv, o, l) => dv.getBigUint64(o, l), set: (dv, o, v, l) => dv.setBigUint64(o, big(v), l), range: [0n, 2n ** 64n - 1n] },
  f4: { size: 4, Ctor: Float32Array, get: (dv, o, l) => dv.getFloat32(o, l), set: (dv, o, v, l) => dv.setFloat32(o, num(v), l) },
  f8: { size: 8, Ctor: Float64Array, get: (dv, o, l) => dv.getFloat64(o, l), set: (dv, o, v, l) => dv.setFloat64(o, num(v), l) },
};

/** A parsed dtype string. */
interface Dtype {
  /** Normalized dtype for native order, e.g. '<f4', '|u1', '<U3'. */
  readonly native: string;
  /** Whether values in the file are little-endian. */
  readonly little: boolean;
  /** Bytes per element. */
  readonly size: number;
  readonly numeric?: NumericType;
  /** For string types: 'U' (UCS-4) or 'S' (bytes), and the width in characters. */
  readonly string?: { readonly kind: 'U' | 'S'; readonly chars: number };
}

/** Parses a numpy dtype string (`'<f4'`, `'>i8'`, `'|b1'`, `'<U12'`); throws FormatProblem. */
function parseDtype(descr: string): Dtype {
  const m = /^([<>|=]?)([biufUS])(\d+)$/.exec(descr);
  if (!m) throw new FormatProblem(`unsupported dtype '${descr}' (supported: b1 i1 u1 i2 u2 i4 u4 i8 u8 f4 f8 U<n> S<n>)`, true);
  const [, order, kind, width] = m as unknown as [string, string, string, string];
  const little = order === '<' || order === '|' || ((order === '=' || order === '') && HOST_LITTLE);
  if (kind === 'U' || kind === 'S') {
    const chars = Number(width);
    return { native: `${kind === 'U' ? '<' : '|'}${kind}${chars}`, little, size: kind === 'U' ? 4 * chars : chars, string: { kind, chars } };
  }
  const key = kind + width;
  const numeric = NUMERIC[key];
  if (!numeric) throw new FormatProblem(`unsupported dtype '${descr}' (supported: b1 i1 u1 i2 u2 i4 u4 i8 u8 f4 f8 U<n> S<n>)`, true);
  return { native: `${numeric.size === 1 ? '|' : '<'}${key}`, little, size: numeric.size, numeric };
}

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * Parses the bytes of a `.npy` file. `name` (the file, or archive and entry) starts every error
 * message. Throws DataError for malformed or unsupported files. The result owns its storage.
 */
export function readNpy(bytes: Uint8Array, name: string): NpyArray {
  try {
    return parseNpy(bytes, false);
  } catch (err) {
    if (err instanceof FormatProblem) {
      throw new DataError(err.unsupported ? `${name}: ${err.reason}` : `${name}: not a valid .npy (${err.reason})`);
    }
    throw err;
  }
}

/** What a `.npy` header says: the element type, order and shape, and where the data starts. */
export interface NpyPrefix {
  /** Normalized native dtype ('<f4', '|u1' …). */
  readonly descr: string;
  /** Whether the file's values are little-endian. */
  readonly little: boolean;
  /** Bytes per element. */
  readonly itemBytes: number;
  /** Whether the element type is a string type (U/S). */
  readonly string: boolean;
  readonly fortran: boolean;
  readonly shape: number[];
  /** Offset of the first data byte. */
  readonly dataStart: number;
}

/** Bytes needed to know a `.npy` header's length (magic, version, length field). */
export const NPY_PREFIX_BYTES = 12;

/**
 * The header of a `.npy` file from its first bytes (at least the whole header), for readers that
 * stream the data. Throws FormatProblem.
 */
export function readNpyPrefix(bytes: Uint8Array): NpyPrefix {
  const p = parseNpyPrefix(bytes);
  return { descr: p.dtype.native, little: p.dtype.little, itemBytes: p.dtype.size, string: !!p.dtype.string, fortran: p.fortran, shape: p.shape, dataStart: p.dataStart };
}

/** Length of the header of a `.npy` file whose first NPY_PREFIX_BYTES (or fewer) bytes are given, prefix included. */
export function npyHeaderLength(bytes: Uint8Array): number {
  if (bytes.length < 10) throw new FormatProblem(`${bytes.length} bytes is too short for a .npy header`);
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) throw new FormatProblem('bad magic: does not start with \\x93NUMPY');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[6] === 1) return 10 + dv.getUint16(8, true);
  if (bytes.length < 12) throw new FormatProblem(`${bytes.length} bytes is too short for a version ${bytes[6]}.${bytes[7]} header`);
  return 12 + dv.getUint32(8, true);
}

function parseNpyPrefix(bytes: Uint8Array): { dtype: Dtype; fortran: boolean; shape: number[]; dataStart: number } {
  if (bytes.length < 10) throw new FormatProblem(`${bytes.length} bytes is too short for a .npy header`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new FormatProblem('bad magic: does not start with \\x93NUMPY');
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLen: number;
  if (major === 1) {
    headerStart = 10;
    headerLen = dv.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new FormatProblem(`${bytes.length} bytes is too short for a version ${major}.${minor} header`);
    headerStart = 12;
    headerLen = dv.getUint32(8, true);
  } else {
    throw new FormatProblem(`format version ${major}.${minor} is not supported (1.0, 2.0, 3.0 are)`, true);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) throw new FormatProblem(`truncated header: ${headerLen} header bytes announced, ${bytes.length - headerStart} present`);
  const headerText = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const { dtype, fortran, shape } = parseHeader(headerText);
  return { dtype, fortran, shape, dataStart };
}

/**
 * Parses `.npy` bytes, throwing FormatProblem. With `share`, aligned native-order data is returned
 * as a view into `bytes` rather than a copy (for callers that own `bytes` exclusively).
 */
export function parseNpy(bytes: Uint8Array, share: boolean): NpyArray {
  const { dtype, fortran, shape, dataStart } = parseNpyPrefix(bytes);
  const count = shapeSize(shape);
  const nbytes = count * dtype.size;
  const present = bytes.length - dataStart;
  if (present < nbytes) {
    throw new FormatProblem(`truncated data: shape ${formatShape(shape)} of ${dtype.native} needs ${nbytes} bytes, ${present} present`);
  }
  if (present > nbytes) throw new FormatProblem(`${present - nbytes} unexpected bytes after the data of shape ${formatShape(shape)}`);

  const raw = bytes.subarray(dataStart, dataStart + nbytes);
  let data: NpyData = dtype.string ? decodeStrings(raw, count, dtype) : decodeNumbers(raw, count, dtype, share);
  if (fortran && shape.length > 1) data = fortranToC(data, shape);
  return { dtype: dtype.native, shape, data };
}

function decodeNumbers(raw: Uint8Array, count: number, dtype: Dtype, share: boolean): NpyNumericData {
  const t = dtype.numeric!;
  if (dtype.little === HOST_LITTLE) {
    if (t === NUMERIC.b1) {
      const out = copyBytes(raw);
      for (let i = 0; i < out.length; i++) if (out[i]) out[i] = 1;
      return out;
    }
    if (share && raw.byteOffset % t.size === 0) return new t.Ctor(raw.buffer as ArrayBuffer, raw.byteOffset, count);
    return new t.Ctor(copyBytes(raw).buffer as ArrayBuffer, 0, count);
  }
  const out = new t.Ctor(count) as unknown as { [i: number]: number | bigint };
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < count; i++) out[i] = t.get(dv, i * t.size, dtype.little);
  return out as unknown as NpyNumericData;
}

function decodeStrings(raw: Uint8Array, count: number, dtype: Dtype): string[] {
  const { kind, chars } = dtype.string!;
  const out = new Array<string>(count);
  if (kind === 'S') {
    for (let i = 0; i < count; i++) {
      let end = (i + 1) * chars;
      while (end > i * chars && raw[end - 1] === 0) end--;
      out[i] = String.fromCharCode(...raw.subarray(i * chars, end));
    }
    return out;
  }
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const cps: number[] = [];
  for (let i = 0; i < count; i++) {
    cps.length = 0;
    for (let c = 0; c < chars; c++) cps.push(dv.getUint32((i * chars + c) * 4, dtype.little));
    while (cps.length > 0 && cps[cps.length - 1] === 0) cps.pop();
    const bad = cps.find((cp) => cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff));
    if (bad !== undefined) throw new FormatProblem(`string item ${i} holds 0x${bad.toString(16)}, which is not a Unicode scalar value`);
    out[i] = String.fromCodePoint(...cps);
  }
  return out;
}

/** Reorders column-major (Fortran) data into row-major (C) order. */
function fortranToC(src: NpyData, shape: readonly number[]): NpyData {
  const n = src.length;
  const nd = shape.length;
  const out = (Array.isArray(src) ? new Array<string>(n) : new (src.constructor as new (n: number) => NpyNumericData)(n)) as unknown as {
    [i: number]: unknown;
  };
  const from = src as unknown as ArrayLike<unknown>;
  const fstride = new Array<number>(nd);
  for (let d = 0, s = 1; d < nd; d++) {
    fstride[d] = s;
    s *= shape[d]!;
  }
  const idx = new Array<number>(nd).fill(0);
  let f = 0;
  for (let c = 0; c < n; c++) {
    out[c] = from[f];
    // Advance the C-order multi-index (last axis fastest), tracking the Fortran offset.
    let d = nd - 1;
    idx[d]!++;
    f += fstride[d]!;
    while (d > 0 && idx[d] === shape[d]) {
      f -= shape[d]! * fstride[d]!;
      idx[d] = 0;
      d--;
      idx[d]!++;
      f += fstride[d]!;
    }
  }
  return out as unknown as NpyData;
}

// ---------------------------------------------------------------------------------------------
// The header: a Python dict literal.

type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };

function parseHeader(text: string): { dtype: Dtype; fortran: boolean; shape: number[] } {
  const value = parsePythonLiteral(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new FormatProblem('header is not a dict');
  const { descr, fortran_order: fortran, shape } = value;
  if (Array.isArray(descr)) throw new FormatProblem('structured (record) dtypes are not supported', true);
  if (typeof descr !== 'string') throw new FormatProblem("header has no 'descr' string");
  if (descr === '|O' || descr === 'O') throw new FormatProblem('object arrays (pickled) are not supported; save with allow_pickle=False', true);
  if (typeof fortran !== 'boolean') throw new FormatProblem("header has no 'fortran_order' boolean");
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new FormatProblem("header has no 'shape' tuple of non-negative integers");
  }
  return { dtype: parseDtype(descr), fortran, shape: shape as number[] };
}

/** Parses the subset of Python literals that .npy headers use: dicts, tuples, lists, str, int, bools. */
function parsePythonLiteral(text: string): PyValue {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw new FormatProblem(`header is not a Python literal (${what} at character ${i})`);
  };
  const expect = (ch: string): void => {
    ws();
    if (text[i] !== ch) fail(`expected '${ch}'`);
    i++;
  };
  // Parses items up to `close`, allowing a trailing comma; returns them and whether a comma was seen.
  const items = <T>(close: string, item: () => T): { list: T[]; comma: boolean } => {
    const list: T[] = [];
    let comma = false;
    for (;;) {
      ws();
      if (text[i] === close) {
        i++;
        return { list, comma };
      }
      list.push(item());
      ws();
      if (text[i] === ',') {
        i++;
        comma = true;
      } else if (text[i] !== close) fail(`expected ',' or '${close}'`);
    }
  };
  const value = (): PyValue => {
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      const obj: { [k: string]: PyValue } = Object.create(null) as { [k: string]: PyValue };
      items('}', () => {
        const key = value();
        if (typeof key !== 'string') fail('dict key is not a string');
        expect(':');
        obj[key as string] = value();
      });
      return obj;
    }
    if (ch === '(' || ch === '[') {
      i++;
      return items(ch === '(' ? ')' : ']', value).list;
    }
    if (ch === "'" || ch === '"') {
      i++;
      let s = '';
      while (i < text.length && text[i] !== ch) {
        if (text[i] === '\\') i++;
        s += text[i++] ?? '';
      }
      if (i >= text.length) fail('unterminated string');
      i++;
      return s;
    }
    const m = /^(-?\d+)L?|^(True|False|None)\b/.exec(text.slice(i, i + 32));
    if (!m) return fail('unexpected text');
    i += m[0].length;
    if (m[1] !== undefined) return Number(m[1]);
    return m[2] === 'True' ? true : m[2] === 'False' ? false : null;
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing text');
  return v;
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Encodes an array as `.npy` bytes (format 1.0, or 2.0 when the header needs it; C order).
 * Throws UsageError when the dtype is unsupported, the shape does not match the data's length, or
 * a value does not fit the dtype.
 */
export function writeNpy(array: NpyArrayLike): Uint8Array {
  const { shape, data } = array;
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new UsageError(`writeNpy: shape [${shape.join(', ')}] must hold non-negative integers`);
  const count = shapeSize(shape);
  if (data.length !== count) throw new UsageError(`writeNpy: shape ${formatShape(shape)} holds ${count} values but data has ${data.length}`);

  let descr = array.dtype;
  const auto = /^([<>|=]?)([US])$/.exec(descr);
  if (auto) {
    let width = 1;
    for (let i = 0; i < count; i++) width = Math.max(width, stringWidth(data[i], auto[2] as 'U' | 'S', i));
    descr = `${auto[1]}${auto[2]}${width}`;
  }
  let dtype: Dtype;
  try {
    dtype = parseDtype(descr);
  } catch (err) {
    if (err instanceof FormatProblem) throw new UsageError(`writeNpy: ${err.reason}`);
    throw err;
  }
  const order = dtype.size === 1 || dtype.string?.kind === 'S' ? '|' : dtype.little ? '<' : '>';
  const fileDescr = order + descr.replace(/^[<>|=]/, '');

  const head = npyHeaderBytes(fileDescr, shape);
  const dataStart = head.length;
  const out = new Uint8Array(dataStart + count * dtype.size);
  out.set(head, 0);

  if (dtype.string) encodeStrings(data, dtype, out.subarray(dataStart));
  else encodeNumbers(data, dtype, out.subarray(dataStart), fileDescr);
  return out;
}

/** The header bytes (magic, version, padded dict) of a C-order `.npy` of `fileDescr` and `shape`. */
function npyHeaderBytes(fileDescr: string, shape: readonly number[]): Uint8Array {
  const header = `{'descr': '${fileDescr}', 'fortran_order': False, 'shape': ${formatShape(shape)}, }`;
  const v2 = header.length + 1 + 64 > 0xffff;
  const prefixLen = v2 ? 12 : 10;
  const padded = header + ' '.repeat(64 - ((prefixLen + header.length + 1) % 64)) + '\n';
  const out = new Uint8Array(prefixLen + padded.length);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[6] = v2 ? 2 : 1;
  out[7] = 0;
  if (v2) dv.setUint32(8, padded.length, true);
  else dv.setUint16(8, padded.length, true);
  for (let i = 0; i < padded.length; i++) out[prefixLen + i] = padded.charCodeAt(i);
  return out;
}

/**
 * A numeric `.npy` written in pieces: `header` is what `writeNpy` puts before the data of an array
 * of `dtype` and `shape`, `encode(chunk)` the bytes `writeNpy` gives that chunk's values (C order),
 * so header + encode(a) + encode(b) … equals writeNpy of the whole array. String dtypes are not
 * supported (their width depends on every value).
 */
export function npyWriterFor(dtypeDescr: string, shape: readonly number[]): { header: Uint8Array; bytes: number; encode: (chunk: ArrayLike<number | bigint>) => Uint8Array } {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new UsageError(`writeNpy: shape [${shape.join(', ')}] must hold non-negative integers`);
  let dtype: Dtype;
  try {
    dtype = parseDtype(dtypeDescr);
  } catch (err) {
    if (err instanceof FormatProblem) throw new UsageError(`writeNpy: ${err.reason}`);
    throw err;
  }
  if (dtype.string) throw new UsageError(`npyWriterFor: string dtype ${dtypeDescr} cannot be written in pieces`);
  const order = dtype.size === 1 ? '|' : dtype.little ? '<' : '>';
  const fileDescr = order + dtypeDescr.replace(/^[<>|=]/, '');
  const header = npyHeaderBytes(fileDescr, shape);
  return {
    header,
    bytes: header.length + shapeSize(shape) * dtype.size,
    encode: (chunk) => {
      const out = new Uint8Array(chunk.length * dtype.size);
      encodeNumbers(chunk, dtype, out, fileDescr);
      return out;
    },
  };
}

function stringWidth(v: unknown, kind: 'U' | 'S', i: number): number {
  if (typeof v !== 'string') throw new UsageError(`writeNpy: item ${i} is not a string`);
  let n = 0;
  for (const _ of v) n++;
  return kind === 'U' ? n : v.length;
}

function encodeNumbers(data: ArrayLike<number | bigint | string>, dtype: Dtype, out: Uint8Array, descr: string): void {
  const t = dtype.numeric!;
  if (dtype.little === HOST_LITTLE && data instanceof t.Ctor && t !== NUMERIC.b1) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return;
  }
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v === 'string') throw new UsageError(`writeNpy: item ${i} is a string, not a ${descr} value`);
    if (t.range) {
      const ok = typeof v === 'bigint' || Number.isSafeInteger(v);
      if (!ok || v! < t.range[0] || v! > t.range[1]) throw new UsageError(`writeNpy: value ${v} at index ${i} does not fit ${descr}`);
    }
    t.set(dv, i * t.size, v!, dtype.little);
  }
}

function encodeStrings(data: ArrayLike<number | bigint | string>, dtype: Dtype, out: Uint8Array): void {
  const { kind, chars } = dtype.string!;
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < data.length; i++) {
    const s = data[i];
    if (typeof s !== 'string') throw new UsageError(`writeNpy: item ${i} is not a string`);
    if (stringWidth(s, kind, i) > chars) throw new UsageError(`writeNpy: string item ${i} is longer than ${chars} characters`);
    let c = 0;
    if (kind === 'U') {
      for (const ch of s) dv.setUint32((i * chars + c++) * 4, ch.codePointAt(0)!, dtype.little);
    } else {
      for (; c < s.length; c++) {
        const code = s.charCodeAt(c);
        if (code > 0xff) throw new UsageError(`writeNpy: string item ${i} has a character outside latin-1, which S dtypes cannot hold`);
        out[i * chars + c] = code;
      }
    }
  }
}

/** Writes an array to a `.npy` file atomically (temporary file in the same folder, then rename). */
export async function saveNpy(file: string, array: NpyArrayLike): Promise<void> {
  await writeFileAtomic(file, writeNpy(array));
}

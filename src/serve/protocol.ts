/**
 * The Open Inference Protocol (KServe v2 REST, as Triton, KServe and MLServer speak it): tensor
 * types, JSON tensors and the binary-tensor extension, shared by the reference server (`serve/`)
 * and the endpoint client (`endpoint/`).
 *
 * JSON tensor:   {"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]}
 *                (`data` flat in row-major order, or nested as the shape)
 * Binary tensor: the same header without `data` and with `"parameters": {"binary_data_size": 24}`;
 *                the body is the JSON header, then each binary tensor's raw little-endian bytes in
 *                the order the header lists them; the `Inference-Header-Content-Length` HTTP
 *                header gives the JSON header's byte length. A request asks for binary outputs
 *                per output (`"outputs": [{"name": "y", "parameters": {"binary_data": true}}]`)
 *                or for all (`"parameters": {"binary_data_output": true}`).
 */
import os from 'node:os';
import { GauntletError } from '../errors.js';

/** The HTTP header that gives the JSON header's length in a binary-extension body. */
export const HEADER_LENGTH = 'inference-header-content-length';

/** A request the protocol rejects, with the HTTP status it maps to (400 bad request, 404 unknown model, 413 too large). */
export class ProtocolError extends GauntletError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Bytes per element of each fixed-size datatype (BYTES, variable-length, is not a numeric tensor). */
export const DATATYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1, UINT8: 1, UINT16: 2, UINT32: 4, UINT64: 8, INT8: 1, INT16: 2, INT32: 4, INT64: 8, FP16: 2, FP32: 4, FP64: 8,
};

export interface TensorHeader {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data?: unknown;
}

export interface InferRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: TensorHeader[];
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
}

export interface InferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, unknown>;
  outputs: TensorHeader[];
}

/** A decoded numeric tensor. */
export interface Tensor {
  name: string;
  shape: number[];
  datatype: string;
  data: Float32Array;
}

const LE = os.endianness() === 'LE';

/** Splits a body into its JSON header and the binary bytes after it; `headerLength` is the header's value, if any. */
export function splitBody(body: Buffer, headerLength: string | undefined, what: string): { json: unknown; binary: Buffer } {
  let jsonBytes = body;
  let binary: Buffer = Buffer.alloc(0);
  if (headerLength !== undefined) {
    const n = Number(headerLength);
    if (!(Number.isInteger(n) && n >= 0 && n <= body.length)) {
      throw new ProtocolError(400, `${what}: Inference-Header-Content-Length must be an integer in [0, ${body.length}] (the body's length), got '${headerLength}'`);
    }
    jsonBytes = body.subarray(0, n);
    binary = body.subarray(n);
  }
  let json: unknown;
  try {
    json = JSON.parse(jsonBytes.toString('utf8'));
  } catch (e) {
    throw new ProtocolError(400, `${what}: the JSON header is not valid JSON (${(e as Error).message})`);
  }
  return { json, binary };
}

/** Checks a tensor header's name, shape and datatype fields. */
export function checkTensorHeader(t: unknown, where: string): TensorHeader {
  if (!t || typeof t !== 'object' || Array.isArray(t)) throw new ProtocolError(400, `${where} must be an object with name, shape, datatype`);
  const o = t as Record<string, unknown>;
  if (typeof o.name !== 'string' || o.name === '') throw new ProtocolError(400, `${where}.name must be a non-empty string`);
  if (!Array.isArray(o.shape) || !o.shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
    throw new ProtocolError(400, `${where}.shape must be a list of non-negative integers, got ${JSON.stringify(o.shape)}`);
  }
  if (typeof o.datatype !== 'string') throw new ProtocolError(400, `${where}.datatype must be a string such as "FP32"`);
  if (o.parameters !== undefined && (typeof o.parameters !== 'object' || o.parameters === null || Array.isArray(o.parameters))) {
    throw new ProtocolError(400, `${where}.parameters must be an object`);
  }
  return o as unknown as TensorHeader;
}

/** Number of elements of a shape. */
export function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A tensor's values as float32, from its JSON `data` (flat or nested) or, with
 * `parameters.binary_data_size`, from `binary` at `offset`. Returns the values and the binary bytes used.
 */
export function readTensor(t: TensorHeader, binary: Buffer, offset: number, where: string): { data: Float32Array; bytes: number } {
  const size = DATATYPE_BYTES[t.datatype];
  if (size === undefined || t.datatype === 'BOOL') throw new ProtocolError(400, `${where}.datatype must be a numeric type (FP32, FP64, INT32 ...), got '${t.datatype}'`);
  const n = elements(t.shape);
  const binSize = t.parameters?.binary_data_size;
  if (binSize !== undefined) {
    if (!(Number.isInteger(binSize) && (binSize as number) >= 0)) throw new ProtocolError(400, `${where}.parameters.binary_data_size must be a non-negative integer`);
    if (t.data !== undefined) throw new ProtocolError(400, `${where} has both data and parameters.binary_data_size; give one`);
    if (binSize !== n * size) {
      throw new ProtocolError(400, `${where}: binary_data_size is ${binSize} bytes but shape [${t.shape.join(', ')}] of ${t.datatype} needs ${n * size}`);
    }
    if (offset + n * size > binary.length) throw new ProtocolError(400, `${where}: the body holds ${binary.length - offset} binary bytes for it, it needs ${n * size}`);
    return { data: fromBytes(binary.subarray(offset, offset + n * size), t.datatype, n), bytes: n * size };
  }
  if (t.data === undefined) throw new ProtocolError(400, `${where} has no data (give data, or parameters.binary_data_size with a binary body)`);
  const out = new Float32Array(n);
  let k = 0;
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    if (typeof v !== 'number') throw new ProtocolError(400, `${where}.data must hold numbers, got ${JSON.stringify(v)?.slice(0, 40)}`);
    if (k >= n) throw new ProtocolError(400, `${where}.data has more than the ${n} values shape [${t.shape.join(', ')}] holds`);
    out[k++] = v;
  };
  walk(t.data);
  if (k !== n) throw new ProtocolError(400, `${where}.data has ${k} values, shape [${t.shape.join(', ')}] holds ${n}`);
  return { data: out, bytes: 0 };
}

/** Little-endian bytes of a numeric datatype → float32 values. */
function fromBytes(b: Buffer, datatype: string, n: number): Float32Array {
  if (datatype === 'FP32') {
    const out = new Float32Array(n);
    new Uint8Array(out.buffer).set(b);
    if (!LE) swap(new Uint8Array(out.buffer), 4);
    return out;
  }
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Float32Array(n);
  const size = DATATYPE_BYTES[datatype]!;
  const read: (o: number) => number = {
    FP64: (o: number) => view.getFloat64(o, true),
    FP16: (o: number) => half(view.getUint16(o, true)),
    INT8: (o: number) => view.getInt8(o),
    UINT8: (o: number) => view.getUint8(o),
    INT16: (o: number) => view.getInt16(o, true),
    UINT16: (o: number) => view.getUint16(o, true),
    INT32: (o: number) => view.getInt32(o, true),
    UINT32: (o: number) => view.getUint32(o, true),
    INT64: (o: number) => Number(view.getBigInt64(o, true)),
    UINT64: (o: number) => Number(view.getBigUint64(o, true)),
  }[datatype]!;
  for (let i = 0; i < n; i++) out[i] = read(i * size);
  return out;
}

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function swap(b: Uint8Array, size: number): void {
  for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
}

/** float32 values as little-endian FP32 bytes (a copy). */
export function fp32Bytes(x: Float32Array): Buffer {
  const b = Buffer.from(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  if (!LE) swap(b, 4);
  return b;
}

/**
 * A message body: the JSON header alone, or, when `chunks` hold binary tensors, the header then the
 * chunks, with the header's length for `Inference-Header-Content-Length`.
 */
export function encodeBody(header: object, chunks: readonly Buffer[]): { body: Buffer; headerLength: number | null } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  if (chunks.length === 0) return { body: json, headerLength: null };
  return { body: Buffer.concat([json, ...chunks]), headerLength: json.length };
}

/** float32 values as a JSON-safe array (NaN and infinities are not JSON; they become null). */
export function jsonData(x: Float32Array): (number | null)[] {
  const out = new Array<number | null>(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Number.isFinite(x[i]!) ? x[i]! : null;
  return out;
}

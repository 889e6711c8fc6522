import { DataType, num, type TensorP } from './proto.js';

export type NumericArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Int16Array | Uint16Array | Uint32Array | BigUint64Array;

/** A tensor's values decoded into a typed array, with its dims. */
export interface DecodedTensor {
  dims: number[];
  dataType: number;
  data: NumericArray;
}

const RAW: Record<number, { ctor: { new (b: ArrayBuffer, o: number, n: number): NumericArray; BYTES_PER_ELEMENT: number } }> = {
  [DataType.FLOAT]: { ctor: Float32Array },
  [DataType.DOUBLE]: { ctor: Float64Array },
  [DataType.INT32]: { ctor: Int32Array },
  [DataType.INT64]: { ctor: BigInt64Array },
  [DataType.UINT8]: { ctor: Uint8Array },
  [DataType.INT8]: { ctor: Int8Array },
  [DataType.INT16]: { ctor: Int16Array },
  [DataType.UINT16]: { ctor: Uint16Array },
  [DataType.UINT32]: { ctor: Uint32Array },
  [DataType.UINT64]: { ctor: BigUint64Array },
  [DataType.BOOL]: { ctor: Uint8Array },
};

/** Decodes an initializer / Constant tensor (raw_data or typed fields). */
export function decodeTensor(t: TensorP): DecodedTensor {
  const dims = (t.dims ?? []).map(num);
  const count = dims.reduce((a, b) => a * b, 1);
  const spec = RAW[t.data_type];
  if (!spec) throw new Error(`tensor ${t.name ?? ''}: data type ${t.data_type} is not supported here`);
  if (t.raw_data && t.raw_data.length > 0) {
    const copy = new Uint8Array(t.raw_data); // aligned copy
    return { dims, dataType: t.data_type, data: new spec.ctor(copy.buffer, 0, count) };
  }
  const out = new spec.ctor(new ArrayBuffer(count * spec.ctor.BYTES_PER_ELEMENT), 0, count);
  const src: ArrayLike<unknown> | undefined =
    t.data_type === DataType.FLOAT ? t.float_data
    : t.data_type === DataType.DOUBLE ? t.double_data
    : t.data_type === DataType.INT64 ? t.int64_data
    : t.data_type === DataType.UINT64 || t.data_type === DataType.UINT32 ? t.uint64_data
    : t.int32_data;
  const n = src?.length ?? 0;
  if (n !== count && !(n === 0 && count === 0)) {
    throw new Error(`tensor ${t.name ?? ''}: holds ${n} values for dims [${dims.join(', ')}]`);
  }
  for (let i = 0; i < n; i++) {
    const v = src![i];
    if (out instanceof BigInt64Array || out instanceof BigUint64Array) out[i] = BigInt(String(v));
    else out[i] = typeof v === 'number' ? v : num(v as never);
  }
  return { dims, dataType: t.data_type, data: out };
}

/** Numbers of a decoded tensor as a plain number array (int64 converted; small tensors only). */
export function tensorValues(t: TensorP): number[] {
  const d = decodeTensor(t).data;
  return Array.from(d as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? clampBig(v) : v));
}

function clampBig(v: bigint): number {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  return v > max ? Number.MAX_SAFE_INTEGER : v < -max ? -Number.MAX_SAFE_INTEGER : Number(v);
}

/** Builds a TensorProto with raw_data from a typed array. */
export function makeTensor(name: string, dims: readonly number[], data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array): TensorP {
  const dataType =
    data instanceof Float32Array ? DataType.FLOAT
    : data instanceof Float64Array ? DataType.DOUBLE
    : data instanceof Int32Array ? DataType.INT32
    : data instanceof BigInt64Array ? DataType.INT64
    : DataType.UINT8;
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`internal: tensor ${name} dims [${dims.join(', ')}] hold ${count} values, got ${data.length}`);
  return { name, dims: [...dims], data_type: dataType, raw_data: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}

/** An int64 tensor from numbers. */
export function int64Tensor(name: string, values: readonly number[], dims: readonly number[] = [values.length]): TensorP {
  return makeTensor(name, dims, BigInt64Array.from(values, (v) => BigInt(v)));
}

/** A float32 tensor from numbers. */
export function floatTensor(name: string, values: readonly number[] | Float32Array, dims: readonly number[] = [values.length]): TensorP {
  return makeTensor(name, dims, Float32Array.from(values));
}

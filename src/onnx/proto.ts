import protobuf from 'protobufjs';
import { ONNX_PROTO } from './schema.js';

/** An int64 as protobufjs hands it over (a Long when decoded, a number when we build it). */
export type Int64 = number | { toNumber(): number; toString(): string };

export interface OpsetP { domain?: string; version: Int64 }
export interface AttributeP {
  name: string;
  type: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorP;
  g?: GraphP;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: TensorP[];
  graphs?: GraphP[];
  [other: string]: unknown;
}
export interface NodeP {
  input: string[];
  output: string[];
  name?: string;
  op_type: string;
  domain?: string;
  attribute: AttributeP[];
  doc_string?: string;
}
export interface TensorP {
  dims: Int64[];
  data_type: number;
  name?: string;
  raw_data?: Uint8Array;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: Int64[];
  double_data?: number[];
  uint64_data?: Int64[];
  string_data?: Uint8Array[];
  data_location?: number;
  external_data?: { key: string; value: string }[];
  doc_string?: string;
}
export interface DimP { dim_value?: Int64; dim_param?: string }
export interface TypeP {
  tensor_type?: { elem_type?: number; shape?: { dim: DimP[] } };
  [other: string]: unknown;
}
export interface ValueInfoP { name: string; type?: TypeP; doc_string?: string }
export interface GraphP {
  node: NodeP[];
  name?: string;
  initializer: TensorP[];
  input: ValueInfoP[];
  output: ValueInfoP[];
  value_info: ValueInfoP[];
  doc_string?: string;
  [other: string]: unknown;
}
export interface ModelP {
  ir_version?: Int64;
  opset_import: OpsetP[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: Int64;
  doc_string?: string;
  graph: GraphP;
  metadata_props?: { key: string; value: string }[];
  [other: string]: unknown;
}

const root = protobuf.parse(ONNX_PROTO, { keepCase: true }).root;
const ModelProto = root.lookupType('onnx.ModelProto');
const TensorProtoT = root.lookupType('onnx.TensorProto');

/** ONNX TensorProto.DataType codes Gauntlet uses. */
export const DataType = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, BFLOAT16: 16,
} as const;

/** ONNX AttributeProto.AttributeType codes. */
export const AttrType = {
  FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10,
} as const;

const DTYPE_NAMES: Record<number, string> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool',
  10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128', 16: 'bfloat16',
};

export function dtypeName(code: number | undefined): string {
  return code === undefined ? 'unknown' : (DTYPE_NAMES[code] ?? `dtype#${code}`);
}

/** Decodes ModelProto bytes. Throws the protobuf error on malformed input (callers wrap it). */
export function decodeModel(bytes: Uint8Array): ModelP {
  const m = ModelProto.decode(bytes) as unknown as ModelP;
  if (!m.graph) throw new Error('no graph');
  return m;
}

/** Encodes a model (plain objects or decoded messages) to ModelProto bytes. */
export function encodeModel(model: ModelP): Uint8Array {
  const err = ModelProto.verify(model);
  if (err) throw new Error(`internal: invalid ONNX model object: ${err}`);
  return ModelProto.encode(model as unknown as protobuf.Message).finish();
}

/** Encodes a single tensor (for hashing or size estimates). */
export function encodeTensor(t: TensorP): Uint8Array {
  return TensorProtoT.encode(t as unknown as protobuf.Message).finish();
}

/** An int64 field as a JS number (exact up to 2^53; larger values are clamped to ±MAX_SAFE_INTEGER). */
export function num(v: Int64 | undefined | null): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  const s = v.toString();
  const n = Number(s);
  if (Number.isSafeInteger(n)) return n;
  return s.startsWith('-') ? -Number.MAX_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
}

/** Deep copy of a model (decode(encode(m))), so transformations never mutate what the caller holds. */
export function cloneModel(model: ModelP): ModelP {
  return decodeModel(encodeModel(model));
}

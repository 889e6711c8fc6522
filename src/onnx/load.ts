import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ModelError } from '../errors.js';
import { decodeModel, dtypeName, num, type ModelP, type TensorP } from './proto.js';
import { defaultOpset, realInputs, valueElemType, valueShape } from './graph.js';

/** A model read from disk with the bytes' hash, for provenance. */
export interface LoadedModel {
  path: string;
  /** sha256 of the file's bytes (hex). */
  sha256: string;
  proto: ModelP;
}

/** Reads an .onnx file. Missing, unreadable or non-ONNX files raise a one-line ModelError. */
export function readModelFile(file: string): LoadedModel {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ModelError(`${file}: no such file`);
    if (code === 'EISDIR') throw new ModelError(`${file}: is a directory, not an .onnx file`);
    throw new ModelError(`${file}: cannot read (${code ?? (e as Error).message})`);
  }
  const proto = parseModelBytes(bytes, file);
  resolveExternalData(proto, path.dirname(file), file);
  return { path: file, sha256: createHash('sha256').update(bytes).digest('hex'), proto };
}

/** Decodes ONNX bytes, raising ModelError (naming `label`) when they are not an ONNX model. */
export function parseModelBytes(bytes: Uint8Array, label: string): ModelP {
  let proto: ModelP;
  try {
    proto = decodeModel(bytes);
  } catch (e) {
    throw new ModelError(`${label}: not an ONNX model (${(e as Error).message.split('\n')[0]})`);
  }
  if (!proto.graph || proto.graph.node.length === 0 || proto.graph.output.length === 0 || proto.opset_import.length === 0) {
    throw new ModelError(`${label}: not an ONNX model (no graph, nodes, outputs or opset import)`);
  }
  return proto;
}

function resolveExternalData(model: ModelP, dir: string, label: string): void {
  const tensors: TensorP[] = [...model.graph.initializer];
  for (const n of model.graph.node) for (const a of n.attribute ?? []) if (a.t) tensors.push(a.t);
  for (const t of tensors) {
    if (t.data_location !== 1) continue;
    const kv = Object.fromEntries((t.external_data ?? []).map((e) => [e.key, e.value]));
    if (!kv.location) throw new ModelError(`${label}: tensor ${t.name} is external but names no location`);
    const file = path.join(dir, kv.location);
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      throw new ModelError(`${label}: external data file ${file} for tensor ${t.name} is missing`);
    }
    try {
      const offset = Number(kv.offset ?? 0);
      const length = kv.length !== undefined ? Number(kv.length) : fs.fstatSync(fd).size - offset;
      const buf = Buffer.alloc(length);
      fs.readSync(fd, buf, 0, length, offset);
      t.raw_data = buf;
      t.data_location = 0;
      t.external_data = [];
    } finally {
      fs.closeSync(fd);
    }
  }
}

export interface ValueSummary {
  name: string;
  dtype: string;
  shape: (number | string)[] | null;
}

/** What `gauntlet inspect` reports about a model. */
export interface ModelSummary {
  irVersion: number;
  producer: string;
  opsets: { domain: string; version: number }[];
  /** Opset of the default domain. */
  opset: number;
  inputs: ValueSummary[];
  outputs: ValueSummary[];
  nodes: number;
  /** Op type → number of nodes, sorted by op type. */
  opTypes: Record<string, number>;
  parameters: number;
}

export function summarizeModel(model: ModelP): ModelSummary {
  const g = model.graph;
  const opTypes: Record<string, number> = {};
  for (const n of g.node) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.op_type}` : n.op_type;
    opTypes[key] = (opTypes[key] ?? 0) + 1;
  }
  const sorted = Object.fromEntries(Object.entries(opTypes).sort(([a], [b]) => a.localeCompare(b)));
  const vs = (v: { name: string; type?: unknown }): ValueSummary => ({
    name: v.name,
    dtype: dtypeName(valueElemType(v as never)),
    shape: valueShape(v as never),
  });
  return {
    irVersion: num(model.ir_version),
    producer: [model.producer_name, model.producer_version].filter(Boolean).join(' '),
    opsets: model.opset_import.map((o) => ({ domain: o.domain || 'ai.onnx', version: num(o.version) })),
    opset: defaultOpset(model),
    inputs: realInputs(g).map(vs),
    outputs: g.output.map(vs),
    nodes: g.node.length,
    opTypes: sorted,
    parameters: g.initializer.reduce((s, t) => s + (t.dims ?? []).map(num).reduce((a, b) => a * b, 1), 0),
  };
}

import { AttrType, num, type AttributeP, type GraphP, type ModelP, type NodeP, type TensorP, type ValueInfoP } from './proto.js';
import { tensorValues } from './tensor.js';

/** Attribute values accepted by makeNode. Arrays of numbers are INTS unless every value is written via `floats()`. */
export type AttrValue = number | string | number[] | TensorP | { floats: number[] } | { float: number };

/** Marks a number as a FLOAT attribute (plain numbers become INT when integral). */
export const float = (v: number): { float: number } => ({ float: v });
/** Marks a number list as a FLOATS attribute. */
export const floats = (v: number[]): { floats: number[] } => ({ floats: v });

export function makeAttr(name: string, v: AttrValue): AttributeP {
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') {
    return Number.isInteger(v) ? { name, type: AttrType.INT, i: v } : { name, type: AttrType.FLOAT, f: v };
  }
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v };
  if ('floats' in v) return { name, type: AttrType.FLOATS, floats: v.floats };
  if ('float' in v) return { name, type: AttrType.FLOAT, f: v.float };
  return { name, type: AttrType.TENSOR, t: v };
}

export function makeNode(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue | undefined> = {}, name?: string): NodeP {
  const attribute = Object.entries(attrs)
    .filter((e): e is [string, AttrValue] => e[1] !== undefined)
    .map(([k, v]) => makeAttr(k, v));
  return { op_type: opType, input: inputs, output: outputs, attribute, name: name ?? outputs[0] ?? opType, domain: '' };
}

function findAttr(node: NodeP, name: string): AttributeP | undefined {
  return node.attribute?.find((a) => a.name === name);
}

export function attrInt(node: NodeP, name: string, dflt: number): number;
export function attrInt(node: NodeP, name: string): number | undefined;
export function attrInt(node: NodeP, name: string, dflt?: number): number | undefined {
  const a = findAttr(node, name);
  return a ? num(a.i) : dflt;
}
export function attrFloat(node: NodeP, name: string, dflt: number): number;
export function attrFloat(node: NodeP, name: string): number | undefined;
export function attrFloat(node: NodeP, name: string, dflt?: number): number | undefined {
  const a = findAttr(node, name);
  return a ? (a.f ?? 0) : dflt;
}
export function attrInts(node: NodeP, name: string): number[] | undefined {
  const a = findAttr(node, name);
  return a ? (a.ints ?? []).map(num) : undefined;
}
export function attrFloats(node: NodeP, name: string): number[] | undefined {
  const a = findAttr(node, name);
  return a ? [...(a.floats ?? [])] : undefined;
}
export function attrString(node: NodeP, name: string, dflt: string): string;
export function attrString(node: NodeP, name: string): string | undefined;
export function attrString(node: NodeP, name: string, dflt?: string): string | undefined {
  const a = findAttr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : dflt;
}
export function attrStrings(node: NodeP, name: string): string[] | undefined {
  const a = findAttr(node, name);
  return a?.strings && a.strings.length > 0 ? a.strings.map((v) => new TextDecoder().decode(v)) : undefined;
}
export function attrTensor(node: NodeP, name: string): TensorP | undefined {
  return findAttr(node, name)?.t;
}

/** The opset version the model imports for the default ('' or 'ai.onnx') domain. */
export function defaultOpset(model: ModelP): number {
  const e = model.opset_import.find((o) => !o.domain || o.domain === 'ai.onnx');
  return e ? num(e.version) : 1;
}

/** Static shape of a value info: numbers for known dims, strings for symbolic ones, null when unknown. */
export function valueShape(vi: ValueInfoP | undefined): (number | string)[] | null {
  const dims = vi?.type?.tensor_type?.shape?.dim;
  if (!dims) return null;
  return dims.map((d) => {
    // A decoded message names its set field in the `value` oneof (its other field reads as the
    // default, 0 or ''); a plain object has only the field it sets. A dim with neither is unknown.
    const which = (d as { value?: string }).value ?? (d.dim_param ? 'dim_param' : Object.prototype.hasOwnProperty.call(d, 'dim_value') && d.dim_value !== undefined && d.dim_value !== null ? 'dim_value' : undefined);
    if (which === 'dim_param' && d.dim_param) return d.dim_param;
    if (which === 'dim_value') return num(d.dim_value);
    return '?';
  });
}

export function valueElemType(vi: ValueInfoP | undefined): number | undefined {
  return vi?.type?.tensor_type?.elem_type;
}

export function makeValueInfo(name: string, elemType: number, shape: (number | string)[] | null): ValueInfoP {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elemType,
        ...(shape ? { shape: { dim: shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } : {}),
      },
    },
  };
}

/** Graph inputs that are real inputs (not initializers listed as inputs, as IR < 4 models do). */
export function realInputs(graph: GraphP): ValueInfoP[] {
  const inits = new Set(graph.initializer.map((t) => t.name));
  return graph.input.filter((i) => !inits.has(i.name));
}

/** Values known to be constant: initializers and outputs of Constant nodes, with their tensors. */
export function constantTensors(graph: GraphP): Map<string, TensorP> {
  const m = new Map<string, TensorP>();
  for (const t of graph.initializer) if (t.name) m.set(t.name, t);
  for (const n of graph.node) {
    if (n.op_type === 'Constant' && (!n.domain || n.domain === 'ai.onnx')) {
      const t = attrTensor(n, 'value');
      if (t) m.set(n.output[0]!, t);
      else {
        const fs = attrFloats(n, 'value_floats');
        const f = attrFloat(n, 'value_float');
        const is = attrInts(n, 'value_ints');
        const i = attrInt(n, 'value_int');
        if (fs) m.set(n.output[0]!, { name: n.output[0], dims: [fs.length], data_type: 1, float_data: fs });
        else if (f !== undefined) m.set(n.output[0]!, { name: n.output[0], dims: [], data_type: 1, float_data: [f] });
        else if (is) m.set(n.output[0]!, { name: n.output[0], dims: [is.length], data_type: 7, int64_data: is });
        else if (i !== undefined) m.set(n.output[0]!, { name: n.output[0], dims: [], data_type: 7, int64_data: [i] });
      }
    }
  }
  return m;
}

/** Numbers of a constant value, or undefined when the value is not a known constant. */
export function constantValues(consts: Map<string, TensorP>, name: string | undefined): number[] | undefined {
  if (!name) return undefined;
  const t = consts.get(name);
  return t ? tensorValues(t) : undefined;
}

/** A generator of names that do not clash with any name in the graph. */
export function nameAllocator(graph: GraphP, prefix: string): (hint: string) => string {
  const used = new Set<string>();
  for (const n of graph.node) {
    for (const v of [...n.input, ...n.output]) used.add(v);
    if (n.name) used.add(n.name);
  }
  for (const t of graph.initializer) if (t.name) used.add(t.name);
  for (const v of [...graph.input, ...graph.output, ...graph.value_info]) used.add(v.name);
  let k = 0;
  return (hint: string) => {
    let name: string;
    do name = `${prefix}${hint}_${k++}`;
    while (used.has(name));
    used.add(name);
    return name;
  };
}

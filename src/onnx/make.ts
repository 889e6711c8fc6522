import { makeNode, makeValueInfo, type AttrValue } from './graph.js';
import { DataType, type ModelP, type NodeP, type TensorP } from './proto.js';

export interface MakeModelSpec {
  inputs: { name: string; dtype?: 'float32' | 'float64' | 'int64'; shape: (number | string)[] }[];
  /** Graph outputs (element type float32 unless given). */
  outputs: (string | { name: string; dtype: 'float32' | 'float64' | 'int64' })[];
  nodes: NodeP[];
  initializers?: TensorP[];
  opset?: number;
}

const ELEM = { float32: DataType.FLOAT, float64: DataType.DOUBLE, int64: DataType.INT64 } as const;

/** Builds a ModelProto from nodes (used by tests and by `gauntlet` to write small models). */
export function makeModel(spec: MakeModelSpec): ModelP {
  return {
    ir_version: 8,
    opset_import: [{ domain: '', version: spec.opset ?? 17 }],
    producer_name: 'gauntlet',
    graph: {
      name: 'g',
      node: spec.nodes,
      initializer: spec.initializers ?? [],
      input: spec.inputs.map((i) => makeValueInfo(i.name, ELEM[i.dtype ?? 'float32'], i.shape)),
      output: spec.outputs.map((o) => (typeof o === 'string' ? makeValueInfo(o, DataType.FLOAT, null) : makeValueInfo(o.name, ELEM[o.dtype], null))),
      value_info: [],
    },
  };
}

/** One node with the given op, inputs X0, X1, … and outputs Y0, Y1, …. */
export function node(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue | undefined> = {}): NodeP {
  return makeNode(op, inputs, outputs, attrs);
}

import type { GraphBuilder } from '../../onnx/builder.js';
import { cloneModel, DataType, type GraphP, type NodeP, type TensorP } from '../../onnx/proto.js';
import { renameReads, subgraphs } from '../../onnx/subgraph.js';

/** A deep copy of a (sub)graph. */
export function cloneGraph(g: GraphP): GraphP {
  return cloneModel({ ir_version: 8, opset_import: [{ domain: '', version: 13 }], graph: g }).graph;
}

/** A subgraph attribute of a node (If's then_branch, Loop's and Scan's body). */
export function bodyOf(node: NodeP, name: string): GraphP | undefined {
  return node.attribute.find((a) => a.name === name)?.g ?? undefined;
}

/**
 * Appends a copy of `body` to `b` under fresh names, its inputs bound to `inputs` (outer values, by
 * position), and returns the names of its outputs. Values the body reads from the outer scope
 * (captures) keep their names: inlined into the outer graph they read the same values, unless
 * `captured` maps them to others (an If's gated captures). Nested bodies are copied as they are,
 * their reads of this body's values (and of mapped captures) renamed.
 */
export function inlineBody(b: GraphBuilder, body: GraphP, inputs: readonly string[], hint: string, captured: ReadonlyMap<string, string> = new Map()): string[] {
  const g = cloneGraph(body);
  const map = new Map<string, string>(captured);
  g.input.forEach((vi, i) => map.set(vi.name, inputs[i]!));
  for (const t of g.initializer) {
    if (!t.name) continue;
    const name = b.name(`${hint}_${t.name}`);
    map.set(t.name, name);
    b.initializers.push({ ...t, name } as TensorP);
  }
  for (const n of g.node) for (const o of n.output) if (o) map.set(o, b.name(`${hint}_${o}`));
  renameReads(g, map);
  for (const n of g.node) {
    n.output = n.output.map((o) => (o ? map.get(o)! : o));
    n.name = b.name(`${hint}_${n.name || n.op_type}`);
    b.nodes.push(n);
  }
  return g.output.map((o) => o.name);
}

/** A scalar bool constant. */
export function boolConst(b: GraphBuilder, v: boolean): string {
  const name = b.name('bool');
  b.initializers.push({ name, dims: [], data_type: DataType.BOOL, raw_data: new Uint8Array([v ? 1 : 0]) });
  return name;
}

/** Whether a graph's nodes (or nested bodies) number more than `limit`. */
export function nodeCount(g: GraphP): number {
  return g.node.reduce((s, n) => s + 1 + subgraphs(n).reduce((t, sg) => t + nodeCount(sg), 0), 0);
}

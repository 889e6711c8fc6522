import type { GraphP, NodeP } from './proto.js';

/** The subgraphs a node carries as attributes (If's branches, Loop's and Scan's bodies, …). */
export function subgraphs(node: NodeP): GraphP[] {
  const out: GraphP[] = [];
  for (const a of node.attribute ?? []) {
    if (a.g) out.push(a.g);
    for (const g of a.graphs ?? []) out.push(g);
  }
  return out;
}

/** Every name a graph defines in its own scope: inputs, initializers and node outputs. */
export function graphDefines(graph: GraphP): Set<string> {
  const s = new Set<string>();
  for (const i of graph.input) s.add(i.name);
  for (const t of graph.initializer) if (t.name) s.add(t.name);
  for (const n of graph.node) for (const o of n.output) if (o) s.add(o);
  return s;
}

/**
 * The outer-scope values a node's subgraphs read (captures): names used inside a body (at any
 * depth) that no enclosing body defines. ONNX lets a branch or loop body read any value of the
 * scopes around it without listing it as a node input; for data flow (what depends on what, what
 * needs a gradient) these are inputs of the node like any other.
 */
export function captures(node: NodeP): string[] {
  const out = new Set<string>();
  for (const g of subgraphs(node)) for (const v of graphReads(g)) out.add(v);
  return [...out];
}

/** Names a graph reads from outside itself (its captures), nested bodies included. */
export function graphReads(graph: GraphP): Set<string> {
  const defined = graphDefines(graph);
  const out = new Set<string>();
  for (const n of graph.node) {
    for (const v of n.input) if (v && !defined.has(v)) out.add(v);
    for (const v of captures(n)) if (!defined.has(v)) out.add(v);
  }
  for (const o of graph.output) if (!defined.has(o.name)) out.add(o.name);
  return out;
}

/** A node's explicit inputs followed by its captures: every value it reads. */
export function nodeReads(node: NodeP): string[] {
  const sub = node.attribute?.some((a) => a.g || (a.graphs && a.graphs.length > 0)) ? captures(node) : [];
  return sub.length === 0 ? node.input : [...node.input, ...sub.filter((v) => !node.input.includes(v))];
}

/**
 * Renames the values a graph reads by `map` (node inputs and graph outputs), descending into
 * nested bodies for the names they read from outside (a body that defines a name itself shadows
 * it). Mutates `graph`.
 */
export function renameReads(graph: GraphP, map: ReadonlyMap<string, string>, defined: ReadonlySet<string> = new Set()): void {
  const rename = (v: string) => (v && !defined.has(v) ? (map.get(v) ?? v) : v);
  for (const n of graph.node) {
    n.input = n.input.map(rename);
    for (const g of subgraphs(n)) {
      const own = graphDefines(g);
      renameReads(g, map, new Set([...defined, ...own]));
    }
  }
  for (const o of graph.output) o.name = rename(o.name);
}

import { NO_GRADIENT_RULE, UnsupportedOpError, type UnsupportedOp } from '../errors.js';
import type { GraphBuilder } from '../onnx/builder.js';
import { attrInt, attrString, constantTensors } from '../onnx/graph.js';
import type { GraphP, NodeP } from '../onnx/proto.js';
import { nodeReads } from '../onnx/subgraph.js';
import { decodeTensor } from '../onnx/tensor.js';
import { Emit, type GradContext } from './context.js';
import { gradientOptions, type GradientOptions } from './options.js';
import type { ProbeResult } from './probe.js';
import { NO_GRADIENT, rules } from './registry.js';

export interface BackwardRequest {
  graph: GraphP;
  probe: ProbeResult;
  b: GraphBuilder;
  opset: number;
  /**
   * The values to differentiate with respect to: graph inputs (the data input, or parameters fed
   * as inputs by the training graph) or initializers (weights, differentiated in place).
   */
  wrt: readonly string[];
  /** Seed gradients: value name → name of the value holding d(loss)/d(value). */
  seeds: ReadonlyMap<string, string>;
  /** Rule options (MaxPool's tie rule); defaults as declared in `GRADIENT_OPTIONS`. */
  options?: Partial<GradientOptions>;
}

const FLOAT_TYPES = new Set(['float32', 'float64', 'float16']);
/** Ops whose outputs never depend on their inputs' values (only on shapes or constants). */
const SHAPE_ONLY = new Set(['Shape', 'Size', 'Constant', 'ConstantOfShape', 'Range', 'EyeLike']);
/** Ops whose rules emit no float constant or arithmetic, so they differentiate float16 values too. */
const TYPE_AGNOSTIC = new Set(['Cast', 'Identity', 'Dropout', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose']);
/** Ops whose outputs are random: never static. */
const RANDOM = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);
/** The reason for an input that needs a gradient its node's rule does not give (never a silent zero). */
const NO_INPUT_GRADIENT = 'its rule gives no gradient with respect to this input';

/**
 * Appends to `b` the backward pass of `graph` from the seeds to `wrt`, one vector–Jacobian rule per
 * node, and returns the name of each `wrt` value's gradient.
 *
 * The walk keeps only nodes on a float path from `wrt` to a seed, sums fan-in, and throws one
 * UnsupportedOpError naming every node on that path that it cannot differentiate: ops without a
 * rule ('no gradient rule') and nodes whose rule does not cover them (the rule's reason).
 */
export function buildBackward(req: BackwardRequest): Map<string, string> {
  const { graph, probe, b, opset } = req;
  const { maxpoolTies } = gradientOptions(req.options);
  const isFloat = (v: string) => FLOAT_TYPES.has(probe.types.get(v) ?? '');
  const floatType = probe.types.get(req.wrt[0]!) === 'float64' ? 'float64' : 'float32';

  // What each node reads: its inputs and, for control flow, the outer values its bodies read
  // (captures), so that a gradient that would have to pass through a body is seen, never dropped.
  const reads = new Map<NodeP, string[]>(graph.node.map((n) => [n, nodeReads(n)]));
  // Values reachable from wrt along float edges.
  const fwd = new Set<string>(req.wrt);
  for (const n of graph.node) {
    if (reads.get(n)!.some((v) => fwd.has(v))) for (const o of n.output) if (o && isFloat(o)) fwd.add(o);
  }
  // Values that reach a seed.
  const bwd = new Set<string>(req.seeds.keys());
  for (let i = graph.node.length - 1; i >= 0; i--) {
    const n = graph.node[i]!;
    if (n.output.some((v) => bwd.has(v))) for (const v of reads.get(n)!) if (v) bwd.add(v);
  }
  const onPath = (v: string) => v !== '' && fwd.has(v) && bwd.has(v);
  const pathNodes = graph.node.filter((n) => n.output.some(onPath) && reads.get(n)!.some(onPath));

  // Nodes the engine cannot differentiate: gathered over the whole walk and thrown together, so
  // one error names every op and node in the way, each with its reason.
  const unsupported: UnsupportedOp[] = [];
  const hasRule = (n: NodeP) => rules[n.op_type] !== undefined && !(n.domain && n.domain !== 'ai.onnx');
  // Most rules emit float32 (or float64) constants and ops, so a float16 value on the path is out
  // of their reach; Casts and the rules that only move values (TYPE_AGNOSTIC) work in any type.
  const half = (n: NodeP) => !TYPE_AGNOSTIC.has(n.op_type) && n.output.some((o) => onPath(o) && probe.types.get(o) === 'float16');
  const blocked = new Set<NodeP>();
  const capturedOnPath = (n: NodeP) => reads.get(n)!.slice(n.input.length).filter(onPath);
  for (const n of pathNodes) {
    const captured = capturedOnPath(n);
    if (!hasRule(n)) unsupported.push({ opType: n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.op_type}` : n.op_type, nodeName: n.name ?? '', reason: probe.reasons?.get(n) ?? (captured.length > 0 ? `its subgraph reads ${captured.map((v) => `'${v}'`).join(', ')} from the outer scope; ${NO_GRADIENT_RULE}` : NO_GRADIENT_RULE) });
    else if (captured.length > 0) unsupported.push({ opType: n.op_type, nodeName: n.name ?? '', reason: `its subgraph reads ${captured.map((v) => `'${v}'`).join(', ')} from the outer scope, which its rule does not differentiate` });
    else if (half(n)) unsupported.push({ opType: n.op_type, nodeName: n.name ?? '', reason: 'it computes in float16; the gradient rules support float32 and float64 only' });
    else continue;
    blocked.add(n);
  }

  const staticVals = staticValues(graph);
  const consts = constantTensors(graph);
  const e = new Emit(b, opset);
  const contributions = new Map<string, string[]>();
  for (const [v, g] of req.seeds) contributions.set(v, [g]);
  const total = (v: string): string | null => {
    const parts = contributions.get(v);
    if (!parts || parts.length === 0) return null;
    if (parts.length === 1) return parts[0]!;
    const s = sumShuffled(b, parts) ?? sumExpanded(b, parts) ?? b.op('Sum', parts, {}, 'fanin');
    contributions.set(v, [s]);
    return s;
  };

  const producers = new Map<string, NodeP>();
  const consumerCount = new Map<string, number>();
  for (const n of graph.node) {
    for (const o of n.output) if (o) producers.set(o, n);
    for (const v of n.input) if (v) consumerCount.set(v, (consumerCount.get(v) ?? 0) + 1);
  }
  for (const o of graph.output) consumerCount.set(o.name, (consumerCount.get(o.name) ?? 0) + 1);
  const skipped = new Set<NodeP>();
  const addContribution = (v: string, g: string) => {
    const list = contributions.get(v) ?? [];
    list.push(g);
    contributions.set(v, list);
  };

  for (let i = pathNodes.length - 1; i >= 0; i--) {
    const node = pathNodes[i]!;
    if (skipped.has(node)) continue;
    const gy = node.output.map((o) => (onPath(o) ? total(o) : null));
    if (gy.every((g) => g === null)) continue;
    const needs = node.input.map((v) => onPath(v));
    const ctx: GradContext = {
      node,
      b,
      e,
      opset,
      gy,
      needs,
      floatType,
      maxpoolTies,
      producer: (v) => producers.get(v),
      consumers: (v) => consumerCount.get(v) ?? 0,
      skip: (chain) => {
        for (const n of chain) {
          if (n.output.some((o) => o && (consumerCount.get(o) ?? 0) !== 1)) throw new Error(`internal: skip of ${n.name} whose output has other consumers`);
          skipped.add(n);
        }
      },
      bypass: (chain, g) => {
        ctx.skip(chain);
        const into = chain[chain.length - 1]!.input[0]!;
        if (onPath(into)) addContribution(into, g);
      },
      forwardOutput: (index, hint) => {
        while (node.output.length <= index) node.output.push('');
        if (!node.output[index]) node.output[index] = b.name(hint);
        return node.output[index]!;
      },
      shape: (v) => {
        const s = probe.shapes.get(v);
        if (!s) throw new Error(`internal: no probed shape for value '${v}' (node ${node.name})`);
        return s;
      },
      staticInts: (v) => (v && staticVals.has(v) ? probe.ints.get(v) : undefined),
      constFloats: (v) => {
        const t = v ? consts.get(v) : undefined;
        if (!t) return undefined;
        const d = decodeTensor(t).data;
        return d instanceof Float32Array || d instanceof Float64Array ? d : undefined;
      },
    };
    let grads: (string | null)[] | null = null;
    if (!blocked.has(node)) {
      try {
        grads = rules[node.op_type]!(ctx);
      } catch (err) {
        if (!(err instanceof UnsupportedOpError)) throw err;
        unsupported.push(...err.ops);
      }
    }
    // A rule that returns nothing for an input that needs a gradient has no rule for it: an
    // error naming the op, node and input, never a silent zero.
    if (grads) {
      const given = grads;
      // An input made by a node the rule skipped has its gradient handed on by the rule itself.
      const unmet = node.input.flatMap((v, k) => (needs[k] && !given[k] && !skipped.has(producers.get(v)!) ? [k] : []));
      for (const k of unmet) unsupported.push({ opType: node.op_type, nodeName: node.name ?? '', input: node.input[k]!, reason: NO_INPUT_GRADIENT });
      if (unmet.length > 0) grads = node.input.map((v, k) => given[k] ?? (unmet.includes(k) ? e.zeros(ctx.shape(v), floatType) : null));
    }
    // A node the walk cannot differentiate gets a stand-in gradient, so that the walk goes on and
    // names what else it cannot differentiate upstream; that graph is never used (it throws below).
    grads ??= node.input.map((v, k) => (needs[k] ? e.zeros(ctx.shape(v), floatType) : null));
    node.input.forEach((v, k) => {
      const g = grads[k];
      if (needs[k] && g) addContribution(v, g);
    });
  }

  if (unsupported.length > 0) throw new UnsupportedOpError(unsupported);

  const out = new Map<string, string>();
  for (const w of req.wrt) {
    const g = total(w);
    out.set(w, g ?? e.zeros(probe.shapes.get(w)!, floatType));
  }
  return out;
}

/** Values that do not depend on the graph's inputs' data: constants, shapes, and what is computed only from them. */
export function staticValues(graph: GraphP): Set<string> {
  const s = new Set<string>(graph.initializer.map((t) => t.name!).filter(Boolean));
  const isStatic = (n: NodeP) => {
    if (RANDOM.has(n.op_type)) return false;
    if (SHAPE_ONLY.has(n.op_type)) return true;
    const r = nodeReads(n);
    return r.length > 0 && r.every((v) => v === '' || s.has(v));
  };
  for (const n of graph.node) if (isStatic(n)) for (const o of n.output) if (o) s.add(o);
  return s;
}

export { NO_GRADIENT };

/**
 * Σ DepthToSpace(aᵢ) as DepthToSpace(Σ aᵢ) when every part is the sole use of a DepthToSpace the
 * backward pass emitted, all with the same blocksize and mode (a strided Conv's dX beside its
 * 1×1 stride-2 shortcut's: rules/Conv.ts `subpixelDx`). The same additions in the same order, so
 * exact; one shuffle instead of several, and the Sum runs on ORT's blocked layout beside the
 * Convs that made its inputs. Null when the parts do not all have that form.
 */
function sumShuffled(b: GraphBuilder, parts: readonly string[]): string | null {
  const shuffles = soleEmitted(b, parts);
  const first = shuffles?.[0];
  if (!shuffles || !first || first.op_type !== 'DepthToSpace') return null;
  const key = (n: NodeP) => `${attrInt(n, 'blocksize', 0)}:${attrString(n, 'mode', 'DCR')}`;
  if (shuffles.some((n) => !n || n.op_type !== 'DepthToSpace' || key(n) !== key(first))) return null;
  for (const n of shuffles) b.nodes.splice(b.nodes.indexOf(n!), 1);
  const summed = b.op('Sum', shuffles.map((n) => n!.input[0]!), {}, 'fanin_phases');
  return b.op('DepthToSpace', [summed], { blocksize: attrInt(first, 'blocksize', 0), mode: attrString(first, 'mode', 'DCR') }, 'fanin');
}

/**
 * A Sum of gradients where some parts are Expands the backward pass emitted (GlobalAveragePool's
 * gradient spread over the spatial axes) beside at least one full-sized part: the Expands are
 * dropped and Sum broadcasts their inputs itself, one pass over the data instead of two
 * (EfficientNet-B0's 16 squeeze-excitation blocks, batch 8: 6 % of its gradient's time). The same
 * additions in the same order.
 */
function sumExpanded(b: GraphBuilder, parts: readonly string[]): string | null {
  const made = soleEmitted(b, parts);
  const expands = made?.filter((n): n is NodeP => n?.op_type === 'Expand') ?? [];
  if (!made || expands.length === 0 || expands.length === parts.length) return null;
  for (const n of expands) b.nodes.splice(b.nodes.indexOf(n), 1);
  return b.op('Sum', parts.map((p, i) => (made[i]?.op_type === 'Expand' ? made[i]!.input[0]! : p)), {}, 'fanin');
}

/**
 * The node the backward pass emitted for each part (undefined for a part it did not emit), or
 * null when some emitted node reads a part: then a part is used elsewhere and its node must stay.
 */
function soleEmitted(b: GraphBuilder, parts: readonly string[]): (NodeP | undefined)[] | null {
  if (b.nodes.some((n) => n.input.some((v) => parts.includes(v)))) return null;
  return parts.map((p) => b.nodes.find((n) => n.output[0] === p));
}

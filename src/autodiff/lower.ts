import { ModelError, UnsupportedOpError } from '../errors.js';
import { GraphBuilder } from '../onnx/builder.js';
import { defaultOpset } from '../onnx/graph.js';
import type { ModelP, NodeP } from '../onnx/proto.js';
import { staticValues } from './backward.js';
import { Emit } from './context.js';
import { lowerIf } from './lower/If.js';
import { lowerLoop } from './lower/Loop.js';
import { lowerMaxPool } from './lower/MaxPool.js';
import { lowerRecurrent } from './lower/recurrent.js';
import { lowerScan } from './lower/Scan.js';
import { probe, type Feed, type ProbeResult } from './probe.js';

/**
 * What a lowering sees: the node, the probe of the current graph, which values do not depend on
 * the data, and a builder whose nodes replace the node (in order, at its place in the graph).
 */
export interface LowerContext {
  node: NodeP;
  probe: ProbeResult;
  /** Values that do not depend on any graph input's data (constants, shapes, and what follows from them). */
  isStatic(value: string): boolean;
  b: GraphBuilder;
  e: Emit;
  opset: number;
}

/**
 * A lowering rewrites one node as an equivalent sequence of ops that have gradient rules (a
 * control-flow node as its inlined or unrolled body, an LSTM as its unrolled cell equations) for
 * the probed shapes. It returns a note of what it did, or throws `NotLowered` with the reason it
 * cannot (which the backward walk reports if the node is on the gradient path).
 */
export type Lowering = (ctx: LowerContext) => string | FallibleLowering;

/**
 * A lowering that evaluates what the model itself would not (both branches of an If): `mayFail`
 * is the reason reported if the rewritten graph does not run, `check` (given the new probe)
 * returns a reason when it runs but is not equivalent (branches of different shapes).
 */
export interface FallibleLowering {
  note: string;
  mayFail: string;
  check?: (probe: ProbeResult) => string | null;
}

/** Why a node was left as it is; reported (with op and node) only if a gradient must pass it. */
export class NotLowered extends Error {}

const LOWERINGS: Readonly<Record<string, Lowering>> = {
  If: lowerIf,
  Loop: lowerLoop,
  Scan: lowerScan,
  LSTM: lowerRecurrent,
  GRU: lowerRecurrent,
  RNN: lowerRecurrent,
  MaxPool: lowerMaxPool,
};

/** Ops that a lowering may rewrite (for `gauntlet list` and the README). */
export const LOWERED_OPS: readonly string[] = Object.keys(LOWERINGS);

/** Nesting depth of control flow the lowering follows (each round inlines one level). */
const MAX_ROUNDS = 8;

export interface LoweredModel {
  /** Probe of the lowered graph. */
  probe: ProbeResult;
  /** One line per lowered node: what was done (e.g. "If (node cond_1): then branch inlined (condition fixed by the shapes)"). */
  notes: string[];
}

/**
 * Probes `model` (mutated in place: pass a clone) and rewrites, round by round, the nodes that have
 * a lowering and depend on the data (If, Loop, Scan, LSTM, GRU, RNN, 1-D and 3-D MaxPool), until none is
 * left or none can be lowered further. Nodes that cannot be lowered stay, with their reason in
 * `probe.reasons`, so the backward walk names them if a gradient has to pass through them.
 */
export async function lowerForGradient(model: ModelP, feeds: Record<string, Feed>, label: string): Promise<LoweredModel> {
  const g = model.graph;
  const opset = defaultOpset(model);
  const notes: string[] = [];
  const reasons = new Map<NodeP, string>();
  // Lowerings that evaluate code the model itself would not run (both branches of an If whose
  // condition depends on the data): if the rewritten graph does not run, those nodes are named.
  const fallible: { node: NodeP; lowering: FallibleLowering }[] = [];
  let pr = await probe(model, feeds, label);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const stat = staticValues(g);
    // One builder per float type (their constants are of that type), under distinct prefixes.
    const b32 = new GraphBuilder(g, `gauntlet_lw${round}_`);
    const b64 = new GraphBuilder(g, `gauntlet_lw${round}d_`, 'float64');
    const out: NodeP[] = [];
    let changed = false;
    for (const node of g.node) {
      const lower = (!node.domain || node.domain === 'ai.onnx') ? LOWERINGS[node.op_type] : undefined;
      if (!lower || reasons.has(node) || node.output.every((o) => !o || stat.has(o))) {
        out.push(node);
        continue;
      }
      const b = pr.types.get(node.input[0] ?? '') === 'float64' ? b64 : b32;
      const e = new Emit(b, opset);
      const start = b.nodes.length;
      const inits = b.initializers.length;
      try {
        const r = lower({ node, probe: pr, isStatic: (v) => v === '' || stat.has(v), b, e, opset });
        out.push(...b.nodes.slice(start));
        notes.push(`${node.op_type} (${node.name || 'unnamed'}): ${typeof r === 'string' ? r : r.note}`);
        if (typeof r !== 'string') fallible.push({ node, lowering: r });
        changed = true;
      } catch (err) {
        if (!(err instanceof NotLowered)) throw err;
        b.nodes.length = start;
        b.initializers.length = inits;
        reasons.set(node, err.message);
        out.push(node);
      }
    }
    if (!changed) break;
    g.node = out;
    g.initializer = [...g.initializer, ...b32.initializers, ...b64.initializers];
    try {
      pr = await probe(model, feeds, label);
    } catch (err) {
      if (!(err instanceof ModelError)) throw err;
      const why = err.message.split('\n')[0];
      if (fallible.length > 0) throw new UnsupportedOpError(fallible.map((f) => ({ opType: f.node.op_type, nodeName: f.node.name ?? '', reason: `${f.lowering.mayFail} (${why})` })));
      throw new ModelError(`${label}: the model rewritten for gradients (${notes.join('; ')}) does not run: ${why}`);
    }
    const failed = fallible.flatMap((f) => {
      const why = f.lowering.check?.(pr);
      return why ? [{ opType: f.node.op_type, nodeName: f.node.name ?? '', reason: why }] : [];
    });
    if (failed.length > 0) throw new UnsupportedOpError(failed);
    fallible.length = 0;
  }
  pr.reasons = reasons;
  return { probe: pr, notes };
}

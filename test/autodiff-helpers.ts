import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { buildBackward } from '../src/autodiff/backward.js';
import { lowerForGradient } from '../src/autodiff/lower.js';
import type { Feed } from '../src/autodiff/probe.js';
import { createSession } from '../src/engine/session.js';
import type { GradientOptions } from '../src/autodiff/options.js';
import { UnsupportedOpError } from '../src/errors.js';
import { GraphBuilder } from '../src/onnx/builder.js';
import { makeValueInfo } from '../src/onnx/graph.js';
import { gradientOpset } from '../src/onnx/upgrade.js';
import { node } from '../src/onnx/make.js';
import { cloneModel, DataType, type ModelP, type NodeP, type TensorP } from '../src/onnx/proto.js';
import { makeTensor } from '../src/onnx/tensor.js';
import type { Rng } from '../src/rng.js';

/** How a rule test draws one input's values. */
export interface Draw {
  lo?: number;
  hi?: number;
  /** Kinks to stay at least `margin` (default 0.05) away from. */
  avoid?: number[];
  margin?: number;
  /** Fixed values (int64 inputs, or hand-picked floats). */
  values?: number[];
  /** A shuffled grid of distinct multiples of 1/16, spaced 1/8 apart (tie-free MaxPool inputs). */
  grid?: boolean;
}

/** One input of a rule test case. */
export interface RuleInput extends Draw {
  name: string;
  shape: number[];
  /** An int64 input (indices, shapes): never differentiated. */
  int64?: boolean;
}

/** A one-op (or few-op) model to check a rule on. */
export interface RuleCase {
  op: string;
  nodes: NodeP[];
  inputs: RuleInput[];
  outputs?: string[];
  /** Inputs to differentiate; default every float input. */
  wrt?: string[];
  opset?: number;
  dtype?: 'float32' | 'float64';
  initializers?: TensorP[];
  /** The gradient rules' options (MaxPool's tie rule); default as declared. */
  gradient?: Partial<GradientOptions>;
}

/** `size` seeded values for one input, following `spec`. */
export function drawValues(rng: Rng, spec: Draw, size: number): number[] {
  if (spec.values) return spec.values;
  if (spec.grid) {
    const k = Array.from({ length: size }, (_, i) => i);
    for (let i = size - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [k[i], k[j]] = [k[j]!, k[i]!];
    }
    return k.map((v) => (v - size / 2 + 0.5) / 8);
  }
  const { lo = -2, hi = 2, avoid = [], margin = 0.05 } = spec;
  return Array.from({ length: size }, () => {
    for (;;) {
      const v = rng.range(lo, hi);
      if (avoid.every((kink) => Math.abs(v - kink) > margin)) return v;
    }
  });
}

/**
 * The backward graph's gradient of Σ y (seed = ones; y is the model's first output) with respect
 * to `wrt`, for exact-value checks at kinks and ties where finite differences do not apply.
 */
export async function gradOfSumOf(model: ModelP, feeds: Record<string, Feed>, wrt: string, dtype: 'float32' | 'float64', options: Partial<GradientOptions> = {}): Promise<number[]> {
  return (await gradOfSumWithGraph(model, feeds, wrt, dtype, options)).grad;
}

/** `gradOfSumOf`, also returning the backward nodes the rules emitted (to check which route a rule took). */
export async function gradOfSumWithGraph(
  model: ModelP,
  feeds: Record<string, Feed>,
  wrt: string,
  dtype: 'float32' | 'float64',
  options: Partial<GradientOptions> = {},
): Promise<{ grad: number[]; backward: NodeP[] }> {
  const m = cloneModel(model);
  const opset = gradientOpset(m);
  const { probe: pr } = await lowerForGradient(m, feeds, 'test');
  const b = new GraphBuilder(m.graph, 't_', dtype);
  const y = model.graph.output[0]!.name;
  const ys = pr.shapes.get(y)!;
  const seed = b.op('ConstantOfShape', [b.constI64(ys)], { value: makeTensor('v', [1], dtype === 'float64' ? new Float64Array([1]) : new Float32Array([1])) });
  const grads = buildBackward({ graph: m.graph, probe: pr, b, opset, wrt: [wrt], seeds: new Map([[y, seed]]), options });
  const backward = [...b.nodes];
  m.graph.node.push(...b.nodes, node('Identity', [grads.get(wrt)!], ['t_grad_out']));
  m.graph.initializer.push(...b.initializers);
  m.graph.output.push(makeValueInfo('t_grad_out', dtype === 'float64' ? DataType.DOUBLE : DataType.FLOAT, null));
  const s = await createSession(m, 'test');
  try {
    const ortFeeds = Object.fromEntries(
      Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor(v.data instanceof BigInt64Array ? 'int64' : v.data instanceof Float64Array ? 'float64' : 'float32', v.data, v.dims)]),
    );
    const r = await s.run(ortFeeds);
    return { grad: Array.from(r['t_grad_out']!.data as Float32Array | Float64Array), backward };
  } finally {
    await s.release();
  }
}

/**
 * An `assert.throws`/`assert.rejects` validator: the error is an UnsupportedOpError (a limit of the
 * gradient engine, exit code 2 — not an internal error) naming one node `nodeName` of `opType`, with
 * a reason matching `reason`, and its message names the op, the node, the reason and the
 * black-box alternative.
 */
export function unsupportedNode(opType: string, nodeName: string, reason: RegExp, input?: string): (e: unknown) => true {
  return (e) => {
    assert.ok(e instanceof UnsupportedOpError, `expected an UnsupportedOpError, got ${String(e)}`);
    assert.deepEqual(e.ops.map((o) => [o.opType, o.nodeName, o.input]), [[opType, nodeName, input]]);
    assert.match(e.ops[0]!.reason, reason);
    assert.equal(e.exitCode, 2);
    const at = `${nodeName}${input === undefined ? '' : `, input '${input}'`}`;
    assert.ok(e.message.startsWith(`no gradient rule for op ${opType} at node ${opType} (${at}) [${e.ops[0]!.reason}]; `), e.message);
    assert.match(e.message, /--attack square/);
    return true;
  };
}

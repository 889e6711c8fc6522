import ort from 'onnxruntime-node';
import { createSession } from '../engine/session.js';
import { makeValueInfo } from '../onnx/graph.js';
import { ModelError } from '../errors.js';
import { cloneModel, DataType, dtypeName, num, type ModelP, type NodeP } from '../onnx/proto.js';
import { tensorValues } from '../onnx/tensor.js';

/** What one forward run tells the gradient builder: every value's concrete shape and type. */
export interface ProbeResult {
  shapes: Map<string, number[]>;
  /** ONNX element type name per value ('float32', 'float64', 'int64', 'bool', …). */
  types: Map<string, string>;
  /** Values of small integer tensors (≤ 64 elements), e.g. computed shapes and indices. */
  ints: Map<string, number[]>;
  /**
   * Nodes left as they are by `lowerForGradient` (an If, Loop, Scan or LSTM it could not rewrite),
   * with the reason: the backward walk gives it if a gradient has to pass through one.
   */
  reasons?: Map<NodeP, string>;
}

export type Feed = { data: Float32Array | Float64Array | BigInt64Array; dims: readonly number[] };

/**
 * Runs the model once with every node output exposed, recording each value's shape and type.
 * The backward graph is then built for these concrete shapes (and cached per input shape).
 */
export async function probe(model: ModelP, feeds: Record<string, Feed>, label: string): Promise<ProbeResult> {
  const m = cloneModel(model);
  const g = m.graph;
  const present = new Set(g.output.map((o) => o.name));
  const names: string[] = [...present];
  for (const n of g.node) {
    for (const o of n.output) {
      if (o && !present.has(o)) {
        present.add(o);
        names.push(o);
        g.output.push(makeValueInfo(o, 0, null));
        delete g.output[g.output.length - 1]!.type;
      }
    }
  }
  const session = await createSession(m, label, { threads: 0 });
  try {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) {
      const type = v.data instanceof Float32Array ? 'float32' : v.data instanceof Float64Array ? 'float64' : 'int64';
      ortFeeds[k] = new ort.Tensor(type, v.data, v.dims);
    }
    let res: ort.InferenceSession.OnnxValueMapType;
    try {
      res = await session.run(ortFeeds, names);
    } catch (e) {
      throw new ModelError(`${label}: inference failed (${(e as Error).message.split('\n')[0]})`);
    }
    const shapes = new Map<string, number[]>();
    const types = new Map<string, string>();
    const ints = new Map<string, number[]>();
    for (const [k, v] of Object.entries(feeds)) {
      shapes.set(k, [...v.dims]);
      types.set(k, v.data instanceof Float32Array ? 'float32' : v.data instanceof Float64Array ? 'float64' : 'int64');
    }
    for (const t of model.graph.initializer) {
      if (!t.name) continue;
      shapes.set(t.name, (t.dims ?? []).map(num));
      types.set(t.name, dtypeName(t.data_type));
      if ((t.data_type === DataType.INT64 || t.data_type === DataType.INT32) && shapes.get(t.name)!.reduce((a, b) => a * b, 1) <= 64) {
        ints.set(t.name, tensorValues(t));
      }
    }
    for (const name of names) {
      const t = res[name];
      if (!t) continue;
      shapes.set(name, [...t.dims]);
      types.set(name, t.type);
      if ((t.type === 'int64' || t.type === 'int32' || t.type === 'bool') && t.size <= 64) {
        ints.set(name, Array.from(t.data as ArrayLike<number | bigint | boolean>, (v) => Number(v)));
      }
    }
    return { shapes, types, ints };
  } finally {
    await session.release();
  }
}

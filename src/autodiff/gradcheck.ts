import ort from 'onnxruntime-node';
import { createSession } from '../engine/session.js';
import { GraphBuilder } from '../onnx/builder.js';
import { makeValueInfo } from '../onnx/graph.js';
import { gradientOpset } from '../onnx/upgrade.js';
import { cloneModel, DataType, type ModelP } from '../onnx/proto.js';
import type { Rng } from '../rng.js';
import { buildBackward } from './backward.js';
import type { GradientOptions } from './options.js';
import { lowerForGradient } from './lower.js';
import type { Feed } from './probe.js';

export interface GradcheckResult {
  /** Input checked. */
  input: string;
  /** max |analytic − numeric| / max(max |numeric|, 1e-3). */
  relError: number;
  maxAbsNumeric: number;
  /** Element type the check ran in. */
  dtype: 'float32' | 'float64';
}

/**
 * Central finite-difference check of the backward graph built for `model`.
 *
 * The scalar checked is L = Σ_o Σ w_o ⊙ Y_o over the float outputs, with seeded random weights
 * w_o; every element of every float graph input named in `wrt` is perturbed by ±h. Runs in
 * float64 when `feeds` are Float64Array (ORT has double kernels for most ops), else float32.
 * `opts.gradient` are the rules' options (`GRADIENT_OPTIONS`).
 */
export async function gradcheck(
  model: ModelP,
  feeds: Record<string, Feed>,
  wrt: readonly string[],
  rng: Rng,
  opts: { h?: number; gradient?: Partial<GradientOptions> } = {},
): Promise<GradcheckResult[]> {
  const first = feeds[wrt[0]!]!;
  const dtype = first.data instanceof Float64Array ? 'float64' : 'float32';
  const h = opts.h ?? (dtype === 'float64' ? 1e-6 : 1e-3);
  const m = cloneModel(model);
  const g = m.graph;
  const opset = gradientOpset(m);
  const { probe: pr } = await lowerForGradient(m, feeds, 'gradcheck');
  const b = new GraphBuilder(g, 'gc_', dtype);
  const elem = dtype === 'float64' ? DataType.DOUBLE : DataType.FLOAT;
  const seeds = new Map<string, string>();
  const weights: Record<string, Feed> = {};
  for (const o of model.graph.output) {
    const t = pr.types.get(o.name);
    if (t !== dtype) continue;
    const shape = pr.shapes.get(o.name)!;
    const size = shape.reduce((a, c) => a * c, 1);
    const w = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
    for (let i = 0; i < size; i++) w[i] = rng.range(-1, 1);
    const wName = `gc_w_${o.name}`;
    weights[wName] = { data: w, dims: shape };
    g.input.push(makeValueInfo(wName, elem, shape));
    seeds.set(o.name, wName);
  }
  const grads = buildBackward({ graph: g, probe: pr, b, opset, wrt, seeds, options: opts.gradient });
  g.node = [...g.node, ...b.nodes];
  g.initializer = [...g.initializer, ...b.initializers];
  g.output = [...g.output, ...wrt.map((w) => makeValueInfo(`gc_grad_${w}`, elem, pr.shapes.get(w)!))];
  for (const w of wrt) g.node.push({ op_type: 'Identity', input: [grads.get(w)!], output: [`gc_grad_${w}`], attribute: [], name: `gc_out_${w}`, domain: '' });

  const bw = await createSession(m, 'gradcheck backward');
  const fw = await createSession(model, 'gradcheck forward');
  const toOrt = (f: Record<string, Feed>) =>
    Object.fromEntries(Object.entries(f).map(([k, v]) => [k, new ort.Tensor(v.data instanceof Float32Array ? 'float32' : v.data instanceof Float64Array ? 'float64' : 'int64', v.data, v.dims)]));
  try {
    const res = await bw.run(toOrt({ ...feeds, ...weights }));
    const lossOf = async (f: Record<string, Feed>) => {
      const r = await fw.run(toOrt(f));
      let s = 0;
      for (const [o, wName] of seeds) {
        const y = r[o]!.data as Float32Array | Float64Array;
        const w = weights[wName]!.data as Float32Array | Float64Array;
        for (let i = 0; i < y.length; i++) s += y[i]! * w[i]!;
      }
      return s;
    };
    const out: GradcheckResult[] = [];
    for (const w of wrt) {
      const analytic = res[`gc_grad_${w}`]!.data as Float32Array | Float64Array;
      const base = feeds[w]!.data as Float32Array | Float64Array;
      let maxErr = 0;
      let maxNum = 0;
      for (let i = 0; i < base.length; i++) {
        const plus = base.slice();
        const minus = base.slice();
        plus[i]! += h;
        minus[i]! -= h;
        const numeric = ((await lossOf({ ...feeds, [w]: { data: plus, dims: feeds[w]!.dims } })) - (await lossOf({ ...feeds, [w]: { data: minus, dims: feeds[w]!.dims } }))) / (2 * h);
        maxErr = Math.max(maxErr, Math.abs(numeric - analytic[i]!));
        maxNum = Math.max(maxNum, Math.abs(numeric));
      }
      out.push({ input: w, relError: maxErr / Math.max(maxNum, 1e-3), maxAbsNumeric: maxNum, dtype });
    }
    return out;
  } finally {
    await bw.release();
    await fw.release();
  }
}

/**
 * Layer sensitivity: how much each named node output ("layer") of a model changes when its input
 * is stressed, and where along the graph a flipped prediction first becomes visible.
 *
 * Layers are the float32/float64 outputs of nodes (in graph order, named as the ONNX graph names
 * them) that depend on the model input — every name of `model.valueNames()` that qualifies, plus
 * the folded preprocessing values (`gauntlet_pre_…`). Values computed from initializers only
 * (constants, shape arithmetic) and integer / bool / float16 values are skipped.
 *
 * For item i and layer L, r_L(i) = ‖a_s − a_c‖₂ / ‖a_c‖₂ (stressed vs clean activations of the
 * same item); a layer's `relChange` is the mean over items with ‖a_c‖ > 0 (0 when there are none).
 * Layers whose leading dimension is not the batch (e.g. attention reshaped to [n·heads, …] is still
 * split per item when its leading dimension is a multiple of the batch; others are not) are
 * measured per run over the whole run's items and that ratio is given to each of its items
 * (`perItem: false`).
 *
 * `gain` of a node = r(its output) / r(its first input-dependent input) (the graph input's own
 * relative change for the first node): below 1 the node absorbs the stress, above 1 it amplifies
 * it. A component's gain is the geometric mean of its nodes' gains.
 *
 * Components, by op type and position:
 * - `preprocessing`: the folded preprocessing (`gauntlet_pre_…` values);
 * - `normalization`: BatchNormalization, LayerNormalization, InstanceNormalization,
 *   GroupNormalization and LpNormalization nodes wherever they sit (a LayerNorm decomposed into
 *   ReduceMean/Sub/Pow/… is not recognised);
 * - `head`: the trailing run of dense layers — walking back from the last node over Gemm, MatMul
 *   and elementwise / reshaping ops, starting at the first Gemm or MatMul of that run;
 * - `early_features` / `late_features`: the remaining nodes, split in half by graph position.
 *
 * Where a prediction flips first: for an item whose predicted class differs between clean and
 * stressed input, the first layer in graph order whose r_L(i) exceeds τ_L, the `flipQuantile`
 * (default 0.9) quantile of r_L over the items whose prediction survived the same stress — the first
 * layer at which the item has moved further than (nearly) every item that kept its prediction.
 * With fewer than 5 surviving items there is no such reference and τ_L = `flipThreshold` (default
 * 0.5) for every layer; `flips.criterion` says which rule was used. Items that never exceed τ are
 * counted as `undetermined`.
 *
 * Memory: activations are fetched for `batchSize` items at a time (clean and stressed), and the
 * layers are split into groups (one ORT session each) so that one run holds at most `maxValues`
 * activation values per side; only per-item norms are kept.
 *
 * Example: `await layerSensitivity(model, clean, stressed, n)`.
 */
import type ort from 'onnxruntime-node';
import { probe } from '../autodiff/probe.js';
import type { Model } from '../engine/model.js';
import { createSession, runFloat } from '../engine/session.js';
import { checkRange, UsageError } from '../errors.js';
import { argmaxRows } from '../metrics/classification.js';
import { makeValueInfo } from '../onnx/graph.js';
import { cloneModel, DataType } from '../onnx/proto.js';
import { geometry, predictAll } from './common.js';

export type Component = 'preprocessing' | 'early_features' | 'normalization' | 'late_features' | 'head';

/** Components in the order a report shows them. */
export const COMPONENTS: readonly Component[] = ['preprocessing', 'early_features', 'normalization', 'late_features', 'head'];

const NORM_OPS = new Set(['BatchNormalization', 'LayerNormalization', 'InstanceNormalization', 'GroupNormalization', 'LpNormalization']);
const DENSE_OPS = new Set(['Gemm', 'MatMul']);
/** Ops allowed inside a classifier head besides Gemm/MatMul: elementwise, activations, reshapes. */
const HEAD_PASS = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Relu', 'LeakyRelu', 'PRelu', 'Elu', 'Selu', 'Sigmoid', 'HardSigmoid', 'Tanh', 'Gelu', 'Erf', 'Clip',
  'Softmax', 'LogSoftmax', 'Identity', 'Dropout', 'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Cast',
]);

export interface LayerInfo {
  /** The value's name in the ONNX graph. */
  name: string;
  /** Op type and name of the node producing it. */
  op: string;
  node: string;
  component: Component;
  /** Values per item. */
  elements: number;
  /** False when the value is not laid out item by item (see the module comment). */
  perItem: boolean;
  /** Mean relative change ‖a_s − a_c‖ / ‖a_c‖ over items. */
  relChange: number;
  /** r(output) / r(first input-dependent input), mean over items of the per-item ratio. */
  gain: number;
}

export interface ComponentSummary {
  component: Component;
  layers: number;
  /** Mean of its layers' relChange. */
  meanRelChange: number;
  /** Geometric mean of its layers' gains. */
  gain: number;
  /** Flipped items whose flip first shows in this component. */
  firstFlips: number;
}

export interface LayerSensitivity {
  items: number;
  /** Mean relative change of the data-domain input itself. */
  inputRelChange: number;
  /** Layers in graph order. */
  layers: LayerInfo[];
  components: ComponentSummary[];
  flips: {
    /** Items whose predicted class changed. */
    flipped: number;
    criterion: 'survivor-quantile' | 'fixed-threshold';
    /** The quantile (survivor-quantile) or threshold (fixed-threshold) used. */
    level: number;
    /** Per layer (graph order, names as `layers`): flipped items whose flip first shows there. */
    firstLayer: { layer: string; count: number }[];
    undetermined: number;
    /** Flipped items: item index, first layer name (null when undetermined). */
    perItem: { item: number; layer: string | null }[];
  };
}

export interface LayerSensitivityOptions {
  /** Items per run (default 16; a model's fixed batch dimension overrides it). */
  batchSize?: number;
  /** Most activation values one run may hold per side (default 16 M, i.e. 64 MB of float32). */
  maxValues?: number;
  /** Quantile of the survivors' r_L used as the flip threshold (default 0.9). */
  flipQuantile?: number;
  /** Fixed flip threshold when fewer than 5 items survive (default 0.5). */
  flipThreshold?: number;
  /** ORT intra-op threads for the extra sessions (0 = all cores; default 0). */
  threads?: number;
}

/** A layer found in the graph, before any activations are measured. */
export interface LayerCandidate {
  name: string;
  op: string;
  node: string;
  /** Index in the candidate list of the first input-dependent input, or -1 for the graph input. */
  from: number;
  pre: boolean;
  dtype: number;
  elements: number;
  perItem: boolean;
  nodeIndex: number;
}

/** The layers of a model, in graph order, with their components (no activations computed). */
export async function listLayers(model: Model, sample: Float32Array): Promise<LayerCandidate[]> {
  const g = model.prepared.graph;
  const input = model.decl.inputName;
  const size = sample.length;
  const pb = model.fixedBatch ?? 2;
  const x = new Float32Array(pb * size);
  for (let b = 0; b < pb; b++) x.set(sample, b * size);
  const item = model.itemShape && model.itemShape.every((d) => typeof d === 'number') ? (model.itemShape as number[]) : [size];
  const pr = await probe(model.prepared, { [input]: { data: x, dims: [pb, ...item] } }, model.label);
  const dependent = new Set([input]);
  const index = new Map<string, number>();
  const out: LayerCandidate[] = [];
  const known = new Set(model.valueNames());
  g.node.forEach((n, nodeIndex) => {
    const dep = n.input.filter((v) => v && dependent.has(v));
    if (dep.length === 0) return;
    for (const o of n.output) {
      if (!o) continue;
      dependent.add(o);
      const type = pr.types.get(o);
      const shape = pr.shapes.get(o);
      const pre = o.startsWith('gauntlet_pre_');
      if (!shape || (type !== 'float32' && type !== 'float64') || (!pre && !known.has(o))) continue;
      const total = shape.reduce((a, b) => a * b, 1);
      if (total === 0) continue;
      const perItem = shape.length > 0 && shape[0]! % pb === 0 && shape[0]! > 0;
      const from = index.get(dep[0]!) ?? -1;
      index.set(o, out.length);
      out.push({ name: o, op: n.op_type, node: n.name ?? '', from, pre, dtype: type === 'float32' ? DataType.FLOAT : DataType.DOUBLE, elements: perItem ? total / pb : total, perItem, nodeIndex });
    }
  });
  return out;
}

/** Component of each candidate (same order). */
export function components(layers: readonly { op: string; pre: boolean; nodeIndex: number }[]): Component[] {
  const out: (Component | null)[] = layers.map((l) => (l.pre ? 'preprocessing' : NORM_OPS.has(l.op) ? 'normalization' : null));
  // Head: walk back over dense / pass-through ops, then start at the first dense op of that run.
  let start = layers.length;
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i]!;
    if (l.pre || !(DENSE_OPS.has(l.op) || HEAD_PASS.has(l.op))) break;
    start = i;
  }
  while (start < layers.length && !DENSE_OPS.has(layers[start]!.op)) start++;
  for (let i = start; i < layers.length; i++) if (out[i] === null) out[i] = 'head';
  const feats = out.map((c, i) => (c === null ? i : -1)).filter((i) => i >= 0);
  feats.forEach((i, k) => (out[i] = k < Math.ceil(feats.length / 2) ? 'early_features' : 'late_features'));
  return out as Component[];
}

function quantile(sorted: readonly number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  return sorted[lo]! + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? sorted[lo]!) - sorted[lo]!);
}

/** a / b, and 1 when b is 0 (an unchanged input cannot change a deterministic output). */
function ratio(a: number, b: number): number {
  return b > 0 ? a / b : 1;
}

/**
 * Layer sensitivity of `model` between `clean` and `stressed` versions of the same `n` items
 * (data domain, row-major). Neither input is mutated.
 */
export async function layerSensitivity(model: Model, clean: Float32Array, stressed: Float32Array, n: number, opts: LayerSensitivityOptions = {}): Promise<LayerSensitivity> {
  const { size } = geometry(model, clean, n);
  if (stressed.length !== clean.length) throw new UsageError(`'stressed' must be shaped like 'clean' (${clean.length} values), got ${stressed.length}`);
  const batch = model.fixedBatch ?? (opts.batchSize === undefined ? 16 : checkRange('batchSize', opts.batchSize, { min: 1, max: 65536, integer: true }));
  const maxValues = opts.maxValues === undefined ? 16 * 2 ** 20 : checkRange('maxValues', opts.maxValues, { min: 1, integer: true });
  const q = opts.flipQuantile === undefined ? 0.9 : checkRange('flipQuantile', opts.flipQuantile, { min: 0, max: 1 });
  const fixed = opts.flipThreshold === undefined ? 0.5 : checkRange('flipThreshold', opts.flipThreshold, { min: 0 });
  const threads = opts.threads === undefined ? 0 : checkRange('threads', opts.threads, { min: 0, max: 256, integer: true });

  const cands = await listLayers(model, clean.subarray(0, size));
  const comps = components(cands);
  const L = cands.length;
  // Per-item squared norms: clean and difference, [L][n].
  const cn = Array.from({ length: L }, () => new Float64Array(n));
  const dn = Array.from({ length: L }, () => new Float64Array(n));

  // Items per run and layer groups within the value budget.
  const perItemTotal = (c: LayerCandidate) => (c.perItem ? c.elements : Math.ceil(c.elements / (model.fixedBatch ?? 2)));
  const widest = cands.reduce((m, c) => Math.max(m, perItemTotal(c)), 1);
  const items = model.fixedBatch ?? Math.max(1, Math.min(batch, Math.floor(maxValues / widest)));
  const groups: number[][] = [];
  let cur: number[] = [];
  let curSize = 0;
  cands.forEach((c, i) => {
    const s = perItemTotal(c) * items;
    if (cur.length && curSize + s > maxValues) {
      groups.push(cur);
      cur = [];
      curSize = 0;
    }
    cur.push(i);
    curSize += s;
  });
  if (cur.length) groups.push(cur);

  const item = model.itemShape && model.itemShape.every((d) => typeof d === 'number') ? (model.itemShape as number[]) : [size];
  const buf = new Float32Array(items * size);
  for (const group of groups) {
    const m = cloneModel(model.prepared);
    const names = group.map((i) => cands[i]!.name);
    const outs = new Set(m.graph.output.map((o) => o.name));
    for (const i of group) if (!outs.has(cands[i]!.name)) m.graph.output.push(makeValueInfo(cands[i]!.name, cands[i]!.dtype, null));
    const session: ort.InferenceSession = await createSession(m, model.label, { threads });
    try {
      for (let s = 0; s < n; s += items) {
        const k = Math.min(items, n - s);
        const runOn = async (x: Float32Array) => {
          const B = model.fixedBatch ?? k;
          buf.fill(0);
          buf.set(x.subarray(s * size, (s + k) * size));
          return runFloat(session, { [model.decl.inputName]: { data: buf.subarray(0, B * size), dims: [B, ...item] } }, names, model.label);
        };
        const rc = await runOn(clean);
        const rs = await runOn(stressed);
        for (const li of group) {
          const c = cands[li]!;
          const ac = rc[c.name]!;
          const as = rs[c.name]!;
          const B = model.fixedBatch ?? k;
          const lead = ac.dims[0] ?? 1;
          const per = ac.data.length / (c.perItem && lead % B === 0 && lead > 0 ? B : 1);
          if (c.perItem && lead % B === 0 && lead > 0) {
            for (let b = 0; b < k; b++) {
              let sc = 0;
              let sd = 0;
              for (let e = b * per; e < (b + 1) * per; e++) {
                const v = ac.data[e]!;
                const d = as.data[e]! - v;
                sc += v * v;
                sd += d * d;
              }
              cn[li]![s + b] = sc;
              dn[li]![s + b] = sd;
            }
          } else {
            let sc = 0;
            let sd = 0;
            for (let e = 0; e < ac.data.length; e++) {
              const v = ac.data[e]!;
              const d = as.data[e]! - v;
              sc += v * v;
              sd += d * d;
            }
            for (let b = 0; b < k; b++) {
              cn[li]![s + b] = sc;
              dn[li]![s + b] = sd;
            }
          }
        }
      }
    } finally {
      await session.release();
    }
  }

  // Input relative change per item.
  const rin = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sc = 0;
    let sd = 0;
    for (let e = i * size; e < (i + 1) * size; e++) {
      sc += clean[e]! * clean[e]!;
      sd += (stressed[e]! - clean[e]!) ** 2;
    }
    rin[i] = Math.sqrt(sd) / Math.max(Math.sqrt(sc), Number.MIN_VALUE);
  }
  const rel = cands.map((_, li) => Float64Array.from({ length: n }, (_, i) => (cn[li]![i]! > 0 ? Math.sqrt(dn[li]![i]! / cn[li]![i]!) : NaN)));
  const meanFinite = (v: ArrayLike<number>): number => {
    let s = 0;
    let c = 0;
    for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i]!)) (s += v[i]!), c++;
    return c ? s / c : 0;
  };
  const layers: LayerInfo[] = cands.map((c, li) => {
    const src = c.from < 0 ? rin : rel[c.from]!;
    const gains: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = rel[li]![i]!;
      const b = src[i]!;
      if (Number.isFinite(a) && Number.isFinite(b)) gains.push(ratio(a, b));
    }
    return {
      name: c.name,
      op: c.op,
      node: c.node,
      component: comps[li]!,
      elements: c.elements,
      perItem: c.perItem,
      relChange: meanFinite(rel[li]!),
      gain: gains.length ? gains.reduce((a, b) => a + b, 0) / gains.length : 1,
    };
  });

  // Where flips first show.
  const cp = await predictAll(model, clean, n);
  const pc = argmaxRows(cp.scores, cp.numClasses);
  const sp = await predictAll(model, stressed, n);
  const ps = argmaxRows(sp.scores, sp.numClasses);
  const flippedIdx: number[] = [];
  const survivors: number[] = [];
  for (let i = 0; i < n; i++) (pc[i] !== ps[i] ? flippedIdx : survivors).push(i);
  const useQuantile = survivors.length >= 5;
  const tau = cands.map((_, li) => {
    if (!useQuantile) return fixed;
    const v = survivors.map((i) => rel[li]![i]!).filter(Number.isFinite).sort((a, b) => a - b);
    return v.length ? quantile(v, q) : fixed;
  });
  const counts = new Array<number>(L).fill(0);
  const perItem: { item: number; layer: string | null }[] = [];
  let undetermined = 0;
  for (const i of flippedIdx) {
    let first = -1;
    for (let li = 0; li < L; li++) {
      const r = rel[li]![i]!;
      if (Number.isFinite(r) && r > tau[li]!) {
        first = li;
        break;
      }
    }
    if (first < 0) undetermined++;
    else counts[first]!++;
    perItem.push({ item: i, layer: first < 0 ? null : cands[first]!.name });
  }
  const componentSummaries: ComponentSummary[] = COMPONENTS.map((component) => {
    const idx = layers.map((l, i) => (l.component === component ? i : -1)).filter((i) => i >= 0);
    const logGain = idx.reduce((s, i) => s + Math.log(Math.max(layers[i]!.gain, 1e-12)), 0);
    return {
      component,
      layers: idx.length,
      meanRelChange: idx.length ? idx.reduce((s, i) => s + layers[i]!.relChange, 0) / idx.length : 0,
      gain: idx.length ? Math.exp(logGain / idx.length) : 1,
      firstFlips: idx.reduce((s, i) => s + counts[i]!, 0),
    };
  }).filter((c) => c.layers > 0);
  return {
    items: n,
    inputRelChange: meanFinite(rin),
    layers,
    components: componentSummaries,
    flips: {
      flipped: flippedIdx.length,
      criterion: useQuantile ? 'survivor-quantile' : 'fixed-threshold',
      level: useQuantile ? q : fixed,
      firstLayer: cands.map((c, li) => ({ layer: c.name, count: counts[li]! })),
      undetermined,
      perItem,
    },
  };
}

/** A layer × stress matrix for a heatmap: rows are layers (graph order), columns stresses. */
export interface LayerStressMatrix {
  stresses: string[];
  layers: string[];
  ops: string[];
  components: Component[];
  /** relChange[layer][stress]. */
  relChange: number[][];
  /** gain[layer][stress]. */
  gain: number[][];
}

/**
 * Joins the layer sensitivities of several stresses on one model into a layer × stress matrix.
 * Layers missing from a stress's result get 0.
 */
export function layerStressMatrix(entries: readonly { stress: string; result: LayerSensitivity }[]): LayerStressMatrix {
  const order: LayerInfo[] = [];
  const seen = new Set<string>();
  for (const e of entries) for (const l of e.result.layers) if (!seen.has(l.name)) (seen.add(l.name), order.push(l));
  const lookup = entries.map((e) => new Map(e.result.layers.map((l) => [l.name, l])));
  return {
    stresses: entries.map((e) => e.stress),
    layers: order.map((l) => l.name),
    ops: order.map((l) => l.op),
    components: order.map((l) => l.component),
    relChange: order.map((l) => lookup.map((m) => m.get(l.name)?.relChange ?? 0)),
    gain: order.map((l) => lookup.map((m) => m.get(l.name)?.gain ?? 1)),
  };
}

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
 * A value is split into items when its leading dimension is a multiple of the batch (so [n·heads, …]
 * attention reshapes count, assuming batch-major order); other values are measured over the whole
 * run's items and that ratio is given to each of them (`perItem: false`).
 *
 * `gain` of a node = r(its output) / r(its first input-dependent input), per item and averaged (the
 * graph input's own relative change when that input is the graph input or not a measured layer):
 * below 1 the node absorbs the stress, above 1 it amplifies it. A component's gain is the
 * geometric mean of its nodes' gains.
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
 * Where a prediction flips first — a nearest-class-centroid probe at every layer (in the spirit of
 * the layer probes of Alain & Bengio 2016, "Understanding intermediate layers using linear
 * classifier probes", but with class means, which need no training): for a flipped item i (clean prediction c, stressed prediction s),
 * layer L "reads s" when the stressed activation a_s(i) is nearer the centroid of the clean
 * activations of the items predicted s than that of the items predicted c (item i itself left out;
 * both from the items given); the model output itself reads s by definition (its argmax flipped).
 * The flip first shows at the earliest layer from which every later probed layer (graph order)
 * reads s — where the representation crosses over for good; the output layer itself means only the
 * final readout flips. Items whose classes have too few clean items among those given (c needs one
 * besides i, s needs one) are `undetermined`; values not laid out per item are not probed.
 *
 * Memory: activations are fetched for `batchSize` items at a time (clean and stressed), and the
 * layers are split into groups (one ORT session each) so that one run plus the probe's centroids
 * (one per class involved in a flip) hold at most about `maxValues` values per side; only per-item
 * norms and verdicts are kept. With flips, each group makes one extra clean pass for the centroids.
 *
 * Example: `await layerSensitivity(model, clean, stressed, n)`.
 */
import type ort from 'onnxruntime-node';
import { probe } from '../autodiff/probe.js';
import type { Model } from '../engine/model.js';
import { createSession, runFloat } from '../engine/session.js';
import { checkRange, UsageError } from '../errors.js';
import { argmaxRows } from '../metrics/classification.js';
import { bootstrapWeights, percentileCi } from '../metrics/suite.js';
import { makeValueInfo } from '../onnx/graph.js';
import { cloneModel, DataType } from '../onnx/proto.js';
import type { Rng } from '../rng.js';
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
  /** 95 % percentile-bootstrap CIs [lo, hi] of relChange and gain over items (with `opts.rng`). */
  relChangeCi?: [number, number];
  gainCi?: [number, number];
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
  /** 95 % bootstrap CIs [lo, hi] of meanRelChange and gain (the same item resamples as the layers'). */
  meanRelChangeCi?: [number, number];
  gainCi?: [number, number];
}

export interface LayerSensitivity {
  items: number;
  /** Mean relative change of the data-domain input itself. */
  inputRelChange: number;
  /** Its 95 % bootstrap CI [lo, hi] (with `opts.rng`). */
  inputRelChangeCi?: [number, number];
  /** Layers in graph order. */
  layers: LayerInfo[];
  components: ComponentSummary[];
  flips: {
    /** Items whose predicted class changed. */
    flipped: number;
    /** How the first layer is found (see the module comment). */
    criterion: 'centroid-probe';
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
  /** ORT intra-op threads for the extra sessions (0 = all cores; default 0). */
  threads?: number;
  /**
   * Draws item resamples for 95 % percentile-bootstrap CIs of every relChange, gain and component
   * figure (one set of resamples for all, so they are paired); without it there are no CIs.
   */
  rng?: Rng;
  /** Bootstrap resamples (default 1000). */
  resamples?: number;
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

/** a / b, and 1 when b is 0 (an unchanged input cannot change a deterministic output). */
/** Mean of the finite values of `v`, item i counted w[i] times (w null: once); `empty` when none. */
function finiteMean(v: ArrayLike<number>, w: ArrayLike<number> | null, empty: number): number {
  let s = 0;
  let c = 0;
  for (let i = 0; i < v.length; i++) {
    const wi = w ? w[i]! : 1;
    if (wi && Number.isFinite(v[i]!)) (s += wi * v[i]!), (c += wi);
  }
  return c ? s / c : empty;
}

/** A component's relChange: the mean of its layers' (0 without layers). */
function componentRelChange(idx: readonly number[], relChange: readonly number[]): number {
  return idx.length ? idx.reduce((s, i) => s + relChange[i]!, 0) / idx.length : 0;
}

/** A component's gain: the geometric mean of its layers' (1 without layers). */
function componentGain(idx: readonly number[], gain: readonly number[]): number {
  return idx.length ? Math.exp(idx.reduce((s, i) => s + Math.log(Math.max(gain[i]!, 1e-12)), 0) / idx.length) : 1;
}

function ratio(a: number, b: number): number {
  return b > 0 ? a / b : 1;
}

/** Squared norms of a value's item slices (or of the whole run when not per item). */
function itemNorms(c: LayerCandidate, ac: Float32Array, as: Float32Array, lead: number, k: number, B: number, cn: Float64Array, dn: Float64Array, s: number): void {
  const split = c.perItem && lead > 0 && lead % B === 0;
  const per = ac.length / (split ? B : 1);
  const parts = split ? k : 1;
  for (let b = 0; b < parts; b++) {
    let sc = 0;
    let sd = 0;
    for (let e = b * per; e < (b + 1) * per; e++) {
      const v = ac[e]!;
      const d = as[e]! - v;
      sc += v * v;
      sd += d * d;
    }
    if (split) {
      cn[s + b] = sc;
      dn[s + b] = sd;
    } else {
      cn.fill(sc, s, s + k);
      dn.fill(sd, s, s + k);
    }
  }
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
  const threads = opts.threads === undefined ? 0 : checkRange('threads', opts.threads, { min: 0, max: 256, integer: true });

  // Predictions first: the flipped items and the classes whose centroids the probe needs.
  const cp = await predictAll(model, clean, n);
  const pc = argmaxRows(cp.scores, cp.numClasses);
  const sp = await predictAll(model, stressed, n);
  const ps = argmaxRows(sp.scores, sp.numClasses);
  const flipped: number[] = [];
  for (let i = 0; i < n; i++) if (pc[i] !== ps[i]) flipped.push(i);
  const slotOf = new Map<number, number>();
  for (const i of flipped) for (const c of [pc[i]!, ps[i]!]) if (!slotOf.has(c)) slotOf.set(c, slotOf.size);
  const classCount = new Map<number, number>();
  for (let i = 0; i < n; i++) classCount.set(pc[i]!, (classCount.get(pc[i]!) ?? 0) + 1);

  const cands = await listLayers(model, clean.subarray(0, size));
  const comps = components(cands);
  const L = cands.length;
  // Per-item squared norms, clean and difference, [L][n]; probe verdicts for flipped items [L][n]
  // (1 nearer the stressed class, 0 nearer the clean class, -1 cannot tell).
  const cn = Array.from({ length: L }, () => new Float64Array(n));
  const dn = Array.from({ length: L }, () => new Float64Array(n));
  const verdict = Array.from({ length: L }, () => new Int8Array(n).fill(-1));

  // Items per run and layer groups within the value budget (centroids count against it too).
  const perItemTotal = (c: LayerCandidate) => (c.perItem ? c.elements : Math.ceil(c.elements / (model.fixedBatch ?? 2)));
  const widest = cands.reduce((m, c) => Math.max(m, perItemTotal(c)), 1);
  const items = model.fixedBatch ?? Math.max(1, Math.min(batch, Math.floor(maxValues / widest)));
  const groups: number[][] = [];
  let cur: number[] = [];
  let curSize = 0;
  cands.forEach((c, i) => {
    const v = perItemTotal(c) * (items + slotOf.size);
    if (cur.length && curSize + v > maxValues) {
      groups.push(cur);
      cur = [];
      curSize = 0;
    }
    cur.push(i);
    curSize += v;
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
    const runOn = async (x: Float32Array, s: number, k: number) => {
      const B = model.fixedBatch ?? k;
      buf.fill(0);
      buf.set(x.subarray(s * size, (s + k) * size));
      return runFloat(session, { [model.decl.inputName]: { data: buf.subarray(0, B * size), dims: [B, ...item] } }, names, model.label);
    };
    /** Item b's slice of a per-item value, or null when the value is not laid out per item. */
    const slice = (c: LayerCandidate, v: { data: Float32Array; dims: number[] }, b: number, B: number): Float32Array | null => {
      const lead = v.dims[0] ?? 0;
      if (!(c.perItem && lead > 0 && lead % B === 0)) return null;
      const per = v.data.length / B;
      return v.data.subarray(b * per, (b + 1) * per);
    };
    try {
      // Pass 1 (only with flips): class centroids of the clean activations, by clean prediction.
      const sums = new Map<number, Float64Array[]>();
      if (flipped.length) {
        for (let s = 0; s < n; s += items) {
          const k = Math.min(items, n - s);
          const B = model.fixedBatch ?? k;
          const rc = await runOn(clean, s, k);
          for (const li of group) {
            const c = cands[li]!;
            for (let b = 0; b < k; b++) {
              const slot = slotOf.get(pc[s + b]!);
              if (slot === undefined) continue;
              const a = slice(c, rc[c.name]!, b, B);
              if (!a) continue;
              let acc = sums.get(li);
              if (!acc) sums.set(li, (acc = Array.from({ length: slotOf.size }, () => new Float64Array(a.length))));
              const t = acc[slot]!;
              for (let e = 0; e < a.length; e++) t[e]! += a[e]!;
            }
          }
        }
      }
      // Pass 2: norms for every item; probe verdicts for flipped items.
      for (let s = 0; s < n; s += items) {
        const k = Math.min(items, n - s);
        const B = model.fixedBatch ?? k;
        const rc = await runOn(clean, s, k);
        const rs = await runOn(stressed, s, k);
        for (const li of group) {
          const c = cands[li]!;
          const ac = rc[c.name]!;
          itemNorms(c, ac.data, rs[c.name]!.data, ac.dims[0] ?? 1, k, B, cn[li]!, dn[li]!, s);
          const acc = sums.get(li);
          if (!acc) continue;
          for (let b = 0; b < k; b++) {
            const i = s + b;
            const yc = pc[i]!;
            const ys = ps[i]!;
            if (yc === ys) continue;
            const nc = classCount.get(yc) ?? 0; // includes item i itself, left out below
            const ns = classCount.get(ys) ?? 0;
            const a = slice(c, ac, b, B);
            const z = slice(c, rs[c.name]!, b, B);
            if (!a || !z || nc < 2 || ns < 1) continue;
            const mc = acc[slotOf.get(yc)!]!;
            const ms = acc[slotOf.get(ys)!]!;
            let dc = 0;
            let ds = 0;
            for (let e = 0; e < z.length; e++) {
              const uc = (mc[e]! - a[e]!) / (nc - 1);
              const us = ms[e]! / ns;
              dc += (z[e]! - uc) ** 2;
              ds += (z[e]! - us) ** 2;
            }
            verdict[li]![i] = ds < dc ? 1 : 0;
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
    rin[i] = sc > 0 ? Math.sqrt(sd / sc) : NaN;
  }
  const rel = cands.map((_, li) => Float64Array.from({ length: n }, (_, i) => (cn[li]![i]! > 0 ? Math.sqrt(dn[li]![i]! / cn[li]![i]!) : NaN)));
  // Per item and layer: gain r(output) / r(source), NaN where either is undefined.
  const gain = cands.map((c, li) => {
    const src = c.from < 0 ? rin : rel[c.from]!;
    return Float64Array.from({ length: n }, (_, i) => (Number.isFinite(rel[li]![i]!) && Number.isFinite(src[i]!) ? ratio(rel[li]![i]!, src[i]!) : NaN));
  });
  const layers: LayerInfo[] = cands.map((c, li) => ({
    name: c.name,
    op: c.op,
    node: c.node,
    component: comps[li]!,
    elements: c.elements,
    perItem: c.perItem,
    relChange: finiteMean(rel[li]!, null, 0),
    gain: finiteMean(gain[li]!, null, 1),
  }));
  // Where each flip first shows: the earliest probed layer from which every later probed layer
  // puts the stressed activation nearer the stressed class.
  const counts = new Array<number>(L).fill(0);
  const perItem: { item: number; layer: string | null }[] = [];
  let undetermined = 0;
  const outIndex = cands.findIndex((c) => c.name === model.decl.outputName);
  for (const i of flipped) {
    const known = (classCount.get(pc[i]!) ?? 0) >= 2 && (classCount.get(ps[i]!) ?? 0) >= 1;
    // The output's own readout is the model's decision, which flipped.
    if (known && outIndex >= 0) verdict[outIndex]![i] = 1;
    const probed = known ? cands.map((_, li) => li).filter((li) => verdict[li]![i]! >= 0) : [];
    let first = -1;
    for (let k = probed.length - 1; k >= 0 && verdict[probed[k]!]![i] === 1; k--) first = probed[k]!;
    if (first < 0) undetermined++;
    else counts[first]!++;
    perItem.push({ item: i, layer: first < 0 ? null : cands[first]!.name });
  }
  const compIdx = COMPONENTS.map((component) => layers.map((l, i) => (l.component === component ? i : -1)).filter((i) => i >= 0));
  const componentSummaries: ComponentSummary[] = COMPONENTS.map((component, ci) => {
    const idx = compIdx[ci]!;
    return {
      component,
      layers: idx.length,
      meanRelChange: componentRelChange(idx, layers.map((l) => l.relChange)),
      gain: componentGain(idx, layers.map((l) => l.gain)),
      firstFlips: idx.reduce((s, i) => s + counts[i]!, 0),
    };
  });
  let inputRelChangeCi: [number, number] | undefined;
  if (opts.rng) {
    const resamples = opts.resamples === undefined ? 1000 : checkRange('resamples', opts.resamples, { min: 1, max: 1_000_000, integer: true });
    const boot = bootstrapWeights(n, resamples, opts.rng);
    const relBoot = rel.map((v) => boot.map((w) => finiteMean(v, w, 0)));
    const gainBoot = gain.map((v) => boot.map((w) => finiteMean(v, w, 1)));
    layers.forEach((l, li) => {
      l.relChangeCi = percentileCi(relBoot[li]!);
      l.gainCi = percentileCi(gainBoot[li]!);
    });
    componentSummaries.forEach((c, ci) => {
      const idx = compIdx[ci]!;
      c.meanRelChangeCi = percentileCi(boot.map((_, b) => componentRelChange(idx, relBoot.map((r) => r[b]!))));
      c.gainCi = percentileCi(boot.map((_, b) => componentGain(idx, gainBoot.map((g) => g[b]!))));
    });
    inputRelChangeCi = percentileCi(boot.map((w) => finiteMean(rin, w, 0)));
  }
  return {
    items: n,
    inputRelChange: finiteMean(rin, null, 0),
    ...(inputRelChangeCi ? { inputRelChangeCi } : {}),
    layers,
    components: componentSummaries.filter((c) => c.layers > 0),
    flips: {
      flipped: flipped.length,
      criterion: 'centroid-probe',
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

import { UnsupportedOpError } from '../errors.js';
import { attrFloat, attrInt, attrInts, attrString, defaultOpset, makeAttr } from './graph.js';
import { cloneModel, num, type GraphP, type ModelP, type NodeP, type TensorP } from './proto.js';
import { floatTensor, int64Tensor } from './tensor.js';

/** The opset the gradient engine's rules emit for; older models are upgraded to it in memory. */
export const GRADIENT_MIN_OPSET = 11;
/** The oldest opset `upgradeOpset` takes. */
export const UPGRADE_FROM_OPSET = 7;

export interface UpgradedModel {
  model: ModelP;
  /** What was changed, one line per op type (empty when the model was already at `GRADIENT_MIN_OPSET` or later). */
  notes: string[];
}

/**
 * Rewrites a model of opset 7–10 as opset 11 (a copy; the input is not modified), changing the
 * ops whose signature changed on the way: Pad (pads and value as inputs), Clip (min and max as
 * inputs), Slice before 10 (starts, ends and axes as inputs), Upsample and Resize-10 (as Resize-11,
 * asymmetric coordinates, nearest rounding down, as they computed), TopK-1 (k as an input),
 * Scatter (as ScatterElements), BatchNormalization (the removed `spatial` and `is_test`
 * attributes dropped). Every other op of these opsets means the same at opset 11. Bodies of If and
 * Loop are rewritten too. Throws UnsupportedOpError for opsets before 7 and for ops it cannot
 * upgrade (Scan-8, BatchNormalization with spatial = 0).
 */
export function upgradeOpset(model: ModelP, label: string): UpgradedModel {
  const from = defaultOpset(model);
  if (from >= GRADIENT_MIN_OPSET) return { model, notes: [] };
  if (from < UPGRADE_FROM_OPSET) throw new UnsupportedOpError([], `${label} has opset ${from}; opsets ${UPGRADE_FROM_OPSET}–10 are upgraded to ${GRADIENT_MIN_OPSET} in memory, older ones are not supported`);
  const m: ModelP = { ...model, graph: { ...model.graph }, opset_import: model.opset_import.map((o) => (!o.domain || o.domain === 'ai.onnx' ? { ...o, version: GRADIENT_MIN_OPSET } : o)) };
  if (num(m.ir_version) < 6) m.ir_version = 6;
  const counts = new Map<string, number>();
  const bad: { opType: string; nodeName: string; reason: string }[] = [];
  let k = 0;
  const fresh = (hint: string) => `gauntlet_up_${hint}_${k++}`;
  const rewrite = (g: GraphP): GraphP => {
    const inits: TensorP[] = [];
    const nodes = g.node.map((n) => {
      const sub = n.attribute.some((a) => a.g || a.graphs?.length)
        ? { ...n, attribute: n.attribute.map((a) => (a.g ? { ...a, g: rewrite(a.g) } : a.graphs?.length ? { ...a, graphs: a.graphs.map(rewrite) } : a)) }
        : n;
      const r = upgradeNode(sub, from, (t) => {
        inits.push(t);
        return t.name!;
      }, fresh);
      if (typeof r === 'string') {
        bad.push({ opType: n.op_type, nodeName: n.name ?? '', reason: r });
        return n;
      }
      if (r !== sub) counts.set(n.op_type, (counts.get(n.op_type) ?? 0) + 1);
      return r;
    });
    return { ...g, node: nodes, initializer: [...g.initializer, ...inits] };
  };
  m.graph = rewrite(model.graph);
  if (bad.length > 0) throw new UnsupportedOpError(bad);
  const what: Record<string, string> = {
    Pad: 'pads and value as inputs',
    Clip: 'min and max as inputs',
    Slice: 'starts, ends and axes as inputs',
    Upsample: 'as Resize (asymmetric, nearest rounding down)',
    Resize: 'roi input added (asymmetric, nearest rounding down)',
    TopK: 'k as an input',
    Scatter: 'as ScatterElements',
    BatchNormalization: 'removed attributes spatial/is_test dropped',
  };
  const notes = [...counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([op, c]) => `${op} (${c} node${c > 1 ? 's' : ''}): ${what[op] ?? 'upgraded'}`);
  return { model: m, notes: [`opset ${from} upgraded to ${GRADIENT_MIN_OPSET} in memory${notes.length ? `: ${notes.join('; ')}` : ' (no op needed a change)'}`] };
}

/** The first opset whose ScatterElements adds (`reduction`), which MaxPool's scatter route needs. */
export const SCATTER_ADD_OPSET = 16;

/**
 * The opset a gradient graph is built at, raising the model copy `m` (changed in place) from
 * 13–15 to 16 when it has a MaxPool, so that the gradient of overlapping windows is one
 * ScatterElements that adds (rules/maxpool/unpool.ts) rather than a MaxUnpool per group of windows.
 * Opsets 14–16 gave a classifier's ops new types, new ops and attributes whose defaults keep the
 * old meaning; the one op whose meaning changed, RoiAlign (its coordinate mode's default), keeps
 * the model at its own opset, as does a BatchNormalization that lists its running statistics as
 * outputs (opset 14 allows them only in training mode), and so do models before 13 (13 changed
 * Softmax, Split, Squeeze, …) and models without a MaxPool. The forward values are those of the
 * model's own opset.
 */
export function gradientOpset(m: ModelP): number {
  const from = defaultOpset(m);
  if (from < 13 || from >= SCATTER_ADD_OPSET) return from;
  const ops = new Set<string>();
  const walk = (g: GraphP): void => {
    for (const n of g.node) {
      if (!n.domain || n.domain === 'ai.onnx') ops.add(n.op_type);
      // BatchNormalization-14 has no inference outputs beyond Y (9–13 allowed running statistics).
      if (n.op_type === 'BatchNormalization' && n.output.slice(1).some(Boolean)) ops.add('BatchNormalization with statistics outputs');
      for (const a of n.attribute) for (const sub of a.g ? [a.g] : a.graphs ?? []) walk(sub);
    }
  };
  walk(m.graph);
  if (!ops.has('MaxPool') || ops.has('RoiAlign') || ops.has('BatchNormalization with statistics outputs')) return from;
  m.opset_import = m.opset_import.map((o) => (!o.domain || o.domain === 'ai.onnx' ? { ...o, version: SCATTER_ADD_OPSET } : o));
  return SCATTER_ADD_OPSET;
}

/**
 * The copy of `model` that a gradient or training graph is built in: opsets 7–10 upgraded to 11
 * (`upgradeOpset`, whose notes come back), then raised by `gradientOpset`, whose opset the rules emit for.
 */
export function gradientModel(model: ModelP, label: string): { model: ModelP; opset: number; notes: string[] } {
  const up = upgradeOpset(model, label);
  const m = cloneModel(up.model);
  return { model: m, opset: gradientOpset(m), notes: up.notes };
}

/** One node at opset 11, the same node when nothing changed, or a string saying why it cannot be upgraded. */
function upgradeNode(n: NodeP, from: number, init: (t: TensorP) => string, fresh: (hint: string) => string): NodeP | string {
  if (n.domain && n.domain !== 'ai.onnx') return n;
  const drop = (...names: string[]) => n.attribute.filter((a) => !names.includes(a.name));
  switch (n.op_type) {
    case 'Pad': {
      const pads = attrInts(n, 'pads') ?? [];
      const value = attrFloat(n, 'value', 0);
      const inputs = [n.input[0]!, init(int64Tensor(fresh('pads'), pads))];
      if (value !== 0) inputs.push(init(floatTensor(fresh('pad_value'), [value], [])));
      return { ...n, input: inputs, attribute: drop('pads', 'value') };
    }
    case 'Clip': {
      const lo = attrFloat(n, 'min');
      const hi = attrFloat(n, 'max');
      if (lo === undefined && hi === undefined) return n;
      const inputs = [n.input[0]!, lo === undefined ? '' : init(floatTensor(fresh('clip_min'), [lo], [])), hi === undefined ? '' : init(floatTensor(fresh('clip_max'), [hi], []))];
      while (inputs[inputs.length - 1] === '') inputs.pop();
      return { ...n, input: inputs, attribute: drop('min', 'max') };
    }
    case 'Slice': {
      if (from >= 10) return n;
      const starts = attrInts(n, 'starts') ?? [];
      const ends = attrInts(n, 'ends') ?? [];
      const axes = attrInts(n, 'axes');
      const inputs = [n.input[0]!, init(int64Tensor(fresh('starts'), starts)), init(int64Tensor(fresh('ends'), ends))];
      if (axes) inputs.push(init(int64Tensor(fresh('axes'), axes)));
      return { ...n, input: inputs, attribute: drop('starts', 'ends', 'axes') };
    }
    case 'Upsample':
    case 'Resize': {
      const mode = attrString(n, 'mode', 'nearest');
      if (mode !== 'nearest' && mode !== 'linear' && mode !== 'bilinear') return `${n.op_type} mode '${mode}' has no opset 11 equivalent here`;
      let scales = n.input[1];
      if (n.op_type === 'Upsample' && !scales) {
        const s = n.attribute.find((a) => a.name === 'scales')?.floats ?? [];
        scales = init(floatTensor(fresh('scales'), [...s]));
      }
      const roi = init(floatTensor(fresh('roi'), [], [0]));
      return {
        ...n,
        op_type: 'Resize',
        input: [n.input[0]!, roi, scales!],
        attribute: [makeAttr('mode', mode === 'nearest' ? 'nearest' : 'linear'), makeAttr('coordinate_transformation_mode', 'asymmetric'), ...(mode === 'nearest' ? [makeAttr('nearest_mode', 'floor')] : [])],
      };
    }
    case 'TopK': {
      if (from >= 10) return n;
      const kk = attrInt(n, 'k', 1);
      return { ...n, input: [n.input[0]!, init(int64Tensor(fresh('k'), [kk]))], attribute: drop('k') };
    }
    case 'Scatter':
      return { ...n, op_type: 'ScatterElements' };
    case 'BatchNormalization': {
      if (attrInt(n, 'spatial', 1) === 0) return 'BatchNormalization with spatial = 0 (per-element statistics) has no opset 11 equivalent';
      if (!n.attribute.some((a) => a.name === 'spatial' || a.name === 'is_test')) return n;
      return { ...n, attribute: drop('spatial', 'is_test') };
    }
    case 'Scan':
      if (from < 9) return 'Scan-8 (with a sequence_lens input) has no opset 11 equivalent here';
      return n;
    default:
      return n;
  }
}

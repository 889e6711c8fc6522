import ort from 'onnxruntime-node';
import { buildBackward } from '../autodiff/backward.js';
import { lowerForGradient } from '../autodiff/lower.js';
import { nodeReads } from '../onnx/subgraph.js';
import { gradientModel } from '../onnx/upgrade.js';
import { Emit } from '../autodiff/context.js';
import type { GradientOptions } from '../autodiff/options.js';
import { probe, type Feed } from '../autodiff/probe.js';
import { ModelError, UnsupportedOpError, UsageError } from '../errors.js';
import { GraphBuilder } from '../onnx/builder.js';
import { attrFloat, constantTensors, makeNode, makeValueInfo } from '../onnx/graph.js';
import { DataType, dtypeName, num, type GraphP, type ModelP, type NodeP } from '../onnx/proto.js';
import { decodeTensor, tensorValues } from '../onnx/tensor.js';
import { Rng } from '../rng.js';
import { softTargetCrossEntropy, type TrainingLossHead } from './loss.js';

/**
 * The training graph: forward (optionally in training mode) + loss head + backward to the
 * trainable parameters, one standard ONNX model that ONNX Runtime runs in one `run()` per step.
 *
 * Trainable parameters become graph INPUTS (their initializers removed), so a trainer feeds the
 * current values each step without rebuilding the session. Names in `feeds` and `outputs` are
 * the graph's input and output names.
 */
export interface TrainingGraph {
  model: ModelP;
  feeds: {
    /** The data input, float32 [batch, ...itemShape] (data domain: preprocessing already folded). */
    x: string;
    /** Soft targets, float32 [batch, K]: one-hot rows for hard labels. */
    targets: string;
    /** Per-item loss weights, float32 [batch]. */
    weights: string;
    /** Per-item loss state, float32 [batch, K], for a stateful loss head (ELR); null otherwise. */
    state: string | null;
    /** Trainable parameter (initializer name) → graph input that carries its current value. */
    params: Map<string, string>;
    /** One mask input per active Dropout (train mode): values 0 or 1/(1 − p), see `dropoutMask`. */
    dropout: { input: string; shape: number[]; p: number }[];
  };
  outputs: {
    /** Scalar: Σ_i w_i·CE_i / Σ_i w_i (PyTorch's batch-mean cross-entropy when w = 1). */
    loss: string;
    /** Per-item loss CE_i, [batch]. */
    perItemLoss: string;
    /** The model's scores (its own output, logits or probabilities), [batch, K]. */
    scores: string;
    /** Trainable parameter → output holding d(loss)/d(parameter), the parameter's shape (empty with `paramGrads: false`). */
    grads: Map<string, string>;
    /** d(loss)/d(x), [batch, ...itemShape], with `inputGrad`; null otherwise. */
    inputGrad: string | null;
    /** A stateful loss head's new per-item state, [batch, K]; null otherwise. */
    state: string | null;
    /**
     * Train mode (BatchNorm not frozen): per BatchNormalization node, the outputs holding its new
     * running mean and variance after this batch, and the initializers they replace.
     */
    bnRunning: { node: string; mean: string; var: string; meanInit: string; varInit: string }[];
  };
}

export interface TrainingGraphOptions {
  input: string;
  output: string;
  outputKind: 'logits' | 'probabilities';
  /** Initializer names to train (see `trainableParams`, `matchParams`): graph inputs, differentiated unless `paramGrads` is false. */
  params: string[];
  /** Other initializers to feed as graph inputs without a gradient (BatchNorm running statistics of an inference-mode graph whose weights change). */
  fedConstants?: string[];
  /** Also output d(loss)/d(x) (an adversarial-training attack step). Default false. */
  inputGrad?: boolean;
  /** Output the parameters' gradients (default true; false for an attack graph that only needs d/dx, or, without `inputGrad`, a forward-only graph). */
  paramGrads?: boolean;
  /** PyTorch's `model.train()`: BatchNorm on batch statistics, Dropout active. */
  trainMode: boolean;
  /** In train mode, keep BatchNorm on its running (inference) statistics; Dropout stays active. */
  freezeBn?: boolean;
  batch: number;
  itemShape: number[];
  /** The loss head (default: soft-target cross-entropy, `softTargetCrossEntropy`). */
  loss?: TrainingLossHead;
  /** Names the model in errors. */
  label?: string;
  /** The gradient rules' options (`GRADIENT_OPTIONS`: MaxPool's tie rule, first maximum by default). */
  gradient?: Partial<GradientOptions>;
}

export const TRAIN_INPUTS = { targets: 'gauntlet_targets', weights: 'gauntlet_weights', state: 'gauntlet_loss_state' } as const;
export const TRAIN_OUTPUTS = { loss: 'gauntlet_loss', perItem: 'gauntlet_item_loss', inputGrad: 'gauntlet_grad_input', state: 'gauntlet_loss_state_out' } as const;
const GRAD_PREFIX = 'gauntlet_grad.';

/**
 * Builds the training graph of `model` (preprocessing already folded) for batches of exactly
 * `opts.batch` items of shape `opts.itemShape`.
 *
 * Train mode (`trainMode: true`) rewrites the forward first (`toTrainingMode`): BatchNormalization
 * on the batch's own statistics with its running statistics updated as PyTorch does, Dropout as a
 * multiplication by a mask fed as a graph input. With `freezeBn`, BatchNorm keeps its inference
 * statistics (and its scale and bias still train).
 */
export async function buildTrainingGraph(model: ModelP, opts: TrainingGraphOptions): Promise<TrainingGraph> {
  const label = opts.label ?? 'model';
  if (!Number.isInteger(opts.batch) || opts.batch < 1) throw new UsageError(`'batch' must be a positive integer, got ${opts.batch}`);
  const paramGrads = opts.paramGrads ?? true;
  if (paramGrads && opts.params.length === 0) throw new ModelError(`${label}: no parameter to train (the list of trainable parameters is empty)`);
  const { model: m, opset } = gradientModel(model, label);
  const g = m.graph;
  if (!g.input.some((i) => i.name === opts.input)) throw new ModelError(`${label}: no graph input named '${opts.input}'`);
  const dims = [opts.batch, ...opts.itemShape];
  const initial = paramsToInputs(g, [...opts.params, ...(opts.fedConstants ?? [])], label);

  const rng = new Rng('gauntlet-training-graph-probe');
  const x = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rng.uniform());
  const feeds: Record<string, Feed> = { [opts.input]: { data: x, dims } };
  for (const [name, t] of initial) feeds[name] = t;

  let dropout: TrainingGraph['feeds']['dropout'] = [];
  let bnRunning: TrainingGraph['outputs']['bnRunning'] = [];
  if (opts.trainMode && g.node.some((n) => n.op_type === 'Dropout' || (n.op_type === 'BatchNormalization' && !opts.freezeBn))) {
    const shapes = (await probe(m, feeds, label)).shapes;
    ({ dropout, bnRunning } = toTrainingMode(g, shapes, opset, { freezeBn: opts.freezeBn ?? false, label }));
    for (const d of dropout) feeds[d.input] = { data: new Float32Array(d.shape.reduce((a, b) => a * b, 1)).fill(1), dims: d.shape };
  }

  const { probe: pr } = await lowerForGradient(m, feeds, label);
  const b = new GraphBuilder(g, 'gauntlet_tr_');
  const e = new Emit(b, opset);
  const scoresShape = pr.shapes.get(opts.output);
  if (!scoresShape || scoresShape.length !== 2) throw new ModelError(`${label}: output ${opts.output} must be [batch, classes] for a loss head`);
  const k = scoresShape[1]!;
  let z = opts.output;
  if (opts.outputKind === 'probabilities') z = e.op('Log', [e.op('Max', [opts.output, b.scalarF(1e-12)])], {}, 'log_probs');
  const lossHead = opts.loss ?? softTargetCrossEntropy;
  const head = lossHead(e, b, z, k, { targets: TRAIN_INPUTS.targets, weights: TRAIN_INPUTS.weights, state: TRAIN_INPUTS.state });
  let seed = head.seed;
  if (opts.outputKind === 'probabilities') seed = e.op('Div', [head.seed, e.op('Max', [opts.output, b.scalarF(1e-12)])], {}, 'dprobs');
  let grads: Map<string, string>;
  try {
    const wrt = [...(paramGrads ? opts.params : []), ...(opts.inputGrad ? [opts.input] : [])];
    // Neither gradient: a forward-only graph (train-mode scores, loss and BatchNorm statistics).
    grads = wrt.length ? buildBackward({ graph: g, probe: pr, b, opset, wrt, seeds: new Map([[opts.output, seed]]), options: opts.gradient }) : new Map();
  } catch (err) {
    if (err instanceof UnsupportedOpError) throw new UnsupportedOpError(err.ops, err.modelReason, `${label} cannot be trained through it (freeze the parameters behind it)`);
    throw err;
  }
  g.node = [...g.node, ...b.nodes];
  g.initializer = [...g.initializer, ...b.initializers];

  g.input = g.input.map((v) => (v.name === opts.input ? makeValueInfo(opts.input, DataType.FLOAT, dims) : v));
  g.input.push(makeValueInfo(TRAIN_INPUTS.targets, DataType.FLOAT, [opts.batch, k]), makeValueInfo(TRAIN_INPUTS.weights, DataType.FLOAT, [opts.batch]));
  if (head.stateOut) g.input.push(makeValueInfo(TRAIN_INPUTS.state, DataType.FLOAT, [opts.batch, k]));
  const outNodes: NodeP[] = [];
  const identity = (from: string, to: string) => outNodes.push(makeNode('Identity', [from], [to], {}, `${to}_out`));
  identity(head.loss, TRAIN_OUTPUTS.loss);
  identity(head.perItem, TRAIN_OUTPUTS.perItem);
  const gradOut = new Map<string, string>();
  const outputs = [makeValueInfo(opts.output, DataType.FLOAT, [opts.batch, k]), makeValueInfo(TRAIN_OUTPUTS.loss, DataType.FLOAT, []), makeValueInfo(TRAIN_OUTPUTS.perItem, DataType.FLOAT, [opts.batch])];
  if (head.stateOut) {
    identity(head.stateOut, TRAIN_OUTPUTS.state);
    outputs.push(makeValueInfo(TRAIN_OUTPUTS.state, DataType.FLOAT, [opts.batch, k]));
  }
  if (opts.inputGrad) {
    identity(grads.get(opts.input)!, TRAIN_OUTPUTS.inputGrad);
    outputs.push(makeValueInfo(TRAIN_OUTPUTS.inputGrad, DataType.FLOAT, dims));
  }
  for (const p of paramGrads ? opts.params : []) {
    const name = `${GRAD_PREFIX}${p}`;
    identity(grads.get(p)!, name);
    gradOut.set(p, name);
    outputs.push(makeValueInfo(name, DataType.FLOAT, initial.get(p)!.dims as number[]));
  }
  for (const r of bnRunning) {
    const c = pr.shapes.get(r.mean) ?? null;
    outputs.push(makeValueInfo(r.mean, DataType.FLOAT, c), makeValueInfo(r.var, DataType.FLOAT, c));
  }
  g.node.push(...outNodes);
  g.output = outputs;
  return {
    model: m,
    feeds: { x: opts.input, targets: TRAIN_INPUTS.targets, weights: TRAIN_INPUTS.weights, state: head.stateOut ? TRAIN_INPUTS.state : null, params: new Map([...opts.params, ...(opts.fedConstants ?? [])].map((p) => [p, p])), dropout },
    outputs: { loss: TRAIN_OUTPUTS.loss, perItemLoss: TRAIN_OUTPUTS.perItem, scores: opts.output, grads: gradOut, inputGrad: opts.inputGrad ? TRAIN_OUTPUTS.inputGrad : null, state: head.stateOut ? TRAIN_OUTPUTS.state : null, bnRunning },
  };
}

/** Moves the named float initializers to graph inputs (same names); returns their initial values. */
function paramsToInputs(g: GraphP, params: readonly string[], label: string): Map<string, Feed & { data: Float32Array }> {
  const inits = new Map(g.initializer.map((t) => [t.name ?? '', t]));
  const out = new Map<string, Feed & { data: Float32Array }>();
  const seen = new Set<string>();
  for (const p of params) {
    if (seen.has(p)) throw new UsageError(`parameter '${p}' is listed twice`);
    seen.add(p);
    const t = inits.get(p);
    if (!t) throw new ModelError(`${label}: no initializer named '${p}' to train`);
    if (t.data_type !== DataType.FLOAT) throw new ModelError(`${label}: initializer '${p}' is ${dtypeName(t.data_type)}, not float32; only float32 parameters train`);
    const d = decodeTensor(t).data as Float32Array;
    const dims = (t.dims ?? []).map(num);
    out.set(p, { data: Float32Array.from(d), dims });
  }
  g.initializer = g.initializer.filter((t) => !seen.has(t.name ?? ''));
  g.input = g.input.filter((i) => !seen.has(i.name));
  for (const [p, f] of out) g.input.push(makeValueInfo(p, DataType.FLOAT, [...f.dims]));
  return out;
}

/**
 * Rewrites a graph's forward into PyTorch's training mode (in place), for the probed shapes:
 *
 * - every BatchNormalization (unless `freezeBn`) becomes standard ops on the batch's statistics
 *   over the batch and spatial axes, exactly as PyTorch's `model.train()`: μ_B = mean(X),
 *   σ²_B = mean((X − μ_B)²) (biased, for normalising), Y = (X − μ_B)/√(σ²_B + ε)·scale + B. Its
 *   running statistics are new outputs: running ← (1 − m)·running + m·batch with PyTorch's
 *   momentum m = 1 − ONNX `momentum` (ONNX: running·momentum + batch·(1 − momentum), the same
 *   thing), and the *unbiased* batch variance (× n/(n − 1), n = items × spatial positions) for the
 *   running variance, as PyTorch. The gradient then comes from the ops' own rules (PyTorch's
 *   train-mode BatchNorm gradient, through the batch statistics).
 * - every Dropout becomes X · mask with `mask` a new float graph input of X's shape: 0 with
 *   probability p, 1/(1 − p) otherwise (inverted dropout, as PyTorch), drawn by the caller from a
 *   seeded generator (`dropoutMask`), so the same seed gives the same bytes. A Dropout's optional
 *   mask output becomes mask ≠ 0.
 */
export function toTrainingMode(
  g: GraphP,
  shapes: ReadonlyMap<string, number[]>,
  opset: number,
  opts: { freezeBn: boolean; label?: string },
): { dropout: TrainingGraph['feeds']['dropout']; bnRunning: TrainingGraph['outputs']['bnRunning'] } {
  const label = opts.label ?? 'model';
  const b = new GraphBuilder(g, 'gauntlet_train_');
  const e = new Emit(b, opset);
  const consts = constantTensors(g);
  const dropout: TrainingGraph['feeds']['dropout'] = [];
  const bnRunning: TrainingGraph['outputs']['bnRunning'] = [];
  const nodes: NodeP[] = [];
  const shapeOf = (v: string, n: NodeP) => {
    const s = shapes.get(v);
    if (!s) throw new Error(`internal: no probed shape for '${v}' (node ${n.name})`);
    return s;
  };
  for (const n of g.node) {
    const std = !n.domain || n.domain === 'ai.onnx';
    const start = b.nodes.length;
    if (std && n.op_type === 'Dropout') {
      let p = 0.5;
      if (opset < 12) p = attrFloat(n, 'ratio', 0.5);
      else if (n.input[1]) {
        const t = consts.get(n.input[1]);
        if (!t) throw new ModelError(`${label}: Dropout node ${n.name}: its ratio is computed in the graph; train mode needs a constant ratio`);
        p = tensorValues(t)[0]!;
      }
      const xs = shapeOf(n.input[0]!, n);
      let y: string;
      if (p > 0) {
        const mask = b.name(`dropout_mask_${dropout.length}`);
        dropout.push({ input: mask, shape: xs, p });
        g.input.push(makeValueInfo(mask, DataType.FLOAT, xs));
        y = e.op('Mul', [n.input[0]!, mask], {}, 'dropout');
        if (n.output[1]) b.nodes.push(makeNode('Not', [e.op('Equal', [mask, b.scalarF(0)])], [n.output[1]], {}, b.name('dropout_mask_out')));
      } else {
        y = n.input[0]!;
        if (n.output[1]) b.nodes.push(makeNode('ConstantOfShape', [b.constI64(xs)], [n.output[1]], { value: { name: 'v', dims: [1], data_type: DataType.BOOL, int32_data: [1] } }, b.name('dropout_mask_out')));
      }
      b.nodes.push(makeNode('Identity', [y], [n.output[0]!], {}, b.name('dropout_out')));
    } else if (std && n.op_type === 'BatchNormalization' && !opts.freezeBn) {
      const [x, scale, bias, mean, variance] = n.input as [string, string, string, string, string];
      const xs = shapeOf(x, n);
      const c = xs[1] ?? 1;
      const axes = [0, ...xs.slice(2).map((_, i) => i + 2)];
      const count = axes.reduce((p, a) => p * xs[a]!, 1);
      if (count < 2) throw new UsageError(`${label}: BatchNormalization node ${n.name} in train mode needs more than 1 value per channel (input [${xs.join(', ')}]); use a larger batch`);
      const eps = attrFloat(n, 'epsilon', 1e-5);
      const momentum = attrFloat(n, 'momentum', 0.9);
      const perChannel = [c, ...xs.slice(2).map(() => 1)];
      const mu = e.reduceMean(x, axes, true);
      const xc = e.op('Sub', [x, mu], {}, 'bn_centred');
      const varB = e.reduceMean(e.op('Mul', [xc, xc]), axes, true);
      const inv = e.op('Reciprocal', [e.op('Sqrt', [e.op('Add', [varB, b.scalarF(eps)])])]);
      const y = e.op('Add', [e.op('Mul', [e.op('Mul', [xc, inv]), e.reshape(scale, perChannel)]), e.reshape(bias, perChannel)], {}, 'bn_train');
      b.nodes.push(makeNode('Identity', [y], [n.output[0]!], {}, b.name('bn_out')));
      const batchMean = e.reshape(mu, [c]);
      const unbiased = e.op('Mul', [e.reshape(varB, [c]), b.scalarF(count / (count - 1))]);
      const update = (running: string, batch: string, hint: string) =>
        e.op('Add', [e.op('Mul', [running, b.scalarF(momentum)]), e.op('Mul', [batch, b.scalarF(1 - momentum)])], {}, hint);
      const newMean = update(mean, batchMean, 'bn_running_mean');
      const newVar = update(variance, unbiased, 'bn_running_var');
      const meanOut = n.output[1] || b.name(`bn_running_mean.${n.name || bnRunning.length}`);
      const varOut = n.output[2] || b.name(`bn_running_var.${n.name || bnRunning.length}`);
      b.nodes.push(makeNode('Identity', [newMean], [meanOut], {}, b.name('bn_mean_out')), makeNode('Identity', [newVar], [varOut], {}, b.name('bn_var_out')));
      bnRunning.push({ node: n.name ?? '', mean: meanOut, var: varOut, meanInit: mean, varInit: variance });
    } else {
      nodes.push(n);
      continue;
    }
    nodes.push(...b.nodes.slice(start));
  }
  g.node = nodes;
  g.initializer = [...g.initializer, ...b.initializers];
  return { dropout, bnRunning };
}

/**
 * A Dropout mask for the training graph: each element 0 with probability `p`, else 1/(1 − p)
 * (PyTorch's inverted dropout), drawn from `rng` in row-major order. Same seed, same bytes.
 */
export function dropoutMask(rng: Rng, shape: readonly number[], p: number): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const keep = 1 / (1 - p);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.uniform() < p ? 0 : keep;
  return out;
}

/**
 * Inputs of an op that are never parameters even when they are float initializers: running
 * statistics, interpolation scales and roi, clip bounds, pad values, dropout ratios, exponents.
 */
const NOT_PARAMETER: Readonly<Record<string, readonly number[]>> = {
  BatchNormalization: [3, 4],
  Resize: [1, 2],
  Upsample: [1],
  Clip: [1, 2],
  Pad: [1, 2, 3],
  Dropout: [1, 2],
  Pow: [1],
  Where: [0],
};
/** Ops whose outputs carry no gradient back to their inputs. */
const NO_FLOW = new Set(['Shape', 'Size', 'Constant', 'ConstantOfShape', 'Range', 'EyeLike', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'ArgMax', 'ArgMin', 'NonZero', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf', 'Sign', 'Floor', 'Ceil', 'Round', 'TopK']);
/** Element-wise arithmetic, where a one-number operand is a constant (1/√d, an ε), not a weight. */
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean']);

/**
 * Every float initializer that is a weight on the path to `output` (default: every graph
 * output), in initializer order: an input of a node whose result reaches the output through ops
 * that pass gradients. Never shape or index constants (not float), never BatchNorm running
 * statistics, interpolation scales, clip bounds or pad values (`NOT_PARAMETER`), never
 * Gauntlet's folded preprocessing (`gauntlet_pre_*`), and never a one-number operand of
 * element-wise arithmetic (a constant such as 1/√d).
 */
export function trainableParams(model: ModelP, output?: string): string[] {
  const g = model.graph;
  const live = new Set<string>(output ? [output] : g.output.map((o) => o.name));
  const paramUse = new Set<string>();
  for (let i = g.node.length - 1; i >= 0; i--) {
    const n = g.node[i]!;
    if (!n.output.some((o) => o && live.has(o))) continue;
    if (NO_FLOW.has(n.op_type)) continue;
    if (n.op_type === 'Cast' && !([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16] as number[]).includes(attrIntOf(n, 'to'))) continue;
    const skip = NOT_PARAMETER[n.op_type] ?? [];
    // Captures count: a weight read inside an If branch or a Loop body is on the path too.
    nodeReads(n).forEach((v, k) => {
      if (!v || (k < n.input.length && skip.includes(k))) return;
      live.add(v);
      paramUse.add(`${v}\u0000${n.op_type}`);
    });
  }
  const uses = new Map<string, string[]>();
  for (const key of paramUse) {
    const [v, op] = key.split('\u0000') as [string, string];
    uses.set(v, [...(uses.get(v) ?? []), op]);
  }
  return g.initializer
    .filter((t) => {
      const name = t.name ?? '';
      if (!name || name.startsWith('gauntlet_pre_') || t.data_type !== DataType.FLOAT) return false;
      const ops = uses.get(name);
      if (!ops) return false;
      const size = (t.dims ?? []).map(num).reduce((a, b) => a * b, 1);
      if (size === 0) return false;
      if (size === 1 && ops.every((op) => ELEMENTWISE.has(op))) return false;
      return true;
    })
    .map((t) => t.name!);
}

function attrIntOf(n: NodeP, name: string): number {
  const a = n.attribute.find((x) => x.name === name);
  return a ? num(a.i) : 0;
}

/** A glob (`*` any run of characters, `?` one character) as an anchored regular expression. */
function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/**
 * The parameters that train: `names` that match some `trainOnly` pattern (all, without it) and
 * no `freeze` pattern. Patterns are globs over parameter names (`*` any run of characters, `?`
 * one), e.g. `freeze: ['conv1.*', '*.bn*']`. A pattern that matches no name is a UsageError (a
 * typo would otherwise train or freeze something unintended), and so is an empty result.
 */
export function matchParams(names: readonly string[], opts: { freeze?: string[]; trainOnly?: string[] } = {}): string[] {
  const compile = (what: string, pats: string[] | undefined) =>
    (pats ?? []).map((p) => {
      const re = globToRegExp(p);
      if (!names.some((n) => re.test(n))) throw new UsageError(`'${what}' pattern '${p}' matches no trainable parameter`);
      return re;
    });
  const only = compile('train_only', opts.trainOnly);
  const freeze = compile('freeze', opts.freeze);
  const out = names.filter((n) => (only.length === 0 || only.some((re) => re.test(n))) && !freeze.some((re) => re.test(n)));
  if (out.length === 0) throw new UsageError(`no parameter left to train after 'freeze'/'train_only' (${names.length} trainable)`);
  return out;
}



/** What a training-step helper (TRADES, co-teaching) needs to build its graphs of a model. */
export interface StepGraphInit {
  input: string;
  output: string;
  outputKind: 'logits' | 'probabilities';
  params: string[];
  itemShape: number[];
  freezeBn: boolean;
  threads: number;
  label: string;
  /** The gradient rules' options (the recipe's `maxpool_ties`; default first maximum). */
  gradient?: Partial<GradientOptions>;
}

/** Values for one run of a training graph (see `runTrainingGraph`). */
export interface TrainingFeeds {
  /** [batch, ...itemShape] data-domain inputs. */
  x: Float32Array;
  /** [batch, K] soft targets. */
  targets: Float32Array;
  /** [batch] per-item weights (default: all 1). */
  weights?: Float32Array;
  /** Current value of every trainable parameter. */
  params: ReadonlyMap<string, Float32Array>;
  /** One mask per `feeds.dropout` entry, in order (see `dropoutMask`). */
  dropoutMasks?: readonly Float32Array[];
  /** [batch, K] per-item state of a stateful loss head (see `TrainingGraph.feeds.state`). */
  state?: Float32Array;
}

export interface TrainingRun {
  loss: number;
  perItemLoss: Float32Array;
  scores: Float32Array;
  grads: Map<string, Float32Array>;
  /** d(loss)/d(x) when the graph has it. */
  inputGrad: Float32Array | null;
  /** A stateful loss head's new per-item state. */
  state: Float32Array | null;
  /** Per `outputs.bnRunning` entry: the new running mean and variance. */
  bnRunning: { mean: Float32Array; var: Float32Array }[];
}

/** Runs a training graph's session once (forward, loss, backward) and reads every output. */
export async function runTrainingGraph(session: ort.InferenceSession, tg: TrainingGraph, f: TrainingFeeds): Promise<TrainingRun> {
  const { Tensor } = ort;
  const xIn = tg.model.graph.input.find((i) => i.name === tg.feeds.x)!;
  const dims = (xIn.type?.tensor_type?.shape?.dim ?? []).map((d) => num(d.dim_value));
  const batch = dims[0]!;
  const k = f.targets.length / batch;
  const feeds: Record<string, ort.Tensor> = {
    [tg.feeds.x]: new Tensor('float32', f.x, dims),
    [tg.feeds.targets]: new Tensor('float32', f.targets, [batch, k]),
    [tg.feeds.weights]: new Tensor('float32', f.weights ?? new Float32Array(batch).fill(1), [batch]),
  };
  for (const [p, input] of tg.feeds.params) {
    const v = f.params.get(p);
    if (!v) throw new UsageError(`no value fed for parameter '${p}'`);
    const vi = tg.model.graph.input.find((i) => i.name === input)!;
    feeds[input] = new Tensor('float32', v, (vi.type?.tensor_type?.shape?.dim ?? []).map((d) => num(d.dim_value)));
  }
  tg.feeds.dropout.forEach((d, i) => {
    const mask = f.dropoutMasks?.[i];
    if (!mask) throw new UsageError(`no mask fed for dropout input '${d.input}'`);
    feeds[d.input] = new Tensor('float32', mask, d.shape);
  });
  if (tg.feeds.state) {
    if (!f.state) throw new UsageError(`no per-item loss state fed for '${tg.feeds.state}'`);
    feeds[tg.feeds.state] = new Tensor('float32', f.state, [batch, k]);
  }
  const r = await session.run(feeds);
  const read = (name: string) => r[name]!.data as Float32Array;
  return {
    loss: read(tg.outputs.loss)[0]!,
    perItemLoss: read(tg.outputs.perItemLoss),
    scores: read(tg.outputs.scores),
    grads: new Map([...tg.outputs.grads].map(([p, o]) => [p, read(o)])),
    inputGrad: tg.outputs.inputGrad ? read(tg.outputs.inputGrad) : null,
    state: tg.outputs.state ? read(tg.outputs.state) : null,
    bnRunning: tg.outputs.bnRunning.map((b) => ({ mean: read(b.mean), var: read(b.var) })),
  };
}

/** A run's new BatchNorm running statistics by the initializer each replaces (copies, safe to keep across runs). */
export function runningStats(tg: TrainingGraph, run: Pick<TrainingRun, 'bnRunning'>): Map<string, Float32Array> {
  return new Map(tg.outputs.bnRunning.flatMap((b, i) => [[b.meanInit, Float32Array.from(run.bnRunning[i]!.mean)], [b.varInit, Float32Array.from(run.bnRunning[i]!.var)]] as [string, Float32Array][]));
}

/** The current values of the named float initializers (a training graph's starting parameters). */
export function initialParams(model: ModelP, params: readonly string[]): Map<string, Float32Array> {
  const inits = new Map(model.graph.initializer.map((t) => [t.name ?? '', t]));
  return new Map(
    params.map((p) => {
      const t = inits.get(p);
      if (!t) throw new ModelError(`no initializer named '${p}'`);
      return [p, Float32Array.from(decodeTensor(t).data as Float32Array)];
    }),
  );
}

/**
 * Trainable parameters are inputs of the training graph; BatchNorm running statistics must be
 * too, so that each step's update starts from the previous step's values (an initializer would
 * restart from the model's own every step).
 */
export function feedRunningStats(tg: TrainingGraph): void {
  const g = tg.model.graph;
  const stats = new Set(tg.outputs.bnRunning.flatMap((r) => [r.meanInit, r.varInit]));
  const moved = g.initializer.filter((t) => stats.has(t.name ?? ''));
  g.initializer = g.initializer.filter((t) => !stats.has(t.name ?? ''));
  for (const t of moved) if (!g.input.some((i) => i.name === t.name)) g.input.push(makeValueInfo(t.name!, DataType.FLOAT, (t.dims ?? []).map(num)));
  for (const t of moved) tg.feeds.params.set(t.name!, t.name!);
}


import type ort from 'onnxruntime-node';
import { ModelError, UnsupportedOpError } from '../errors.js';
import type { Model } from '../engine/model.js';
import { createSession, runFloat } from '../engine/session.js';
import { GraphBuilder } from '../onnx/builder.js';
import { defaultOpset, makeValueInfo, valueElemType } from '../onnx/graph.js';
import { cloneModel, DataType, type ModelP } from '../onnx/proto.js';
import { buildBackward } from './backward.js';
import { Emit } from './context.js';
import { emitLossHead, type LossSpec } from './loss.js';
import type { GradientOptions } from './options.js';
import { lowerForGradient } from './lower.js';

export const GRAD_INPUTS = { labels: 'gauntlet_labels', targets: 'gauntlet_targets' } as const;
export const GRAD_OUTPUTS = { loss: 'gauntlet_loss', grad: 'gauntlet_grad' } as const;

export interface GradientResult {
  /** Model scores (logits or probabilities, as the model outputs them), [n, K]. */
  scores: Float32Array;
  numClasses: number;
  /** Per-sample loss, [n]. */
  loss: Float32Array;
  /** d(Σ loss)/d(input) in the data domain, same layout as the input. */
  grad: Float32Array;
}

/**
 * Builds the forward + loss head + backward graph of a model (for a concrete input shape).
 * The result is a standard ONNX model with inputs (x, labels[, targets]) and outputs
 * (scores, loss, grad) that ONNX Runtime runs in one `run()`.
 */
export async function buildGradientModel(
  model: ModelP,
  io: { input: string; output: string; kind: 'logits' | 'probabilities' },
  x: { data: Float32Array; dims: number[] },
  loss: LossSpec,
  label: string,
  options: Partial<GradientOptions> = {},
): Promise<ModelP> {
  const n = x.dims[0]!;
  const m = cloneModel(model);
  const g = m.graph;
  const opset = defaultOpset(m);
  if (opset < 11) throw new UnsupportedOpError([], `${label} has opset ${opset}, older than 11, the oldest the gradient engine supports`);
  const { probe: pr } = await lowerForGradient(m, { [io.input]: x }, label);
  const b = new GraphBuilder(g, 'gauntlet_bw_');
  const e = new Emit(b, opset);
  const scoresShape = pr.shapes.get(io.output);
  if (!scoresShape || scoresShape.length !== 2) throw new ModelError(`${label}: output ${io.output} must be [batch, classes] for a loss head`);
  const k = scoresShape[1]!;
  let z = io.output;
  if (io.kind === 'probabilities') {
    z = e.op('Log', [e.op('Max', [io.output, b.scalarF(1e-12)])], {}, 'log_probs');
  }
  const head = emitLossHead(e, b, z, k, loss, GRAD_INPUTS.labels, loss.targeted ? GRAD_INPUTS.targets : null);
  let seed = head.seed;
  if (io.kind === 'probabilities') seed = e.op('Div', [head.seed, e.op('Max', [io.output, b.scalarF(1e-12)])], {}, 'dprobs');
  const grads = buildBackward({ graph: g, probe: pr, b, opset, wrt: [io.input], seeds: new Map([[io.output, seed]]), options });
  g.node = [...g.node, ...b.nodes];
  g.initializer = [...g.initializer, ...b.initializers];
  // The graph is built for this batch size: a static input shape lets ORT infer every shape and
  // fuse across branches (its blocked-layout Add fusion needs provably equal shapes).
  g.input = g.input.map((v) => (v.name === io.input ? makeValueInfo(io.input, valueElemType(v) ?? DataType.FLOAT, x.dims) : v));
  g.input.push(makeValueInfo(GRAD_INPUTS.labels, DataType.INT64, [n]));
  if (loss.targeted) g.input.push(makeValueInfo(GRAD_INPUTS.targets, DataType.INT64, [n]));
  g.node.push(
    { op_type: 'Identity', input: [head.loss], output: [GRAD_OUTPUTS.loss], attribute: [], name: 'gauntlet_loss_out', domain: '' },
    { op_type: 'Identity', input: [grads.get(io.input)!], output: [GRAD_OUTPUTS.grad], attribute: [], name: 'gauntlet_grad_out', domain: '' },
  );
  g.output = [
    makeValueInfo(io.output, DataType.FLOAT, [n, k]),
    makeValueInfo(GRAD_OUTPUTS.loss, DataType.FLOAT, [n]),
    makeValueInfo(GRAD_OUTPUTS.grad, DataType.FLOAT, x.dims),
  ];
  return m;
}

/**
 * Input gradients of a loss for a Model (data domain, preprocessing included), one ORT run per
 * batch. The backward graph is built once per batch size and cached. `options` are the rules'
 * options (`GRADIENT_OPTIONS`: MaxPool's tie rule, PyTorch's first maximum by default).
 */
export class GradientEngine {
  private readonly sessions = new Map<number, Promise<ort.InferenceSession>>();

  constructor(
    readonly model: Model,
    readonly loss: LossSpec,
    readonly options: Partial<GradientOptions> = {},
  ) {}

  /** Gradient graph for `n` items (built on first use; `x` is used for the shape probe). */
  private session(x: Float32Array, n: number): Promise<ort.InferenceSession> {
    let s = this.sessions.get(n);
    if (!s) {
      s = (async () => createSession(await this.graphFor(x, n), this.model.label, {}))();
      this.sessions.set(n, s);
      s.catch(() => this.sessions.delete(n));
    }
    return s;
  }

  /** The built gradient model for `n` items (for inspection, saving and tests). */
  async graphFor(x: Float32Array, n: number): Promise<ModelP> {
    const dims = this.dims(x, n);
    const kind = this.model.outputKind ?? (await this.model.predictBatch(x, n), this.model.outputKind!);
    return buildGradientModel(this.model.prepared, { input: this.model.decl.inputName, output: this.model.decl.outputName, kind }, { data: x, dims }, this.loss, this.model.label, this.options);
  }

  /**
   * Runs forward + loss + backward on `n` items. `labels` are the true labels (or class k for the
   * `logit` loss); `targets` are needed for targeted losses.
   */
  async run(x: Float32Array, n: number, labels: ArrayLike<number>, targets?: ArrayLike<number>): Promise<GradientResult> {
    if (this.loss.targeted && !targets) throw new Error('internal: targeted loss needs targets');
    const dims = this.dims(x, n);
    const session = await this.session(x, n);
    const feeds: Record<string, { data: Float32Array | BigInt64Array; dims: number[] }> = {
      [this.model.decl.inputName]: { data: x, dims },
      [GRAD_INPUTS.labels]: { data: BigInt64Array.from(Array.from(labels, (v) => BigInt(v))), dims: [n] },
    };
    if (this.loss.targeted) feeds[GRAD_INPUTS.targets] = { data: BigInt64Array.from(Array.from(targets!, (v) => BigInt(v))), dims: [n] };
    const out = await runFloat(session, feeds, [this.model.decl.outputName, GRAD_OUTPUTS.loss, GRAD_OUTPUTS.grad], this.model.label);
    const scores = out[this.model.decl.outputName]!;
    return { scores: scores.data, numClasses: scores.dims[1]!, loss: out[GRAD_OUTPUTS.loss]!.data, grad: out[GRAD_OUTPUTS.grad]!.data };
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) await (await s.catch(() => null))?.release();
    this.sessions.clear();
  }

  private dims(x: Float32Array, n: number): number[] {
    const per = x.length / n;
    const item = this.model.itemShape?.every((d) => typeof d === 'number') ? (this.model.itemShape as number[]) : [per];
    if (this.model.fixedBatch !== null && this.model.fixedBatch !== n) {
      throw new ModelError(`${this.model.label}: input has a fixed batch size of ${this.model.fixedBatch}; gradients must be taken in batches of exactly that size`);
    }
    return [n, ...item];
  }
}

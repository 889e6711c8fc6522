import type ort from 'onnxruntime-node';
import { ModelError, UnsupportedOpError, UsageError } from '../errors.js';
import type { Model } from '../engine/model.js';
import { createSession, runFloat } from '../engine/session.js';
import { GraphBuilder } from '../onnx/builder.js';
import { makeValueInfo, valueElemType } from '../onnx/graph.js';
import { DataType, type ModelP } from '../onnx/proto.js';
import { buildBackward } from './backward.js';
import { Emit } from './context.js';
import { emitLossHead, type LossSpec } from './loss.js';
import type { GradientOptions } from './options.js';
import { lowerForGradient } from './lower.js';
import { gradientModel } from '../onnx/upgrade.js';

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
  /** Receives what was rewritten on the way (opset upgrade, lowered control flow and recurrent ops). */
  notesOut?: string[],
): Promise<ModelP> {
  const n = x.dims[0]!;
  const { model: m, opset, notes: upgraded } = gradientModel(model, label);
  const g = m.graph;
  const { probe: pr, notes } = await lowerForGradient(m, { [io.input]: x }, label);
  notesOut?.push(...upgraded, ...notes);
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
  /**
   * What the gradient graph's construction rewrote, one line each (an opset upgrade, an If's
   * branch inlined, a Loop or LSTM unrolled); filled when the first graph is built.
   */
  readonly notes: string[] = [];

  constructor(
    readonly model: Model,
    readonly loss: LossSpec,
    readonly options: Partial<GradientOptions> = {},
  ) {
    const d = model.decl;
    if (d.ids) {
      // Token ids have no gradient; the embedding output does, through the model's tail.
      if (d.wrt !== 'embedding') throw new UsageError(`${model.label}: input ${d.inputName} holds integer token ids (${d.ids}), which have no gradient; declare 'wrt: embedding' (--model-wrt embedding) to take gradients at the embedding output`);
      throw new UsageError(`${model.label}: declared 'wrt: embedding': gradients are taken on the model's embedding tail (EmbeddingView), which 'gauntlet grad', 'gauntlet attack', 'gauntlet explain' and campaigns use; this verb does not`);
    }
  }

  /** Batch sizes whose gradient graph is built (or being built). */
  builtSizes(): number[] {
    return [...this.sessions.keys()];
  }

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
    const notes: string[] = [];
    const built = await buildGradientModel(this.model.prepared, { input: this.model.decl.inputName, output: this.model.decl.outputName, kind }, { data: x, dims }, this.loss, this.model.label, this.options, notes);
    if (this.notes.length === 0) this.notes.push(...notes);
    return built;
  }

  /**
   * Runs forward + loss + backward on `n` items. `labels` are the true labels (or class k for the
   * `logit` loss); `targets` are needed for targeted losses.
   */
  async run(x: Float32Array, n: number, labels: ArrayLike<number>, targets?: ArrayLike<number>): Promise<GradientResult> {
    if (this.loss.targeted && !targets) throw new Error('internal: targeted loss needs targets');
    const fixed = this.model.fixedBatch;
    if (fixed === null || fixed === n) return this.runBatch(x, n, labels, targets);
    // A model exported with a fixed batch size: batches of exactly that size, the last padded with
    // zero items (label 0) whose results are dropped, as `predictBatch` does. Each item's loss
    // depends on its own input only, so the padding changes no gradient.
    const per = x.length / n;
    let out: GradientResult | null = null;
    for (let s = 0; s < n; s += fixed) {
      const m = Math.min(fixed, n - s);
      const pad = <T extends Float32Array>(src: T, width: number): Float32Array => {
        const chunk = src.subarray(s * width, (s + m) * width);
        if (m === fixed) return chunk;
        const p = new Float32Array(fixed * width);
        p.set(chunk);
        return p;
      };
      const lab = Array.from({ length: fixed }, (_, i) => (i < m ? labels[s + i]! : 0));
      const tgt = targets ? Array.from({ length: fixed }, (_, i) => (i < m ? targets[s + i]! : 0)) : undefined;
      const r = await this.runBatch(pad(x, per), fixed, lab, tgt);
      out ??= { scores: new Float32Array(n * r.numClasses), numClasses: r.numClasses, loss: new Float32Array(n), grad: new Float32Array(n * per) };
      out.scores.set(r.scores.subarray(0, m * r.numClasses), s * r.numClasses);
      out.loss.set(r.loss.subarray(0, m), s);
      out.grad.set(r.grad.subarray(0, m * per), s * per);
    }
    return out ?? { scores: new Float32Array(0), numClasses: 0, loss: new Float32Array(0), grad: new Float32Array(0) };
  }

  private async runBatch(x: Float32Array, n: number, labels: ArrayLike<number>, targets?: ArrayLike<number>): Promise<GradientResult> {
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
    return [n, ...this.model.dataDims(x.length / n)];
  }
}

import type ort from 'onnxruntime-node';
import { DataError, ModelError } from '../errors.js';
import { itemSize, type Dataset } from '../data/dataset.js';
import { readModelFile } from '../onnx/load.js';
import { summarizeModel, type ModelSummary } from '../onnx/load.js';
import { cloneModel, type ModelP } from '../onnx/proto.js';
import { makeValueInfo, valueShape } from '../onnx/graph.js';
import { createSession, runFloat, type SessionOptions } from './session.js';
import type { Classifier } from './classifier.js';
import { expectedItemShape, foldPreprocessing, resolveDeclaration, type ModelDeclaration, type ResolvedDeclaration } from './declaration.js';

export interface OpenModelOptions extends ModelDeclaration, SessionOptions {}

export type OutputKind = 'logits' | 'probabilities';

export interface PredictOptions {
  /** Items per ORT run (default 256). Memory is bounded by one batch's inputs and outputs. */
  batchSize?: number;
  /** Called after each batch with items done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface Predictions {
  /** Model outputs (logits or probabilities, see `kind`), row-major [n, numClasses]. */
  scores: Float32Array;
  numClasses: number;
  kind: OutputKind;
  /** Wall-clock milliseconds of each batch's ORT run. */
  batchMs: number[];
}

/**
 * A classifier loaded into ONNX Runtime and seen through its declaration: callers always feed
 * data-domain inputs (NCHW images in the declared bounds); preprocessing is part of the graph.
 */
export class Model implements Classifier {
  readonly source = 'onnx' as const;
  /** Number of classes the graph's output states (static second dim), else null. */
  readonly numClasses: number | null;
  /** How the output kind was established (declared, or what the detection saw). */
  outputKindReason = '';
  private kindKnown: OutputKind | null;
  private readonly intermediateSessions = new Map<string, Promise<ort.InferenceSession>>();

  private constructor(
    readonly label: string,
    /** sha256 of the model file (or of the bytes it was built from). */
    readonly sha256: string,
    /** The model as given. */
    readonly original: ModelP,
    /** The model with preprocessing folded in: its input takes data-domain values. */
    readonly prepared: ModelP,
    readonly decl: ResolvedDeclaration,
    readonly summary: ModelSummary,
    /** Expected data-domain item shape; strings are symbolic dims. Null when unknown. */
    readonly itemShape: (number | string)[] | null,
    /** Static batch dimension of the input, or null when dynamic. */
    readonly fixedBatch: number | null,
    private readonly session: ort.InferenceSession,
    private readonly sessionOptions: SessionOptions,
  ) {
    this.kindKnown = decl.output === 'auto' ? null : decl.output;
    if (this.kindKnown) this.outputKindReason = 'declared';
    const k = valueShape(original.graph.output.find((o) => o.name === decl.outputName))?.[1];
    this.numClasses = typeof k === 'number' && k > 0 ? k : null;
  }

  static async open(file: string, opts: OpenModelOptions = {}): Promise<Model> {
    const loaded = readModelFile(file);
    return Model.fromProto(loaded.proto, file, loaded.sha256, opts);
  }

  static async fromProto(proto: ModelP, label: string, sha256: string, opts: OpenModelOptions = {}): Promise<Model> {
    const decl = resolveDeclaration(proto, opts, label);
    const prepared = foldPreprocessing(proto, decl);
    const itemShape = expectedItemShape(proto, decl);
    const inShape = valueShape(proto.graph.input.find((i) => i.name === decl.inputName));
    const fixedBatch = inShape && typeof inShape[0] === 'number' && inShape[0] > 0 ? inShape[0] : null;
    const session = await createSession(prepared, label, opts);
    return new Model(label, sha256, proto, prepared, decl, summarizeModel(proto), itemShape, fixedBatch, session, { threads: opts.threads });
  }

  /** The output kind, once known (declared, or detected by the first prediction). */
  get outputKind(): OutputKind | null {
    return this.kindKnown;
  }

  /** Checks that a dataset fits the model's input (and, when given, its class count). */
  checkData(ds: Dataset, numClasses?: number): void {
    checkDataFits(this, ds, numClasses);
  }

  /** Runs the model on `n` items packed in `x`; returns raw outputs [n, K]. */
  async predictBatch(x: Float32Array, n: number): Promise<{ scores: Float32Array; numClasses: number }> {
    const per = x.length / n;
    const B = this.fixedBatch ?? n;
    const out: Float32Array[] = [];
    let k = 0;
    for (let s = 0; s < n; s += B) {
      const m = Math.min(B, n - s);
      let chunk = x.subarray(s * per, (s + m) * per);
      if (m < B) {
        const padded = new Float32Array(B * per);
        padded.set(chunk);
        chunk = padded;
      }
      const dims = [B, ...this.dataDims(per)];
      const r = await runFloat(this.session, { [this.decl.inputName]: { data: chunk, dims } }, [this.decl.outputName], this.label);
      const o = r[this.decl.outputName]!;
      if (o.dims.length !== 2 || o.dims[0] !== B) {
        throw new ModelError(`${this.label}: output ${this.decl.outputName} has shape [${o.dims.join(', ')}]; a classifier must output [batch, classes]`);
      }
      k = o.dims[1]!;
      out.push(m < B ? o.data.subarray(0, m * k) : o.data);
    }
    const scores = out.length === 1 ? out[0]! : concat(out);
    if (!this.kindKnown) this.detectKind(scores, k);
    return { scores, numClasses: k };
  }

  /** Predicts a whole dataset in batches (bounded memory), recording each batch's latency. */
  async predict(ds: Dataset, opts: PredictOptions = {}): Promise<Predictions> {
    this.checkData(ds);
    return this.predictItems(ds.x, ds.size, opts);
  }

  /** Predicts `n` items packed row-major in `x`, in batches (bounded memory), recording each batch's latency. */
  async predictItems(x: Float32Array, n: number, opts: PredictOptions = {}): Promise<Predictions> {
    const batchSize = opts.batchSize ?? 256;
    const per = n > 0 ? x.length / n : 0;
    let scores: Float32Array | null = null;
    let numClasses = 0;
    const batchMs: number[] = [];
    for (let start = 0; start < n; start += batchSize) {
      const m = Math.min(batchSize, n - start);
      const t0 = performance.now();
      const r = await this.predictBatch(x.subarray(start * per, (start + m) * per), m);
      batchMs.push(performance.now() - t0);
      if (!scores) {
        numClasses = r.numClasses;
        scores = new Float32Array(n * numClasses);
      }
      scores.set(r.scores, start * numClasses);
      opts.onProgress?.(start + m, n);
    }
    return { scores: scores ?? new Float32Array(0), numClasses, kind: this.kindKnown ?? 'logits', batchMs };
  }

  /** Names of every value a node produces (candidates for `intermediates`). */
  valueNames(): string[] {
    return this.prepared.graph.node.flatMap((n) => n.output).filter((v) => v && !v.startsWith('gauntlet_pre_'));
  }

  /**
   * Runs `n` items and returns the named intermediate tensors (any node output), float32.
   * The extended session is built once per set of names.
   */
  async intermediates(x: Float32Array, n: number, names: readonly string[]): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
    const known = new Set(this.valueNames());
    for (const name of names) if (!known.has(name)) throw new ModelError(`${this.label}: has no value named '${name}'`);
    const key = [...names].sort().join('\u0000');
    let s = this.intermediateSessions.get(key);
    if (!s) {
      const m = cloneModel(this.prepared);
      const outs = new Set(m.graph.output.map((o) => o.name));
      for (const name of names) if (!outs.has(name)) m.graph.output.push(makeValueInfo(name, 1, null));
      s = createSession(m, this.label, this.sessionOptions);
      this.intermediateSessions.set(key, s);
    }
    const per = x.length / n;
    return runFloat(await s, { [this.decl.inputName]: { data: x, dims: [n, ...this.dataDims(per)] } }, names, this.label);
  }

  /** Releases ORT sessions. */
  async close(): Promise<void> {
    await this.session.release();
    for (const s of this.intermediateSessions.values()) await (await s).release();
  }

  private dataDims(per: number): number[] {
    if (this.itemShape && this.itemShape.every((d) => typeof d === 'number')) return this.itemShape as number[];
    if (this.decl.layout === 'flat') return [per];
    throw new ModelError(`${this.label}: input has symbolic item dims [${this.itemShape?.join(', ')}]; use data whose shape fixes them`);
  }

  private detectKind(scores: Float32Array, k: number): void {
    const d = detectOutputKind(scores, k);
    this.kindKnown = d.kind;
    this.outputKindReason = d.reason;
  }
}

/** Checks that a dataset fits a classifier's declared input (and, when given, its class count). */
export function checkDataFits(m: Pick<Classifier, 'label' | 'itemShape' | 'decl'>, ds: Dataset, numClasses?: number): void {
  if (m.itemShape) {
    const fits = m.itemShape.length === ds.itemShape.length && m.itemShape.every((d, i) => typeof d !== 'number' || d === ds.itemShape[i]);
    if (!fits) {
      throw new DataError(`${ds.name}: items have shape [${ds.itemShape.join(', ')}] but ${m.label} expects [${m.itemShape.join(', ')}]${m.decl.layout === 'NHWC' ? ' (NCHW data domain)' : ''}`);
    }
  }
  const [lo, hi] = m.decl.bounds;
  // Images live in [0, 1] unless declared otherwise; tabular rows are checked against declared bounds only.
  const r = m.decl.layout !== 'flat' || m.decl.boundsDeclared ? valueRange(ds.x) : null;
  if (r && (r.min < lo - 1e-6 * Math.max(1, Math.abs(lo)) || r.max > hi + 1e-6 * Math.max(1, Math.abs(hi)))) {
    const span = `[${+r.min.toPrecision(6)}, ${+r.max.toPrecision(6)}]`;
    const fix =
      r.min >= 0 && r.max > 1.5 && r.max <= 255 && hi <= 1
        ? `; if these are 0-255 pixels, declare bounds: [0, 255] (--bounds 0,255) and, for a model trained on [0, 1] inputs, scale: 1/255 (--scale 1/255)`
        : `; declare the data's true range as bounds: [low, high] (--bounds LOW,HIGH)`;
    throw new DataError(`${ds.name}: x spans ${span}, outside the declared bounds [${lo}, ${hi}]${fix}`);
  }
  if (numClasses !== undefined && ds.labels) {
    for (let i = 0; i < ds.labels.length; i++) {
      if (ds.labels[i]! >= numClasses) {
        throw new DataError(`${ds.name}: label ${ds.labels[i]} of item ${i} is outside the model's ${numClasses} classes [0, ${numClasses - 1}]`);
      }
    }
  }
}

/** Logits or probabilities, from one batch of outputs: probabilities when every row lies in [0, 1] and sums to 1. */
export function detectOutputKind(scores: Float32Array, k: number): { kind: OutputKind; reason: string } {
  const n = scores.length / k;
  let probs = n > 0;
  for (let i = 0; i < n && probs; i++) {
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const v = scores[i * k + j]!;
      if (v < -1e-6 || v > 1 + 1e-6) probs = false;
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3) probs = false;
  }
  return probs
    ? { kind: 'probabilities', reason: `detected: every output row of the first batch lies in [0, 1] and sums to 1 (${n} rows)` }
    : { kind: 'logits', reason: 'detected: output rows are not probability vectors' };
}

export function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const ranges = new WeakMap<Float32Array, { min: number; max: number } | null>();
/** The smallest and largest value of `x` (cached per array; null when empty or all NaN). */
export function valueRange(x: Float32Array): { min: number; max: number } | null {
  const hit = ranges.get(x);
  if (hit !== undefined) return hit;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const r = min <= max ? { min, max } : null;
  ranges.set(x, r);
  return r;
}

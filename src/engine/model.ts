import fs from 'node:fs';
import type ort from 'onnxruntime-node';
import { readNpy } from '../data/npy.js';
import { DataError, ModelError } from '../errors.js';
import { itemSize, type Dataset } from '../data/dataset.js';
import { readModelFile } from '../onnx/load.js';
import { summarizeModel, type ModelSummary } from '../onnx/load.js';
import { cloneModel, type ModelP } from '../onnx/proto.js';
import { makeValueInfo, realInputs, valueShape } from '../onnx/graph.js';
import { createSession, runFloat, type SessionOptions } from './session.js';
import type { Classifier } from './classifier.js';
import { BINARY_OUTPUT, expectedItemShape, findEmbedding, foldBinaryHead, foldExtraInputs, foldIdsInput, foldPreprocessing, isOneColumn, resolveDeclaration, type EmbeddingLookup, type ModelDeclaration, type ResolvedDeclaration } from './declaration.js';

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
  /** Item shape fixed by the data where the model's input has symbolic or unknown item dims. */
  private dataItemShape: number[] | null = null;
  private readonly intermediateSessions = new Map<string, Promise<ort.InferenceSession>>();

  private constructor(
    readonly label: string,
    /** sha256 of the model file (or of the bytes it was built from). */
    readonly sha256: string,
    /** The model as given. */
    readonly original: ModelP,
    /** The model with preprocessing folded in: its input takes data-domain values. */
    private preparedModel: ModelP,
    private resolved: ResolvedDeclaration,
    readonly summary: ModelSummary,
    /** Expected data-domain item shape; strings are symbolic dims. Null when unknown. */
    readonly itemShape: (number | string)[] | null,
    /** Static batch dimension of the input, or null when dynamic. */
    readonly fixedBatch: number | null,
    private session: ort.InferenceSession,
    private readonly sessionOptions: SessionOptions,
    /** A binary head folded in (`foldBinaryHead`) when the output has one column, else null. */
    private head: 'sigmoid' | 'logit' | null,
  ) {
    const declared = resolved.output;
    this.kindKnown = declared === 'auto' ? null : declared === 'sigmoid' ? 'probabilities' : declared;
    if (this.kindKnown) this.outputKindReason = head ? `declared ${declared}: ${HEAD_READING[head]}` : 'declared';
    this.sourceOutput = resolved.outputName;
    const k = valueShape(original.graph.output.find((o) => o.name === resolved.outputName))?.[1];
    this.numClasses = head ? 2 : typeof k === 'number' && k > 1 ? k : null;
    if (head) this.resolved = { ...resolved, outputName: BINARY_OUTPUT };
  }

  /** The graph output the model's scores come from (before any binary head). */
  readonly sourceOutput: string;

  /** The model with preprocessing (and a binary head, if any) folded in: its input takes data-domain values. */
  get prepared(): ModelP {
    return this.preparedModel;
  }

  /** The resolved declaration; `outputName` names the output to run (the binary head's, if any). */
  get decl(): ResolvedDeclaration {
    return this.resolved;
  }

  /** How a one-column output is read ('sigmoid': [1 − p, p]; 'logit': [0, z]), or null for an ordinary output. */
  get binaryHead(): 'sigmoid' | 'logit' | null {
    return this.head;
  }

  static async open(file: string, opts: OpenModelOptions = {}): Promise<Model> {
    const loaded = readModelFile(file);
    return Model.fromProto(loaded.proto, file, loaded.sha256, opts);
  }

  static async fromProto(proto: ModelP, label: string, sha256: string, opts: OpenModelOptions = {}): Promise<Model> {
    const decl = resolveDeclaration(proto, opts, label);
    const fed = foldExtraInputs(proto, opts, decl.inputName, label, (file) => {
      const a = readNpy(readFileOr(file), file);
      if (a.dtype.includes('U') || a.dtype.includes('S')) throw new DataError(`${file}: holds strings (${a.dtype}); an input value must be numeric`);
      return a as { shape: readonly number[]; data: ArrayLike<number | bigint> };
    });
    const prepared = foldPreprocessing(foldIdsInput(fed, decl), decl);
    // `wrt: embedding`: the token ids must go first into an embedding lookup (checked now, one line).
    const embedding = decl.wrt === 'embedding' ? findEmbedding(prepared, decl, label) : null;
    const itemShape = expectedItemShape(proto, decl);
    const inShape = valueShape(proto.graph.input.find((i) => i.name === decl.inputName));
    const fixedBatch = inShape && typeof inShape[0] === 'number' && inShape[0] > 0 ? inShape[0] : null;
    // A one-column output of declared kind gets its binary head now; an undeclared one when the
    // first batch shows what it holds (predictBatch).
    const oneColumn = isOneColumn(valueShape(proto.graph.output.find((o) => o.name === decl.outputName)));
    const head = decl.output === 'sigmoid' || (oneColumn && decl.output === 'probabilities') ? 'sigmoid' : oneColumn && decl.output === 'logits' ? 'logit' : null;
    const model = head ? foldBinaryHead(prepared, decl.outputName, head) : prepared;
    const session = await createSession(model, label, opts);
    const m = new Model(label, sha256, proto, model, decl, summarizeModel(proto), itemShape, fixedBatch, session, { threads: opts.threads }, head);
    m.embedding = embedding;
    return m;
  }

  /**
   * The embedding lookup gradients are taken at (`wrt: embedding` on a token-id input), else
   * null. `EmbeddingView` (engine/embedding.ts) runs the model from there.
   */
  embedding: EmbeddingLookup | null = null;

  /** The output kind, once known (declared, or detected by the first prediction). */
  get outputKind(): OutputKind | null {
    return this.kindKnown;
  }

  /** Checks that a dataset fits the model's input (and, when given, its class count). */
  checkData(ds: Dataset, numClasses?: number): void {
    checkDataFits(this, ds, numClasses);
    if (this.decl.ids) checkTokenIds(ds, this.label, this.decl.inputName, this.embedding?.vocab ?? null);
    // Symbolic or unknown item dims (a fully convolutional model): the data fixes them.
    if (this.itemShape && this.itemShape.some((d) => typeof d !== 'number')) this.dataItemShape = [...ds.itemShape];
  }

  /** Runs the model on `n` items packed in `x`; returns raw outputs [n, K]. */
  async predictBatch(x: Float32Array, n: number): Promise<{ scores: Float32Array; numClasses: number }> {
    const unfed = realInputs(this.preparedModel.graph).filter((i) => i.name !== this.resolved.inputName);
    if (unfed.length > 0) {
      const names = unfed.map((i) => i.name);
      throw new ModelError(`${this.label}: has inputs ${names.join(', ')} besides the data input ${this.resolved.inputName}; give them values: inputs: {${names.map((v) => `${v}: zeros | NUMBER | FILE.npy`).join(', ')}} (--inputs ${names.map((v) => `${v}=V`).join(',')})`);
    }
    const B = this.fixedBatch ?? n;
    const dims = [B, ...this.dataDims(x.length / n)];
    const runOne = async (chunk: Float32Array): Promise<{ scores: Float32Array; numClasses: number }> => {
      const r = await runFloat(this.session, { [this.decl.inputName]: { data: chunk, dims } }, [this.decl.outputName], this.label);
      const o = r[this.decl.outputName]!;
      if (!this.head && (o.dims.length === 1 || (o.dims.length === 2 && o.dims[1] === 1)) && o.dims[0] === B) {
        // One column: a binary classifier. Fold the head its values call for and run again.
        await this.foldHead(this.kindKnown === 'logits' ? 'logit' : this.kindKnown === 'probabilities' || inUnitInterval(o.data) ? 'sigmoid' : 'logit', this.kindKnown === null);
        return runOne(chunk);
      }
      if (o.dims.length !== 2 || o.dims[0] !== B) {
        throw new ModelError(`${this.label}: output ${this.decl.outputName} has shape [${o.dims.join(', ')}]; a classifier must output [batch, classes]`);
      }
      return { scores: o.data, numClasses: o.dims[1]! };
    };
    const { scores, numClasses: k } = await inFixedBatches(x, n, B, runOne);
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
    const r = await predictInBatches(this, x, n, opts, 1);
    return { ...r, kind: this.kindKnown ?? 'logits' };
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

  /** Folds a binary head into the prepared model and reopens the session on it. */
  private async foldHead(head: 'sigmoid' | 'logit', detected: boolean): Promise<void> {
    const model = foldBinaryHead(this.preparedModel, this.resolved.outputName, head);
    const session = await createSession(model, this.label, this.sessionOptions);
    await this.session.release();
    this.session = session;
    this.preparedModel = model;
    this.head = head;
    this.resolved = { ...this.resolved, outputName: BINARY_OUTPUT };
    this.kindKnown = head === 'sigmoid' ? 'probabilities' : 'logits';
    this.outputKindReason = detected
      ? `detected: one output column${head === 'sigmoid' ? ' with every value of the first batch in [0, 1]' : ' with values outside [0, 1]'}: ${HEAD_READING[head]}`
      : `declared ${head === 'sigmoid' ? 'probabilities' : 'logits'} in one column: ${HEAD_READING[head]}`;
  }

  /** Releases ORT sessions. */
  async close(): Promise<void> {
    await this.session.release();
    for (const s of this.intermediateSessions.values()) await (await s).release();
  }

  /**
   * The item shape to feed for `per` values per item: the model's own when fixed, else the shape of
   * the data last checked against it (`checkData`), else [per] for a flat input.
   */
  dataDims(per: number): number[] {
    if (this.itemShape && this.itemShape.every((d) => typeof d === 'number')) return this.itemShape as number[];
    if (this.dataItemShape && this.dataItemShape.reduce((a, b) => a * b, 1) === per) return this.dataItemShape;
    if (this.decl.layout === 'flat' && (!this.itemShape || this.itemShape.length <= 1)) return [per];
    throw new ModelError(`${this.label}: input has symbolic item dims [${this.itemShape?.join(', ')}] and no data has fixed them yet (check the data against the model first)`);
  }

  private detectKind(scores: Float32Array, k: number): void {
    const d = detectOutputKind(scores, k);
    this.kindKnown = d.kind;
    this.outputKindReason = d.reason;
  }
}

/**
 * Predicts `n` items packed row-major in `x` with `m.predictBatch`, in batches of `opts.batchSize`
 * (default 256), at most `concurrency` batches in flight (the first alone: it fixes the class
 * count); scores come back in input order with each batch's latency. Memory is bounded by the
 * batches in flight and the scores. Used by `Model` (one at a time) and `EndpointModel` (its
 * request concurrency).
 */
export async function predictInBatches(
  m: Pick<Classifier, 'label' | 'predictBatch'>,
  x: Float32Array,
  n: number,
  opts: PredictOptions,
  concurrency: number,
): Promise<{ scores: Float32Array; numClasses: number; batchMs: number[] }> {
  const batchSize = opts.batchSize ?? 256;
  const per = n > 0 ? x.length / n : 0;
  const starts: number[] = [];
  for (let s = 0; s < n; s += batchSize) starts.push(s);
  const batchMs = new Array<number>(starts.length).fill(0);
  let scores: Float32Array | null = null;
  let numClasses = 0;
  let done = 0;
  let next = 1;
  let failed: unknown = null;
  const runOne = async (b: number): Promise<void> => {
    const s = starts[b]!;
    const k = Math.min(batchSize, n - s);
    const tb = performance.now();
    const r = await m.predictBatch(x.subarray(s * per, (s + k) * per), k);
    batchMs[b] = performance.now() - tb;
    if (!scores) {
      numClasses = r.numClasses;
      scores = new Float32Array(n * numClasses);
    } else if (r.numClasses !== numClasses) throw new ModelError(`${m.label}: answered ${r.numClasses} classes for items ${s}..${s + k - 1}, ${numClasses} before`);
    scores.set(r.scores, s * numClasses);
    done += k;
    opts.onProgress?.(done, n);
  };
  if (starts.length > 0) {
    await runOne(0);
    const worker = async (): Promise<void> => {
      while (failed === null && next < starts.length) {
        const b = next++;
        try {
          await runOne(b);
        } catch (e) {
          failed ??= e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, starts.length - 1) }, worker));
    if (failed !== null) throw failed;
  }
  return { scores: scores ?? new Float32Array(0), numClasses, batchMs };
}

/** Checks that a token-id dataset holds whole ids in [0, vocab) (vocab null: unknown, only ≥ 0). */
export function checkTokenIds(ds: Dataset, label: string, input: string, vocab: number | null): void {
  for (let i = 0; i < ds.x.length; i++) {
    const v = ds.x[i]!;
    if (!(Number.isInteger(v) && v >= 0 && (vocab === null || v < vocab))) {
      const per = itemSize(ds);
      throw new DataError(`${ds.name}: item ${Math.floor(i / per)} holds ${v} at position ${i % per}, not a token id of ${label}'s input ${input}${vocab === null ? ' (a whole number ≥ 0)' : ` (a whole number in [0, ${vocab - 1}])`}`);
    }
  }
}

/**
 * Runs `n` items packed in `x` as batches of exactly `b` items, the last padded with zero items
 * whose rows are dropped — for a model or an endpoint with a fixed batch size (`b = n`: one run).
 * `runOne` returns a batch's rows [b, K]; the result is the `n` rows in input order.
 */
export async function inFixedBatches(
  x: Float32Array,
  n: number,
  b: number,
  runOne: (chunk: Float32Array) => Promise<{ scores: Float32Array; numClasses: number }>,
): Promise<{ scores: Float32Array; numClasses: number }> {
  const per = x.length / n;
  const parts: Float32Array[] = [];
  let k = 0;
  for (let s = 0; s < n; s += b) {
    const m = Math.min(b, n - s);
    let chunk = x.subarray(s * per, (s + m) * per);
    if (m < b) {
      const padded = new Float32Array(b * per);
      padded.set(chunk);
      chunk = padded;
    }
    const r = await runOne(chunk);
    k = r.numClasses;
    parts.push(m < b ? r.scores.subarray(0, m * k) : r.scores);
  }
  return { scores: parts.length === 1 ? parts[0]! : concat(parts), numClasses: k };
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

/**
 * Logits or probabilities, from one batch of outputs: probabilities when every row lies in [0, 1]
 * and sums to 1 (within the rounding `PROB_TOL`, `SUM_TOL` allow).
 */
export function detectOutputKind(scores: Float32Array, k: number): { kind: OutputKind; reason: string } {
  const n = scores.length / k;
  let probs = n > 0;
  for (let i = 0; i < n && probs; i++) {
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const v = scores[i * k + j]!;
      if (!(v >= -PROB_TOL && v <= 1 + PROB_TOL)) probs = false;
      sum += v;
    }
    if (!(Math.abs(sum - 1) <= SUM_TOL)) probs = false;
  }
  return probs
    ? { kind: 'probabilities', reason: `detected: every output row of the first batch lies in [0, 1] and sums to 1 within ${SUM_TOL} (${n} rows)` }
    : { kind: 'logits', reason: 'detected: output rows are not probability vectors' };
}

/**
 * Rounding that probability detection tolerates: a softmax computed or stored in float16 is off by
 * up to ~5e-4 per value (2⁻¹¹ relative) and its rows sum to 1 within a few 1e-3; logits almost
 * never land in [0, 1] with rows summing to 1 that closely.
 */
const PROB_TOL = 1e-3;
const SUM_TOL = 5e-3;

const HEAD_READING = {
  sigmoid: 'the probability p of class 1 of a binary classifier, read as two classes [1 − p, p]',
  logit: 'the logit z of class 1 of a binary classifier, read as two classes with logits [0, z]',
} as const;

function readFileOr(file: string): Uint8Array {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new DataError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function inUnitInterval(v: Float32Array): boolean {
  for (let i = 0; i < v.length; i++) if (!(v[i]! >= 0 && v[i]! <= 1)) return false;
  return v.length > 0;
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

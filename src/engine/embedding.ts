/**
 * A text classifier seen from its embedding output (`wrt: embedding`): the model whose token-id
 * input goes first into an embedding lookup (a Gather on a [V, D] table) is split there. The
 * *tail* — everything after the lookup — is a float model whose input is the lookup's output
 * [N, T, D]; gradients and attacks work on it like on any float input. `nearest` projects
 * embeddings back to the nearest vocabulary rows (a real token sequence), which the whole model
 * then classifies.
 *
 * Example:
 *   const model = await Model.open('text.onnx', { wrt: 'embedding' });
 *   const view = await EmbeddingView.open(model);
 *   const e = view.embed(ids, n);                // [n, T, D]
 *   const back = await view.nearest(e);           // the same ids
 */
import ort from 'onnxruntime-node';
import { ModelError, UsageError } from '../errors.js';
import { realInputs, valueShape, makeValueInfo } from '../onnx/graph.js';
import { makeModel, node } from '../onnx/make.js';
import { cloneModel, DataType, type ModelP } from '../onnx/proto.js';
import { decodeTensor, int64Tensor, makeTensor } from '../onnx/tensor.js';
import type { Rng } from '../rng.js';
import type { EmbeddingLookup } from './declaration.js';
import { Model } from './model.js';
import { createSession } from './session.js';

/** Typical distances between vocabulary rows: what an ε in embedding space is relative to. */
export interface EmbeddingScale {
  /** Median, over the rows measured, of the L2 distance from a row to its nearest other row. */
  l2: number;
  /** Median of the L∞ distance from a row to that same nearest other row. */
  linf: number;
  /** Rows measured (all of them up to 1,024; else a seeded sample of 1,024). */
  rows: number;
}

/** Rows measured for `EmbeddingScale` (all when the vocabulary is smaller). */
const SCALE_ROWS = 1024;
/** Positions per run of the nearest-row graph (bounds its [M, V] distance matrix). */
const NEAREST_CHUNK = 4096;

export class EmbeddingView {
  private constructor(
    /** The whole model (token ids in). */
    readonly model: Model,
    /** The model from the embedding output on: input [N, T, D] float32, the same output. */
    readonly tail: Model,
    readonly lookup: EmbeddingLookup,
    /** The embedding table, row-major [V, D]. */
    readonly table: Float32Array,
    private readonly nearestSession: ort.InferenceSession,
  ) {}

  get vocab(): number {
    return this.lookup.vocab;
  }

  get dim(): number {
    return this.lookup.dim;
  }

  /**
   * Splits a model opened with `wrt: 'embedding'` at its embedding lookup. The tail's data bounds
   * are the table's smallest and largest values (the box that holds every vocabulary row), so
   * attacks keep each coordinate where some token's embedding could put it.
   */
  static async open(model: Model, opts: { threads?: number } = {}): Promise<EmbeddingView> {
    const lookup = model.embedding;
    if (!lookup) throw new UsageError(`${model.label}: not opened with 'wrt: embedding' (--model-wrt embedding)`);
    const g = model.prepared.graph;
    const t = g.initializer.find((i) => i.name === lookup.table)!;
    const decoded = decodeTensor(t).data;
    const table = decoded instanceof Float32Array ? decoded : Float32Array.from(decoded as ArrayLike<number>);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of table) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!(Number.isFinite(lo) && Number.isFinite(hi))) throw new ModelError(`${model.label}: embedding table '${lookup.table}' holds non-finite values`);
    if (!(lo < hi)) hi = lo + 1;
    const tail = await Model.fromProto(tailProto(model, lookup), model.label, model.sha256, {
      bounds: [lo, hi],
      output: model.outputKind ?? 'auto',
      outputName: model.decl.outputName,
      threads: opts.threads,
    });
    const nearestSession = await createSession(nearestProto(table, lookup.vocab, lookup.dim), `${model.label} (nearest token)`, { threads: opts.threads });
    return new EmbeddingView(model, tail, lookup, table, nearestSession);
  }

  /** The embeddings [n, T, D] of `n` token-id rows [n, T] (float32 ids, as datasets hold them). */
  embed(ids: Float32Array): Float32Array {
    const D = this.dim;
    const out = new Float32Array(ids.length * D);
    for (let p = 0; p < ids.length; p++) {
      const id = ids[p]!;
      if (!(Number.isInteger(id) && id >= 0 && id < this.vocab)) throw new UsageError(`token id ${id} at position ${p} is outside the vocabulary [0, ${this.vocab - 1}]`);
      out.set(this.table.subarray(id * D, (id + 1) * D), p * D);
    }
    return out;
  }

  /**
   * The id of the vocabulary row nearest (L2) to each D-vector of `emb` (one per position), as
   * float32 ids. Distances are ‖w‖² − 2 e·w (‖e‖² is the same for every row), computed by ONNX
   * Runtime; among rows at the same computed distance the lowest id wins (ArgMin's first
   * index). With `exclude` (one id per position, −1 for none), that row is skipped.
   */
  async nearest(emb: Float32Array, exclude?: Int32Array): Promise<Float32Array> {
    const D = this.dim;
    const m = emb.length / D;
    if (!Number.isInteger(m)) throw new UsageError(`${emb.length} embedding values do not divide into rows of ${D}`);
    const out = new Float32Array(m);
    for (let s = 0; s < m; s += NEAREST_CHUNK) {
      const k = Math.min(NEAREST_CHUNK, m - s);
      const ex = new BigInt64Array(k);
      for (let i = 0; i < k; i++) ex[i] = BigInt(exclude ? exclude[s + i]! : -1);
      const r = await this.nearestSession.run({
        e: new ort.Tensor('float32', emb.subarray(s * D, (s + k) * D), [k, D]),
        exclude: new ort.Tensor('int64', ex, [k]),
      });
      const ids = r.ids!.data as BigInt64Array;
      for (let i = 0; i < k; i++) out[s + i] = Number(ids[i]!);
    }
    return out;
  }

  /**
   * Typical distances between tokens: for each row measured, its nearest other row; the medians of
   * the L2 and L∞ distances to it. An ε in embedding space is per position: compare it with these.
   */
  async scale(rng: Rng): Promise<EmbeddingScale> {
    const V = this.vocab;
    const D = this.dim;
    if (V < 2) throw new ModelError(`${this.model.label}: embedding table '${this.lookup.table}' has ${V} row; distances between tokens need two`);
    const rows = V <= SCALE_ROWS ? Int32Array.from({ length: V }, (_, i) => i) : rng.fork('embedding-scale').permutation(V).subarray(0, SCALE_ROWS);
    const e = new Float32Array(rows.length * D);
    rows.forEach((r, i) => e.set(this.table.subarray(r * D, (r + 1) * D), i * D));
    const nn = await this.nearest(e, rows);
    const l2: number[] = [];
    const linf: number[] = [];
    rows.forEach((r, i) => {
      const j = nn[i]!;
      let ss = 0;
      let mx = 0;
      for (let d = 0; d < D; d++) {
        const diff = Math.abs(this.table[r * D + d]! - this.table[j * D + d]!);
        ss += diff * diff;
        if (diff > mx) mx = diff;
      }
      l2.push(Math.sqrt(ss));
      linf.push(mx);
    });
    return { l2: median(l2), linf: median(linf), rows: rows.length };
  }

  async close(): Promise<void> {
    await this.tail.close();
    await this.nearestSession.release();
  }
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The model from the embedding output on: the token-id cast and the lookup removed, the lookup's
 * output a graph input [batch, T, D] (float32), and the table dropped when nothing else reads it.
 */
function tailProto(model: Model, lookup: EmbeddingLookup): ModelP {
  const m = cloneModel(model.prepared);
  const g = m.graph;
  const idsName = model.decl.inputName;
  const idsShape = valueShape(g.input.find((i) => i.name === idsName)) ?? ['batch', 'tokens'];
  const gather = g.node.find((n) => n.op_type === 'Gather' && n.output[0] === lookup.output)!;
  const cast = g.node.find((n) => n.op_type === 'Cast' && n.input[0] === idsName && n.output[0] === gather.input[1]);
  g.node = g.node.filter((n) => n !== gather && n !== cast);
  const stillRead = (v: string) => g.node.some((n) => n.input.includes(v)) || g.output.some((o) => o.name === v);
  if (stillRead(idsName) || (cast && stillRead(cast.output[0]!))) throw new ModelError(`${model.label}: its token ids are read besides the embedding lookup; 'wrt: embedding' needs the lookup to be their only reader`);
  if (!stillRead(lookup.table)) g.initializer = g.initializer.filter((t) => t.name !== lookup.table);
  const others = g.input.filter((i) => i.name !== idsName);
  g.input = [makeValueInfo(lookup.output, DataType.FLOAT, [idsShape[0] ?? 'batch', idsShape[1] ?? 'tokens', lookup.dim]), ...others];
  if (realInputs(g).length === 0) throw new ModelError(`${model.label}: internal: the embedding tail has no input`);
  return m;
}

/**
 * The nearest-row graph: e [M, D], exclude [M] int64 → ids [M] int64, the argmin over the table's
 * rows of ‖w‖² − 2 e·w (the excluded row's distance set to the largest float).
 */
function nearestProto(table: Float32Array, V: number, D: number): ModelP {
  const wt = new Float32Array(D * V);
  for (let v = 0; v < V; v++) for (let d = 0; d < D; d++) wt[d * V + v] = table[v * D + d]!;
  return makeModel({
    inputs: [{ name: 'e', shape: ['m', D] }, { name: 'exclude', dtype: 'int64', shape: ['m'] }],
    outputs: [{ name: 'ids', dtype: 'int64' }],
    initializers: [
      makeTensor('wt', [D, V], wt),
      makeTensor('two', [], new Float32Array([2])),
      makeTensor('far', [], new Float32Array([3.4e38])),
      int64Tensor('vocab_ids', Array.from({ length: V }, (_, i) => i), [1, V]),
      int64Tensor('axes1', [1]),
      int64Tensor('axes0', [0]),
    ],
    nodes: [
      node('Mul', ['wt', 'wt'], ['wt_sq']),
      node('ReduceSum', ['wt_sq', 'axes0'], ['w_norm'], { keepdims: 1 }),
      node('MatMul', ['e', 'wt'], ['dots']),
      node('Mul', ['dots', 'two'], ['dots2']),
      node('Sub', ['w_norm', 'dots2'], ['dist']),
      node('Unsqueeze', ['exclude', 'axes1'], ['ex_col']),
      node('Equal', ['ex_col', 'vocab_ids'], ['is_ex']),
      node('Where', ['is_ex', 'far', 'dist'], ['dist_ex']),
      node('ArgMin', ['dist_ex'], ['ids'], { axis: 1, keepdims: 0, select_last_index: 0 }),
    ],
    opset: 13,
  });
}

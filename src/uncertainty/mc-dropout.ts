import type ort from 'onnxruntime-node';
import { checkRange, ModelError } from '../errors.js';
import type { Model } from '../engine/model.js';
import { createSession, runFloat } from '../engine/session.js';
import { toProbabilities } from '../metrics/classification.js';
import { GraphBuilder } from '../onnx/builder.js';
import { attrFloat, constantTensors, constantValues, defaultOpset, makeNode, makeValueInfo } from '../onnx/graph.js';
import { cloneModel, DataType, type ModelP } from '../onnx/proto.js';
import type { Rng } from '../rng.js';
import { decomposeUncertainty, rowEntropy, type UncertaintyDecomposition } from './scores.js';

/**
 * MC dropout (Gal & Ghahramani, 2016): Dropout stays on at prediction time; T stochastic passes
 * give a predictive distribution whose mean is the prediction and whose mutual information
 * H(p̄) − mean_t H(p_t) is the epistemic part of the uncertainty.
 *
 * How the Dropout nodes are switched on. ONNX Runtime's random kernels (Dropout in training mode,
 * RandomUniformLike) take a `seed` attribute, but their generator is created once per session and
 * advances on every run: measured with onnxruntime-node 1.30, a fresh session reproduces its first
 * run, while the second run of the same session gives a different mask. Masks would then depend on
 * batch size, on what ran before in the session and on the C++ library's engine. So Gauntlet
 * replaces each top-level Dropout node (any opset) by `Y = X · M`, where M is a new float32 graph
 * input holding 0 (dropped) or 1/(1 − ratio) (kept), and draws M in JavaScript from the `Rng`:
 * a value is kept when a 32-bit draw u satisfies u / 2³² ≥ ratio (ORT's own rule). Pass t of site d
 * draws from `rng.fork('mc-dropout/pass:t/site:d')`, item by item in order, so the masks — and the
 * results — depend only on the seed and the items, never on batch size or on other calls.
 * A Dropout's optional mask output becomes Cast(M, bool). Dropout nodes inside subgraphs
 * (If/Loop bodies) are left alone. Cost: one 32-bit draw per dropped value per pass.
 */
export interface DropoutSite {
  /** The Dropout node replaced. */
  node: string;
  /** The value it drops (X) and the value it produces (Y). */
  input: string;
  output: string;
  /** Drop probability, in [0, 1). */
  ratio: number;
  /** The graph input that carries this site's mask. */
  maskInput: string;
}

/** Returns a copy of `model` with every Dropout node replaced by a multiplication with a mask input. */
export function mcDropoutGraph(model: ModelP): { model: ModelP; sites: DropoutSite[] } {
  const m = cloneModel(model);
  const g = m.graph;
  const opset = defaultOpset(m);
  const consts = constantTensors(g);
  const b = new GraphBuilder(g, 'gauntlet_mc_');
  const sites: DropoutSite[] = [];
  const nodes = [];
  for (const n of g.node) {
    if (n.op_type !== 'Dropout' || (n.domain && n.domain !== 'ai.onnx')) {
      nodes.push(n);
      continue;
    }
    const label = n.name || n.output[0]!;
    let ratio: number;
    if (opset >= 12) {
      const r = n.input[1] ? constantValues(consts, n.input[1]) : [0.5];
      if (!r) throw new ModelError(`Dropout node ${label}: its ratio input ${n.input[1]} is not a constant; MC dropout needs a fixed ratio`);
      ratio = r[0]!;
    } else {
      ratio = attrFloat(n, 'ratio', 0.5);
    }
    if (!(ratio >= 0 && ratio < 1)) throw new ModelError(`Dropout node ${label}: ratio must be in [0, 1), got ${ratio}`);
    const maskInput = b.name('mask');
    g.input.push(makeValueInfo(maskInput, DataType.FLOAT, null));
    nodes.push(makeNode('Mul', [n.input[0]!, maskInput], [n.output[0]!], {}, b.name('dropout')));
    if (n.output[1]) nodes.push(makeNode('Cast', [maskInput], [n.output[1]], { to: DataType.BOOL }, b.name('mask_cast')));
    sites.push({ node: label, input: n.input[0]!, output: n.output[0]!, ratio, maskInput });
  }
  g.node = nodes;
  return { model: m, sites };
}

/** The predictive distribution of T MC-dropout passes. */
export interface McDropoutResult extends UncertaintyDecomposition {
  /** Predictive mean probabilities [n, K]. */
  probs: Float64Array;
  numClasses: number;
  passes: number;
  /** Per item, Σ_k of the variance over passes of p_k (population variance, divisor T). */
  variance: Float64Array;
}

export interface McDropoutOptions {
  /** Items per ORT run (default 256; a model with a fixed batch dimension uses that). */
  batchSize?: number;
}

/** A model with its Dropout nodes switched on, ready for seeded MC passes. */
export class McDropout {
  private sizes: number[] | null = null;
  private siteDims: number[][] = [];

  private constructor(
    readonly model: Model,
    readonly sites: readonly DropoutSite[],
    private readonly graph: ModelP,
    private readonly session: ort.InferenceSession,
  ) {}

  /** Transforms `model.prepared` (data-domain input) and opens an ORT session on it. */
  static async create(model: Model, opts: { threads?: number } = {}): Promise<McDropout> {
    const { model: graph, sites } = mcDropoutGraph(model.prepared);
    const session = await createSession(graph, `${model.label} (MC dropout)`, opts);
    return new McDropout(model, sites, graph, session);
  }

  /**
   * T seeded stochastic passes over `n` items packed in `x`. Same `rng` seed, same items → same
   * bytes. With no Dropout sites (or ratio 0 everywhere) every pass is identical and the variance
   * and mutual information are exactly 0.
   */
  async predict(x: Float32Array, n: number, passes: number, rng: Rng, opts: McDropoutOptions = {}): Promise<McDropoutResult> {
    checkRange('passes', passes, { min: 1, integer: true });
    checkRange('n', n, { min: 1, integer: true });
    const batch = this.model.fixedBatch ?? checkRange('batchSize', opts.batchSize ?? 256, { min: 1, integer: true });
    const per = x.length / n;
    const dims = dataDims(this.model, per);
    if (!this.model.outputKind) await this.model.predictBatch(x.subarray(0, per * Math.min(n, batch)), Math.min(n, batch));
    const kind = this.model.outputKind ?? 'logits';
    const sizes = this.sizes ?? (this.sizes = await this.probeSizes(x, n, per, dims));
    let K = 0;
    let mean: Float64Array | null = null;
    let m2: Float64Array | null = null;
    const expected = new Float64Array(n);
    const label = `${this.model.label} (MC dropout)`;
    for (let t = 1; t <= passes; t++) {
      const streams = this.sites.map((_, d) => rng.fork(`mc-dropout/pass:${t}/site:${d}`));
      for (let s = 0; s < n; s += batch) {
        const m = Math.min(batch, n - s);
        const rows = this.model.fixedBatch ?? m;
        let chunk = x.subarray(s * per, (s + m) * per);
        if (rows > m) {
          const padded = new Float32Array(rows * per);
          padded.set(chunk);
          chunk = padded;
        }
        const feeds: Record<string, { data: Float32Array; dims: readonly number[] }> = { [this.model.decl.inputName]: { data: chunk, dims: [rows, ...dims] } };
        this.sites.forEach((site, d) => {
          const size = sizes[d]!;
          const mask = new Float32Array(rows * size).fill(1);
          const keepFrom = Math.ceil(site.ratio * 4294967296);
          const scale = Math.fround(1 / (1 - site.ratio));
          const stream = streams[d]!;
          for (let j = 0; j < m * size; j++) mask[j] = stream.nextU32() >= keepFrom ? scale : 0;
          feeds[site.maskInput] = { data: mask, dims: [rows, ...this.siteDims[d]!] };
        });
        const out = (await runFloat(this.session, feeds, [this.model.decl.outputName], label))[this.model.decl.outputName]!;
        if (out.dims.length !== 2 || out.dims[0] !== rows) {
          throw new ModelError(`${label}: output ${this.model.decl.outputName} has shape [${out.dims.join(', ')}]; a classifier must output [batch, classes]`);
        }
        K = out.dims[1]!;
        const p = toProbabilities(out.data.subarray(0, m * K), K, kind);
        mean ??= new Float64Array(n * K);
        m2 ??= new Float64Array(n * K);
        const o = s * K;
        for (let j = 0; j < m * K; j++) {
          const delta = p[j]! - mean[o + j]!;
          mean[o + j]! += delta / t;
          m2[o + j]! += delta * (p[j]! - mean[o + j]!);
        }
        for (let i = 0; i < m; i++) expected[s + i]! += (rowEntropy(p, i * K, K) - expected[s + i]!) / t;
      }
    }
    const variance = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let k = 0; k < K; k++) v += m2![i * K + k]! / passes;
      variance[i] = v;
    }
    return { probs: mean!, numClasses: K, passes, variance, ...decomposeUncertainty(mean!, expected, K) };
  }

  /** Per-item shape of each site's dropped value, from one run with the sites' inputs as outputs. */
  private async probeSizes(x: Float32Array, n: number, per: number, dims: number[]): Promise<number[]> {
    const graphInputs = new Set(this.graph.graph.input.map((i) => i.name));
    const wanted = [...new Set(this.sites.map((s) => s.input).filter((v) => !graphInputs.has(v)))];
    const shapes: Record<string, number[]> = {};
    if (wanted.length > 0) {
      const probe = cloneModel(this.model.prepared);
      const outs = new Set(probe.graph.output.map((o) => o.name));
      for (const v of wanted) if (!outs.has(v)) probe.graph.output.push(makeValueInfo(v, DataType.FLOAT, null));
      const rows = this.model.fixedBatch ?? Math.min(n, 2);
      const chunk = new Float32Array(rows * per);
      chunk.set(x.subarray(0, Math.min(rows, n) * per));
      const session = await createSession(probe, `${this.model.label} (dropout probe)`);
      try {
        const r = await runFloat(session, { [this.model.decl.inputName]: { data: chunk, dims: [rows, ...dims] } }, wanted, this.model.label);
        for (const v of wanted) {
          const d = r[v]!.dims;
          if (d[0] !== rows) throw new ModelError(`${this.model.label}: Dropout input ${v} has shape [${d.join(', ')}], whose first dimension is not the batch (${rows}); MC dropout needs per-item masks`);
          shapes[v] = d.slice(1);
        }
      } finally {
        await session.release();
      }
    }
    this.siteDims = this.sites.map((s) => (graphInputs.has(s.input) ? dims : shapes[s.input]!));
    return this.siteDims.map((d) => d.reduce((a, b) => a * b, 1));
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** The data-domain dims of one item the model's input takes. */
function dataDims(model: Model, per: number): number[] {
  if (model.itemShape && model.itemShape.every((d) => typeof d === 'number')) return model.itemShape as number[];
  if (model.decl.layout === 'flat') return [per];
  throw new ModelError(`${model.label}: input has symbolic item dims [${model.itemShape?.join(', ')}]; MC dropout needs fixed item dims`);
}

/** Opens MC dropout on `model`, runs T passes over the items and closes it. */
export async function mcDropoutPredict(model: Model, x: Float32Array, n: number, passes: number, rng: Rng, opts: McDropoutOptions = {}): Promise<McDropoutResult> {
  const mc = await McDropout.create(model);
  try {
    return await mc.predict(x, n, passes, rng, opts);
  } finally {
    await mc.close();
  }
}

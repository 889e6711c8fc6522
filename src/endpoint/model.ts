/**
 * A deployed model seen as a black-box `Classifier`: an Open Inference Protocol (KServe v2)
 * endpoint, `http(s)://HOST/v2/models/NAME[/versions/V]`, or a KServe v1 one,
 * `http(s)://HOST/v1/models/NAME`. Its metadata (input name, shape, datatype; output) is read at
 * open; items go out in requests of `batchSize` with at most `concurrency` in flight, each with a
 * time limit and bounded retries (see `EndpointClient`). It has no gradients and no graph: every
 * white-box method refuses it, black-box ones (eval, drift, label noise, Square, conformal,
 * streams) run on it unchanged.
 *
 * Example:
 *   const m = await EndpointModel.open({ url: 'http://127.0.0.1:8000/v2/models/fmnist' });
 *   const p = await m.predict(ds, { batchSize: 256 }); // p.scores [n, K]
 *   m.serving(); // requests, retries, errors, latency p50/p95/p99, items/s
 */
import { createHash } from 'node:crypto';
import type { Dataset } from '../data/dataset.js';
import type { Classifier } from '../engine/classifier.js';
import type { ModelDeclaration, ResolvedDeclaration } from '../engine/declaration.js';
import { checkDataFits, detectOutputKind, inFixedBatches, predictInBatches, type OutputKind, type PredictOptions, type Predictions } from '../engine/model.js';
import { ConfigError, ModelError, UsageError } from '../errors.js';
import { checkTensorHeader, elements, encodeBody, fp32Bytes, HEADER_LENGTH, jsonData, readTensor, splitBody, type TensorHeader } from '../serve/protocol.js';
import type { ModelMetadata } from '../serve/server.js';
import { EndpointClient, EndpointError, type ClientStats } from './client.js';
import type { EndpointProtocol, EndpointSpec } from './options.js';

/** Where a URL points: the server's base URL, the model name and version, and the protocol. */
export interface EndpointAddress {
  base: string;
  name: string;
  version: string | null;
  protocol: EndpointProtocol;
}

/** Splits `http(s)://HOST[/prefix]/v2/models/NAME[/versions/V]` or `.../v1/models/NAME[:predict]`. */
export function parseEndpointUrl(url: string, protocol?: EndpointProtocol): EndpointAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`'endpoint' must be a URL such as http://HOST:8000/v2/models/NAME, got '${url}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`'endpoint' must be an http(s) URL, got '${url}'`);
  const m = /^(.*?)\/(v2|v1)\/models\/([^/:]+)(?:\/versions\/([^/]+))?(?:\/infer|:predict)?\/?$/.exec(u.pathname);
  if (!m) throw new UsageError(`'endpoint' must name a model: http(s)://HOST/v2/models/NAME (Open Inference Protocol) or http(s)://HOST/v1/models/NAME (KServe v1), got '${url}'`);
  const found = m[2] as EndpointProtocol;
  if (protocol && protocol !== found) throw new UsageError(`'protocol' is ${protocol} but the URL '${url}' is a ${found} path (/${found}/models/...); make them agree`);
  if (found === 'v1' && m[4] !== undefined) throw new UsageError(`KServe v1 URLs have no versions: '${url}'`);
  return { base: `${u.origin}${m[1]}`, name: decodeURIComponent(m[3]!), version: m[4] === undefined ? null : decodeURIComponent(m[4]), protocol: found };
}

/** Latency, throughput and error counts of the requests an endpoint model sent. */
export interface EndpointServing {
  url: string;
  protocol: EndpointProtocol;
  tensors: 'binary' | 'json';
  requests: number;
  retries: number;
  errors: number;
  errors_by: Record<string, number>;
  items: number;
  /** Items per second over the time spent in predictions. */
  throughput: number;
  latency_p50_ms: number;
  latency_p95_ms: number;
  latency_p99_ms: number;
  bytes_sent: number;
  bytes_received: number;
  concurrency: number;
}

export class EndpointModel implements Classifier {
  readonly source = 'endpoint' as const;
  outputKindReason = '';
  private kindKnown: OutputKind | null;
  private dataShape: number[] | null = null;
  private items = 0;
  private busyMs = 0;

  private constructor(
    readonly label: string,
    readonly sha256: string,
    readonly address: EndpointAddress,
    readonly decl: ResolvedDeclaration,
    readonly itemShape: (number | string)[] | null,
    readonly fixedBatch: number | null,
    readonly numClasses: number | null,
    /** The server's metadata (v2), or null (v1 has none). */
    readonly metadata: ModelMetadata | null,
    private readonly inputDatatype: 'FP32' | 'FP64',
    private readonly client: EndpointClient,
    private readonly spec: Required<Pick<EndpointSpec, 'concurrency' | 'binary'>>,
  ) {
    if (decl.output === 'sigmoid') throw new ConfigError(`${label}: output_kind sigmoid (a one-column binary head folded into the graph) needs the ONNX file; for an endpoint, serve two-class probabilities or logits`);
    this.kindKnown = decl.output === 'auto' ? null : decl.output;
    if (this.kindKnown) this.outputKindReason = 'declared';
  }

  /** Connects: reads the metadata (v2) or the model's status (v1), with the client's retries. */
  static async open(spec: EndpointSpec, decl: ModelDeclaration = {}): Promise<EndpointModel> {
    const address = parseEndpointUrl(spec.url, spec.protocol);
    if (decl.layout !== undefined || decl.preprocess !== undefined) {
      throw new UsageError(`${spec.url}: 'layout' and 'preprocess' fold into an ONNX graph; an endpoint takes its inputs as its metadata declares them (declare 'bounds' for their range)`);
    }
    const client = new EndpointClient({ headers: spec.headers, timeoutMs: spec.timeoutMs ?? 30_000, retries: spec.retries ?? 3 });
    const bounds = decl.bounds ?? [0, 1];
    if (!(bounds[0] < bounds[1])) throw new UsageError(`'bounds' must be [low, high] with low < high, got ${JSON.stringify(bounds)}`);
    const output = decl.outputNameOrKind !== undefined && ['logits', 'probabilities', 'auto'].includes(decl.outputNameOrKind) ? (decl.outputNameOrKind as OutputKind | 'auto') : (decl.output ?? 'auto');
    const common = { bounds: [bounds[0], bounds[1]] as [number, number], boundsDeclared: decl.bounds !== undefined, preprocess: null, output };
    const vpath = address.version === null ? '' : `/versions/${encodeURIComponent(address.version)}`;
    if (address.protocol === 'v1') {
      await client.request('GET', `${address.base}/v1/models/${encodeURIComponent(address.name)}`);
      const item = spec.shape ?? null;
      const resolved: ResolvedDeclaration = { ...common, layout: item && item.length === 3 ? 'NCHW' : 'flat', inputName: decl.inputName ?? 'instances', outputName: decl.outputName ?? 'predictions' };
      const sha = createHash('sha256').update(JSON.stringify({ url: spec.url, protocol: 'v1', shape: item })).digest('hex');
      return new EndpointModel(spec.url, sha, address, resolved, item, null, null, null, 'FP32', client, { concurrency: spec.concurrency ?? 4, binary: false });
    }
    const r = await client.request('GET', `${address.base}/v2/models/${encodeURIComponent(address.name)}${vpath}`);
    const meta = parseMetadata(r.body, spec.url);
    const input = decl.inputName === undefined ? meta.inputs[0]! : meta.inputs.find((i) => i.name === decl.inputName);
    if (!input) throw new UsageError(`'input' must be one of the endpoint's inputs ${meta.inputs.map((i) => i.name).join(', ')}, got ${decl.inputName}`);
    if (meta.inputs.length > 1) throw new ModelError(`${spec.url}: has ${meta.inputs.length} inputs (${meta.inputs.map((i) => i.name).join(', ')}); Gauntlet feeds one`);
    if (input.datatype !== 'FP32' && input.datatype !== 'FP64') throw new ModelError(`${spec.url}: input ${input.name} has datatype ${input.datatype}; Gauntlet feeds FP32 (or FP64) tensors`);
    const outName = decl.outputName ?? (decl.outputNameOrKind !== undefined && meta.outputs.some((o) => o.name === decl.outputNameOrKind) ? decl.outputNameOrKind : meta.outputs[0]?.name);
    const out = meta.outputs.find((o) => o.name === outName);
    if (!out) throw new UsageError(`'output' must be one of the endpoint's outputs ${meta.outputs.map((o) => o.name).join(', ')}, got ${outName}`);
    const item = input.shape.length > 0 ? input.shape.slice(1).map((d, i) => (d > 0 ? d : `d${i + 1}`)) : null;
    const fixedBatch = input.shape.length > 0 && input.shape[0]! > 0 ? input.shape[0]! : null;
    const k = out.shape.length === 2 && out.shape[1]! > 0 ? out.shape[1]! : null;
    const resolved: ResolvedDeclaration = { ...common, layout: item && item.length === 3 ? 'NCHW' : 'flat', inputName: input.name, outputName: out.name };
    const sha = createHash('sha256').update(JSON.stringify({ url: spec.url, metadata: meta })).digest('hex');
    return new EndpointModel(spec.url, sha, address, resolved, item, fixedBatch, k, meta, input.datatype, client, { concurrency: spec.concurrency ?? 4, binary: spec.binary ?? true });
  }

  get outputKind(): OutputKind | null {
    return this.kindKnown;
  }

  checkData(ds: Dataset, numClasses?: number): void {
    checkDataFits(this, ds, numClasses);
    this.dataShape = [...ds.itemShape];
  }

  /** Sends `n` items (one request, or requests of the endpoint's fixed batch size) and returns their scores [n, K]. */
  async predictBatch(x: Float32Array, n: number): Promise<{ scores: Float32Array; numClasses: number }> {
    if (n === 0) return { scores: new Float32Array(0), numClasses: this.numClasses ?? 0 };
    const B = this.fixedBatch ?? n;
    const per = x.length / n;
    const { scores, numClasses: k } = await inFixedBatches(x, n, B, (chunk) => (this.address.protocol === 'v1' ? this.predictV1(chunk, B, per) : this.inferV2(chunk, B, per)));
    if (!this.kindKnown) {
      const d = detectOutputKind(scores, k);
      this.kindKnown = d.kind;
      this.outputKindReason = d.reason;
    }
    return { scores, numClasses: k };
  }

  async predict(ds: Dataset, opts: PredictOptions = {}): Promise<Predictions> {
    this.checkData(ds);
    return this.predictItems(ds.x, ds.size, opts);
  }

  /** Predicts `n` items in requests of `batchSize` (default 256), at most `concurrency` in flight; output order is input order. */
  async predictItems(x: Float32Array, n: number, opts: PredictOptions = {}): Promise<Predictions> {
    const t0 = performance.now();
    let done = 0;
    try {
      const r = await predictInBatches(this, x, n, { ...opts, onProgress: (d, total) => ((done = d), opts.onProgress?.(d, total)) }, this.spec.concurrency);
      return { scores: r.scores, numClasses: r.numClasses, kind: this.kindKnown ?? 'logits', batchMs: r.batchMs };
    } finally {
      this.items += done;
      this.busyMs += performance.now() - t0;
    }
  }

  /** Latency, throughput and error counts so far. */
  serving(): EndpointServing {
    const s: ClientStats = this.client.stats;
    const lat = [...s.latencyMs].sort((a, b) => a - b);
    const q = (p: number): number => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)]! : NaN);
    return {
      url: this.label,
      protocol: this.address.protocol,
      tensors: this.address.protocol === 'v2' && this.spec.binary ? 'binary' : 'json',
      requests: s.requests,
      retries: s.retries,
      errors: s.errors,
      errors_by: { ...s.errorsBy },
      items: this.items,
      throughput: this.busyMs > 0 ? this.items / (this.busyMs / 1000) : NaN,
      latency_p50_ms: q(0.5),
      latency_p95_ms: q(0.95),
      latency_p99_ms: q(0.99),
      bytes_sent: s.bytesSent,
      bytes_received: s.bytesReceived,
      concurrency: this.spec.concurrency,
    };
  }

  async close(): Promise<void> {
    /* fetch keeps no state that needs closing */
  }

  /** The shape of `n` items of `per` values each: the metadata's, the data's, or flat. */
  private shapeOf(n: number, per: number): number[] {
    if (this.itemShape && this.itemShape.every((d) => typeof d === 'number')) return [n, ...(this.itemShape as number[])];
    if (this.dataShape && elements(this.dataShape) === per) return [n, ...this.dataShape];
    return [n, per];
  }

  private async inferV2(x: Float32Array, n: number, per: number): Promise<{ scores: Float32Array; numClasses: number }> {
    const shape = this.shapeOf(n, per);
    const input: TensorHeader = { name: this.decl.inputName, shape, datatype: this.inputDatatype };
    const chunks: Buffer[] = [];
    const binary = this.spec.binary;
    if (binary) {
      const bytes = this.inputDatatype === 'FP32' ? fp32Bytes(x) : fp64Bytes(x);
      input.parameters = { binary_data_size: bytes.length };
      chunks.push(bytes);
    } else input.data = jsonData(x);
    const header = { inputs: [input], outputs: [binary ? { name: this.decl.outputName, parameters: { binary_data: true } } : { name: this.decl.outputName }] };
    const { body, headerLength } = encodeBody(header, chunks);
    const vpath = this.address.version === null ? '' : `/versions/${encodeURIComponent(this.address.version)}`;
    const url = `${this.address.base}/v2/models/${encodeURIComponent(this.address.name)}${vpath}/infer`;
    const headers: Record<string, string> = { 'content-type': headerLength === null ? 'application/json' : 'application/octet-stream' };
    if (headerLength !== null) headers[HEADER_LENGTH] = String(headerLength);
    const r = await this.client.request('POST', url, body, headers);
    try {
      const { json, binary: tail } = splitBody(r.body, r.headers.get(HEADER_LENGTH) ?? undefined, 'response');
      const outs = (json as { outputs?: unknown })?.outputs;
      if (!Array.isArray(outs)) throw new Error('the response has no outputs list');
      let offset = 0;
      for (let i = 0; i < outs.length; i++) {
        const t = checkTensorHeader(outs[i], `outputs[${i}]`);
        const read = t.parameters?.binary_data_size !== undefined || t.data !== undefined ? readTensor(t, tail, offset, `outputs[${i}]`) : { data: new Float32Array(0), bytes: 0 };
        if (t.name === this.decl.outputName) {
          if (t.shape.length !== 2 || t.shape[0] !== n) throw new Error(`output ${t.name} has shape [${t.shape.join(', ')}]; a classifier answers [${n}, classes]`);
          return { scores: read.data, numClasses: t.shape[1]! };
        }
        offset += read.bytes;
      }
      throw new Error(`the response has no output '${this.decl.outputName}'`);
    } catch (e) {
      throw new EndpointError(`${url}: unusable answer: ${(e as Error).message}`, r.status);
    }
  }

  private async predictV1(x: Float32Array, n: number, per: number): Promise<{ scores: Float32Array; numClasses: number }> {
    const item = this.shapeOf(n, per).slice(1);
    const instances = Array.from({ length: n }, (_, i) => nest(x.subarray(i * per, (i + 1) * per), item));
    const url = `${this.address.base}/v1/models/${encodeURIComponent(this.address.name)}:predict`;
    const r = await this.client.request('POST', url, Buffer.from(JSON.stringify({ instances })), { 'content-type': 'application/json' });
    let preds: unknown;
    try {
      preds = (JSON.parse(r.body.toString('utf8')) as { predictions?: unknown }).predictions;
    } catch (e) {
      throw new EndpointError(`${url}: unusable answer: not JSON (${(e as Error).message})`, r.status);
    }
    if (!Array.isArray(preds) || preds.length !== n) throw new EndpointError(`${url}: unusable answer: expected {"predictions": [...]} with ${n} rows`, r.status);
    if (!preds.every((p) => Array.isArray(p) && p.every((v) => typeof v === 'number'))) {
      throw new EndpointError(`${url}: answers class labels or nested values, not a list of per-class scores per instance; Gauntlet needs scores`, r.status);
    }
    const k = (preds[0] as number[]).length;
    if (preds.some((p) => (p as number[]).length !== k)) throw new EndpointError(`${url}: unusable answer: prediction rows differ in length`, r.status);
    const scores = new Float32Array(n * k);
    preds.forEach((p, i) => scores.set(p as number[], i * k));
    return { scores, numClasses: k };
  }
}

function parseMetadata(body: Buffer, url: string): ModelMetadata {
  let j: unknown;
  try {
    j = JSON.parse(body.toString('utf8'));
  } catch {
    throw new EndpointError(`${url}: the model metadata is not JSON`, 200);
  }
  const m = j as Partial<ModelMetadata>;
  const okT = (t: unknown): boolean => !!t && typeof (t as TensorHeader).name === 'string' && typeof (t as TensorHeader).datatype === 'string' && Array.isArray((t as TensorHeader).shape);
  if (!Array.isArray(m.inputs) || m.inputs.length === 0 || !m.inputs.every(okT) || !Array.isArray(m.outputs) || m.outputs.length === 0 || !m.outputs.every(okT)) {
    throw new EndpointError(`${url}: the model metadata has no inputs/outputs with name, datatype and shape`, 200);
  }
  return { name: String(m.name ?? ''), versions: Array.isArray(m.versions) ? m.versions.map(String) : [], platform: String(m.platform ?? ''), inputs: m.inputs, outputs: m.outputs };
}

function fp64Bytes(x: Float32Array): Buffer {
  const b = Buffer.alloc(x.length * 8);
  for (let i = 0; i < x.length; i++) b.writeDoubleLE(x[i]!, i * 8);
  return b;
}

/** Flat values as nested arrays of `shape` (row-major). */
function nest(x: Float32Array, shape: readonly number[]): unknown {
  if (shape.length <= 1) return Array.from(x);
  const step = x.length / shape[0]!;
  return Array.from({ length: shape[0]! }, (_, i) => nest(x.subarray(i * step, (i + 1) * step), shape.slice(1)));
}

/**
 * A reference Open Inference Protocol server (KServe v2 REST) for one classifier, on node:http:
 *
 *   GET  /v2/health/live, /v2/health/ready        200 (ready: 503 while shutting down)
 *   GET  /v2                                      server metadata (name, version, extensions)
 *   GET  /v2/models/{name}[/versions/{v}]         model metadata: inputs and outputs (name, datatype, shape)
 *   GET  /v2/models/{name}[/versions/{v}]/ready   200 when ready
 *   POST /v2/models/{name}[/versions/{v}]/infer   JSON or binary tensors in, scores [n, K] FP32 out
 *   GET  /v2/models/{name}/stats                  requests, items, model calls (dynamic batching)
 *   GET  /v1/models/{name}                        KServe v1 status
 *   POST /v1/models/{name}:predict                KServe v1: {"instances": [...]} → {"predictions": [...]}
 *
 * The model is served as declared: its input takes data-domain values (NCHW images in the declared
 * bounds), preprocessing folded into the graph. Bad requests get 400 and `{"error": "..."}`; an
 * unknown model or version 404. Concurrent requests are batched (see `Batcher`).
 *
 * Example:
 *   const model = await Model.open('m.onnx');
 *   const srv = await startServer(model, { name: 'fmnist', port: 0 });
 *   // POST ${srv.url}/v2/models/fmnist/infer
 *   await srv.close(); await model.close();
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Classifier } from '../engine/classifier.js';
import { GauntletError } from '../errors.js';
import { Batcher, type BatcherStats } from './batcher.js';
import { checkTensorHeader, elements, encodeBody, fp32Bytes, HEADER_LENGTH, jsonData, ProtocolError, readTensor, splitBody, type InferRequest, type TensorHeader } from './protocol.js';

export interface ServeOptions {
  /** Model name in URLs (default: the file name without .onnx). */
  name?: string;
  /** The one version served (default '1'). */
  version?: string;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 8000; 0 picks a free one). */
  port?: number;
  /** Dynamic batching: most items per model call (default 64). */
  maxBatch?: number;
  /** Dynamic batching: longest wait of the oldest queued request, ms (default 2). */
  maxWaitMs?: number;
  /** Largest request body accepted, bytes (default 256 MiB); larger ones get 413. */
  maxBodyBytes?: number;
}

export interface ServerStats extends BatcherStats {
  /** HTTP responses by status code. */
  responses: Record<string, number>;
}

export interface RunningServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly name: string;
  stats(): ServerStats;
  /** Stops accepting connections, answers the requests in flight, then resolves. */
  close(): Promise<void>;
}

/** The model metadata a server reports (`GET /v2/models/{name}`). */
export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

/** Metadata of a classifier as served: data-domain input [-1, ...item], output [-1, K]; -1 is a dynamic dim. */
export function metadataOf(model: Classifier, name: string, version: string): ModelMetadata {
  const item = (model.itemShape ?? (model.decl.layout === 'flat' ? [-1] : [-1, -1, -1])).map((d) => (typeof d === 'number' ? d : -1));
  return {
    name,
    versions: [version],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: model.decl.inputName, datatype: 'FP32', shape: [-1, ...item] }],
    outputs: [{ name: model.decl.outputName, datatype: 'FP32', shape: [-1, model.numClasses ?? -1] }],
  };
}

/** Starts the server; resolves once it listens. */
export async function startServer(model: Classifier, opts: ServeOptions = {}): Promise<RunningServer> {
  const name = opts.name ?? 'model';
  const version = opts.version ?? '1';
  const host = opts.host ?? '127.0.0.1';
  const maxBody = opts.maxBodyBytes ?? 256 * 1024 * 1024;
  const meta = metadataOf(model, name, version);
  const batcher = new Batcher((x, n) => model.predictBatch(x, n), { maxBatch: opts.maxBatch, maxWaitMs: opts.maxWaitMs });
  const responses: Record<string, number> = {};
  let closing = false;

  const send = (res: http.ServerResponse, status: number, body: unknown, extra?: { binary: Buffer[] }): void => {
    responses[status] = (responses[status] ?? 0) + 1;
    const { body: bytes, headerLength } = encodeBody(body as object, extra?.binary ?? []);
    const headers: http.OutgoingHttpHeaders = { 'content-length': bytes.length };
    if (headerLength !== null) {
      headers['content-type'] = 'application/octet-stream';
      headers[HEADER_LENGTH] = headerLength;
    } else headers['content-type'] = 'application/json';
    if (closing) headers.connection = 'close';
    res.writeHead(status, headers);
    res.end(bytes);
  };

  const infer = async (body: Buffer, headerLength: string | undefined): Promise<{ status: number; body: unknown; binary?: Buffer[] }> => {
    const { json, binary } = splitBody(body, headerLength, 'request');
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new ProtocolError(400, 'request must be a JSON object with "inputs"');
    const req = json as InferRequest;
    if (!Array.isArray(req.inputs) || req.inputs.length === 0) throw new ProtocolError(400, 'request.inputs must be a non-empty list of tensors');
    if (req.inputs.length !== 1) throw new ProtocolError(400, `model '${name}' has one input, '${meta.inputs[0]!.name}'; the request has ${req.inputs.length}`);
    const t = checkTensorHeader(req.inputs[0], 'inputs[0]');
    const want = meta.inputs[0]!;
    if (t.name !== want.name) throw new ProtocolError(400, `unknown input '${t.name}'; model '${name}' has input '${want.name}'`);
    if (t.datatype !== 'FP32') throw new ProtocolError(400, `input '${t.name}' has datatype ${t.datatype}; model '${name}' takes FP32`);
    const fits = t.shape.length === want.shape.length && t.shape.every((d, i) => i === 0 || want.shape[i] === -1 || want.shape[i] === d);
    if (!fits || t.shape[0]! < 1) {
      throw new ProtocolError(400, `input '${t.name}' has shape [${t.shape.join(', ')}]; model '${name}' takes [${want.shape.join(', ')}] (-1: any size, batch at least 1)`);
    }
    const { data, bytes } = readTensor(t, binary, 0, `inputs[0] '${t.name}'`);
    if (bytes !== binary.length) throw new ProtocolError(400, `the body has ${binary.length} binary bytes after the JSON header; the inputs declare ${bytes}`);
    const outName = meta.outputs[0]!.name;
    let binaryOut = req.parameters?.binary_data_output === true;
    if (req.outputs !== undefined) {
      if (!Array.isArray(req.outputs)) throw new ProtocolError(400, 'request.outputs must be a list');
      for (const o of req.outputs) {
        if (!o || typeof o !== 'object' || o.name !== outName) throw new ProtocolError(400, `unknown output '${(o as { name?: unknown })?.name}'; model '${name}' has output '${outName}'`);
        if (o.parameters?.binary_data === true) binaryOut = true;
        else if (o.parameters?.binary_data === false) binaryOut = false;
      }
    }
    const n = t.shape[0]!;
    const r = await batcher.submit(data, n);
    const out: TensorHeader = { name: outName, datatype: 'FP32', shape: [n, r.numClasses] };
    const res: Record<string, unknown> = { model_name: name, model_version: version, ...(req.id !== undefined ? { id: req.id } : {}), outputs: [out] };
    if (binaryOut) {
      const b = fp32Bytes(r.scores);
      out.parameters = { binary_data_size: b.length };
      return { status: 200, body: res, binary: [b] };
    }
    out.data = jsonData(r.scores);
    return { status: 200, body: res };
  };

  const predictV1 = async (body: Buffer): Promise<unknown> => {
    const { json } = splitBody(body, undefined, 'request');
    const inst = (json as { instances?: unknown })?.instances;
    if (!Array.isArray(inst) || inst.length === 0) throw new ProtocolError(400, 'request must be {"instances": [...]} with at least one instance');
    const item = meta.inputs[0]!.shape.slice(1);
    const per = item.every((d) => d > 0) ? elements(item) : null;
    const rows = inst.map((v, i) => readTensor({ name: 'instance', shape: [per ?? countNumbers(v)], datatype: 'FP32', data: v }, Buffer.alloc(0), 0, `instances[${i}]`).data);
    const len = rows[0]!.length;
    if (rows.some((r) => r.length !== len)) throw new ProtocolError(400, 'instances differ in size');
    const x = new Float32Array(rows.length * len);
    rows.forEach((r, i) => x.set(r, i * len));
    const r = await batcher.submit(x, rows.length);
    const k = r.numClasses;
    return { predictions: rows.map((_, i) => jsonData(r.scores.subarray(i * k, (i + 1) * k))) };
  };

  const route = async (req: http.IncomingMessage, body: Buffer): Promise<{ status: number; body: unknown; binary?: Buffer[] }> => {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = url.pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    const only = (m: string) => {
      if (method !== m) throw new ProtocolError(405, `${p} takes ${m}, got ${method}`);
    };
    if (p === '/v2/health/live') {
      only('GET');
      return { status: 200, body: { live: true } };
    }
    if (p === '/v2/health/ready') {
      only('GET');
      return closing ? { status: 503, body: { ready: false } } : { status: 200, body: { ready: true } };
    }
    if (p === '/v2') {
      only('GET');
      return { status: 200, body: { name: 'gauntlet', version: '0.1.0', extensions: ['binary_tensor_data', 'statistics'] } };
    }
    const v2 = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/infer|\/ready|\/stats)?$/.exec(p);
    if (v2) {
      const [, m, v, action] = v2;
      if (decode(m!) !== name) throw new ProtocolError(404, `unknown model '${decode(m!)}'; this server serves '${name}'`);
      if (v !== undefined && decode(v) !== version) throw new ProtocolError(404, `unknown version '${decode(v)}' of model '${name}'; it has version ${version}`);
      if (action === '/infer') {
        only('POST');
        return await infer(body, req.headers[HEADER_LENGTH] as string | undefined);
      }
      if (action === '/ready') {
        only('GET');
        return { status: closing ? 503 : 200, body: { name, ready: !closing } };
      }
      if (action === '/stats') {
        only('GET');
        return { status: 200, body: { model_stats: [{ name, version, ...statsNow() }] } };
      }
      only('GET');
      return { status: 200, body: meta };
    }
    const v1 = /^\/v1\/models\/([^/:]+)(:predict)?$/.exec(p);
    if (v1) {
      if (decode(v1[1]!) !== name) throw new ProtocolError(404, `unknown model '${decode(v1[1]!)}'; this server serves '${name}'`);
      if (v1[2]) {
        only('POST');
        return { status: 200, body: await predictV1(body) };
      }
      only('GET');
      return { status: 200, body: { name, ready: !closing } };
    }
    throw new ProtocolError(404, `no such endpoint: ${method} ${p}`);
  };

  const statsNow = (): ServerStats => ({ ...batcher.stats, responses: { ...responses } });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBody) tooLarge = true;
      else chunks.push(c);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (tooLarge) return send(res, 413, { error: `request body of ${size} bytes exceeds the limit of ${maxBody}` });
      route(req, Buffer.concat(chunks, size)).then(
        (r) => send(res, r.status, r.body, r.binary ? { binary: r.binary } : undefined),
        (e: unknown) => {
          const status = e instanceof ProtocolError ? e.status : 500;
          const msg = e instanceof GauntletError ? e.message : `internal error: ${(e as Error)?.message ?? String(e)}`;
          send(res, status, { error: msg });
        },
      );
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8000, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closed: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    name,
    stats: statsNow,
    close() {
      if (closed) return closed;
      closing = true;
      closed = new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Connections that stay open (a client holding keep-alive) are cut once the batcher is idle.
        void batcher.idle().then(() => setTimeout(() => server.closeAllConnections(), 1000).unref());
      });
      return closed;
    },
  };
}

/** A URL path segment, decoded; a malformed escape is a bad request. */
function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ProtocolError(400, `malformed URL escape in '${s}'`);
  }
}

function countNumbers(v: unknown): number {
  return Array.isArray(v) ? v.reduce((s: number, x) => s + countNumbers(x), 0) : 1;
}

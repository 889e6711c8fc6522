/**
 * `gauntlet monitor`: a reverse proxy in front of a deployed model. It forwards every request to
 * the upstream server unchanged and returns its answer; on Open Inference Protocol inference calls
 * (`POST /v2/models/NAME[/versions/V]/infer`, JSON or binary tensors) it also reads the inputs and
 * the scores and feeds the stream monitors online — the same monitor classes `gauntlet stream`
 * uses (KS/PSI on a per-item signal, MMD on the probability vector; ADWIN, Page–Hinkley and DDM on
 * the 0/1 error once a label arrives on `POST /labels`). Prometheus metrics are on `GET /metrics`
 * (prom-client); alerts are counted there and POSTed as JSON to a webhook with bounded retries.
 *
 * Items are numbered in arrival order; an inference answer carries `Gauntlet-Item-Ids: FIRST-LAST`
 * and labels arrive as `{"items": [{"id": 17, "label": 3}, ...]}` or, for a request sent with an
 * `id`, `{"request_id": "abc", "labels": [3, 1]}` (its rows in order).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { detectOutputKind } from '../engine/model.js';
import { toProbabilities } from '../metrics/classification.js';
import { Rng } from '../rng.js';
import { checkTensorHeader, HEADER_LENGTH, readTensor, splitBody } from '../serve/protocol.js';
import { getMonitorType, type MonitorType } from '../stream/monitors/index.js';
import type { MonitorSpec } from '../stream/scenario.js';
import { inputSignals, itemSignal, predictionSignals, type ItemSignal } from '../stream/signals.js';
import type { Monitor } from '../stream/types.js';
import { ConfigError } from '../errors.js';

export interface MonitorProxyOptions {
  /** Base URL of the upstream server (`http://HOST:PORT`; a path prefix is kept). */
  upstream: string;
  host?: string;
  port?: number;
  /** The monitors (see `scenarioMonitors`): item-, vector- (probabilities) and error-fed types. */
  monitors: readonly MonitorSpec[];
  seed?: number;
  /** POST every alert here as JSON. */
  alertWebhook?: string;
  /** Retries of a webhook POST that failed (default 3; backoff 200 ms doubling). */
  webhookRetries?: number;
  /** Time limit of one upstream request, ms (default 60 s); past it the client gets 504. */
  upstreamTimeoutMs?: number;
  /** Predictions kept for labels that arrive later (default 100,000 items). */
  keepItems?: number;
}

export interface MonitorAlert {
  monitor: string;
  type: string;
  kind: string;
  /** The item (arrival number) whose update raised it. */
  item: number;
  statistic: number;
  threshold: number;
  time: string;
}

export interface RunningMonitor {
  readonly url: string;
  readonly port: number;
  readonly alerts: readonly MonitorAlert[];
  /** Items seen, labels matched, webhook deliveries that failed after their retries. */
  counts(): { items: number; labels: number; webhookFailures: number; upstreamErrors: number };
  close(): Promise<void>;
}

interface Bound {
  spec: MonitorSpec;
  type: MonitorType;
  monitor: Monitor<unknown>;
}

const INFER = /^\/v2\/models\/([^/]+)(?:\/versions\/[^/]+)?\/infer$/;

/** Checks that every monitor can be fed by the proxy (it sees requests and answers, not the model). */
export function checkProxyMonitors(specs: readonly MonitorSpec[]): void {
  for (const s of specs) {
    const t = getMonitorType(s.type)!;
    if (t.feed === 'squeeze' || t.feed === 'annotations') throw new ConfigError(`monitor '${s.name}' (${s.type}) needs ${t.feed === 'squeeze' ? 'the model itself' : 'annotators\' labels'}; the proxy feeds item signals, probabilities and the delayed error`);
    if (s.on === 'input-projection') throw new ConfigError(`monitor '${s.name}': 'on: input-projection' is not available in the proxy; use probabilities or an item signal`);
  }
}

export async function startMonitorProxy(o: MonitorProxyOptions): Promise<RunningMonitor> {
  checkProxyMonitors(o.monitors);
  const upstream = new URL(o.upstream);
  const prefix = upstream.pathname.replace(/\/+$/, '');
  const rng = new Rng(o.seed ?? 0);
  const bound: Bound[] = o.monitors.map((spec) => ({ spec, type: getMonitorType(spec.type)!, monitor: getMonitorType(spec.type)!.create({ ...spec.options }, rng.fork(`monitor:${spec.name}`)) as Monitor<unknown> }));
  const keep = o.keepItems ?? 100_000;
  const alerts: MonitorAlert[] = [];
  const predicted = new Map<number, number>();
  const byRequest = new Map<string, number[]>();
  let items = 0;
  let labels = 0;
  let webhookFailures = 0;
  let upstreamErrors = 0;
  let kind: 'logits' | 'probabilities' | null = null;
  const pending = new Set<Promise<void>>();

  const agent = new (upstream.protocol === 'https:' ? https : http).Agent({ keepAlive: true, maxSockets: 64 });
  const registry = new client.Registry();
  const latency = new client.Histogram({ name: 'gauntlet_proxy_request_duration_seconds', help: 'Time from request to answer through the proxy', labelNames: ['route', 'status'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
  const upstreamFail = new client.Counter({ name: 'gauntlet_proxy_upstream_errors_total', help: 'Requests the upstream did not answer (refused, reset, timed out)', labelNames: ['reason'], registers: [registry] });
  const itemsTotal = new client.Counter({ name: 'gauntlet_monitor_items_total', help: 'Items seen in inference answers', registers: [registry] });
  const labelsTotal = new client.Counter({ name: 'gauntlet_monitor_labels_total', help: 'Delayed labels matched to a prediction', labelNames: ['correct'], registers: [registry] });
  const alertsTotal = new client.Counter({ name: 'gauntlet_monitor_alerts_total', help: 'Alerts raised by the stream monitors', labelNames: ['monitor', 'kind'], registers: [registry] });
  const statistic = new client.Gauge({ name: 'gauntlet_monitor_statistic', help: "Each monitor's latest test statistic (NaN while learning its reference)", labelNames: ['monitor'], registers: [registry] });
  const threshold = new client.Gauge({ name: 'gauntlet_monitor_threshold', help: "Each monitor's alert threshold", labelNames: ['monitor'], registers: [registry] });
  const webhookFail = new client.Counter({ name: 'gauntlet_monitor_webhook_failures_total', help: 'Alert webhook deliveries that failed after their retries', registers: [registry] });

  const post = async (alert: MonitorAlert): Promise<void> => {
    const retries = o.webhookRetries ?? 3;
    for (let a = 0; a <= retries; a++) {
      try {
        const r = await fetch(o.alertWebhook!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alert), signal: AbortSignal.timeout(5000) });
        await r.arrayBuffer();
        if (r.ok) return;
      } catch {
        /* retried below */
      }
      if (a < retries) await new Promise((r) => setTimeout(r, 200 * 2 ** a));
    }
    webhookFailures++;
    webhookFail.inc();
  };

  const update = (b: Bound, value: unknown, item: number): void => {
    b.monitor.update(value);
    statistic.set({ monitor: b.spec.name }, b.monitor.statistic);
    threshold.set({ monitor: b.spec.name }, b.monitor.threshold);
    if (!b.monitor.driftDetected) return;
    const alert: MonitorAlert = { monitor: b.spec.name, type: b.spec.type, kind: b.monitor.kind, item, statistic: b.monitor.statistic, threshold: b.monitor.threshold, time: new Date().toISOString() };
    alerts.push(alert);
    alertsTotal.inc({ monitor: b.spec.name, kind: b.monitor.kind });
    if (o.alertWebhook) {
      const p = post(alert).finally(() => pending.delete(p));
      pending.add(p);
    }
  };

  /** Items in an inference request (its first input's batch dim), or null when it cannot be read. */
  const itemCount = (reqBody: Buffer, reqHeaderLength: string | undefined): number | null => {
    try {
      const req = splitBody(reqBody, reqHeaderLength, 'request');
      const n = checkTensorHeader((req.json as { inputs: unknown[] }).inputs[0], 'inputs[0]').shape[0];
      return Number.isInteger(n) && n! > 0 ? n! : null;
    } catch {
      return null;
    }
  };

  /** Feeds the monitors from one inference call whose items are numbered from `first`. */
  const observe = (first: number, reqBody: Buffer, reqHeaderLength: string | undefined, resBody: Buffer, resHeaderLength: string | undefined): void => {
    const req = splitBody(reqBody, reqHeaderLength, 'request');
    const res = splitBody(resBody, resHeaderLength, 'response');
    const input = checkTensorHeader((req.json as { inputs: unknown[] }).inputs[0], 'inputs[0]');
    const x = readTensor(input, req.binary, 0, 'inputs[0]').data;
    const out = checkTensorHeader((res.json as { outputs: unknown[] }).outputs[0], 'outputs[0]');
    const scores = readTensor(out, res.binary, 0, 'outputs[0]').data;
    const n = input.shape[0]!;
    const K = out.shape[1]!;
    if (out.shape.length !== 2 || out.shape[0] !== n) return;
    kind ??= detectOutputKind(scores, K).kind;
    const probs = toProbabilities(scores, K, kind);
    const per = x.length / n;
    const itemShape = input.shape.slice(1);
    const ids: number[] = [];
    for (let r = 0; r < n; r++) {
      const id = first + r;
      ids.push(id);
      const ps = predictionSignals(probs, r * K, K);
      predicted.set(id, ps.predicted);
      if (predicted.size > keep) predicted.delete(predicted.keys().next().value!);
      const inp = bound.some((b) => b.type.feed === 'item' && String(b.spec.on).startsWith('input-')) ? inputSignals(x, r * per, itemShape) : null;
      for (const b of bound) {
        if (b.type.feed === 'item') update(b, itemSignal(b.spec.on as ItemSignal, ps, inp), id);
        else if (b.type.feed === 'vector') update(b, probs.subarray(r * K, (r + 1) * K), id);
      }
    }
    itemsTotal.inc(n);
    const rid = (req.json as { id?: unknown }).id;
    if (typeof rid === 'string') {
      byRequest.set(rid, ids);
      if (byRequest.size > keep) byRequest.delete(byRequest.keys().next().value!);
    }
  };

  const label = (id: number, y: number): boolean => {
    const p = predicted.get(id);
    if (p === undefined) return false;
    predicted.delete(id);
    labels++;
    labelsTotal.inc({ correct: p === y ? 'true' : 'false' });
    for (const b of bound) if (b.type.feed === 'error') update(b, p === y ? 0 : 1, id);
    return true;
  };

  const labelsRoute = (body: Buffer): { status: number; body: unknown } => {
    let j: { items?: { id: number; label: number }[]; request_id?: string; labels?: number[] };
    try {
      j = JSON.parse(body.toString('utf8'));
    } catch {
      return { status: 400, body: { error: 'labels: the body is not JSON' } };
    }
    const pairs: [number, number][] = [];
    if (Array.isArray(j?.items)) {
      for (const it of j.items) {
        if (!Number.isInteger(it?.id) || !Number.isInteger(it?.label)) return { status: 400, body: { error: 'labels: items must be [{"id": integer, "label": integer}, ...]' } };
        pairs.push([it.id, it.label]);
      }
    } else if (typeof j?.request_id === 'string' && Array.isArray(j.labels)) {
      const ids = byRequest.get(j.request_id);
      if (!ids) return { status: 404, body: { error: `labels: no request with id '${j.request_id}' among the recent ones` } };
      if (ids.length !== j.labels.length || !j.labels.every((v) => Number.isInteger(v))) return { status: 400, body: { error: `labels: request '${j.request_id}' had ${ids.length} items; give as many integer labels` } };
      ids.forEach((id, i) => pairs.push([id, j.labels![i]!]));
    } else return { status: 400, body: { error: 'labels: give {"items": [{"id", "label"}, ...]} or {"request_id", "labels": [...]}' } };
    let matched = 0;
    for (const [id, y] of pairs) if (label(id, y)) matched++;
    return { status: 200, body: { matched, unknown: pairs.length - matched } };
  };

  const reply = (res: http.ServerResponse, status: number, body: unknown, route: string, t0: number): void => {
    const b = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length });
    res.end(b);
    latency.observe({ route, status: String(status) }, (performance.now() - t0) / 1000);
  };

  const server = http.createServer((req, res) => {
    const t0 = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const p = new URL(req.url ?? '/', 'http://x').pathname;
      if (p === '/metrics' && req.method === 'GET') {
        void registry.metrics().then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        });
        return;
      }
      if (p === '/labels' && req.method === 'POST') {
        const r = labelsRoute(body);
        return reply(res, r.status, r.body, 'labels', t0);
      }
      const infer = req.method === 'POST' && INFER.test(p);
      const route = infer ? 'infer' : 'other';
      const headers = { ...req.headers, host: upstream.host };
      const up = (upstream.protocol === 'https:' ? https : http).request({ agent, protocol: upstream.protocol, hostname: upstream.hostname, port: upstream.port, method: req.method, path: prefix + (req.url ?? '/'), headers, timeout: o.upstreamTimeoutMs ?? 60_000 }, (ur) => {
        const parts: Buffer[] = [];
        ur.on('data', (c: Buffer) => parts.push(c));
        ur.on('error', () => res.destroy());
        ur.on('end', () => {
          const rb = Buffer.concat(parts);
          const out: http.OutgoingHttpHeaders = { ...ur.headers };
          let feed: (() => void) | null = null;
          if (infer && ur.statusCode === 200) {
            // Number the items now (the answer carries their ids); the monitors are fed after the answer is sent.
            const n = itemCount(body, req.headers[HEADER_LENGTH] as string | undefined);
            if (n !== null) {
              const first = items;
              items += n;
              out['gauntlet-item-ids'] = `${first}-${first + n - 1}`;
              feed = () => {
                try {
                  observe(first, body, req.headers[HEADER_LENGTH] as string | undefined, rb, ur.headers[HEADER_LENGTH] as string | undefined);
                } catch {
                  // An answer the monitors cannot read is still the client's answer.
                }
              };
            }
          }
          res.writeHead(ur.statusCode ?? 502, out);
          res.end(rb);
          latency.observe({ route, status: String(ur.statusCode) }, (performance.now() - t0) / 1000);
          if (feed) setImmediate(feed);
        });
      });
      up.on('timeout', () => up.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      up.on('error', (e: NodeJS.ErrnoException) => {
        if (res.headersSent) return res.destroy();
        upstreamErrors++;
        const reason = e.code ?? 'error';
        upstreamFail.inc({ reason });
        reply(res, reason === 'ETIMEDOUT' ? 504 : 502, { error: `upstream ${o.upstream} did not answer (${reason})` }, route, t0);
      });
      up.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8080, o.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
    port: addr.port,
    alerts,
    counts: () => ({ items, labels, webhookFailures, upstreamErrors }),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await Promise.allSettled([...pending]);
      agent.destroy();
    },
  };
}

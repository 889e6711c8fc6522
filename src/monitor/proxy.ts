/**
 * `gauntlet monitor`: a reverse proxy in front of a deployed model. It forwards every request to
 * the upstream server unchanged and returns its answer; on Open Inference Protocol inference calls
 * (`POST /v2/models/NAME[/versions/V]/infer`, JSON or binary tensors) it also reads the inputs and
 * the scores and feeds the stream monitors online — the same monitor classes `gauntlet stream`
 * uses (KS/PSI on a per-item signal, MMD on the probability vector; ADWIN, Page–Hinkley and DDM on
 * the 0/1 error once a label arrives on `POST /labels`). Prometheus metrics are on `GET /metrics`
 * (prom-client); alerts are counted there and POSTed as JSON to a webhook with bounded retries.
 *
 * With a challenger (`challenger`, `mode`), inference requests are mirrored to it (shadow: the user
 * still gets the upstream's answer, the mirror never delays or fails it) or a seeded fraction is
 * answered by it (canary; a failed challenger answer falls back to the upstream). Latency, errors,
 * agreement and accuracy on the delayed labels of both go into a `ChallengerBook`, whose promotion
 * verdict is on `/metrics`, on `GET /status` (JSON) and POSTed to the webhook when it changes.
 * Abstention: a request with the header `Gauntlet-Abstain: 1` gets, instead of the scores, the
 * predicted class per item or -1 where the configured rule defers (see abstain.ts).
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
import { argmaxAt, toProbabilities } from '../metrics/classification.js';
import { Rng } from '../rng.js';
import { checkTensorHeader, HEADER_LENGTH, readTensor, splitBody, type TensorHeader } from '../serve/protocol.js';
import { getMonitorType, type MonitorType } from '../stream/monitors/index.js';
import type { MonitorAlert } from '../stream/evaluate.js';
import type { MonitorSpec } from '../stream/scenario.js';
import { inputSignals, itemSignal, predictionSignals, type ItemSignal } from '../stream/signals.js';
import type { Monitor } from '../stream/types.js';
import { ConfigError } from '../errors.js';
import type { AbstainRule } from './abstain.js';
import { canaryRoute, ChallengerBook, type ChallengerMode, type ChallengerRule, type Verdict } from './challenger.js';

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
  /** A challenger server (base URL, or a model URL `.../v2/models/NAME` whose name replaces the request's). */
  challenger?: string;
  mode?: ChallengerMode;
  /** Canary: share of inference requests the challenger answers (default 0.1). */
  canaryFraction?: number;
  rule?: Partial<ChallengerRule>;
  /** The abstention rule applied when a client asks (header Gauntlet-Abstain: 1). */
  abstain?: AbstainRule;
}

export const DEFAULT_CHALLENGER_RULE: ChallengerRule = { minLabelled: 200, maxAccuracyDrop: 0.01, maxLatencyRatio: 2, maxErrorRate: 0.01, confidence: 0.95 };

export type { MonitorAlert };

export interface ProxyStatus {
  upstream: string;
  items: number;
  labels: number;
  alerts: number;
  upstream_errors: number;
  abstain: { rule: string; items: number; deferred: number; deferral_rate: number | null } | null;
  challenger: ({ url: string; mode: ChallengerMode; fraction: number | null; rule: ChallengerRule; verdict: Verdict } & Record<string, unknown>) | null;
}

export interface RunningMonitor {
  readonly url: string;
  readonly port: number;
  readonly alerts: readonly MonitorAlert[];
  /** Items seen, labels matched, webhook deliveries that failed after their retries. */
  counts(): { items: number; labels: number; webhookFailures: number; upstreamErrors: number; deferred: number; abstainItems: number };
  /** What `GET /status` answers. */
  status(): ProxyStatus;
  close(): Promise<void>;
}

interface Bound {
  spec: MonitorSpec;
  type: MonitorType;
  monitor: Monitor<unknown>;
  /** Fed at least once (its gauges appear on /metrics from then on). */
  updated: boolean;
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

/** A server the proxy talks to: the upstream (champion) or the challenger. */
interface Target {
  readonly url: string;
  readonly base: URL;
  readonly mod: typeof http | typeof https;
  readonly agent: http.Agent;
  /** Path prefix kept in front of every request path. */
  readonly prefix: string;
  /** A model name that replaces the request's `/v2/models/NAME` (a challenger named differently), or null. */
  readonly model: string | null;
}

/** One answer from a target. */
interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Time from sending the request to the answer's last byte, ms. */
  ms: number;
}

/** An inference request's first input, read once (item count, monitors' input signals). */
interface ParsedRequest {
  json: { id?: unknown; inputs: unknown[] };
  binary: Buffer;
  input: TensorHeader;
  n: number;
}

/** An inference answer's scores as probabilities. */
interface ParsedAnswer {
  probs: Float64Array;
  n: number;
  K: number;
}

const MODEL_PATH = /^(.*?)\/v2\/models\/([^/]+)\/?$/;

function makeTarget(url: string): Target {
  const base = new URL(url);
  let prefix = base.pathname.replace(/\/+$/, '');
  let model: string | null = null;
  const m = MODEL_PATH.exec(prefix);
  if (m) {
    prefix = m[1]!;
    model = decodeURIComponent(m[2]!);
  }
  const mod = base.protocol === 'https:' ? https : http;
  return { url, base, mod, agent: new mod.Agent({ keepAlive: true, maxSockets: 64 }), prefix, model };
}

/** The request path on a target: its prefix, and its model name in place of the request's. */
function targetPath(t: Target, reqUrl: string): string {
  if (t.model === null) return t.prefix + reqUrl;
  return t.prefix + reqUrl.replace(/^\/v2\/models\/[^/?]+/, `/v2/models/${encodeURIComponent(t.model)}`);
}

/**
 * One request to a target. A kept-alive socket the server closed while idle resets the request
 * that reuses it (Node's `reusedSocket` case); that request is sent once more on a fresh socket.
 */
function send(t: Target, method: string, reqUrl: string, headers: http.IncomingHttpHeaders, body: Buffer, timeoutMs: number, retry = true): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const up = t.mod.request({ agent: t.agent, protocol: t.base.protocol, hostname: t.base.hostname, port: t.base.port, method, path: targetPath(t, reqUrl), headers: { ...headers, host: t.base.host }, timeout: timeoutMs }, (ur) => {
      const parts: Buffer[] = [];
      ur.on('data', (c: Buffer) => parts.push(c));
      ur.on('error', reject);
      ur.on('end', () => resolve({ status: ur.statusCode ?? 502, headers: ur.headers, body: parts.length === 1 ? parts[0]! : Buffer.concat(parts), ms: performance.now() - t0 }));
    });
    up.on('timeout', () => up.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    up.on('error', (e: NodeJS.ErrnoException) => {
      if (retry && up.reusedSocket && e.code === 'ECONNRESET') send(t, method, reqUrl, headers, body, timeoutMs, false).then(resolve, reject);
      else reject(e);
    });
    up.end(body);
  });
}

/** Items in an inference request (its first input's batch dim) with the parsed input, or null when it cannot be read. */
function parseRequest(body: Buffer, headerLength: string | undefined): ParsedRequest | null {
  try {
    const req = splitBody(body, headerLength, 'request');
    const json = req.json as ParsedRequest['json'];
    const input = checkTensorHeader(json.inputs[0], 'inputs[0]');
    const n = input.shape[0];
    return Number.isInteger(n) && n! > 0 ? { json, binary: req.binary, input, n: n! } : null;
  } catch {
    return null;
  }
}

export async function startMonitorProxy(o: MonitorProxyOptions): Promise<RunningMonitor> {
  checkProxyMonitors(o.monitors);
  const up = makeTarget(o.upstream);
  const chal = o.challenger !== undefined ? makeTarget(o.challenger) : null;
  const mode: ChallengerMode = o.mode ?? 'shadow';
  const fraction = o.canaryFraction ?? 0.1;
  const rule: ChallengerRule = { ...DEFAULT_CHALLENGER_RULE, ...o.rule };
  const seed = o.seed ?? 0;
  const timeoutMs = o.upstreamTimeoutMs ?? 60_000;
  const rng = new Rng(seed);
  const bound: Bound[] = o.monitors.map((spec) => ({ spec, type: getMonitorType(spec.type)!, monitor: getMonitorType(spec.type)!.create({ ...spec.options }, rng.fork(`monitor:${spec.name}`)) as Monitor<unknown>, updated: false }));
  const needsInput = bound.some((b) => b.type.feed === 'item' && String(b.spec.on).startsWith('input-'));
  const keep = o.keepItems ?? 100_000;
  const book = chal ? new ChallengerBook(mode, rule, keep) : null;
  const alerts: MonitorAlert[] = [];
  const predicted = new Map<number, number>();
  const byRequest = new Map<string, number[]>();
  let items = 0;
  let labels = 0;
  let inferRequests = 0;
  let webhookFailures = 0;
  let upstreamErrors = 0;
  let abstainItems = 0;
  let deferredItems = 0;
  const kinds: Record<'champion' | 'challenger', 'logits' | 'probabilities' | null> = { champion: null, challenger: null };
  let verdict: Verdict | null = book ? book.verdict() : null;
  const pending = new Set<Promise<void>>();
  // Each model's request outcome (latency ms, or null: failed); set below when there is a challenger.
  let recordRequest: (who: 'champion' | 'challenger', ms: number | null, reason?: string) => void = () => {};

  const registry = new client.Registry();
  const latency = new client.Histogram({ name: 'gauntlet_proxy_request_duration_seconds', help: 'Time from request to answer through the proxy', labelNames: ['route', 'status'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
  const upstreamFail = new client.Counter({ name: 'gauntlet_proxy_upstream_errors_total', help: 'Requests the upstream did not answer (refused, reset, timed out)', labelNames: ['reason'], registers: [registry] });
  const itemsTotal = new client.Counter({ name: 'gauntlet_monitor_items_total', help: 'Items seen in inference answers', registers: [registry] });
  const labelsTotal = new client.Counter({ name: 'gauntlet_monitor_labels_total', help: 'Delayed labels matched to a prediction', labelNames: ['correct'], registers: [registry] });
  const alertsTotal = new client.Counter({ name: 'gauntlet_monitor_alerts_total', help: 'Alerts raised by the stream monitors', labelNames: ['monitor', 'kind'], registers: [registry] });
  // Read from the monitors when scraped, not set on every update (12 label look-ups per item saved).
  new client.Gauge({
    name: 'gauntlet_monitor_statistic',
    help: "Each monitor's latest test statistic (NaN while learning its reference)",
    labelNames: ['monitor'],
    registers: [registry],
    collect() {
      for (const b of bound) if (b.updated) this.set({ monitor: b.spec.name }, b.monitor.statistic);
    },
  });
  new client.Gauge({
    name: 'gauntlet_monitor_threshold',
    help: "Each monitor's alert threshold",
    labelNames: ['monitor'],
    registers: [registry],
    collect() {
      for (const b of bound) if (b.updated) this.set({ monitor: b.spec.name }, b.monitor.threshold);
    },
  });
  const webhookFail = new client.Counter({ name: 'gauntlet_monitor_webhook_failures_total', help: 'Alert webhook deliveries that failed after their retries', registers: [registry] });
  if (book) {
    const modelRequests = new client.Counter({ name: 'gauntlet_challenger_requests_total', help: 'Inference requests sent to each model (champion: the upstream) and whether they failed', labelNames: ['model', 'outcome'], registers: [registry] });
    const modelLatency = new client.Histogram({ name: 'gauntlet_challenger_model_duration_seconds', help: "Each model's answer time for inference requests", labelNames: ['model'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
    const chalErrors = new client.Counter({ name: 'gauntlet_challenger_errors_total', help: 'Challenger requests that failed, by reason (a code or HTTP status)', labelNames: ['reason'], registers: [registry] });
    modelRequests.inc({ model: 'champion', outcome: 'ok' }, 0);
    modelRequests.inc({ model: 'challenger', outcome: 'ok' }, 0);
    modelRequests.inc({ model: 'challenger', outcome: 'error' }, 0);
    recordRequest = (who, ms, reason) => {
      book.request(who, ms);
      modelRequests.inc({ model: who, outcome: ms === null ? 'error' : 'ok' });
      if (ms !== null) modelLatency.observe({ model: who }, ms / 1000);
      else if (who === 'challenger') {
        chalErrors.inc({ reason: reason ?? 'error' });
        checkVerdict();
      }
    };
    new client.Gauge({
      name: 'gauntlet_challenger_agreement',
      help: 'Share of items both models predicted on which they agree (NaN before any)',
      registers: [registry],
      collect() {
        const a = book.agreement();
        this.set(a.compared ? a.agree / a.compared : NaN);
      },
    });
    new client.Gauge({
      name: 'gauntlet_challenger_accuracy',
      help: "Each model's accuracy on its labelled items (NaN before any)",
      labelNames: ['model'],
      registers: [registry],
      collect() {
        const v = book.verdict();
        this.set({ model: 'champion' }, v.accuracy.champion ?? NaN);
        this.set({ model: 'challenger' }, v.accuracy.challenger ?? NaN);
      },
    });
    new client.Gauge({
      name: 'gauntlet_challenger_accuracy_difference',
      help: 'Challenger minus champion accuracy, with the interval bounds of the promotion rule (NaN before labels)',
      labelNames: ['bound'],
      registers: [registry],
      collect() {
        const v = book.verdict();
        this.set({ bound: 'estimate' }, v.difference ?? NaN);
        this.set({ bound: 'lower' }, v.ci ? v.ci[0] : NaN);
        this.set({ bound: 'upper' }, v.ci ? v.ci[1] : NaN);
      },
    });
    new client.Gauge({
      name: 'gauntlet_challenger_verdict',
      help: 'The promotion rule: 1 for the current decision, 0 for the others',
      labelNames: ['decision'],
      registers: [registry],
      collect() {
        const d = book.verdict().decision;
        for (const k of ['promote', 'rollback', 'undecided'] as const) this.set({ decision: k }, k === d ? 1 : 0);
      },
    });
  }
  const abstainTotal = o.abstain ? new client.Counter({ name: 'gauntlet_abstain_items_total', help: 'Items of requests that asked for abstention, by whether they were deferred', labelNames: ['deferred'], registers: [registry] }) : null;
  if (o.abstain) {
    abstainTotal!.inc({ deferred: 'true' }, 0);
    abstainTotal!.inc({ deferred: 'false' }, 0);
    new client.Gauge({
      name: 'gauntlet_abstain_deferral_rate',
      help: 'Share of items deferred among those of requests that asked for abstention (NaN before any)',
      registers: [registry],
      collect() {
        this.set(abstainItems ? deferredItems / abstainItems : NaN);
      },
    });
  }

  const post = async (payload: object): Promise<void> => {
    const retries = o.webhookRetries ?? 3;
    for (let a = 0; a <= retries; a++) {
      try {
        const r = await fetch(o.alertWebhook!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload), signal: AbortSignal.timeout(5000) });
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
  const deliver = (payload: object): void => {
    if (!o.alertWebhook) return;
    const p = post(payload).finally(() => pending.delete(p));
    pending.add(p);
  };

  /** Re-evaluates the promotion rule; a changed decision is POSTed to the webhook. */
  function checkVerdict(): void {
    if (!book) return;
    const v = book.verdict();
    const changed = verdict === null || v.decision !== verdict.decision;
    verdict = v;
    if (changed && v.decision !== 'undecided') deliver({ event: 'challenger_verdict', challenger: chal!.url, upstream: up.url, mode, ...v, time: new Date().toISOString() });
  }

  const update = (b: Bound, value: unknown, item: number): void => {
    b.monitor.update(value);
    b.updated = true;
    if (!b.monitor.driftDetected) return;
    const alert: MonitorAlert = { monitor: b.spec.name, type: b.spec.type, kind: b.monitor.kind, item, statistic: b.monitor.statistic, threshold: b.monitor.threshold, time: new Date().toISOString() };
    alerts.push(alert);
    if (alerts.length > keep) alerts.shift();
    alertsTotal.inc({ monitor: b.spec.name, kind: b.monitor.kind });
    deliver(alert);
  };

  /** The scores of an answer as probabilities (the output kind is detected once per model). */
  const readAnswer = (a: Answer, who: 'champion' | 'challenger', n: number): ParsedAnswer | null => {
    const res = splitBody(a.body, a.headers[HEADER_LENGTH] as string | undefined, 'response');
    const out = checkTensorHeader((res.json as { outputs: unknown[] }).outputs[0], 'outputs[0]');
    if (out.shape.length !== 2 || out.shape[0] !== n) return null;
    const K = out.shape[1]!;
    const scores = readTensor(out, res.binary, 0, 'outputs[0]').data;
    kinds[who] ??= detectOutputKind(scores, K).kind;
    return { probs: toProbabilities(scores, K, kinds[who]!), n, K };
  };

  /** Feeds the monitors from one served inference answer whose items are numbered from `first`. */
  const observe = (first: number, req: ParsedRequest, ans: ParsedAnswer, who: 'champion' | 'challenger'): void => {
    const { probs, n, K } = ans;
    const x = needsInput ? readTensor(req.input, req.binary, 0, 'inputs[0]').data : null;
    const per = x ? x.length / n : 0;
    const itemShape = req.input.shape.slice(1);
    const ids: number[] = [];
    for (let r = 0; r < n; r++) {
      const id = first + r;
      ids.push(id);
      const ps = predictionSignals(probs, r * K, K);
      predicted.set(id, ps.predicted);
      if (predicted.size > keep) predicted.delete(predicted.keys().next().value!);
      if (book) who === 'champion' ? book.champion(id, ps.predicted) : book.challenger(id, ps.predicted);
      const inp = x ? inputSignals(x, r * per, itemShape) : null;
      for (const b of bound) {
        if (b.type.feed === 'item') update(b, itemSignal(b.spec.on as ItemSignal, ps, inp), id);
        else if (b.type.feed === 'vector') update(b, probs.subarray(r * K, (r + 1) * K), id);
      }
    }
    itemsTotal.inc(n);
    const rid = req.json.id;
    if (typeof rid === 'string') {
      byRequest.set(rid, ids);
      if (byRequest.size > keep) byRequest.delete(byRequest.keys().next().value!);
    }
  };

  /** The shadow's answer for items numbered from `first`: its predictions go to the book. */
  const shadowAnswer = (first: number, n: number, a: Answer): void => {
    try {
      const ans = readAnswer(a, 'challenger', n);
      if (!ans) throw new Error('shape');
      for (let r = 0; r < n; r++) book!.challenger(first + r, argmaxAt(ans.probs, r * ans.K, ans.K));
    } catch {
      // The challenger answered 200 with scores that cannot be read: an error of the challenger's.
      recordRequest('challenger', null, 'unreadable');
    }
  };

  const label = (id: number, y: number): boolean => {
    const p = predicted.get(id);
    book?.label(id, y);
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
    checkVerdict();
    return { status: 200, body: { matched, unknown: pairs.length - matched } };
  };

  const status = (): ProxyStatus => ({
    upstream: up.url,
    items,
    labels,
    alerts: alerts.length,
    upstream_errors: upstreamErrors,
    abstain: o.abstain ? { rule: o.abstain.description, items: abstainItems, deferred: deferredItems, deferral_rate: abstainItems ? deferredItems / abstainItems : null } : null,
    challenger: book ? { url: chal!.url, mode, fraction: mode === 'canary' ? fraction : null, rule, verdict: book.verdict(), ...book.summary() } : null,
  });

  const reply = (res: http.ServerResponse, code: number, body: unknown, route: string, t0: number): void => {
    const b = Buffer.from(JSON.stringify(body));
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': b.length });
    res.end(b);
    latency.observe({ route, status: String(code) }, (performance.now() - t0) / 1000);
  };

  const failed = (res: http.ServerResponse, e: NodeJS.ErrnoException, route: string, t0: number): void => {
    if (res.headersSent) return void res.destroy();
    upstreamErrors++;
    const reason = e.code ?? 'error';
    upstreamFail.inc({ reason });
    reply(res, reason === 'ETIMEDOUT' ? 504 : 502, { error: `upstream ${o.upstream} did not answer (${reason})` }, route, t0);
  };

  /** Mirrors a request to the shadow: resolves to its answer when it is usable, else null (counted). Never rejects. */
  const mirror = (req: http.IncomingMessage, body: Buffer): Promise<Answer | null> =>
    send(chal!, req.method!, req.url ?? '/', req.headers, body, timeoutMs).then(
      (a) => {
        if (a.status >= 500) return (recordRequest('challenger', null, `HTTP ${a.status}`), null);
        recordRequest('challenger', a.ms);
        return a.status === 200 ? a : null;
      },
      (e: NodeJS.ErrnoException) => (recordRequest('challenger', null, e.code ?? 'error'), null),
    );

  const inferRoute = async (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, t0: number): Promise<void> => {
    const wantAbstain = /^(1|true|yes)$/i.test(String(req.headers['gauntlet-abstain'] ?? ''));
    if (wantAbstain && !o.abstain) return reply(res, 400, { error: 'abstention is not configured on this proxy (start it with --abstain-confidence P or --abstain-conformal FILE)' }, 'infer', t0);
    const k = inferRequests++;
    const shadow = chal && mode === 'shadow' ? mirror(req, body) : null;
    let who: 'champion' | 'challenger' = 'champion';
    let a: Answer | null = null;
    if (chal && mode === 'canary' && canaryRoute(seed, k, fraction)) {
      try {
        const c = await send(chal, req.method!, req.url ?? '/', req.headers, body, timeoutMs);
        if (c.status >= 500) recordRequest('challenger', null, `HTTP ${c.status}`);
        else {
          recordRequest('challenger', c.ms);
          a = c;
          who = 'challenger';
        }
      } catch (e) {
        recordRequest('challenger', null, (e as NodeJS.ErrnoException).code ?? 'error');
      }
    }
    if (a === null) {
      try {
        a = await send(up, req.method!, req.url ?? '/', req.headers, body, timeoutMs);
        recordRequest('champion', a.status >= 500 ? null : a.ms);
      } catch (e) {
        recordRequest('champion', null);
        return failed(res, e as NodeJS.ErrnoException, 'infer', t0);
      }
    }
    const out: http.OutgoingHttpHeaders = { ...a.headers };
    if (chal) out['gauntlet-served-by'] = who;
    let resBody = a.body;
    let feed: (() => void) | null = null;
    if (a.status === 200) {
      const parsed = parseRequest(body, req.headers[HEADER_LENGTH] as string | undefined);
      if (parsed) {
        // Number the items now (the answer carries their ids); the monitors are fed after the answer is sent.
        const first = items;
        items += parsed.n;
        out['gauntlet-item-ids'] = `${first}-${first + parsed.n - 1}`;
        let ans: ParsedAnswer | null | undefined;
        const answer = (): ParsedAnswer | null => {
          if (ans === undefined) {
            try {
              ans = readAnswer(a!, who, parsed.n);
            } catch {
              ans = null; // An answer the monitors cannot read is still the client's answer.
            }
          }
          return ans;
        };
        if (wantAbstain && o.abstain) {
          const p = answer();
          if (!p) return reply(res, 502, { error: `abstention: the ${who === 'champion' ? 'upstream' : 'challenger'}'s answer has no readable [${parsed.n}, K] scores` }, 'infer', t0);
          const d = o.abstain.decide(p.probs, p.K);
          abstainItems += parsed.n;
          deferredItems += d.deferred;
          abstainTotal!.inc({ deferred: 'true' }, d.deferred);
          abstainTotal!.inc({ deferred: 'false' }, parsed.n - d.deferred);
          const j = splitBody(a.body, a.headers[HEADER_LENGTH] as string | undefined, 'response').json as Record<string, unknown>;
          const outputs: unknown[] = [
            { name: 'prediction', datatype: 'INT64', shape: [parsed.n], data: d.prediction },
            { name: 'confidence', datatype: 'FP32', shape: [parsed.n], data: d.confidence },
          ];
          if (d.setSize) outputs.push({ name: 'set_size', datatype: 'INT64', shape: [parsed.n], data: d.setSize });
          resBody = Buffer.from(JSON.stringify({ model_name: j.model_name, ...(j.model_version !== undefined ? { model_version: j.model_version } : {}), ...(j.id !== undefined ? { id: j.id } : {}), outputs, parameters: { gauntlet_deferred: d.deferred, gauntlet_rule: o.abstain.description } }));
          delete out[HEADER_LENGTH];
          out['content-type'] = 'application/json';
          out['content-length'] = resBody.length;
          out['gauntlet-deferred'] = String(d.deferred);
        }
        feed = () => {
          const p = answer();
          if (p) {
            try {
              observe(first, parsed, p, who);
            } catch {
              // An input the monitors cannot read is still the client's request.
            }
          }
          if (shadow) void shadow.then((m) => m && shadowAnswer(first, parsed.n, m));
        };
      }
    }
    res.writeHead(a.status, out);
    res.end(resBody);
    latency.observe({ route: 'infer', status: String(a.status) }, (performance.now() - t0) / 1000);
    if (feed) setImmediate(feed);
  };

  const server = http.createServer((req, res) => {
    const t0 = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const p = q < 0 ? url : url.slice(0, q);
      if (req.method === 'POST' && INFER.test(p)) return void inferRoute(req, res, body, t0);
      if (p === '/metrics' && req.method === 'GET') {
        void registry.metrics().then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        });
        return;
      }
      if (p === '/status' && req.method === 'GET') return reply(res, 200, status(), 'status', t0);
      if (p === '/alerts' && req.method === 'GET') return reply(res, 200, { alerts }, 'alerts', t0);
      if (p === '/labels' && req.method === 'POST') {
        const r = labelsRoute(body);
        return reply(res, r.status, r.body, 'labels', t0);
      }
      send(up, req.method!, url, req.headers, body, timeoutMs).then(
        (a) => {
          res.writeHead(a.status, a.headers);
          res.end(a.body);
          latency.observe({ route: 'other', status: String(a.status) }, (performance.now() - t0) / 1000);
        },
        (e: NodeJS.ErrnoException) => failed(res, e, 'other', t0),
      );
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
    counts: () => ({ items, labels, webhookFailures, upstreamErrors, deferred: deferredItems, abstainItems }),
    status,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await Promise.allSettled([...pending]);
      up.agent.destroy();
      chal?.agent.destroy();
    },
  };
}

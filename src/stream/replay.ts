/**
 * A scenario replayed against a live endpoint through `gauntlet monitor`: the same items, drift
 * episodes and attacked items as `runStream` (the same draws from the same seed; attacks crafted on
 * the scenario's local model), each sent as one inference request at its arrival time divided by
 * `speed` (open loop, bounded in flight), its true label POSTed to the monitor's /labels once
 * `label_delay` later items have been sent. The monitor's alerts (GET /alerts) are mapped back to
 * stream positions through the answers' Gauntlet-Item-Ids, and scored against the segments by
 * the same `evaluateMonitors` as the offline simulation.
 *
 * Example:
 *   const r = await replayStream(loadScenario('s.yaml'), { endpoint: 'http://127.0.0.1:8080/v2/models/fm', speed: 10 });
 *   r.evaluation.episodes.map((e) => e.delay);
 */
import { loadDataset } from '../data/load.js';
import { openClassifier } from '../endpoint/open.js';
import { ConfigError, DataError, UsageError } from '../errors.js';
import { Rng } from '../rng.js';
import { EngineCache } from '../stress/adversarial/index.js';
import { evaluateMonitors, type MonitorAlert, type MonitorEvaluation, type MonitorInfo, type StreamAlert } from './evaluate.js';
import { getMonitorType } from './monitors/index.js';
import type { Scenario } from './scenario.js';
import { percentile } from './serving.js';
import { chunkInputs, planStream, stressChunk } from './simulate.js';

export interface ReplayOptions {
  /** The model's URL through the monitor: http://HOST:PORT[/prefix]/v2/models/NAME. */
  endpoint: string;
  /** Arrival times are divided by this (default 1: the scenario's real rate). */
  speed?: number;
  /** Requests in flight at most (default 256); past it the replay waits and says so in `late`. */
  maxInFlight?: number;
  /** Time limit of one request, ms (default 30 s). */
  timeoutMs?: number;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface ReplayResult {
  endpoint: string;
  monitor: string;
  speed: number;
  items: number;
  /** Offered and achieved request rates (per second of wall time). */
  offered_rate: number;
  achieved_rate: number;
  answered: number;
  /** Failed requests by reason (HTTP status or error code). */
  errors: Record<string, number>;
  /** End-to-end latency through the monitor, ms. */
  latency: { p50_ms: number; p95_ms: number; p99_ms: number };
  /** Share of answered items whose top class is the label. */
  accuracy: number;
  /** Items sent later than their arrival time by more than 50 ms (the sender fell behind). */
  late: number;
  labels_posted: number;
  alerts: StreamAlert[];
  evaluation: MonitorEvaluation;
  seconds: number;
}

/** Splits `http://H/p/v2/models/NAME` into the monitor's base URL and the model name. */
export function monitorBase(endpoint: string): { base: string; model: string } {
  const m = /^(https?:\/\/[^/]+(?:\/.*?)?)\/v2\/models\/([^/]+)\/?$/i.exec(endpoint);
  if (!m) throw new UsageError(`'--endpoint' must be a model URL through 'gauntlet monitor', http(s)://HOST:PORT/v2/models/NAME, got '${endpoint}'`);
  return { base: m[1]!, model: m[2]! };
}

export async function replayStream(sc: Scenario, o: ReplayOptions): Promise<ReplayResult> {
  const t0 = performance.now();
  const speed = o.speed ?? 1;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const maxInFlight = o.maxInFlight ?? 256;
  const { base, model: modelName } = monitorBase(o.endpoint);
  let status: Response;
  try {
    status = await fetch(`${base}/status`, { signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new ConfigError(`stream: ${base} did not answer (${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message}); start 'gauntlet monitor' in front of the model first`);
  }
  await status.arrayBuffer();
  if (!status.ok) throw new ConfigError(`stream: ${base}/status answered ${status.status}; --endpoint must go through 'gauntlet monitor' (it takes the labels and reports the alerts)`);
  const ds = await loadDataset(sc.data);
  if (!ds.labels) throw new DataError(`${ds.name}: a stream needs labelled data (labels arrive after 'label_delay' items)`);
  if (sc.model.endpoint) throw new ConfigError(`stream --endpoint: the scenario's 'model' crafts the attacks and must be a local ONNX file, got the endpoint ${sc.model.path}`);
  const meta = await fetch(`${base}/v2/models/${modelName}`, { signal: AbortSignal.timeout(10_000) });
  const metaJson = (await meta.json().catch(() => null)) as { inputs?: { name?: string }[] } | null;
  const inputName = metaJson?.inputs?.[0]?.name;
  if (!meta.ok || typeof inputName !== 'string') throw new ConfigError(`stream: ${base}/v2/models/${modelName} gave no model metadata (HTTP ${meta.status}); is the model name right?`);
  const model = await openClassifier(sc.model, { threads: o.threads ?? 0 });
  const engines = new EngineCache(model);
  try {
    const rng = new Rng(sc.seed);
    const plan = planStream(sc, ds, rng);
    const N = plan.length;
    const per = plan.per;
    const shape = [1, ...ds.itemShape];
    const pos = new Map<number, number>(); // monitor item id → stream position
    const idOf = new Int32Array(N).fill(-1);
    const predicted = new Int32Array(N).fill(-1);
    const latencies: number[] = [];
    const errors: Record<string, number> = {};
    const inFlight = new Set<Promise<void>>();
    let late = 0;
    let labelsPosted = 0;
    let nextLabel = 0;
    const labelPosts: Promise<void>[] = [];

    const sendItem = (t: number, x: Float32Array): Promise<void> => {
      const head = Buffer.from(JSON.stringify({ id: `stream-${sc.seed}-${t}`, inputs: [{ name: inputName, shape, datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }] }));
      const body = Buffer.concat([head, Buffer.from(x.buffer, x.byteOffset, x.byteLength)]);
      const s0 = performance.now();
      return fetch(`${base}/v2/models/${modelName}/infer`, { method: 'POST', headers: { 'inference-header-content-length': String(head.length) }, body, signal: AbortSignal.timeout(timeoutMs) }).then(
        async (r) => {
          const j = (await r.json().catch(() => null)) as { outputs?: { shape: number[]; data?: number[] }[] } | null;
          if (r.status !== 200) return void (errors[`HTTP ${r.status}`] = (errors[`HTTP ${r.status}`] ?? 0) + 1);
          latencies.push(performance.now() - s0);
          const ids = /^(\d+)-(\d+)$/.exec(r.headers.get('gauntlet-item-ids') ?? '');
          if (ids) {
            idOf[t] = Number(ids[1]);
            pos.set(Number(ids[1]), t);
          }
          const d = j?.outputs?.[0]?.data;
          if (d && d.length > 0) {
            let best = 0;
            for (let k = 1; k < d.length; k++) if (d[k]! > d[best]!) best = k;
            predicted[t] = best;
          }
        },
        (e: Error & { cause?: { code?: string } }) => {
          const reason = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.name);
          errors[reason] = (errors[reason] ?? 0) + 1;
        },
      );
    };

    /** Labels of the positions `label_delay` behind `t` whose items the monitor numbered. */
    const postLabels = (upTo: number, force: boolean): void => {
      const items: { id: number; label: number }[] = [];
      let j = nextLabel;
      for (; j <= upTo; j++) {
        if (idOf[j] === -1 && !force) break; // not answered yet: wait for it (keeps label order)
        if (idOf[j] !== -1) items.push({ id: idOf[j]!, label: plan.labels[j]! });
      }
      nextLabel = j;
      if (items.length === 0) return;
      labelsPosted += items.length;
      labelPosts.push(
        fetch(`${base}/labels`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items }), signal: AbortSignal.timeout(timeoutMs) }).then(
          (r) => r.arrayBuffer().then(() => undefined),
          () => void (errors['labels'] = (errors['labels'] ?? 0) + 1),
        ),
      );
    };

    const B = sc.batchSize;
    const prepare = async (c0: number): Promise<Float32Array> => {
      const c1 = Math.min(N, c0 + B);
      const x = chunkInputs(plan, ds, c0, c1);
      await stressChunk(sc, plan, ds, model, engines, rng, c0, c1, x);
      return x;
    };
    let next = prepare(0);
    const start = performance.now();
    for (let c0 = 0; c0 < N; c0 += B) {
      const x = await next;
      const c1 = Math.min(N, c0 + B);
      if (c1 < N) next = prepare(c1);
      for (let t = c0; t < c1; t++) {
        const due = start + (plan.arrival[t]! * 1000) / speed;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        else if (wait < -50) late++;
        while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
        const p = sendItem(t, x.subarray((t - c0) * per, (t - c0 + 1) * per)).finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (t - sc.labelDelay >= 0 && (t - sc.labelDelay) % 10 === 9) postLabels(t - sc.labelDelay, false);
      }
      o.onProgress?.(c1, N);
    }
    const sentEnd = performance.now();
    await Promise.allSettled([...inFlight]);
    postLabels(N - 1 - sc.labelDelay, true);
    await Promise.allSettled(labelPosts);

    const ar = await fetch(`${base}/alerts`, { signal: AbortSignal.timeout(timeoutMs) });
    const raw = ((await ar.json()) as { alerts: MonitorAlert[] }).alerts;
    const alerts: StreamAlert[] = [];
    const infos = new Map<string, MonitorInfo>();
    for (const a of raw) {
      const t = pos.get(a.item);
      const labelFed = getMonitorType(a.type)?.feed === 'error';
      infos.set(a.monitor, { name: a.monitor, kind: a.kind as MonitorInfo['kind'], labelFed });
      if (t === undefined) continue;
      // A label-fed monitor alerts when the label arrives: label_delay positions after its item.
      const index = labelFed ? Math.min(N - 1, t + sc.labelDelay) : t;
      alerts.push({ monitor: a.monitor, kind: a.kind as StreamAlert['kind'], index, time_s: plan.arrival[index]!, statistic: a.statistic, threshold: a.threshold });
    }
    alerts.sort((a, b) => a.index - b.index);
    const evaluation = evaluateMonitors(sc.segments, alerts, [...infos.values()], N, sc.labelDelay, sc.evaluation.settle);
    let right = 0;
    let answered = 0;
    for (let t = 0; t < N; t++) if (predicted[t]! >= 0) (answered++, (right += predicted[t] === plan.labels[t] ? 1 : 0));
    return {
      endpoint: o.endpoint,
      monitor: base,
      speed,
      items: N,
      offered_rate: sc.rate * speed,
      achieved_rate: N / ((sentEnd - start) / 1000),
      answered,
      errors,
      latency: { p50_ms: percentile(latencies, 0.5), p95_ms: percentile(latencies, 0.95), p99_ms: percentile(latencies, 0.99) },
      accuracy: answered ? right / answered : NaN,
      late,
      labels_posted: labelsPosted,
      alerts,
      evaluation,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await engines.close();
    await model.close();
  }
}

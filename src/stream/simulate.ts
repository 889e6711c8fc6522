/**
 * The stream simulator: replays a scenario through the model, item by item, and records what the
 * monitors, the safe-fail policy and the challenger did.
 *
 * Per chunk of `batchSize` items, in stream order:
 * 1. inputs are drawn from the data by the seeded sampler;
 * 2. each segment's stresses apply, in this order: drift (a corruption at each item's severity from
 *    the drift library's schedule, or a tabular shift), then the attack on the segment's attacked
 *    items (`runAttack`, aiming at the true labels, on the drifted inputs);
 * 3. the model predicts the chunk in one batch (these predictions feed monitors, policy and metrics,
 *    so alerts never depend on timing), squeeze scores and input signals are computed as the
 *    monitors need them, and the challenger predicts its items;
 * 4. the timed replay serves the same items in micro-batches at their arrival times (see serving.ts);
 * 5. item by item: the item monitors are updated; the label (and annotations) of the item
 *    `labelDelay` positions back arrives and feeds the performance and annotation monitors; the
 *    policy decides to answer or to defer.
 *
 * Annotations are drawn once per segment (and once for the clean stream) by the annotation library.
 * Every random draw comes from `new Rng(scenario.seed)` forked by purpose, so the same scenario and
 * seed give the same alerts, predictions and decisions.
 */
import type { Dataset } from '../data/dataset.js';
import { datasetHash, itemSize } from '../data/dataset.js';
import { makeDataset } from '../data/dataset.js';
import { loadDataset } from '../data/load.js';
import type { Classifier } from '../engine/classifier.js';
import { openClassifier } from '../endpoint/open.js';
import { ConfigError, DataError } from '../errors.js';
import { toProbabilities } from '../metrics/classification.js';
import { Rng } from '../rng.js';
import { EngineCache, runAttack } from '../stress/adversarial/index.js';
import { applyAnnotation, type AnnotationSpec } from '../stress/annotation/index.js';
import { applyDrift, getCorruption, imageBatchShape, sampleSchedule, type Severity } from '../stress/drift/index.js';
import { evaluateMonitors, type EpisodeResult, type MonitorEvaluation, type MonitorInfo, type StreamAlert } from './evaluate.js';
import { getMonitorType, type MonitorType } from './monitors/index.js';
import { SqueezeDetector } from './monitors/squeeze.js';
import { scenarioMonitors, type MonitorSpec, type Scenario } from './scenario.js';
import { percentile, ServingSimulator } from './serving.js';
import { inputSignals, itemSignal, predictionSignals, RandomProjection, type ItemSignal } from './signals.js';
import type { Monitor, MonitorKind } from './types.js';

export interface RunStreamOptions {
  /** ONNX Runtime intra-op threads (0 = all cores). */
  threads?: number;
  /** Items done of the stream's length, after each chunk. */
  onProgress?: (done: number, total: number) => void;
}

/** Per-bucket series over the stream (NaN where a bucket has nothing to measure). */
export interface Timeline {
  /** Items per bucket. */
  readonly bucket: number;
  /** First stream position of each bucket. */
  readonly start: number[];
  /** Served predictions right, all items. */
  readonly accuracy: number[];
  /** Served predictions right, among the items answered (not deferred). */
  readonly accepted_accuracy: number[];
  readonly error_rate: number[];
  /** Share of items deferred by the policy. */
  readonly abstention: number[];
  /** Mean top-1 confidence of the served predictions. */
  readonly confidence: number[];
  /** Latency percentiles (ms) of the served items, and served items per simulated second. */
  readonly latency_p50_ms: number[];
  readonly latency_p95_ms: number[];
  readonly latency_p99_ms: number[];
  readonly throughput: number[];
  /** Mean drift severity, share of attacked items, share of disputed labels. */
  readonly severity: number[];
  readonly attacked: number[];
  readonly disputed: number[];
  /** Challenger accuracy on its items and champion–challenger disagreement (null without a challenger). */
  readonly challenger_accuracy: number[] | null;
  readonly disagreement: number[] | null;
}

export interface LatencySummary {
  readonly p50_ms: number;
  readonly p95_ms: number;
  readonly p99_ms: number;
  readonly mean_ms: number;
  /** Served items per simulated second (first arrival to last completion). */
  readonly throughput: number;
  readonly batches: number;
  readonly mean_batch: number;
  /** Median measured ORT time of one micro-batch (ms). */
  readonly service_ms_p50: number;
}

export interface ChallengerSummary {
  readonly mode: 'shadow' | 'canary';
  readonly model: string;
  readonly model_sha256: string;
  readonly fraction: number;
  /** Items the challenger predicted. */
  readonly items: number;
  /** Items whose labels arrived within the stream, for each model's accuracy. */
  readonly labelled: { readonly champion: number; readonly challenger: number };
  readonly champion_accuracy: number;
  readonly challenger_accuracy: number;
  /** Share of the challenger's items on which the two predictions differ. */
  readonly disagreement: number;
  readonly latency: { readonly champion: LatencySummary | null; readonly challenger: LatencySummary | null };
  readonly rule: { readonly min_labelled: number; readonly max_accuracy_drop: number; readonly max_latency_ratio: number };
  readonly decision: 'promote' | 'rollback' | 'undecided';
  readonly reason: string;
}

export interface PolicySummary {
  readonly abstain_below: number;
  readonly on_alert: readonly MonitorKind[];
  readonly hold: number;
  /** Share of items deferred; accuracy of all served predictions and of the answered ones. */
  readonly deferral_rate: number;
  readonly accuracy: number;
  readonly accepted_accuracy: number;
  /** Deferrals caused by low confidence and by an alert (an item can have both). */
  readonly deferred_low_confidence: number;
  readonly deferred_alert: number;
}

/** What happened to the served predictions within a span of the stream. */
export interface EpisodeStats {
  readonly accuracy: number;
  readonly accepted_accuracy: number;
  readonly deferral_rate: number;
  readonly mean_severity: number;
  /** Share of items attacked. */
  readonly attacked: number;
  /** Share of labelled items whose annotators disagreed. */
  readonly disputed: number;
}

/** An episode: its detection (see evaluate.ts) and what the model did meanwhile. */
export type EpisodeReport = EpisodeResult & EpisodeStats;

export interface StreamResult {
  readonly scenario: Scenario;
  readonly seed: number;
  readonly model: { readonly path: string; readonly sha256: string; readonly output_kind: string };
  readonly data: { readonly path: string; readonly sha256: string; readonly size: number };
  readonly items: number;
  readonly classes: number;
  readonly monitors: readonly { readonly name: string; readonly type: string; readonly kind: MonitorKind; readonly on: string | null; readonly options: Readonly<Record<string, unknown>> }[];
  readonly alerts: readonly StreamAlert[];
  /** One per segment, in scenario order. */
  readonly episodes: readonly EpisodeReport[];
  /** Detections, misses and false alarms over all episodes. */
  readonly evaluation: Omit<MonitorEvaluation, 'episodes'>;
  /** The same over the whole stream (all items). */
  readonly overall: EpisodeStats;
  readonly policy: PolicySummary;
  /** The timed replay of the served items (null when `serving: false`). */
  readonly serving: (LatencySummary & { readonly offered_rate: number; readonly max_batch: number; readonly max_wait_ms: number }) | null;
  readonly challenger: ChallengerSummary | null;
  readonly timeline: Timeline;
  /** Attack runs: items attacked and broken. */
  readonly attacks: { readonly items: number; readonly broken: number; readonly seconds: number };
  readonly seconds: number;
}

interface Bound {
  readonly spec: MonitorSpec;
  readonly type: MonitorType;
  readonly monitor: Monitor<never>;
  readonly projection: RandomProjection | null;
}

const mean = (a: ArrayLike<number>): number => {
  let s = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Number.isNaN(a[i]!)) (s += a[i]!), n++;
  return n ? s / n : NaN;
};

/** Runs a scenario (see the file comment). Opens and closes its own models. */
export async function runStream(scenario: Scenario, opts: RunStreamOptions = {}): Promise<StreamResult> {
  const t0 = performance.now();
  const threads = opts.threads ?? 0;
  const ds = await loadDataset(scenario.data);
  if (!ds.labels) throw new DataError(`${ds.name}: a stream needs labelled data (labels arrive after 'label_delay' items)`);
  const model = await openClassifier(scenario.model, { threads });
  const challengerModel = scenario.challenger ? await openClassifier(scenario.challenger.model, { threads }) : null;
  const engines = new EngineCache(model);
  try {
    model.checkData(ds);
    challengerModel?.checkData(ds);
    return await simulate(scenario, ds, model, challengerModel, engines, opts, t0);
  } finally {
    await engines.close();
    await model.close();
    await challengerModel?.close();
  }
}

async function simulate(sc: Scenario, ds: Dataset, model: Classifier, challenger: Classifier | null, engines: EngineCache, opts: RunStreamOptions, t0: number): Promise<StreamResult> {
  const N = sc.length;
  const per = itemSize(ds);
  const image = ds.itemShape.length >= 2;
  const rng = new Rng(sc.seed);

  // classes: one forward pass
  const probe = await model.predictBatch(ds.x.subarray(0, per), 1);
  const K = probe.numClasses;
  const kind = model.outputKind ?? 'logits';
  model.checkData(ds, K);

  const plan = planStream(sc, ds, rng);
  const { labels, arrival, severity, attacked } = plan;
  const ann = drawAnnotations(sc, labels, K, rng);

  // monitors
  const specs = scenarioMonitors(sc, image);
  const bound: Bound[] = specs.map((spec) => {
    const type = getMonitorType(spec.type)!;
    const mrng = rng.fork(`monitor:${spec.name}`);
    const monitor = type.create({ ...spec.options }, mrng);
    const projection = spec.on === 'input-projection' ? new RandomProjection(per, spec.dims ?? 16, mrng.fork('projection')) : null;
    return { spec, type, monitor, projection };
  });
  const needInput = bound.some((b) => b.type.feed === 'item' && String(b.spec.on).startsWith('input-'));
  const itemFed = bound.filter((b) => b.type.feed === 'item' || b.type.feed === 'vector' || b.type.feed === 'squeeze');
  const labelFed = bound.filter((b) => b.type.feed === 'error' || b.type.feed === 'annotations');

  // challenger routing
  const routed = new Uint8Array(N);
  if (sc.challenger) {
    if (sc.challenger.mode === 'shadow') routed.fill(1);
    else {
      const r = rng.fork('canary');
      for (let t = 0; t < N; t++) routed[t] = r.uniform() < sc.challenger.fraction ? 1 : 0;
    }
  }

  // per-item records
  const pred = new Int32Array(N);
  const conf = new Float64Array(N);
  const cPred = new Int32Array(N).fill(-1);
  const cConf = new Float64Array(N).fill(NaN);
  const abstain = new Uint8Array(N);
  let lowConf = 0;
  let alertDeferred = 0;
  const latency = new Float64Array(N).fill(NaN);
  const done = new Float64Array(N).fill(NaN);
  const cLatency = new Float64Array(N).fill(NaN);
  const cDone = new Float64Array(N).fill(NaN);
  const alerts: StreamAlert[] = [];
  let lastAlert = -Infinity;
  const policyKinds = new Set<MonitorKind>(sc.policy.onAlert);
  let attackItems = 0;
  let attackBroken = 0;
  let attackSeconds = 0;

  const servingMain = sc.serving.enabled ? new ServingSimulator(model, sc.serving.maxBatch, sc.serving.maxWaitMs / 1000) : null;
  const servingChallenger = sc.serving.enabled && challenger ? new ServingSimulator(challenger, sc.serving.maxBatch, sc.serving.maxWaitMs / 1000) : null;
  const B = sc.batchSize;

  for (let c0 = 0; c0 < N; c0 += B) {
    const c1 = Math.min(N, c0 + B);
    const m = c1 - c0;
    const x = chunkInputs(plan, ds, c0, c1);

    // 2. stresses
    const st = await stressChunk(sc, plan, ds, model, engines, rng, c0, c1, x);
    attackItems += st.attackItems;
    attackBroken += st.attackBroken;
    attackSeconds += st.attackSeconds;

    // 3. predictions and signals
    const out = await model.predictBatch(x, m);
    const probs = toProbabilities(out.scores, K, kind);
    const ps = Array.from({ length: m }, (_, r) => predictionSignals(probs, r * K, K));
    for (let r = 0; r < m; r++) {
      pred[c0 + r] = ps[r]!.predicted;
      conf[c0 + r] = ps[r]!.confidence;
    }
    const inputs = needInput ? Array.from({ length: m }, (_, r) => inputSignals(x, r * per, ds.itemShape)) : null;
    const squeeze = new Map<Bound, Float64Array>();
    for (const b of bound) if (b.type.feed === 'squeeze') squeeze.set(b, await (b.monitor as unknown as SqueezeDetector).score(model, x, m, B));
    const cRows: number[] = [];
    for (let r = 0; r < m; r++) if (routed[c0 + r]) cRows.push(r);
    if (challenger && cRows.length) {
      const co = await challenger.predictBatch(gather(x, per, cRows), cRows.length);
      if (co.numClasses !== K) throw new DataError(`challenger ${challenger.label} has ${co.numClasses} classes; the model has ${K}`);
      const cp = toProbabilities(co.scores, K, challenger.outputKind ?? 'logits');
      cRows.forEach((r, k) => {
        const s = predictionSignals(cp, k * K, K);
        cPred[c0 + r] = s.predicted;
        cConf[c0 + r] = s.confidence;
      });
    }

    // 4. timed replay
    if (servingMain) {
      const mainRows = sc.challenger?.mode === 'canary' ? range(0, m).filter((r) => !routed[c0 + r]) : range(0, m);
      await servingMain.serve(x, per, mainRows, mainRows.map((r) => arrival[c0 + r]!), mainRows.map((r) => c0 + r), latency, done);
    }
    if (servingChallenger && cRows.length) {
      await servingChallenger.serve(x, per, cRows, cRows.map((r) => arrival[c0 + r]!), cRows.map((r) => c0 + r), cLatency, cDone);
    }

    // 5. item by item
    for (let t = c0; t < c1; t++) {
      const r = t - c0;
      const record = (b: Bound): void => {
        if (!b.monitor.driftDetected) return;
        alerts.push({ monitor: b.spec.name, kind: b.monitor.kind, index: t, time_s: arrival[t]!, statistic: b.monitor.statistic, threshold: b.monitor.threshold });
        if (policyKinds.has(b.monitor.kind)) lastAlert = t;
      };
      for (const b of itemFed) {
        const mon = b.monitor as unknown as Monitor<unknown>;
        if (b.type.feed === 'item') mon.update(itemSignal(b.spec.on as ItemSignal, ps[r]!, inputs?.[r] ?? null));
        else if (b.type.feed === 'vector') mon.update(b.projection ? b.projection.apply(x, r * per) : probs.subarray(r * K, (r + 1) * K));
        else mon.update(squeeze.get(b)![r]!);
        record(b);
      }
      const j = t - sc.labelDelay;
      if (j >= 0) {
        for (const b of labelFed) {
          const mon = b.monitor as unknown as Monitor<unknown>;
          if (b.type.feed === 'error') mon.update(pred[j] === labels[j] ? 0 : 1);
          else {
            if (!ann) continue;
            mon.update(ann.labels.subarray(j * ann.width, (j + 1) * ann.width));
          }
          record(b);
        }
      }
      const servedConf = routed[t] && sc.challenger?.mode === 'canary' ? cConf[t]! : conf[t]!;
      const low = servedConf < sc.policy.abstainBelow;
      const inAlert = t - lastAlert < sc.policy.hold;
      if (low) lowConf++;
      if (inAlert) alertDeferred++;
      abstain[t] = low || inAlert ? 1 : 0;
    }
    opts.onProgress?.(c1, N);
  }

  // served predictions
  const canary = sc.challenger?.mode === 'canary';
  const served = Int32Array.from(pred, (p, t) => (canary && routed[t] ? cPred[t]! : p));
  const servedConf = Float64Array.from(conf, (c, t) => (canary && routed[t] ? cConf[t]! : c));
  const servedLatency = Float64Array.from(latency, (l, t) => (canary && routed[t] ? cLatency[t]! : l));
  const servedDone = Float64Array.from(done, (d, t) => (canary && routed[t] ? cDone[t]! : d));

  const infos: MonitorInfo[] = bound.map((b) => ({ name: b.spec.name, kind: b.monitor.kind, labelFed: b.type.feed === 'error' || b.type.feed === 'annotations' }));
  const evaluation = evaluateMonitors(sc.segments, alerts, infos, N, sc.labelDelay, sc.evaluation.settle);
  const disputedItem = new Int8Array(N).fill(-1);
  if (ann) for (let t = 0; t < N; t++) disputedItem[t] = disputedOf(ann.labels.subarray(t * ann.width, (t + 1) * ann.width));

  const items: ServedItems = { labels, served, abstain, severity, attacked, disputedItem };
  const statsOf = (a: number, b: number): EpisodeStats => spanStats(items, a, b);
  const all = statsOf(0, N);
  const policy: PolicySummary = {
    abstain_below: sc.policy.abstainBelow,
    on_alert: sc.policy.onAlert,
    hold: sc.policy.hold,
    deferral_rate: all.deferral_rate,
    accuracy: all.accuracy,
    accepted_accuracy: all.accepted_accuracy,
    deferred_low_confidence: lowConf / N,
    deferred_alert: alertDeferred / N,
  };
  const latencySummary = (sim: ServingSimulator | null, lat: Float64Array, mask: (t: number) => boolean): LatencySummary | null => {
    if (!sim) return null;
    const vals: number[] = [];
    for (let t = 0; t < N; t++) if (mask(t) && !Number.isNaN(lat[t]!)) vals.push(lat[t]! * 1000);
    return {
      p50_ms: percentile(vals, 0.5),
      p95_ms: percentile(vals, 0.95),
      p99_ms: percentile(vals, 0.99),
      mean_ms: mean(vals),
      throughput: sim.throughput,
      batches: sim.serviceMs.length,
      mean_batch: sim.served / Math.max(1, sim.serviceMs.length),
      service_ms_p50: percentile(sim.serviceMs, 0.5),
    };
  };
  const mainLatency = latencySummary(servingMain, latency, (t) => !(canary && routed[t]));
  const serving = mainLatency && servingMain
    ? (() => {
        const servedVals: number[] = [];
        for (let t = 0; t < N; t++) if (!Number.isNaN(servedLatency[t]!)) servedVals.push(servedLatency[t]! * 1000);
        const first = arrival[0]!;
        let last = 0;
        for (let t = 0; t < N; t++) if (!Number.isNaN(servedDone[t]!)) last = Math.max(last, servedDone[t]!);
        return {
          ...mainLatency,
          p50_ms: percentile(servedVals, 0.5),
          p95_ms: percentile(servedVals, 0.95),
          p99_ms: percentile(servedVals, 0.99),
          mean_ms: mean(servedVals),
          throughput: last > first ? servedVals.length / (last - first) : NaN,
          offered_rate: sc.rate,
          max_batch: sc.serving.maxBatch,
          max_wait_ms: sc.serving.maxWaitMs,
        };
      })()
    : null;

  let challengerSummary: ChallengerSummary | null = null;
  if (sc.challenger && challenger) {
    const labelledEnd = N - sc.labelDelay;
    let cN = 0;
    let cRight = 0;
    let pN = 0;
    let pRight = 0;
    let items = 0;
    let differ = 0;
    for (let t = 0; t < N; t++) {
      if (routed[t]) {
        items++;
        if (cPred[t] !== pred[t]) differ++;
      }
      if (t >= labelledEnd) continue;
      if (routed[t]) (cN++, (cRight += cPred[t] === labels[t] ? 1 : 0));
      if (sc.challenger.mode === 'shadow' || !routed[t]) (pN++, (pRight += pred[t] === labels[t] ? 1 : 0));
    }
    const cAcc = cN ? cRight / cN : NaN;
    const pAcc = pN ? pRight / pN : NaN;
    const champLat = latencySummary(servingMain, latency, (t) => sc.challenger!.mode === 'shadow' || !routed[t]);
    const chalLat = latencySummary(servingChallenger, cLatency, (t) => routed[t] === 1);
    const rule = sc.challenger.rule;
    let decision: ChallengerSummary['decision'];
    let reason: string;
    if (cN < rule.minLabelled) {
      decision = 'undecided';
      reason = `${cN} labelled challenger items, fewer than min_labelled ${rule.minLabelled}`;
    } else if (cAcc < pAcc - rule.maxAccuracyDrop) {
      decision = 'rollback';
      reason = `challenger accuracy ${cAcc.toFixed(4)} is below champion ${pAcc.toFixed(4)} by more than ${rule.maxAccuracyDrop}`;
    } else if (champLat && chalLat && chalLat.p95_ms > rule.maxLatencyRatio * champLat.p95_ms) {
      decision = 'rollback';
      reason = `challenger p95 latency ${chalLat.p95_ms.toFixed(2)} ms exceeds ${rule.maxLatencyRatio}x champion ${champLat.p95_ms.toFixed(2)} ms`;
    } else {
      decision = 'promote';
      reason = `challenger accuracy ${cAcc.toFixed(4)} vs champion ${pAcc.toFixed(4)} (allowed drop ${rule.maxAccuracyDrop})${champLat && chalLat ? `, p95 latency ${chalLat.p95_ms.toFixed(2)} vs ${champLat.p95_ms.toFixed(2)} ms` : ''}`;
    }
    challengerSummary = {
      mode: sc.challenger.mode,
      model: challenger.label,
      model_sha256: challenger.sha256,
      fraction: sc.challenger.fraction,
      items,
      labelled: { champion: pN, challenger: cN },
      champion_accuracy: pAcc,
      challenger_accuracy: cAcc,
      disagreement: items ? differ / items : NaN,
      latency: { champion: champLat, challenger: chalLat },
      rule: { min_labelled: rule.minLabelled, max_accuracy_drop: rule.maxAccuracyDrop, max_latency_ratio: rule.maxLatencyRatio },
      decision,
      reason,
    };
  }

  const timeline = buildTimeline(sc.evaluation.bucket, N, { labels, served, servedConf, abstain, servedLatency, servedDone, arrival, severity, attacked, disputedItem, cPred, pred, routed, hasChallenger: !!challenger });

  return {
    scenario: sc,
    seed: sc.seed,
    model: { path: model.label, sha256: model.sha256, output_kind: kind },
    data: { path: sc.data.path, sha256: datasetHash(ds), size: ds.size },
    items: N,
    classes: K,
    monitors: bound.map((b) => ({ name: b.spec.name, type: b.spec.type, kind: b.monitor.kind, on: b.spec.on, options: b.spec.options })),
    alerts,
    episodes: evaluation.episodes.map((e, i) => ({ ...e, ...statsOf(sc.segments[i]!.from, sc.segments[i]!.to) })),
    evaluation: (({ episodes: _, ...rest }) => rest)(evaluation),
    overall: all,
    policy,
    serving,
    challenger: challengerSummary,
    timeline,
    attacks: { items: attackItems, broken: attackBroken, seconds: attackSeconds },
    seconds: (performance.now() - t0) / 1000,
  };
}

/** What a scenario draws before any model runs: which item arrives when, severities, attacked items. */
export interface StreamPlan {
  readonly length: number;
  /** Values per item. */
  readonly per: number;
  /** Source row of each stream position. */
  readonly src: Int32Array;
  readonly labels: Int32Array;
  /** Arrival time of each position, s from the start. */
  readonly arrival: Float64Array;
  readonly severity: Int8Array;
  readonly segSeverity: readonly (Int8Array | null)[];
  readonly attacked: Uint8Array;
  readonly segAttacked: readonly (Uint8Array | null)[];
  /** NCHW batch shape for corruptions (null without corruption segments). */
  readonly shape: readonly number[] | null;
}

/** The scenario's draws (every one from its own fork of `rng`, so the order of calls does not matter). */
export function planStream(sc: Scenario, ds: Dataset, rng: Rng): StreamPlan {
  const N = sc.length;
  const per = itemSize(ds);
  const dsLabels = ds.labels!;
  // 1. which item arrives when
  const src = new Int32Array(N);
  if (sc.sample === 'without-replacement') {
    if (N > ds.size) throw new ConfigError(`'length' (${N}) exceeds the ${ds.size} items of ${ds.name}; use 'sample: with-replacement'`);
    src.set(rng.fork('sample').permutation(ds.size).subarray(0, N));
  } else if (sc.sample === 'sequential') for (let t = 0; t < N; t++) src[t] = t % ds.size;
  else {
    const r = rng.fork('sample');
    for (let t = 0; t < N; t++) src[t] = r.int(ds.size);
  }
  const labels = new Int32Array(N);
  for (let t = 0; t < N; t++) labels[t] = dsLabels[src[t]!]!;
  const arrival = new Float64Array(N);
  {
    const r = rng.fork('arrivals');
    let clock = 0;
    for (let t = 0; t < N; t++) {
      clock += sc.arrivals === 'uniform' ? 1 / sc.rate : -Math.log(1 - r.uniform()) / sc.rate;
      arrival[t] = clock;
    }
  }

  // per-segment draws: severities, attacked items, annotations
  const severity = new Int8Array(N);
  const segSeverity: (Int8Array | null)[] = sc.segments.map((seg, i) => {
    if (!seg.drift?.schedule) return null;
    const s = sampleSchedule(seg.drift.schedule, seg.to - seg.from, rng.fork(`segment:${i}:severity`));
    for (let t = seg.from; t < seg.to; t++) severity[t] = Math.max(severity[t]!, s[t - seg.from]!);
    return s;
  });
  const attacked = new Uint8Array(N);
  const segAttacked: (Uint8Array | null)[] = sc.segments.map((seg, i) => {
    if (!seg.adversarial) return null;
    const r = rng.fork(`segment:${i}:attacked`);
    const a = new Uint8Array(seg.to - seg.from);
    for (let k = 0; k < a.length; k++) a[k] = r.uniform() < seg.adversarial.fraction ? 1 : 0;
    for (let k = 0; k < a.length; k++) if (a[k]) attacked[seg.from + k] = 1;
    return a;
  });
  const shape = sc.segments.some((s) => s.drift && 'corruption' in s.drift.spec) ? imageBatchShape(ds) : null;
  return { length: N, per, src, labels, arrival, severity, segSeverity, attacked, segAttacked, shape };
}

/** The clean inputs of positions [c0, c1). */
export function chunkInputs(plan: StreamPlan, ds: Dataset, c0: number, c1: number): Float32Array {
  const per = plan.per;
  const x = new Float32Array((c1 - c0) * per);
  for (let t = c0; t < c1; t++) x.set(ds.x.subarray(plan.src[t]! * per, (plan.src[t]! + 1) * per), (t - c0) * per);
  return x;
}

/**
 * Applies the segments' stresses to positions [c0, c1) in place (`x` from chunkInputs): drift, then
 * the attack on the seeded attacked items (crafted on `model`, which sees the drifted input).
 */
export async function stressChunk(sc: Scenario, plan: StreamPlan, ds: Dataset, model: Classifier, engines: EngineCache, rng: Rng, c0: number, c1: number, x: Float32Array): Promise<{ attackItems: number; attackBroken: number; attackSeconds: number }> {
  const { per, labels, segSeverity, segAttacked, shape } = plan;
  const B = sc.batchSize;
  let attackItems = 0;
  let attackBroken = 0;
  let attackSeconds = 0;
  for (let si = 0; si < sc.segments.length; si++) {
    const seg = sc.segments[si]!;
    const a = Math.max(c0, seg.from);
    const b = Math.min(c1, seg.to);
    if (a >= b) continue;
    if (seg.drift) {
      const spec = seg.drift.spec;
      if ('corruption' in spec) {
        const sev = segSeverity[si]!;
        const corruption = getCorruption(spec.corruption);
        for (let s = 1; s <= 5; s++) {
          const rows: number[] = [];
          for (let t = a; t < b; t++) if (sev[t - seg.from] === s) rows.push(t - c0);
          if (rows.length === 0) continue;
          const gx = gather(x, per, rows);
          const out = corruption.apply(gx, [rows.length, shape![1], shape![2], shape![3]], s as Severity, rng.fork(`segment:${si}:drift:${c0}:${s}`));
          scatter(x, per, rows, out);
        }
      } else {
        const rows = range(a - c0, b - c0);
        const sub = makeDataset({ name: `${ds.name}[${a}:${b}]`, itemShape: ds.itemShape, x: gather(x, per, rows), labels: labels.slice(a, b), featureNames: ds.featureNames });
        const r = applyDrift(sub, spec, rng.fork(`segment:${si}:drift:${c0}`));
        scatter(x, per, rows, r.dataset.x);
      }
    }
    if (seg.adversarial) {
      const hit = segAttacked[si]!;
      const rows: number[] = [];
      for (let t = a; t < b; t++) if (hit[t - seg.from]) rows.push(t - c0);
      if (rows.length) {
        const gl = Int32Array.from(rows, (r) => labels[c0 + r]!);
        const r = await runAttack(model, gather(x, per, rows), rows.length, gl, seg.adversarial.spec, rng.fork(`segment:${si}:attack:${c0}`), { batchSize: B, engines });
        scatter(x, per, rows, r.adversarial);
        attackItems += rows.length;
        for (let k = 0; k < rows.length; k++) if (r.samples.cleanCorrect[k] && r.samples.success[k]) attackBroken++;
        attackSeconds += r.seconds;
      }
    }
  }

  return { attackItems, attackBroken, attackSeconds };
}

function disputedOf(row: Int32Array): number {
  let first = -1;
  let n = 0;
  let differ = 0;
  for (const l of row) {
    if (l < 0) continue;
    if (n === 0) first = l;
    else if (l !== first) differ = 1;
    n++;
  }
  return n < 2 ? -1 : differ;
}

/** Annotations of every item: `width` labels per item, −1 where none (null without any labelling). */
function drawAnnotations(sc: Scenario, labels: Int32Array, K: number, rng: Rng): { labels: Int32Array; width: number } | null {
  const specs: AnnotationSpec[] = [sc.annotation, ...sc.segments.map((s) => s.annotation)].filter((s): s is AnnotationSpec => s !== null);
  if (specs.length === 0) return null;
  const widthOf = (spec: AnnotationSpec): number => (spec.model !== 'annotators' ? 1 : typeof spec.annotators === 'number' ? spec.annotators : spec.annotators.reduce((a, e) => a + e.count, 0));
  const width = Math.max(...specs.map(widthOf));
  const out = new Int32Array(labels.length * width).fill(-1);
  const fill = (from: number, to: number, spec: AnnotationSpec, r: Rng): void => {
    const res = applyAnnotation(labels.slice(from, to), K, spec, r);
    for (let t = from; t < to; t++) out.fill(-1, t * width, (t + 1) * width);
    if (res.annotations) {
      const A = res.annotations.numAnnotators;
      for (let t = from; t < to; t++) for (let a = 0; a < A; a++) out[t * width + a] = res.annotations.labels[(t - from) * A + a]!;
    } else for (let t = from; t < to; t++) out[t * width] = res.observed[t - from]!;
  };
  if (sc.annotation) fill(0, labels.length, sc.annotation, rng.fork('annotation:baseline'));
  sc.segments.forEach((s, i) => {
    if (s.annotation) fill(s.from, s.to, s.annotation, rng.fork(`segment:${i}:annotation`));
  });
  return { labels: out, width };
}

/** Per-item outcomes of the served stream: what `spanStats` summarises over a span. */
interface ServedItems {
  labels: Int32Array;
  served: Int32Array;
  abstain: Uint8Array;
  severity: Int8Array;
  attacked: Uint8Array;
  disputedItem: Int8Array;
}

/** Accuracy, deferral, severity, attacks and disputes of the served items in [a, b). */
function spanStats(d: ServedItems, a: number, b: number): EpisodeStats {
  let right = 0;
  let acc = 0;
  let accRight = 0;
  let sev = 0;
  let att = 0;
  let disp = 0;
  let dispN = 0;
  for (let t = a; t < b; t++) {
    const ok = d.served[t] === d.labels[t] ? 1 : 0;
    right += ok;
    if (!d.abstain[t]) (acc++, (accRight += ok));
    sev += d.severity[t]!;
    att += d.attacked[t]!;
    if (d.disputedItem[t]! >= 0) (disp += d.disputedItem[t]!), dispN++;
  }
  const n = b - a;
  return { accuracy: right / n, accepted_accuracy: acc ? accRight / acc : NaN, deferral_rate: (n - acc) / n, mean_severity: sev / n, attacked: att / n, disputed: dispN ? disp / dispN : NaN };
}

interface TimelineInput extends ServedItems {
  servedConf: Float64Array;
  servedLatency: Float64Array;
  servedDone: Float64Array;
  arrival: Float64Array;
  cPred: Int32Array;
  pred: Int32Array;
  routed: Uint8Array;
  hasChallenger: boolean;
}

function buildTimeline(bucket: number, N: number, d: TimelineInput): Timeline {
  const keys = ['start', 'accuracy', 'accepted_accuracy', 'error_rate', 'abstention', 'confidence', 'latency_p50_ms', 'latency_p95_ms', 'latency_p99_ms', 'throughput', 'severity', 'attacked', 'disputed', 'challenger_accuracy', 'disagreement'] as const;
  const t = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<(typeof keys)[number], number[]>;
  const r4 = (v: number): number => (Number.isFinite(v) ? Math.round(v * 1e4) / 1e4 : NaN);
  for (let a = 0; a < N; a += bucket) {
    const b = Math.min(N, a + bucket);
    const n = b - a;
    const st = spanStats(d, a, b);
    let c = 0;
    const lat: number[] = [];
    let first = Infinity;
    let last = -Infinity;
    let cN = 0;
    let cRight = 0;
    let differ = 0;
    for (let i = a; i < b; i++) {
      c += d.servedConf[i]!;
      if (!Number.isNaN(d.servedLatency[i]!)) {
        lat.push(d.servedLatency[i]! * 1000);
        first = Math.min(first, d.arrival[i]!);
        last = Math.max(last, d.servedDone[i]!);
      }
      if (d.routed[i] && d.cPred[i]! >= 0) {
        cN++;
        cRight += d.cPred[i] === d.labels[i] ? 1 : 0;
        differ += d.cPred[i] !== d.pred[i] ? 1 : 0;
      }
    }
    t.start.push(a);
    t.accuracy.push(r4(st.accuracy));
    t.accepted_accuracy.push(r4(st.accepted_accuracy));
    t.error_rate.push(r4(1 - st.accuracy));
    t.abstention.push(r4(st.deferral_rate));
    t.confidence.push(r4(c / n));
    t.latency_p50_ms.push(r4(percentile(lat, 0.5)));
    t.latency_p95_ms.push(r4(percentile(lat, 0.95)));
    t.latency_p99_ms.push(r4(percentile(lat, 0.99)));
    t.throughput.push(r4(lat.length && last > first ? lat.length / (last - first) : NaN));
    t.severity.push(r4(st.mean_severity));
    t.attacked.push(r4(st.attacked));
    t.disputed.push(r4(st.disputed));
    t.challenger_accuracy.push(r4(cN ? cRight / cN : NaN));
    t.disagreement.push(r4(cN ? differ / cN : NaN));
  }
  return { ...t, bucket, challenger_accuracy: d.hasChallenger ? t.challenger_accuracy : null, disagreement: d.hasChallenger ? t.disagreement : null };
}

function range(a: number, b: number): number[] {
  return Array.from({ length: Math.max(0, b - a) }, (_, k) => a + k);
}

function gather(x: Float32Array, per: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * per);
  rows.forEach((r, k) => out.set(x.subarray(r * per, (r + 1) * per), k * per));
  return out;
}

function scatter(x: Float32Array, per: number, rows: readonly number[], values: Float32Array): void {
  rows.forEach((r, k) => x.set(values.subarray(k * per, (k + 1) * per), r * per));
}

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { GradientEngine } from '../autodiff/gradient.js';
import { datasetHash, itemId, requireLabels, subset, type Dataset } from '../data/dataset.js';
import { loadDataset } from '../data/load.js';
import { packageRoot } from '../defaults.js';
import { ConfigError, DataError, RunInterruptedError } from '../errors.js';
import { Model } from '../engine/model.js';
import { toProbabilities } from '../metrics/classification.js';
import { bootstrapWeights, itemStats, mcnemar, weightedMeans, metricsWithCi, percentileCi, reliabilityBins, riskCoverage, type MetricName, type MetricWithCi, type ReliabilityBin } from '../metrics/suite.js';
import { interactionVerdict, type FloorReason, type InteractionVerdict } from '../metrics/interaction.js';
import { Rng } from '../rng.js';
import { applyAnnotation, auditLabels, type AnnotationResult } from '../stress/annotation/index.js';
import { annotationQuality, galleryItems, type AnnotationQuality, type GalleryItem } from '../report/data.js';
import { defaultAssets, defaultMeta } from '../defaults.js';
import { applyDrift } from '../stress/drift/index.js';
import { featureStd, runAttack, tabularConstraints, type Constraints } from '../stress/adversarial/index.js';
import { featureIndices, isTabular } from '../data/features.js';
import { explainCell, type ExplainCellSummary } from '../explain/index.js';
import { prepareUncertainty, uncertaintyCell, uncertaintyContextSummary, type UncertaintyCellSummary, type UncertaintyContext } from '../uncertainty/index.js';
import { evaluateBudgets, type BudgetResult } from './budgets.js';
import { canonical, makePlan, shortHash, type CellPlan, type Plan } from './plan.js';
import type { CampaignConfig, StressKind } from './config.js';
import { STRESS_KINDS } from './config.js';
import { claimRunDir, RunStore, writeJson, type RunDirClaim, type RunDirOptions } from './store.js';
import { lowerMedian, timeCalls } from '../timing.js';

export const GAUNTLET_VERSION = '0.1.0';

export interface CellResult {
  id: string;
  stage: string;
  hash: string;
  /** Resolved spec of each stress kind present. */
  stresses: Partial<Record<StressKind, unknown>>;
  labels: Partial<Record<StressKind, string>>;
  samples: number;
  /** Metrics against the true labels, each with a 95 % bootstrap CI. */
  metrics: Record<MetricName, MetricWithCi>;
  /** Metrics against the observed (noisy) labels, where annotation noise is present. */
  observed_metrics: Record<MetricName, MetricWithCi> | null;
  /** Observed-label accuracy minus true-label accuracy: how wrong the team's own measurement is. */
  measurement_gap: number | null;
  /** Paired comparison with the baseline (same items only). */
  vs_baseline: { accuracy_drop: MetricWithCi; mcnemar: { b: number; c: number; p_value: number } } | null;
  /** Reliability-diagram bins (15, top-label confidence) against the true labels. */
  reliability: ReliabilityBin[];
  /** Risk–coverage curve (≤ 50 points) against the true labels. */
  risk_coverage: { coverage: number; risk: number; threshold: number }[];
  /** Explanation drift and layer sensitivity (clean vs this cell's inputs), when the config asks for them. */
  explanations: ExplainCellSummary | null;
  /** Calibration, conformal coverage, selective risk (and ensemble / MC-dropout figures) on this cell, when configured. */
  uncertainty: UncertaintyCellSummary | null;
  /** A few sample items (clean, stressed, perturbation as small PNGs, labels and predictions) for the report. */
  gallery: GalleryItem[] | null;
  /** Per-annotator quality and the label audit, on cells with annotation noise. */
  annotation_quality: AnnotationQuality | null;
  /** Stress details: realised noise rate, attack summary, drift description, flags. */
  details: Record<string, unknown>;
  /** Wall-clock figures (not part of the reproducible results). */
  performance: { seconds: number; latency_ms_p50: number; latency_ms_p95: number; latency_ms_p99: number; throughput_per_s: number };
  /** Per-item correctness ('0'/'1' per item) against true and observed labels; item order of `item_indices`. */
  correct: string;
  correct_observed: string | null;
  /** Indices into the dataset when the cell's items are a resample (prior/subpopulation shift). */
  item_indices: number[] | null;
}

export interface Interaction {
  cell: string;
  stage: string;
  kinds: StressKind[];
  metric: 'accuracy' | 'measured_accuracy';
  observed_drop: MetricWithCi;
  additive_drop: MetricWithCi;
  /** observed − additive: > 0 the stresses compound (super-additive), < 0 they overlap. */
  interaction: MetricWithCi;
  /** See metrics/interaction.ts: 'floor' when accuracy's floor at zero, not the stresses, decides Δ. */
  verdict: InteractionVerdict;
  /** Why the verdict is 'floor' (null otherwise). */
  floor: FloorReason | null;
}

export interface CampaignResults {
  gauntlet: string;
  seed: number;
  model: { path: string; sha256: string; output_kind: string };
  data: { path: string; sha256: string; samples: number; classes: number; class_names: string[] | null };
  config: unknown;
  cells: CellResult[];
  interactions: Interaction[];
  budgets: BudgetResult[];
  /** What the uncertainty section fitted on clean data (temperature, conformal quantile, threshold, split), when configured. */
  uncertainty: unknown;
  performance: { wall_seconds: number; floor_seconds: number; floor_ratio: number; forward_ms_per_batch: number; forward_grad_ms_per_batch: number; forward_batches: number; gradient_batches: number };
}

export type CampaignEvent =
  | { type: 'plan'; plan: Plan; resumed: number }
  | { type: 'cell_start'; cell: CellPlan; index: number; total: number }
  | { type: 'cell_done'; cell: CellPlan; index: number; total: number; result: CellResult; cached: boolean }
  | { type: 'phase'; message: string };

export interface RunOptions extends RunDirOptions {
  outDir: string;
  /** Stops the run before its next cell with a RunInterruptedError (finished cells stay checkpointed). */
  signal?: AbortSignal;
  onEvent?: (e: CampaignEvent) => void;
  threads?: number;
}

/** Loads the data and model a config names, checking that they fit together. */
export async function openCampaignInputs(config: CampaignConfig): Promise<{ ds: Dataset; model: Model }> {
  const ds = await loadDataset(config.data);
  requireLabels(ds, 'a campaign');
  const model = await Model.open(config.model.path, { ...config.model });
  return { ds, model };
}

/**
 * Runs a campaign: every cell of the plan, checkpointed as it finishes; on `resume`, cells whose
 * checkpoint matches are loaded instead of recomputed. Same config and seed → same metric values.
 */
export async function runCampaign(config: CampaignConfig, opts: RunOptions): Promise<CampaignResults> {
  const t0 = performance.now();
  const started = new Date().toISOString();
  const emit = opts.onEvent ?? (() => {});
  const store = new RunStore(opts.outDir);
  const { ds, model } = await openCampaignInputs(config);
  const engines: GradientEngine[] = [];
  const closers: (() => Promise<void> | void)[] = [];
  let claim: RunDirClaim | null = null;
  try {
    const labels = ds.labels!;
    const dataSha = datasetHash(ds);
    const plan = makePlan(config);
    const configJson = JSON.parse(JSON.stringify(config)) as unknown;
    const identity = { model_sha256: model.sha256, data_sha256: dataSha, config: canonical({ ...config, source: undefined }) };
    claim = claimRunDir(opts.outDir, canonical(identity), opts);
    const manifest = {
      gauntlet: GAUNTLET_VERSION,
      git_commit: gitCommit(),
      node: process.version,
      onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
      started,
      finished: null as string | null,
      identity,
      model: { path: config.model.path, sha256: model.sha256 },
      data: { path: config.data.path, sha256: dataSha, samples: ds.size },
      seed: config.seed,
      config: configJson,
      cells: plan.cells.map((c) => ({ id: c.id, stage: c.stage, hash: c.hash, seeds: cellSeeds(config.seed, c), stresses: stressesOf(c) })),
    };
    writeJson(store.manifestPath, manifest);
    store.event({ event: opts.resume ? 'resume' : 'start', cells: plan.cells.length });

    const resumed = plan.cells.filter((c) => store.readJson<CellResult>(store.cellPath(c.id))?.hash === c.hash).length;
    emit({ type: 'plan', plan, resumed });

    const root = new Rng(config.seed);
    const counters = { forwardBatches: 0, gradientBatches: 0 };
    emit({ type: 'phase', message: 'clean predictions' });
    const clean = await predictAll(model, ds.x, ds.size, ds.itemShape, config.batchSize, counters);
    const K = clean.numClasses;
    model.checkData(ds, K);
    const cleanProbs = toProbabilities(clean.scores, K, clean.kind);
    const weights = bootstrapWeights(ds.size, config.bootstrap, root.fork('bootstrap'));
    let unc: UncertaintyContext | null = null;
    if (config.uncertainty) {
      emit({ type: 'phase', message: 'fitting temperature, conformal quantile and selective threshold on clean data' });
      unc = await prepareUncertainty(model, { x: ds.x, n: ds.size, labels, probs: cleanProbs }, config.uncertainty, root.fork('uncertainty'), { batchSize: config.batchSize });
      closers.push(() => unc!.close());
    }

    // Tabular data: the declared immutable features never move (attacks and value-changing shifts),
    // attacks keep integer features frozen and each feature in its observed range (as `gauntlet
    // attack` does), and an ε in std units uses the clean set's σ in every cell, drifted or not.
    const tabular = isTabular(ds);
    const immutable = config.data.immutable ? featureIndices(ds, config.data.immutable, 'data.immutable') : [];
    const constraints: Constraints | undefined = tabular ? tabularConstraints(ds, { immutable, continuous: config.data.continuous }) : undefined;
    const cleanStd = tabular ? featureStd(ds.x, ds.size, ds.x.length / Math.max(1, ds.size)) : undefined;

    // Caches shared by cells: each stress output is computed once per run.
    const annotationCache = new Map<string, AnnotationResult>();
    const qualityCache = new Map<string, AnnotationQuality>();
    const driftCache = new Map<string, { dataset: Dataset; indices: Int32Array | null; description: string }>();
    // Inputs and predictions per distinct input set (drift × attack); the attacked inputs are kept for explanations.
    const predCache = new Map<string, { probs: Float64Array; batchMs: number[]; details: Record<string, unknown>; x: Float32Array }>();
    predCache.set('|', { probs: cleanProbs, batchMs: clean.batchMs, details: {}, x: ds.x });

    const results: CellResult[] = [];
    let baseline: CellResult | null = null;
    let baseBoot: Float64Array | null = null;
    for (let index = 0; index < plan.cells.length; index++) {
      if (opts.signal?.aborted) throw interrupted(opts, claim, results.length, plan.cells.length);
      const cell = plan.cells[index]!;
      const saved = store.readJson<CellResult>(store.cellPath(cell.id));
      if (saved && saved.hash === cell.hash) {
        results.push(saved);
        if (cell.stage === 'baseline' && !cell.adversarial && !cell.drift && !cell.annotation) baseline = saved;
        emit({ type: 'cell_done', cell, index, total: plan.cells.length, result: saved, cached: true });
        continue;
      }
      emit({ type: 'cell_start', cell, index, total: plan.cells.length });
      const c0 = performance.now();
      const details: Record<string, unknown> = {};

      // 1. Labels: annotation noise on the true labels (observed labels for measurement).
      let observed: Int32Array | null = null;
      if (cell.annotation) {
        let ann = annotationCache.get(cell.annotation.key);
        if (!ann) {
          ann = applyAnnotation(labels, K, cell.annotation.spec, root.fork(`annotation|${cell.annotation.key}`), { ids: ds.ids, probs: cleanProbs });
          annotationCache.set(cell.annotation.key, ann);
        }
        observed = ann.observed;
        if (!qualityCache.has(cell.annotation.key)) qualityCache.set(cell.annotation.key, annotationQuality(ann, auditLabels(cleanProbs, K, ann.observed, { trueLabels: labels }), { ids: ds.ids }));
        details.annotation = { realised_rate: ann.realisedRate, expected_rate: ann.expectedRate, realised_matrix: ann.realisedMatrix };
      }
      // 2. Inputs: drift.
      let inputs = ds;
      let indices: Int32Array | null = null;
      const driftKey = cell.drift?.key ?? '';
      if (cell.drift) {
        let d = driftCache.get(driftKey);
        if (!d) {
          const r = applyDrift(ds, cell.drift.spec, root.fork(`drift|${driftKey}`), { immutable });
          if (r.weights) throw new ConfigError(`${cell.drift.label}: reweighting shifts are not supported in campaigns (metrics are per item); use mode: resample`);
          d = { dataset: r.dataset, indices: r.indices ?? null, description: r.description };
          driftCache.set(driftKey, d);
        }
        inputs = d.dataset;
        indices = d.indices;
        details.drift = { description: d.description };
      }
      const cellLabels = indices ? Int32Array.from(indices, (i) => labels[i]!) : labels;
      const cellObserved = observed && indices ? Int32Array.from(indices, (i) => observed![i]!) : observed;
      // 3. Attack the (drifted) inputs, aiming at the true labels; then predict.
      const advKey = cell.adversarial?.key ?? '';
      const predKey = `${driftKey}|${advKey}`;
      let pred = predCache.get(predKey);
      if (!pred) {
        let x = inputs.x;
        const pdetails: Record<string, unknown> = {};
        if (cell.adversarial) {
          const ar = await runAttack(model, inputs.x, inputs.size, cellLabels, cell.adversarial.spec, root.fork(`adversarial|${advKey}|${driftKey}`), {
            batchSize: config.batchSize,
            constraints,
            itemShape: ds.itemShape,
            featureStd: cleanStd,
          });
          x = ar.adversarial;
          counters.gradientBatches += ar.gradientBatches ?? 0;
          counters.forwardBatches += ar.forwardBatches ?? 0;
          pdetails.adversarial = ar.summary;
        }
        const p = await predictAll(model, x, inputs.size, inputs.itemShape, config.batchSize, counters);
        pred = { probs: toProbabilities(p.scores, K, p.kind), batchMs: p.batchMs, details: pdetails, x };
        predCache.set(predKey, pred);
      }
      Object.assign(details, pred.details);
      // 3b. Why: attributions and layer activations on clean vs this cell's inputs (same items).
      let explanations: ExplainCellSummary | null = null;
      if (config.explain && (cell.drift || cell.adversarial)) {
        const cleanX = indices ? subset(ds, indices).x : ds.x;
        explanations = await explainCell(model, { x: cleanX, n: inputs.size, itemShape: [...ds.itemShape], featureNames: ds.featureNames }, { x: pred.x }, cellLabels, config.explain, root.fork(`explain|${predKey}`));
      }

      // 4. Metrics with CIs, against true and observed labels.
      const w = indices ? bootstrapWeights(cellLabels.length, config.bootstrap, root.fork(`bootstrap|${driftKey}`)) : weights;
      const stats = itemStats(pred.probs, K, cellLabels);
      const m = metricsWithCi(stats, w, config.abstainBelow);
      let observedMetrics: CellResult['observed_metrics'] = null;
      let obsCorrect: Uint8Array | null = null;
      if (cellObserved) {
        const os = itemStats(pred.probs, K, cellObserved);
        observedMetrics = metricsWithCi(os, w, config.abstainBelow).metrics;
        obsCorrect = os.correct;
      }
      let vsBaseline: CellResult['vs_baseline'] = null;
      if (baseline && !indices) {
        const baseCorrect = bits(baseline.correct);
        // Paired: the same resamples for baseline and cell (the cell's per-resample accuracy is already known).
        baseBoot ??= weightedMeans(baseCorrect, w);
        const drops = baseBoot.map((b, i) => b - m.bootAccuracy[i]!);
        const mc = mcnemar(baseCorrect, stats.correct);
        vsBaseline = {
          accuracy_drop: { value: baseline.metrics.accuracy.value - m.metrics.accuracy.value, ci: percentileCi(drops) },
          mcnemar: { b: mc.b, c: mc.c, p_value: mc.pValue },
        };
      }
      const sortedMs = [...pred.batchMs].sort((a, b) => a - b);
      const q = (p: number) => (sortedMs.length ? sortedMs[Math.min(sortedMs.length - 1, Math.floor(p * sortedMs.length))]! : NaN);
      const per = config.batchSize;
      const result: CellResult = {
        id: cell.id,
        stage: cell.stage,
        hash: cell.hash,
        stresses: stressesOf(cell),
        labels: Object.fromEntries(STRESS_KINDS.filter((k) => cell[k]).map((k) => [k, cell[k]!.label])),
        samples: cellLabels.length,
        metrics: m.metrics,
        observed_metrics: observedMetrics,
        measurement_gap: observedMetrics ? observedMetrics.accuracy.value - m.metrics.accuracy.value : null,
        vs_baseline: vsBaseline,
        explanations,
        gallery: galleryItems({ probs: pred.probs, numClasses: K, labels: cellLabels, observed: cellObserved, inputs: pred.x, clean: indices ? subset(ds, indices).x : ds.x, itemShape: [...ds.itemShape], cleanProbs: indices ? null : cleanProbs, ids: indices ? null : ds.ids }),
        annotation_quality: cell.annotation ? (qualityCache.get(cell.annotation.key) ?? null) : null,
        uncertainty: unc ? await uncertaintyCell(unc, { x: pred.x, n: inputs.size, labels: cellLabels, probs: pred.probs, itemIndices: indices ?? undefined, weights: w }) : null,
        reliability: reliabilityBins(stats),
        risk_coverage: riskCoverage(stats),
        details,
        performance: {
          seconds: (performance.now() - c0) / 1000,
          latency_ms_p50: q(0.5) / per,
          latency_ms_p95: q(0.95) / per,
          latency_ms_p99: q(0.99) / per,
          throughput_per_s: sortedMs.length ? (1000 * cellLabels.length) / pred.batchMs.reduce((a, b) => a + b, 0) : NaN,
        },
        correct: Array.from(stats.correct).join(''),
        correct_observed: obsCorrect ? Array.from(obsCorrect).join('') : null,
        item_indices: indices ? Array.from(indices) : null,
      };
      if (!cell.adversarial && !cell.drift && !cell.annotation) baseline = result;
      writeJson(store.cellPath(cell.id), result);
      store.event({ event: 'cell_done', id: cell.id, seconds: result.performance.seconds });
      results.push(result);
      emit({ type: 'cell_done', cell, index, total: plan.cells.length, result, cached: false });
    }

    const interactions = computeInteractions(plan, results, weights, config.abstainBelow);
    const budgets = evaluateBudgets(config.budgets, results);
    emit({ type: 'phase', message: 'timing the compute floor' });
    const floor = await computeFloor(model, ds, config.batchSize, engines);
    const wall = (performance.now() - t0) / 1000;
    const floorSeconds = (counters.forwardBatches * floor.forwardMs + counters.gradientBatches * floor.gradMs) / 1000;
    const out: CampaignResults = {
      gauntlet: GAUNTLET_VERSION,
      seed: config.seed,
      model: { path: config.model.path, sha256: model.sha256, output_kind: model.outputKind ?? 'logits' },
      data: { path: config.data.path, sha256: dataSha, samples: ds.size, classes: K, class_names: ds.classNames ? [...ds.classNames] : path.resolve(config.data.path) === path.resolve(defaultAssets.data) ? defaultMeta().class_names : null },
      config: configJson,
      cells: results,
      interactions,
      budgets,
      uncertainty: unc ? uncertaintyContextSummary(unc) : null,
      performance: {
        wall_seconds: wall,
        floor_seconds: floorSeconds,
        floor_ratio: floorSeconds > 0 ? wall / floorSeconds : NaN,
        forward_ms_per_batch: floor.forwardMs,
        forward_grad_ms_per_batch: floor.gradMs,
        forward_batches: counters.forwardBatches,
        gradient_batches: counters.gradientBatches,
      },
    };
    writeJson(store.resultsPath, out);
    writeJson(store.manifestPath, { ...manifest, finished: new Date().toISOString() });
    store.event({ event: 'finish', wall_seconds: wall });
    claim.finish();
    return out;
  } catch (e) {
    // Nothing checkpointed yet: remove what this run created, so that the same command can run again.
    claim?.abandon();
    throw e;
  } finally {
    for (const e of engines) await e.close();
    for (const c of closers) await c();
    await model.close();
  }
}

function interrupted(opts: RunOptions, claim: RunDirClaim | null, checkpointed: number, total: number): RunInterruptedError {
  const reason: unknown = opts.signal?.reason;
  const removed = checkpointed === 0 && (claim?.abandon() ?? false);
  return new RunInterruptedError({ checkpointed, total, dir: opts.outDir, signal: typeof reason === 'string' ? reason : null, removed });
}

function stressesOf(c: CellPlan): Partial<Record<StressKind, unknown>> {
  return Object.fromEntries(STRESS_KINDS.filter((k) => c[k]).map((k) => [k, c[k]!.spec]));
}

/** The seed labels each stress of a cell draws from (derived from the campaign seed and the stress spec). */
function cellSeeds(seed: number, c: CellPlan): Record<string, string> {
  const s: Record<string, string> = {};
  if (c.annotation) s.annotation = `${seed}/annotation|${shortHash(c.annotation.key)}`;
  if (c.drift) s.drift = `${seed}/drift|${shortHash(c.drift.key)}`;
  if (c.adversarial) s.adversarial = `${seed}/adversarial|${shortHash(c.adversarial.key)}|${c.drift ? shortHash(c.drift.key) : ''}`;
  return s;
}

async function predictAll(model: Model, x: Float32Array, n: number, itemShape: readonly number[], batchSize: number, counters: { forwardBatches: number }) {
  const per = itemShape.reduce((a, b) => a * b, 1);
  if (x.length !== n * per) throw new DataError(`internal: ${x.length} values for ${n} items of shape [${itemShape.join(', ')}]`);
  const r = await model.predictItems(x, n, { batchSize });
  counters.forwardBatches += r.batchMs.length;
  return r;
}

function bits(s: string): Uint8Array {
  return Uint8Array.from(s, (ch) => (ch === '1' ? 1 : 0));
}

/** Observed drop vs the sum of isolated drops, per multi-stress cell, with paired bootstrap CIs. */
export function computeInteractions(plan: Plan, results: CellResult[], weights: readonly Uint16Array[], abstainBelow: number): Interaction[] {
  const byId = new Map(results.map((r) => [r.id, r]));
  const base = results.find((r) => Object.keys(r.stresses).length === 0);
  if (!base || base.item_indices) return [];
  const isolated = new Map<string, CellResult>();
  for (const c of plan.cells) {
    const kinds = STRESS_KINDS.filter((k) => c[k]);
    if (kinds.length === 1) isolated.set(`${kinds[0]}=${c[kinds[0]!]!.key}`, byId.get(c.id)!);
  }
  // Accuracy for each resample from a correctness string.
  const boot = (correct: string) => Array.from(weightedMeans(bits(correct), weights));
  const point = (correct: string) => bits(correct).reduce((a, b) => a + b, 0) / correct.length;
  const baseBoot = boot(base.correct);
  const basePoint = point(base.correct);
  const out: Interaction[] = [];
  for (const c of plan.cells) {
    const kinds = STRESS_KINDS.filter((k) => c[k]);
    if (kinds.length < 2) continue;
    const r = byId.get(c.id)!;
    if (r.item_indices) continue;
    const parts = kinds.map((k) => isolated.get(`${k}=${c[k]!.key}`));
    if (parts.some((p) => !p || p.item_indices)) continue;
    for (const metric of ['accuracy', 'measured_accuracy'] as const) {
      if (metric === 'measured_accuracy' && !c.annotation) continue;
      const measured = (x: CellResult) => (metric === 'measured_accuracy' && x.correct_observed ? x.correct_observed : x.correct);
      const cellBoot = boot(measured(r));
      const partBoots = parts.map((p) => boot(measured(p!)));
      const obs = baseBoot.map((b, i) => b - cellBoot[i]!);
      const add = baseBoot.map((b, i) => partBoots.reduce((s, pb) => s + (b - pb[i]!), 0));
      const inter = obs.map((o, i) => o - add[i]!);
      const obsPoint = basePoint - point(measured(r));
      const addPoint = parts.reduce((s, p) => s + (basePoint - point(measured(p!))), 0);
      const ci = percentileCi(inter);
      const judged = interactionVerdict({ interactionCi: ci, cellAccuracyCi: percentileCi(cellBoot), baseline: basePoint, additive: addPoint });
      out.push({
        cell: c.id,
        stage: c.stage,
        kinds,
        metric,
        observed_drop: { value: obsPoint, ci: percentileCi(obs) },
        additive_drop: { value: addPoint, ci: percentileCi(add) },
        interaction: { value: obsPoint - addPoint, ci },
        verdict: judged.verdict,
        floor: judged.floor,
      });
    }
  }
  void abstainBelow;
  return out;
}

/** Median time of one forward batch and one forward+gradient batch, for the compute floor. */
async function computeFloor(model: Model, ds: Dataset, batchSize: number, engines: GradientEngine[]): Promise<{ forwardMs: number; gradMs: number }> {
  const n = Math.min(batchSize, ds.size);
  const sub = subset(ds, Int32Array.from({ length: n }, (_, i) => i));
  const median = async (f: () => Promise<unknown>) => {
    await f();
    return lowerMedian(await timeCalls(f, 5));
  };
  const forwardMs = await median(() => model.predictBatch(sub.x, n));
  let gradMs = NaN;
  try {
    const engine = new GradientEngine(model, { kind: 'ce' });
    engines.push(engine);
    gradMs = await median(() => engine.run(sub.x, n, sub.labels!));
  } catch {
    // Models without gradient rules have no gradient floor.
  }
  return { forwardMs, gradMs };
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: packageRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null;
  } catch {
    return null;
  }
}

export { itemId };

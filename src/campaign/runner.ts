import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { GradientEngine } from '../autodiff/gradient.js';
import { datasetHash, itemId, requireLabels, subset, type Dataset } from '../data/dataset.js';
import { loadDataset } from '../data/load.js';
import { packageRoot } from '../defaults.js';
import { ConfigError, DataError } from '../errors.js';
import { Model } from '../engine/model.js';
import { toProbabilities } from '../metrics/classification.js';
import { bootstrapWeights, itemStats, mcnemar, metricsWithCi, percentileCi, reliabilityBins, riskCoverage } from '../metrics/suite.js';
import { Rng } from '../rng.js';
import { applyAnnotation, auditLabels, type AnnotationResult } from '../stress/annotation/index.js';
import { annotationQuality } from './annotation-quality.js';
import { galleryItems } from './gallery.js';
import { defaultAssets, defaultMeta } from '../defaults.js';
import { applyDrift } from '../stress/drift/index.js';
import { runAttack } from '../stress/adversarial/index.js';
import { explainCell, type ExplainCellSummary } from '../explain/index.js';
import { prepareUncertainty, uncertaintyCell, uncertaintyContextSummary, type UncertaintyCellSummary, type UncertaintyContext } from '../uncertainty/index.js';
import { evaluateBudgets } from './budgets.js';
import type { AnnotationQuality, CampaignResults, CellResult, Interaction } from './types.js';
import { canonical, makePlan, shortHash, type CellPlan, type Plan } from './plan.js';
import type { CampaignConfig, StressKind } from './config.js';
import { STRESS_KINDS } from './config.js';
import { RunStore, writeJson } from './store.js';
import { lowerMedian, timeCalls } from '../timing.js';

export const GAUNTLET_VERSION = '0.1.0';

export type { CampaignResults, CellResult, Interaction } from './types.js';

export type CampaignEvent =
  | { type: 'plan'; plan: Plan; resumed: number }
  | { type: 'cell_start'; cell: CellPlan; index: number; total: number }
  | { type: 'cell_done'; cell: CellPlan; index: number; total: number; result: CellResult; cached: boolean }
  | { type: 'phase'; message: string };

export interface RunOptions {
  outDir: string;
  resume?: boolean;
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
  try {
    const labels = ds.labels!;
    const dataSha = datasetHash(ds);
    const plan = makePlan(config);
    const configJson = JSON.parse(JSON.stringify(config)) as unknown;
    const identity = { model_sha256: model.sha256, data_sha256: dataSha, config: canonical({ ...config, source: undefined }) };
    if (fs.existsSync(store.manifestPath)) {
      const prev = store.readJson<{ identity?: typeof identity }>(store.manifestPath);
      if (!opts.resume) throw new ConfigError(`${opts.outDir}: already holds a run; use --resume to continue it or --out for a new directory`);
      if (!prev?.identity || canonical(prev.identity) !== canonical(identity)) {
        throw new ConfigError(`${opts.outDir}: cannot resume: the model, data or config differ from the run recorded there`);
      }
    }
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
          const r = applyDrift(ds, cell.drift.spec, root.fork(`drift|${driftKey}`));
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
          const ar = await runAttack(model, inputs.x, inputs.size, cellLabels, cell.adversarial.spec, root.fork(`adversarial|${advKey}|${driftKey}`), { batchSize: config.batchSize });
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
        explanations = await explainCell(model, { x: cleanX, n: inputs.size, itemShape: [...ds.itemShape] }, { x: pred.x }, cellLabels, config.explain, root.fork(`explain|${predKey}`));
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
        baseBoot ??= weightedAccuracy(baseCorrect, w);
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
        uncertainty: unc ? await uncertaintyCell(unc, { x: pred.x, n: inputs.size, labels: cellLabels, probs: pred.probs, itemIndices: indices ?? undefined }) : null,
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
    return out;
  } finally {
    for (const e of engines) await e.close();
    for (const c of closers) await c();
    await model.close();
  }
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

/** Accuracy of per-item correctness under each resample's item weights. */
function weightedAccuracy(correct: Uint8Array, weights: readonly Uint16Array[]): Float64Array {
  return Float64Array.from(weights, (w) => {
    let t = 0;
    let s = 0;
    for (let i = 0; i < correct.length; i++) {
      t += w[i]!;
      s += w[i]! * correct[i]!;
    }
    return s / t;
  });
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
  const boot = (correct: string) => Array.from(weightedAccuracy(bits(correct), weights));
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
      out.push({
        cell: c.id,
        stage: c.stage,
        kinds,
        metric,
        observed_drop: { value: obsPoint, ci: percentileCi(obs) },
        additive_drop: { value: addPoint, ci: percentileCi(add) },
        interaction: { value: obsPoint - addPoint, ci },
        verdict: ci[0] > 0 ? 'compounding' : ci[1] < 0 ? 'overlapping' : 'additive',
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

/**
 * One campaign cell: `runCell` folds the stress hooks over the cell's state — annotation (labels),
 * drift (inputs), adversarial (inputs, aimed at the true labels), predict, then the optional explain
 * and uncertainty sections (see hooks/hook.ts for the interface) — and measures the result: every
 * metric with a bootstrap CI against the true and the observed labels, the paired comparison with
 * the baseline, reliability, risk–coverage and a small gallery. Same context, cell and seed → same
 * result, whichever cells ran before (stress outputs are cached by setting, draws forked by key).
 *
 * Example (what the runner does per cell; see runner.ts for building the context):
 *   const caches = newCellCaches();
 *   const ctx: CellContext = { model, data: ds, labels: ds.labels!, numClasses: K, clean, rng: new Rng(seed), weights, options, uncertainty: null, caches, counters };
 *   const base = await runCell(ctx, plan.cells[0]!, null);
 *   const cell = await runCell(ctx, plan.cells[1]!, base);
 */
import { subset } from '../data/dataset.js';
import { bootstrapWeights, itemStats, mcnemar, metricsWithCi, percentileCi, reliabilityBins, riskCoverage, weightedMeans } from '../metrics/suite.js';
import { STRESS_KINDS, type StressKind } from './config.js';
import { galleryItems } from './gallery.js';
import { adversarialHook } from './hooks/adversarial.js';
import { annotationHook } from './hooks/annotation.js';
import { driftHook } from './hooks/drift.js';
import { explainHook } from './hooks/explain.js';
import type { AnyCellHook, CellCaches, CellContext, CellState } from './hooks/hook.js';
import { predictHook } from './hooks/predict.js';
import { streamable, streamInputs } from './stream.js';
import { uncertaintyHook } from './hooks/uncertainty.js';
import type { CellPlan } from './plan.js';
import type { CellResult } from './types.js';

export type { AnyCellHook, CellCaches, CellContext, CellHook, CellState, HookName, HookOutput } from './hooks/hook.js';
export { predictAll } from './hooks/predict.js';

/** The hooks of a cell, in the order they run: labels, inputs, attack, predictions, then the sections that read them. */
export const CELL_HOOKS: readonly AnyCellHook[] = [annotationHook, driftHook, adversarialHook, predictHook, explainHook, uncertaintyHook];

/** Empty caches for a run's cells. */
export function newCellCaches(): CellCaches {
  return { annotation: new Map(), drift: new Map(), attacks: new Map(), predictions: new Map(), baselineBoot: new Map(), streamed: new Map() };
}

/** A cell's state before any hook: the clean items, their true labels, no predictions yet. */
export function cleanState(ctx: CellContext): CellState {
  return { inputs: ctx.data, indices: null, labels: ctx.labels, observed: null, x: ctx.data.x, kept: ctx.source?.gallery ?? null, probs: null, batchMs: [], details: {}, annotationQuality: null, explanations: null, uncertainty: null };
}

/**
 * Runs the cell's hooks over its state, each that applies in `CELL_HOOKS` order (never mutating a
 * state). A streamed cell (stream.ts) computes its inputs and predictions chunk by chunk in place
 * of the drift, adversarial and predict hooks, with the same results and details.
 */
export async function runHooks(ctx: CellContext, cell: CellPlan, hooks: readonly AnyCellHook[] = CELL_HOOKS): Promise<CellState> {
  let state = cleanState(ctx);
  const streamed = streamable(cell, ctx);
  for (const hook of hooks) {
    if (!hook.applies(cell, ctx)) continue;
    if (streamed && (hook.name === 'drift' || hook.name === 'adversarial')) continue;
    if (streamed && hook.name === 'predict') {
      const r = await streamInputs(state, cell, ctx);
      const idx = r.indices;
      // A resampling shift: the cell's items are the picked clean items (labels carried over); their values are not held.
      const moved = idx
        ? { indices: idx, inputs: { ...state.inputs, size: idx.length, x: new Float32Array(0), labels: null, ids: null, metadata: null, extras: {} }, x: new Float32Array(0), labels: Int32Array.from(idx, (i) => state.labels[i]!), observed: state.observed && Int32Array.from(idx, (i) => state.observed![i]!) }
        : {};
      state = { ...state, ...moved, probs: r.probs, batchMs: r.batchMs, kept: r.kept, details: { ...state.details, ...r.details } };
      continue;
    }
    const { detail, ...adds } = await hook.run(state, cell, ctx);
    state = { ...state, ...adds, details: detail === undefined ? state.details : { ...state.details, [hook.name]: detail } };
  }
  return state;
}

/**
 * Runs one cell: its hooks, then its metrics (vs true and observed labels, each with a 95 %
 * bootstrap CI), the paired comparison with `baseline` (when given and the cell's items are the
 * clean ones), reliability, risk–coverage and the gallery.
 */
export async function runCell(ctx: CellContext, cell: CellPlan, baseline: CellResult | null): Promise<CellResult> {
  const c0 = performance.now();
  const s = await runHooks(ctx, cell);
  const K = ctx.numClasses;
  const ds = ctx.data;
  const { indices, labels } = s;
  const probs = s.probs!;
  const w = indices ? bootstrapWeights(labels.length, ctx.options.bootstrap, ctx.rng.fork(`bootstrap|${cell.drift?.key ?? ''}`)) : ctx.weights;
  const stats = itemStats(probs, K, labels);
  const m = metricsWithCi(stats, w, ctx.options.abstainBelow);
  let observedMetrics: CellResult['observed_metrics'] = null;
  let obsCorrect: Uint8Array | null = null;
  if (s.observed) {
    const os = itemStats(probs, K, s.observed);
    observedMetrics = metricsWithCi(os, w, ctx.options.abstainBelow).metrics;
    obsCorrect = os.correct;
  }
  let vsBaseline: CellResult['vs_baseline'] = null;
  if (baseline && !indices) {
    const baseCorrect = bits(baseline.correct);
    // Paired: the same resamples for baseline and cell (the cell's per-resample accuracy is already known).
    let baseBoot = ctx.caches.baselineBoot.get(baseline.id);
    if (!baseBoot) ctx.caches.baselineBoot.set(baseline.id, (baseBoot = weightedMeans(baseCorrect, w)));
    const drops = baseBoot.map((b, i) => b - m.bootAccuracy[i]!);
    const mc = mcnemar(baseCorrect, stats.correct);
    vsBaseline = {
      accuracy_drop: { value: baseline.metrics.accuracy.value - m.metrics.accuracy.value, ci: percentileCi(drops) },
      mcnemar: { b: mc.b, c: mc.c, p_value: mc.pValue },
    };
  }
  const sortedMs = [...s.batchMs].sort((a, b) => a - b);
  const q = (p: number) => (sortedMs.length ? sortedMs[Math.min(sortedMs.length - 1, Math.floor(p * sortedMs.length))]! : NaN);
  const per = ctx.options.batchSize;
  return {
    id: cell.id,
    stage: cell.stage,
    hash: cell.hash,
    stresses: stressesOf(cell),
    labels: Object.fromEntries(STRESS_KINDS.filter((k) => cell[k]).map((k) => [k, cell[k]!.label])),
    samples: labels.length,
    metrics: m.metrics,
    observed_metrics: observedMetrics,
    measurement_gap: observedMetrics ? observedMetrics.accuracy.value - m.metrics.accuracy.value : null,
    vs_baseline: vsBaseline,
    explanations: s.explanations,
    gallery: galleryItems({
      probs,
      numClasses: K,
      labels,
      observed: s.observed,
      inputs: s.kept ? s.kept.x : s.x,
      clean: s.kept ? s.kept.clean : indices ? subset(ds, indices).x : ds.x,
      inputsAt: s.kept?.positions ?? null,
      itemShape: [...ds.itemShape],
      cleanProbs: indices ? null : ctx.clean.probs,
      ids: indices ? null : ds.ids,
    }),
    annotation_quality: s.annotationQuality,
    uncertainty: s.uncertainty,
    reliability: reliabilityBins(stats),
    risk_coverage: riskCoverage(stats),
    details: s.details,
    performance: {
      seconds: (performance.now() - c0) / 1000,
      latency_ms_p50: q(0.5) / per,
      latency_ms_p95: q(0.95) / per,
      latency_ms_p99: q(0.99) / per,
      throughput_per_s: sortedMs.length ? (1000 * labels.length) / s.batchMs.reduce((a, b) => a + b, 0) : NaN,
    },
    correct: Array.from(stats.correct).join(''),
    correct_observed: obsCorrect ? Array.from(obsCorrect).join('') : null,
    item_indices: indices ? Array.from(indices) : null,
  };
}

/** Rows `at` of a row-major array of `per` values per row, in that order. */
function pickRows(x: Float32Array, at: readonly number[], per: number): Float32Array {
  const out = new Float32Array(at.length * per);
  at.forEach((i, j) => out.set(x.subarray(i * per, (i + 1) * per), j * per));
  return out;
}

/** The resolved spec of each stress kind a cell has. */
export function stressesOf(c: CellPlan): Partial<Record<StressKind, unknown>> {
  return Object.fromEntries(STRESS_KINDS.filter((k) => c[k]).map((k) => [k, c[k]!.spec]));
}

/** A stored correctness string ('0'/'1' per item) as bits. */
export function bits(s: string): Uint8Array {
  return Uint8Array.from(s, (ch) => (ch === '1' ? 1 : 0));
}

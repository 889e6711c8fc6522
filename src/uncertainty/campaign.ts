import { ConfigError, DataError } from '../errors.js';
import { Model } from '../engine/model.js';
import type { Classifier } from '../engine/classifier.js';
import type { ModelDeclaration } from '../engine/declaration.js';
import { classificationMetrics } from '../metrics/classification.js';
import { itemStats, metricsWithCi, percentileCi, pickWeights, weightedMeans, type MetricName, type ResampleWeights } from '../metrics/suite.js';
import type { Rng } from '../rng.js';
import { calibrateConformal, conformalReport, type ConformalCalibration } from './conformal.js';
import { combineMembers } from './ensemble.js';
import { McDropout } from './mc-dropout.js';
import { pickRows, predictProbabilities } from './probs.js';
import { mean, uncertaintyScores } from './scores.js';
import { fitSelectiveThreshold, riskCoverageCurve, selectiveAt, selectiveItems, type SelectiveOutcome } from './selective.js';
import { calibrationSplit, type CalibrationSplit } from './split.js';
import type { UncertaintySpec } from './spec.js';
import { applyTemperature, fitTemperature, temperatureEffect, type TemperatureFit } from './temperature.js';

/**
 * The campaign hook: `prepareUncertainty` once per campaign on the clean items, then
 * `uncertaintyCell` once per cell (the clean baseline included).
 *
 * Which items each number comes from. The clean items are split once, seeded
 * (`rng.fork('uncertainty/split')`, `calibration_fraction` of them, default half), into a
 * calibration part and an evaluation part (`ctx.split`, sorted clean item indices). The temperature,
 * the conformal quantile q̂ and the selective threshold τ are fitted on the calibration part only.
 * Every number `uncertaintyCell` returns is computed on the cell's items whose clean item is in the
 * evaluation part, so no calibration item — nor a stressed copy of one — is ever scored:
 * - `itemIndices` omitted: the cell's items are the clean items in order (same count; a stressed copy
 *   of item i is item i); the evaluated items are `ctx.split.evaluation`.
 * - `itemIndices` given: item j of the cell is a copy (perhaps stressed) of clean item itemIndices[j]
 *   (e.g. a prior-shift resample); item j is evaluated iff that clean item is in the evaluation part.
 * - `itemIndices: null`: the cell's items are unrelated to the clean items; all are evaluated.
 *
 * Random draws are forks of the given `rng` under fixed labels (randomised-APS uniforms:
 * 'uncertainty/conformal/calibration' and '.../test'; MC-dropout masks: 'uncertainty/mc-dropout'),
 * so a cell's summary depends only on the seed and the cell, not on which cells ran before.
 */
export interface UncertaintyItems {
  /** Inputs, row-major [n, ...itemShape], data domain. */
  x: Float32Array;
  n: number;
  /** Labels the metrics are computed against. */
  labels: Int32Array;
  /** The campaign model's class probabilities on these inputs, [n, K]. */
  probs: Float64Array;
}

export interface UncertaintyCellInput extends UncertaintyItems {
  /** Clean item index of each cell item (see above); omitted = identity, null = unrelated items. */
  itemIndices?: ArrayLike<number> | null;
  /**
   * Bootstrap resamples of the cell's `n` items as item multiplicities (the campaign's seeded
   * resamples, shared by the cells over the same items). When given, every figure that is an
   * average over items gets a 95 % percentile CI (`<figure>_ci`), from the resamples restricted
   * to the evaluated items.
   */
  weights?: readonly ResampleWeights[];
}

export interface PrepareUncertaintyOptions {
  /** Items per ORT run for ensemble members and MC dropout (default 256). */
  batchSize?: number;
  /** ORT intra-op threads for the models this opens (0 = all cores; default 0). */
  threads?: number;
  /** Declaration of the ensemble members (default: the campaign model's bounds, preprocessing, layout and output kind). */
  memberDeclaration?: ModelDeclaration;
}

export interface UncertaintyContext {
  readonly spec: UncertaintySpec;
  readonly model: Classifier;
  readonly numClasses: number;
  /** Number of clean items. */
  readonly cleanItems: number;
  /** Calibration / evaluation split of the clean items (sorted indices). */
  readonly split: CalibrationSplit;
  readonly temperature: TemperatureFit | null;
  readonly conformal: ConformalCalibration | null;
  readonly selective: (SelectiveOutcome & { targetRisk: number }) | null;
  /** Ensemble members besides the campaign model. */
  readonly members: readonly Model[];
  readonly mcDropout: McDropout | null;
  readonly rng: Rng;
  readonly batchSize: number;
  /** Releases the sessions this context opened (not the campaign model's). */
  close(): Promise<void>;
}

/** One cell's uncertainty figures: JSON-serialisable, numbers and arrays of numbers only. */
export interface UncertaintyCellSummary {
  /** Items in the cell, and those evaluated (outside the calibration split). */
  items: number;
  evaluated: number;
  /** The model's own probabilities: accuracy, ECE (15 bins), NLL (nats). */
  accuracy: number;
  ece: number;
  nll: number;
  /** Means over evaluated items of max-softmax, top-1 − top-2 margin and predictive entropy (nats). */
  mean_max_softmax: number;
  mean_margin: number;
  mean_entropy: number;
  /** Area under the risk–coverage curve (confidence = max-softmax) and ≤ 50 curve points (coverage, risk, confidence threshold). */
  aurc: number;
  rc_coverage: number[];
  rc_risk: number[];
  rc_threshold: number[];
  /** Temperature scaling (when enabled): T and ECE/NLL before → after. */
  temperature?: number;
  ece_before?: number;
  ece_after?: number;
  nll_before?: number;
  nll_after?: number;
  /** Conformal sets (when enabled): target 1 − α, coverage, mean set size, share of empty sets. */
  conformal_target?: number;
  conformal_coverage?: number;
  conformal_mean_set_size?: number;
  conformal_empty_rate?: number;
  /** Selective prediction at the clean threshold τ (when enabled; τ = Number.MAX_VALUE: abstain on all). */
  selective_target_risk?: number;
  selective_threshold?: number;
  selective_risk?: number;
  selective_coverage?: number;
  /** Deep ensemble (when enabled): members incl. the campaign model, and the mean prediction's figures. */
  ensemble_members?: number;
  ensemble_accuracy?: number;
  ensemble_nll?: number;
  ensemble_ece?: number;
  ensemble_mean_entropy?: number;
  ensemble_mean_mutual_information?: number;
  /** MC dropout (when enabled): passes, the predictive mean's figures, mean Σ_k Var_t p_k. */
  mc_passes?: number;
  mc_accuracy?: number;
  mc_nll?: number;
  mc_ece?: number;
  mc_mean_entropy?: number;
  mc_mean_mutual_information?: number;
  mc_mean_variance?: number;
  /**
   * 95 % bootstrap CIs [lo, hi] of the figures above (same units), present when the cell was given
   * `weights`. Fixed per-run settings (T, targets, τ, member and pass counts) have none.
   */
  accuracy_ci?: Ci;
  ece_ci?: Ci;
  nll_ci?: Ci;
  mean_max_softmax_ci?: Ci;
  mean_margin_ci?: Ci;
  mean_entropy_ci?: Ci;
  aurc_ci?: Ci;
  ece_before_ci?: Ci;
  ece_after_ci?: Ci;
  nll_before_ci?: Ci;
  nll_after_ci?: Ci;
  conformal_coverage_ci?: Ci;
  conformal_mean_set_size_ci?: Ci;
  conformal_empty_rate_ci?: Ci;
  selective_risk_ci?: Ci;
  selective_coverage_ci?: Ci;
  ensemble_accuracy_ci?: Ci;
  ensemble_nll_ci?: Ci;
  ensemble_ece_ci?: Ci;
  ensemble_mean_entropy_ci?: Ci;
  ensemble_mean_mutual_information_ci?: Ci;
  mc_accuracy_ci?: Ci;
  mc_nll_ci?: Ci;
  mc_ece_ci?: Ci;
  mc_mean_entropy_ci?: Ci;
  mc_mean_mutual_information_ci?: Ci;
  mc_mean_variance_ci?: Ci;
}

/** A 95 % interval [lo, hi]. */
export type Ci = [number, number];

/** Bootstrap CIs of a probability table's suite metrics (accuracy, ECE, NLL, AURC …) under the resamples. */
function suiteCis(probs: Float64Array, K: number, labels: Int32Array, w: readonly ResampleWeights[]): Record<MetricName, Ci> {
  const m = metricsWithCi(itemStats(probs, K, labels), w, 0).metrics;
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.ci])) as Record<MetricName, Ci>;
}

/** CI of the mean of per-item values under the resamples. */
const meanCi = (values: ArrayLike<number>, w: readonly ResampleWeights[]): Ci => percentileCi(weightedMeans(values, w));

/** What was fitted on the calibration split, JSON-serialisable (for the run record). */
export interface UncertaintyContextSummary {
  calibration_items: number;
  evaluation_items: number;
  /** Clean item indices of the calibration split (sorted). */
  calibration_indices: number[];
  temperature?: number;
  temperature_fit_nll_before?: number;
  temperature_fit_nll_after?: number;
  conformal_alpha?: number;
  conformal_qhat?: number;
  conformal_rank?: number;
  selective_target_risk?: number;
  selective_threshold?: number;
  selective_calibration_risk?: number;
  selective_calibration_coverage?: number;
  ensemble_members?: number;
  mc_passes?: number;
  mc_dropout_sites?: number;
}

function checkItems(items: UncertaintyItems, what: string, numClasses?: number): number {
  const { x, n, labels, probs } = items;
  if (!(Number.isInteger(n) && n >= 1)) throw new DataError(`${what}: 'n' must be a positive integer, got ${n}`);
  if (labels.length !== n) throw new DataError(`${what}: ${labels.length} labels for ${n} items`);
  if (x.length % n !== 0) throw new DataError(`${what}: ${x.length} input values do not divide into ${n} items`);
  const K = numClasses ?? probs.length / n;
  if (!(Number.isInteger(K) && K >= 2) || probs.length !== n * K) throw new DataError(`${what}: ${probs.length} probabilities do not form ${n} rows of ${numClasses ?? 'at least 2'} classes`);
  for (let i = 0; i < n; i++) {
    if (!(labels[i]! >= 0 && labels[i]! < K)) throw new DataError(`${what}: label ${labels[i]} of item ${i} is outside the ${K} classes [0, ${K - 1}]`);
  }
  return K;
}

/** Fits everything on the calibration split of the clean items and opens ensemble members / MC dropout. */
export async function prepareUncertainty(model: Classifier, clean: UncertaintyItems, spec: UncertaintySpec, rng: Rng, opts: PrepareUncertaintyOptions = {}): Promise<UncertaintyContext> {
  const K = checkItems(clean, 'uncertainty: clean items');
  const split = calibrationSplit(clean.n, spec.calibration_fraction, rng.fork('uncertainty/split'));
  const calProbs = pickRows(clean.probs, K, split.calibration);
  const calLabels = pickRows(clean.labels, 1, split.calibration);
  const temperature = spec.temperature ? fitTemperature(calProbs, K, calLabels) : null;
  const conformal = spec.conformal ? calibrateConformal(calProbs, K, calLabels, spec.conformal, rng.fork('uncertainty/conformal/calibration')) : null;
  const selective = spec.selective ? fitSelectiveThreshold(calProbs, K, calLabels, spec.selective.target_risk) : null;
  const batchSize = opts.batchSize ?? 256;
  const members: Model[] = [];
  let mcDropout: McDropout | null = null;
  const close = async (): Promise<void> => {
    for (const m of members) await m.close();
    await mcDropout?.close();
  };
  try {
    const d = model.decl;
    const decl: ModelDeclaration = opts.memberDeclaration ?? {
      bounds: d.bounds,
      output: d.output,
      ...(d.layout === 'NHWC' ? { layout: 'NHWC' as const } : {}),
      ...(d.preprocess ? { preprocess: { scale: d.preprocess.scale, mean: d.preprocess.mean ?? undefined, std: d.preprocess.std ?? undefined } } : {}),
    };
    const per = clean.x.length / clean.n;
    for (const file of spec.ensemble) {
      const member = await Model.open(file, { ...decl, threads: opts.threads });
      members.push(member);
      const probe = await predictProbabilities(member, clean.x.subarray(0, per), 1);
      if (probe.numClasses !== K) throw new ConfigError(`ensemble member ${file} has ${probe.numClasses} classes, the campaign model has ${K}`);
    }
    if (spec.mc_dropout > 0) {
      if (model.source !== 'onnx') throw new ConfigError(`mc_dropout: ${model.label} is an endpoint, a black-box model; MC dropout rewrites the ONNX graph (temperature, conformal, selective and ensemble run on an endpoint)`);
      mcDropout = await McDropout.create(model as Model, { threads: opts.threads });
      if (mcDropout.sites.length === 0) throw new ConfigError(`mc_dropout: ${model.label} has no Dropout nodes; give a model with Dropout or remove 'mc_dropout'`);
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { spec, model, numClasses: K, cleanItems: clean.n, split, temperature, conformal, selective, members, mcDropout, rng, batchSize, close };
}

/** The uncertainty figures of one cell, on its evaluated items (see the module comment). */
export async function uncertaintyCell(ctx: UncertaintyContext, cell: UncertaintyCellInput): Promise<UncertaintyCellSummary> {
  const K = ctx.numClasses;
  checkItems(cell, 'uncertainty cell', K);
  const isEval = new Uint8Array(ctx.cleanItems);
  for (const i of ctx.split.evaluation) isEval[i] = 1;
  const picked: number[] = [];
  if (cell.itemIndices === undefined) {
    if (cell.n !== ctx.cleanItems) {
      throw new DataError(`uncertainty cell: ${cell.n} items but the clean set has ${ctx.cleanItems}; give 'itemIndices' (the clean item of each cell item, or null for unrelated items)`);
    }
    for (let i = 0; i < cell.n; i++) if (isEval[i]) picked.push(i);
  } else if (cell.itemIndices === null) {
    for (let i = 0; i < cell.n; i++) picked.push(i);
  } else {
    const idx = cell.itemIndices;
    if (idx.length !== cell.n) throw new DataError(`uncertainty cell: ${idx.length} item indices for ${cell.n} items`);
    for (let j = 0; j < cell.n; j++) {
      const i = idx[j]!;
      if (!(Number.isInteger(i) && i >= 0 && i < ctx.cleanItems)) throw new DataError(`uncertainty cell: item index ${i} of item ${j} is outside the clean items [0, ${ctx.cleanItems})`);
      if (isEval[i]) picked.push(j);
    }
  }
  if (picked.length === 0) throw new DataError('uncertainty cell: no item is outside the calibration split, so nothing can be evaluated');
  const n = picked.length;
  const probs = pickRows(cell.probs, K, picked);
  const labels = pickRows(cell.labels, 1, picked);
  const per = cell.x.length / cell.n;
  const x = ctx.members.length > 0 || ctx.mcDropout ? pickRows(cell.x, per, picked) : null;

  if (cell.weights?.some((wb) => wb.length !== cell.n)) throw new DataError(`uncertainty cell: bootstrap weights must have one entry per item (${cell.n})`);
  const w = cell.weights ? pickWeights(cell.weights, picked) : null;

  const base = classificationMetrics(probs, K, labels);
  const sc = uncertaintyScores(probs, K);
  const curve = riskCoverageCurve(probs, K, labels, 50);
  const out: UncertaintyCellSummary = {
    items: cell.n,
    evaluated: n,
    accuracy: base.accuracy,
    ece: base.ece,
    nll: base.nll,
    mean_max_softmax: mean(sc.maxSoftmax),
    mean_margin: mean(sc.margin),
    mean_entropy: mean(sc.entropy),
    aurc: curve.aurc,
    rc_coverage: curve.coverage,
    rc_risk: curve.risk,
    rc_threshold: curve.threshold,
  };
  const own = w ? suiteCis(probs, K, labels, w) : null;
  if (w && own) {
    out.accuracy_ci = own.accuracy;
    out.ece_ci = own.ece;
    out.nll_ci = own.nll;
    out.aurc_ci = own.aurc;
    out.mean_max_softmax_ci = meanCi(sc.maxSoftmax, w);
    out.mean_margin_ci = meanCi(sc.margin, w);
    out.mean_entropy_ci = meanCi(sc.entropy, w);
  }
  if (ctx.temperature) {
    const T = ctx.temperature.temperature;
    const eff = temperatureEffect(probs, K, labels, T);
    out.temperature = T;
    out.ece_before = eff.before.ece;
    out.ece_after = eff.after.ece;
    out.nll_before = eff.before.nll;
    out.nll_after = eff.after.nll;
    if (w && own) {
      const after = suiteCis(applyTemperature(probs, K, T), K, labels, w);
      out.ece_before_ci = own.ece;
      out.ece_after_ci = after.ece;
      out.nll_before_ci = own.nll;
      out.nll_after_ci = after.nll;
    }
  }
  if (ctx.conformal) {
    const r = conformalReport(ctx.conformal, probs, K, labels, ctx.rng.fork('uncertainty/conformal/test'));
    out.conformal_target = 1 - ctx.conformal.alpha;
    out.conformal_coverage = r.coverage;
    out.conformal_mean_set_size = r.meanSetSize;
    out.conformal_empty_rate = r.emptyRate;
    if (w) {
      out.conformal_coverage_ci = meanCi(r.covered, w);
      out.conformal_mean_set_size_ci = meanCi(r.sizes, w);
      out.conformal_empty_rate_ci = meanCi(Uint8Array.from(r.sizes, (k) => (k === 0 ? 1 : 0)), w);
    }
  }
  if (ctx.selective) {
    const s = selectiveAt(probs, K, labels, ctx.selective.threshold);
    out.selective_target_risk = ctx.selective.targetRisk;
    out.selective_threshold = ctx.selective.threshold;
    out.selective_risk = s.risk;
    out.selective_coverage = s.coverage;
    if (w) {
      const { answered, wrong } = selectiveItems(probs, K, labels, ctx.selective.threshold);
      const coverage = weightedMeans(answered, w);
      const errors = weightedMeans(Uint8Array.from(answered, (a, i) => a & wrong[i]!), w);
      // Risk among answered items; 0 when a resample answers nothing (as selectiveAt defines it).
      out.selective_risk_ci = percentileCi(coverage.map((c, b) => (c > 0 ? errors[b]! / c : 0)));
      out.selective_coverage_ci = percentileCi(coverage);
    }
  }
  if (ctx.members.length > 0) {
    const tables = [probs];
    for (const m of ctx.members) tables.push((await predictProbabilities(m, x!, n, ctx.batchSize)).probs);
    const e = combineMembers(tables, K);
    const m = classificationMetrics(e.probs, K, labels);
    out.ensemble_members = tables.length;
    out.ensemble_accuracy = m.accuracy;
    out.ensemble_nll = m.nll;
    out.ensemble_ece = m.ece;
    out.ensemble_mean_entropy = mean(e.entropy);
    out.ensemble_mean_mutual_information = mean(e.mutualInformation);
    if (w) {
      const c = suiteCis(e.probs, K, labels, w);
      out.ensemble_accuracy_ci = c.accuracy;
      out.ensemble_nll_ci = c.nll;
      out.ensemble_ece_ci = c.ece;
      out.ensemble_mean_entropy_ci = meanCi(e.entropy, w);
      out.ensemble_mean_mutual_information_ci = meanCi(e.mutualInformation, w);
    }
  }
  if (ctx.mcDropout) {
    const r = await ctx.mcDropout.predict(x!, n, ctx.spec.mc_dropout, ctx.rng.fork('uncertainty/mc-dropout'), { batchSize: ctx.batchSize });
    const m = classificationMetrics(r.probs, K, labels);
    out.mc_passes = r.passes;
    out.mc_accuracy = m.accuracy;
    out.mc_nll = m.nll;
    out.mc_ece = m.ece;
    out.mc_mean_entropy = mean(r.entropy);
    out.mc_mean_mutual_information = mean(r.mutualInformation);
    out.mc_mean_variance = mean(r.variance);
    if (w) {
      const c = suiteCis(r.probs, K, labels, w);
      out.mc_accuracy_ci = c.accuracy;
      out.mc_nll_ci = c.nll;
      out.mc_ece_ci = c.ece;
      out.mc_mean_entropy_ci = meanCi(r.entropy, w);
      out.mc_mean_mutual_information_ci = meanCi(r.mutualInformation, w);
      out.mc_mean_variance_ci = meanCi(r.variance, w);
    }
  }
  return out;
}

/** What `prepareUncertainty` fitted, for the run record. */
export function uncertaintyContextSummary(ctx: UncertaintyContext): UncertaintyContextSummary {
  const s: UncertaintyContextSummary = {
    calibration_items: ctx.split.calibration.length,
    evaluation_items: ctx.split.evaluation.length,
    calibration_indices: Array.from(ctx.split.calibration),
  };
  if (ctx.temperature) {
    s.temperature = ctx.temperature.temperature;
    s.temperature_fit_nll_before = ctx.temperature.nllBefore;
    s.temperature_fit_nll_after = ctx.temperature.nllAfter;
  }
  if (ctx.conformal) {
    s.conformal_alpha = ctx.conformal.alpha;
    s.conformal_qhat = ctx.conformal.qhat;
    s.conformal_rank = ctx.conformal.rank;
  }
  if (ctx.selective) {
    s.selective_target_risk = ctx.selective.targetRisk;
    s.selective_threshold = ctx.selective.threshold;
    s.selective_calibration_risk = ctx.selective.risk;
    s.selective_calibration_coverage = ctx.selective.coverage;
  }
  if (ctx.members.length > 0) s.ensemble_members = ctx.members.length + 1;
  if (ctx.mcDropout) {
    s.mc_passes = ctx.spec.mc_dropout;
    s.mc_dropout_sites = ctx.mcDropout.sites.length;
  }
  return s;
}

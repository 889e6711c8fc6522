/**
 * The campaign hook: explanation drift and layer sensitivity for one stress cell.
 *
 * Attributions are computed for the first `spec.samples` items of the clean and of the stressed
 * inputs, for the same target class per item (resolved once on the clean inputs: the true label,
 * the clean prediction, or a fixed class), and — for seeded methods — from the same random stream
 * (`rng.fork('explain:attributions')`), so that only the input differs. The drift bootstrap draws
 * from `rng.fork('explain:drift')`, the layer-sensitivity bootstrap from `rng.fork('explain:layers')`
 * (both over the explained items: the campaign's shared resamples span every item of the cell, of
 * which only the first `samples` are explained).
 */
import { GradientEngine } from '../autodiff/gradient.js';
import type { Model } from '../engine/model.js';
import { UsageError } from '../errors.js';
import { argmaxRows } from '../metrics/classification.js';
import type { Rng } from '../rng.js';
import { geometry, predictAll, resolveTargets } from './common.js';
import { DRIFT_RESAMPLES, explanationDrift, type MeanCi } from './drift.js';
import { layerSensitivity, type LayerSensitivity } from './layers.js';
import { attributionPng } from './png.js';
import { getMethod } from './registry.js';
import { featureImportance } from './features.js';
import type { ExplainSpec } from './spec.js';
import type { AttributionOptions, Completeness, MethodName, TargetSpec } from './types.js';

export interface CompletenessSummary {
  /** Mean and max of |Σ A − Δ| / |Δ| over items with Δ ≠ 0. */
  meanRelError: number;
  maxRelError: number;
  /** Mean of |Σ A − Δ| over items. */
  meanAbsError: number;
}

/** What `explainCell` returns: plain JSON (numbers, strings, arrays, objects). */
export interface ExplainCellSummary {
  method: MethodName;
  target: TargetSpec;
  /** Items explained. */
  samples: number;
  /** IG intervals / SmoothGrad copies, or null. */
  steps: number | null;
  /** Mean |attribution| over all elements. */
  meanAbsAttribution: { clean: number; stressed: number };
  /** Integrated Gradients only. */
  completeness: { clean: CompletenessSummary; stressed: CompletenessSummary } | null;
  /** Items whose predicted class differs between clean and stressed input. */
  flipped: number;
  /** Accuracy on the explained items, clean and stressed. */
  accuracy: { clean: number; stressed: number };
  drift: {
    topKFraction: number;
    k: number;
    spearman: MeanCi;
    iou: MeanCi;
    massShift: MeanCi;
    perItem: { spearman: number[]; iou: number[]; massShift: number[] };
  };
  /**
   * Tabular data (flat items): mean |attribution| per feature, clean and stressed, by feature name
   * (the index as text when the data has no names), most important on clean inputs first. Null for images.
   */
  features: { feature: string; index: number; clean: number; stressed: number }[] | null;
  /** Null when `spec.layers` is false. */
  layers: LayerSensitivity | null;
  seconds: number;
}

export interface ExplainCellOutput {
  /** Also write a side-by-side PNG (clean input, map, stressed input, map) of the first items. */
  png?: string;
  /** Rows in that PNG (default 8). */
  pngRows?: number;
}

function summarizeCompleteness(c: Completeness): CompletenessSummary {
  const rel = Array.from(c.relError).filter(Number.isFinite);
  return {
    meanRelError: rel.length ? rel.reduce((a, b) => a + b, 0) / rel.length : 0,
    maxRelError: rel.length ? Math.max(...rel) : 0,
    meanAbsError: c.error.reduce((a, b) => a + b, 0) / Math.max(1, c.error.length),
  };
}

function meanAbs(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]!);
  return a.length ? s / a.length : 0;
}

function featureDrift(ac: Float32Array, as: Float32Array, m: number, d: number, names: readonly string[] | null | undefined): ExplainCellSummary['features'] {
  const stressed = new Map(featureImportance(as, m, d, names).map((f) => [f.index, f.meanAbs]));
  return featureImportance(ac, m, d, names).map((f) => ({ feature: f.feature, index: f.index, clean: f.meanAbs, stressed: stressed.get(f.index)! }));
}

export async function explainCell(
  model: Model,
  clean: { x: Float32Array; n: number; itemShape: number[]; featureNames?: readonly string[] | null },
  stressed: { x: Float32Array },
  labels: Int32Array,
  spec: ExplainSpec,
  rng: Rng,
  out: ExplainCellOutput = {},
): Promise<ExplainCellSummary> {
  const t0 = performance.now();
  const per = clean.itemShape.reduce((a, b) => a * b, 1);
  if (clean.x.length !== clean.n * per) throw new UsageError(`clean inputs hold ${clean.x.length} values, not ${clean.n} items of [${clean.itemShape.join(', ')}]`);
  if (stressed.x.length !== clean.x.length) throw new UsageError(`stressed inputs must be shaped like the clean ones (${clean.x.length} values), got ${stressed.x.length}`);
  const m = Math.min(spec.samples, clean.n);
  const xc = clean.x.subarray(0, m * per);
  const xs = stressed.x.subarray(0, m * per);
  geometry(model, xc, m);
  const method = getMethod(spec.method);
  const targets = await resolveTargets(model, xc, m, spec.target, labels.subarray(0, Math.min(labels.length, m)));
  const engine = method.gradients ? new GradientEngine(model, { kind: 'logit' }) : undefined;
  const opts: AttributionOptions = { engine };
  if (spec.steps !== undefined) {
    if (spec.method === 'ig') opts.steps = spec.steps;
    if (spec.method === 'smoothgrad') opts.samples = spec.steps;
  }
  try {
    const ac = await method.explain(model, xc, m, targets, opts, rng.fork('explain:attributions'));
    const as = await method.explain(model, xs, m, targets, opts, rng.fork('explain:attributions'));
    const drift = explanationDrift(ac.attributions, as.attributions, m, {}, rng.fork('explain:drift'));
    const pc = await predictAll(model, xc, m);
    const ps = await predictAll(model, xs, m);
    const yc = argmaxRows(pc.scores, pc.numClasses);
    const ys = argmaxRows(ps.scores, ps.numClasses);
    let flipped = 0;
    let okC = 0;
    let okS = 0;
    const withLabels = labels.length >= m;
    for (let i = 0; i < m; i++) {
      if (yc[i] !== ys[i]) flipped++;
      if (withLabels && yc[i] === labels[i]) okC++;
      if (withLabels && ys[i] === labels[i]) okS++;
    }
    const layers = spec.layers ? await layerSensitivity(model, xc, xs, m, { rng: rng.fork('explain:layers'), resamples: DRIFT_RESAMPLES }) : null;
    if (out.png) {
      await attributionPng(out.png, xc, ac.attributions, [m, ...clean.itemShape], {
        stressed: { x: xs, attributions: as.attributions },
        maxRows: out.pngRows,
        bounds: model.decl.bounds,
      });
    }
    return {
      method: spec.method,
      target: spec.target,
      samples: m,
      steps: spec.steps ?? null,
      meanAbsAttribution: { clean: meanAbs(ac.attributions), stressed: meanAbs(as.attributions) },
      completeness: ac.completeness && as.completeness ? { clean: summarizeCompleteness(ac.completeness), stressed: summarizeCompleteness(as.completeness) } : null,
      flipped,
      accuracy: { clean: withLabels ? okC / m : 0, stressed: withLabels ? okS / m : 0 },
      drift: { topKFraction: drift.topKFraction, k: drift.k, spearman: drift.spearman, iou: drift.iou, massShift: drift.massShift, perItem: drift.perItem },
      features: clean.itemShape.length === 1 ? featureDrift(ac.attributions, as.attributions, m, per, clean.featureNames) : null,
      layers,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await engine?.close();
  }
}

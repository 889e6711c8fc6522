/**
 * Integrated Gradients (Sundararajan, Taly & Yan 2017, "Axiomatic Attribution for Deep Networks"):
 * A = (x − x') ⊙ ∫₀¹ ∂f_t/∂x (x' + α(x − x')) dα, the integral by the trapezoid rule on `steps`
 * equal intervals (steps + 1 gradient evaluations per item). The (item, step) points of all items
 * share fixed-size gradient batches. Completeness — Σ A = f_t(x) − f_t(x') — holds up to the
 * quadrature error, which is reported per item (f_t at both ends comes from the same runs).
 *
 * Example: `const { attributions, completeness } = await integratedGradientsReport(model, x, n, targets, { steps: 64 })`.
 */
import type { Model } from '../engine/model.js';
import { checkRange } from '../errors.js';
import { resolveBaseline } from './baseline.js';
import { checkTargets, classCount, geometry, gradientBatch, gradientPoints, withEngine } from './common.js';
import type { AttributionMethod, AttributionResult, Completeness, IgOptions } from './types.js';

export const IG_DEFAULT_STEPS = 64;

/** Integrated Gradients with the per-item completeness report. */
export async function integratedGradientsReport(model: Model, x: Float32Array, n: number, targets: Int32Array, opts: IgOptions = {}): Promise<AttributionResult & { completeness: Completeness }> {
  const geom = geometry(model, x, n);
  const { size } = geom;
  checkTargets(targets, n, await classCount(model, x, size));
  const steps = opts.steps === undefined ? IG_DEFAULT_STEPS : checkRange('steps', opts.steps, { min: 1, max: 100000, integer: true });
  const base = resolveBaseline(model, x, n, geom, opts.baseline ?? 'zeros', opts.blurSigma);
  const acc = new Float64Array(x.length);
  const fx = new Float64Array(n);
  const fb = new Float64Array(n);
  const per = steps + 1;
  await withEngine(model, opts, (engine) =>
    gradientPoints(
      engine,
      size,
      n * per,
      gradientBatch(model, opts),
      (j, dst) => {
        const i = Math.floor(j / per);
        const a = (j % per) / steps;
        const off = i * size;
        for (let e = 0; e < size; e++) dst[e] = base[off + e]! + a * (x[off + e]! - base[off + e]!);
        return targets[i]!;
      },
      (j, g, score) => {
        const i = Math.floor(j / per);
        const k = j % per;
        const wgt = (k === 0 || k === steps ? 0.5 : 1) / steps;
        const off = i * size;
        for (let e = 0; e < size; e++) acc[off + e]! += wgt * g[e]!;
        if (k === 0) fb[i] = score;
        if (k === steps) fx[i] = score;
      },
      opts.onProgress,
    ),
  );
  const attributions = new Float32Array(x.length);
  const sum = new Float64Array(n);
  const delta = new Float64Array(n);
  const error = new Float64Array(n);
  const relError = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let e = i * size; e < (i + 1) * size; e++) {
      const v = (x[e]! - base[e]!) * acc[e]!;
      attributions[e] = v;
      s += v;
    }
    sum[i] = s;
    delta[i] = fx[i]! - fb[i]!;
    error[i] = Math.abs(s - delta[i]!);
    relError[i] = delta[i] === 0 ? (error[i] === 0 ? 0 : Infinity) : error[i]! / Math.abs(delta[i]!);
  }
  return { attributions, completeness: { sum, delta, error, relError } };
}

/** Integrated Gradients attributions, shaped like `x`. */
export async function integratedGradients(model: Model, x: Float32Array, n: number, targets: Int32Array, opts: IgOptions = {}): Promise<Float32Array> {
  return (await integratedGradientsReport(model, x, n, targets, opts)).attributions;
}

export const igMethod: AttributionMethod = {
  name: 'ig',
  summary: 'Integrated Gradients, trapezoid rule from a baseline, completeness reported',
  gradients: true,
  seeded: false,
  explain: (model, x, n, targets, opts = {}) => integratedGradientsReport(model, x, n, targets, opts),
};

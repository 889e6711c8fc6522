/**
 * Per-token attributions of a text classifier (`wrt: embedding`). Token ids have no gradient, so a
 * gradient method (saliency, gxi, ig, smoothgrad) runs on the model's embedding tail, from the
 * ids' embeddings [n, T, D], and each position's D attributions are summed: one attribution per
 * token, [n, T]. For gradient × input that is e_t · ∂f/∂e_t, the first-order change of the target
 * score when token t's embedding is scaled towards zero; for Integrated Gradients (zeros baseline:
 * the zero embedding) the tokens' attributions add up to f(e) − f(0), the completeness that
 * `completeness` reports. Occlusion and SHAP, which perturb input values, and the image-only blur
 * baseline do not apply to token ids and are refused.
 *
 * Example:
 *   const model = await Model.open('text.onnx', { wrt: 'embedding' });
 *   const view = await EmbeddingView.open(model);
 *   const r = await explainTokens(view, ds.x, ds.size, 'true', ds.labels, getMethod('gxi'), {}, new Rng(0));
 *   r.attributions; // [n, T]: item i, token t at r.attributions[i * T + t]
 */
import { GradientEngine } from '../autodiff/gradient.js';
import type { EmbeddingView } from '../engine/embedding.js';
import { UsageError } from '../errors.js';
import type { Rng } from '../rng.js';
import { resolveTargets } from './common.js';
import type { AttributionMethod, AttributionOptions, Completeness, TargetSpec } from './types.js';

export interface TokenAttributions {
  /** One attribution per token, [n, T]: the method's attributions at the embedding summed over D. */
  attributions: Float32Array;
  /** The class each item's score is of. */
  targets: Int32Array;
  /** Tokens per item. */
  tokens: number;
  /** Integrated Gradients: the attributions' sums against f(e) − f(baseline); null otherwise. */
  completeness: Completeness | null;
}

/** The methods that run at the embedding output (gradient methods). */
export function tokenMethod(method: AttributionMethod): void {
  if (!method.gradients) throw new UsageError(`method '${method.name}' perturbs input values; a text model (wrt: embedding) is explained at its embedding output by a gradient method (saliency, gxi, ig, smoothgrad), summed per token`);
}

/** Attributions of `n` token-id rows `ids` ([n, T], float32 ids) to the target class, per token (see the module comment). */
export async function explainTokens(view: EmbeddingView, ids: Float32Array, n: number, target: TargetSpec, labels: ArrayLike<number> | null, method: AttributionMethod, opts: AttributionOptions, rng: Rng): Promise<TokenAttributions> {
  tokenMethod(method);
  if (opts.baseline === 'blur') throw new UsageError(`the 'blur' baseline blurs images; a text model's Integrated Gradients start from the zero embedding ('zeros') or the table's lower bound ('low')`);
  const D = view.dim;
  const T = n > 0 ? ids.length / n : 0;
  const emb = view.embed(ids);
  const targets = await resolveTargets(view.tail, emb, n, target, labels, opts.batchSize);
  const engine = new GradientEngine(view.tail, { kind: 'logit' });
  try {
    const r = await method.explain(view.tail, emb, n, targets, { ...opts, engine }, rng);
    const a = r.attributions;
    const out = new Float32Array(n * T);
    for (let p = 0; p < n * T; p++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += a[p * D + d]!;
      out[p] = s;
    }
    return { attributions: out, targets, tokens: T, completeness: r.completeness };
  } finally {
    await engine.close();
  }
}

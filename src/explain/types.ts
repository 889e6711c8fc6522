/**
 * Shapes shared by the attribution methods (one per file, registered in `registry.ts`).
 *
 * Every method has the same call shape: `(model, x, n, targets, opts, rng?)` with `x` the `n`
 * data-domain items packed row-major, `targets` the class whose score is explained per item, and
 * returns attributions shaped like `x` (float32). Inputs are never mutated.
 *
 * "The target score" f_t is the model's raw output for class t when the model outputs logits, and
 * log(max(p_t, 1e-12)) when it outputs probabilities; gradient methods and model-agnostic methods
 * explain the same quantity.
 */
import type { GradientEngine } from '../autodiff/gradient.js';
import type { Model } from '../engine/model.js';
import type { Rng } from '../rng.js';

/** Names of the attribution methods, as the CLI and the config take them. */
export type MethodName = 'saliency' | 'gxi' | 'ig' | 'smoothgrad' | 'occlusion' | 'shap';

/** Which class to explain per item: the true label, the predicted label, or a fixed class k. */
export type TargetSpec = 'true' | 'pred' | number;

/** What Integrated Gradients starts from; a Float32Array holds one item (broadcast) or `n` items. */
export type IgBaseline = 'zeros' | 'low' | 'blur' | Float32Array;

/** Options shared by every method. */
export interface CommonOptions {
  /**
   * Points per ONNX Runtime run. Gradient methods use this fixed batch size for every run (the
   * tail is zero-padded) so one backward graph serves the whole call (default 32; a model's
   * fixed batch dimension overrides it). Model-agnostic methods default to 256.
   */
  batchSize?: number;
  /**
   * A gradient engine with the `logit` loss to reuse across calls (its graphs are cached per batch
   * size). When absent, gradient methods build one and release it before returning.
   */
  engine?: GradientEngine;
  /** Progress in model evaluations (points) done of the call's total, after each ONNX Runtime run. */
  onProgress?: (done: number, total: number) => void;
}

export interface SaliencyOptions extends CommonOptions {
  /** Return the signed gradient ∂f_t/∂x instead of its magnitude |∂f_t/∂x| (default false). */
  signed?: boolean;
}

export interface IgOptions extends CommonOptions {
  /** Riemann trapezoid intervals on [0, 1]: `steps + 1` gradient evaluations per item (default 64). */
  steps?: number;
  /** Starting point (default 'zeros'). 'low' is the data domain's low bound everywhere. */
  baseline?: IgBaseline;
  /** Gaussian σ in pixels for the 'blur' baseline (default max(H, W) / 8). */
  blurSigma?: number;
}

export interface SmoothGradOptions extends CommonOptions {
  /** Noisy copies per item (default 25). */
  samples?: number;
  /** Noise σ as a fraction of the data domain's range high − low (default 0.15). */
  sigma?: number;
}

export interface OcclusionOptions extends CommonOptions {
  /** Patch side in pixels for images (default round(min(H, W) / 7), at least 1); window length for flat inputs (default 1). */
  patch?: number;
  /** Step between patches (default ceil(patch / 2) for images, 1 for flat inputs). */
  stride?: number;
  /** Value written into the patch (default the data domain's low bound). */
  baselineValue?: number;
}

export interface ShapOptions extends CommonOptions {
  /** Superpixel side for images: a grid of cells of this many pixels (default ceil(max(H, W) / 7)). */
  cell?: number;
  /** Feature groups for any input: group id (0 … G−1) per element of one item. Overrides `cell`. */
  groups?: Int32Array;
  /**
   * Sampled coalitions (default 2·M + 1024 for M players). When 2^M − 2 is not more than this,
   * every coalition is enumerated and the values are exact Shapley values.
   */
  coalitions?: number;
  /** Value of absent features (default the data domain's low bound). */
  baselineValue?: number;
}

/** All options any method takes (each method reads its own). */
export type AttributionOptions = SaliencyOptions & IgOptions & SmoothGradOptions & OcclusionOptions & ShapOptions;

/** Completeness of Integrated Gradients per item: Σ attributions vs f_t(x) − f_t(baseline). */
export interface Completeness {
  /** Σ_j A_j per item. */
  sum: Float64Array;
  /** f_t(x) − f_t(baseline) per item. */
  delta: Float64Array;
  /** |Σ A − Δ| per item. */
  error: Float64Array;
  /** |Σ A − Δ| / |Δ| per item (Infinity when Δ = 0 and the error is not). */
  relError: Float64Array;
}

export interface AttributionResult {
  /** Attributions shaped like `x`. */
  attributions: Float32Array;
  /** Integrated Gradients only; null for the other methods. */
  completeness: Completeness | null;
}

/** One attribution method: a registry entry. */
export interface AttributionMethod {
  readonly name: MethodName;
  /** One line for help and lists. */
  readonly summary: string;
  /** Needs the gradient engine (false: uses only predictBatch, works on any model). */
  readonly gradients: boolean;
  /** Draws from the generator (same seed → same bytes). */
  readonly seeded: boolean;
  explain(model: Model, x: Float32Array, n: number, targets: Int32Array, opts?: AttributionOptions, rng?: Rng): Promise<AttributionResult>;
}

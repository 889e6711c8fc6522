/**
 * Why a model breaks: attributions (gradient saliency, gradient × input, Integrated Gradients,
 * SmoothGrad, occlusion, KernelSHAP), explanation drift between clean and stressed inputs, and
 * layer sensitivity. The campaign calls `parseExplainSpec` and `explainCell`; the CLI's `explain`
 * verb calls the methods through the registry and `attributionPng`.
 */
export type {
  MethodName,
  TargetSpec,
  IgBaseline,
  CommonOptions,
  SaliencyOptions,
  IgOptions,
  SmoothGradOptions,
  OcclusionOptions,
  ShapOptions,
  AttributionOptions,
  AttributionResult,
  AttributionMethod,
  Completeness,
} from './types.js';
export { methods, methodNames, getMethod, isMethodName } from './registry.js';
export { saliency } from './saliency.js';
export { gradientTimesInput } from './gxi.js';
export { integratedGradients, integratedGradientsReport, IG_DEFAULT_STEPS } from './ig.js';
export { smoothGrad } from './smoothgrad.js';
export { occlusion } from './occlusion.js';
export { kernelShap, shapPlayers } from './shap.js';
export { resolveBaseline, gaussianBlur } from './baseline.js';
export { resolveTargets, predictAll } from './common.js';
export { explainTokens, tokenMethod, type TokenAttributions } from './tokens.js';
export {
  explanationDrift,
  itemDrift,
  spearman,
  averageRanks,
  topKMask,
  meanWithCi,
  DRIFT_TOP_K,
  DRIFT_RESAMPLES,
  type DriftSummary,
  type DriftMetrics,
  type DriftOptions,
  type MeanCi,
} from './drift.js';
export {
  layerSensitivity,
  layerStressMatrix,
  listLayers,
  components,
  COMPONENTS,
  type Component,
  type LayerInfo,
  type LayerCandidate,
  type ComponentSummary,
  type LayerSensitivity,
  type LayerSensitivityOptions,
  type LayerStressMatrix,
} from './layers.js';
export { attributionPng, renderAttributionPng, type AttributionPngOptions } from './png.js';
export { parseExplainSpec, EXPLAIN_OPTIONS, type ExplainSpec } from './spec.js';
export { explainCell, type ExplainCellSummary, type ExplainCellOutput, type CompletenessSummary } from './cell.js';

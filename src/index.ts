/**
 * Gauntlet's public API: types and factories. The library never prints or exits; it returns typed
 * results and throws typed errors (see errors.ts).
 */
export * from './errors.js';
export { Rng } from './rng.js';
export { defaultAssets, defaultMeta } from './defaults.js';

export * from './data/index.js';

export { Model, type OpenModelOptions, type OutputKind, type PredictOptions, type Predictions } from './engine/model.js';
export type { ModelDeclaration } from './engine/declaration.js';
export { evaluate, type Evaluation } from './engine/evaluate.js';
export { classificationMetrics, toProbabilities, argmaxRows, type ClassificationMetrics } from './metrics/classification.js';

export { readModelFile, summarizeModel, type ModelSummary } from './onnx/load.js';
export { makeModel, node } from './onnx/make.js';
export { encodeModel, decodeModel, type ModelP } from './onnx/proto.js';

export { GradientEngine, buildGradientModel, type GradientResult } from './autodiff/gradient.js';
export { LOSS_KINDS, type LossKind, type LossSpec } from './autodiff/loss.js';
export { gradcheck, type GradcheckResult } from './autodiff/gradcheck.js';
export { rules as gradientRules } from './autodiff/registry.js';

export * as adversarial from './stress/adversarial/index.js';
export * as drift from './stress/drift/index.js';
export * as annotation from './stress/annotation/index.js';
export * as explain from './explain/index.js';
export * as uncertainty from './uncertainty/index.js';
export * as stream from './stream/index.js';
export { loadConfig, resolveConfig, defaultConfig, type CampaignConfig } from './campaign/config.js';
export { makePlan } from './campaign/plan.js';
export { runCampaign, type CampaignResults, type CellResult } from './campaign/runner.js';
export { writeReports } from './report/index.js';
